"""Start-up cost of `memoire --help` against `python -c pass`, in one run (issue: well under 0.5 s).

    .venv/bin/python benchmarks/bench_help.py [--repeat 15]

Prints the median wall time of each and their ratio. Also times every subcommand's --help.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path


def median_seconds(cmd: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    memoire = shutil.which("memoire", path=str(Path(sys.executable).parent)) or "memoire"
    peer = median_seconds([sys.executable, "-c", "pass"], args.repeat)
    ours = median_seconds([memoire, "--help"], args.repeat)
    print(f"python -c pass   {peer * 1000:7.1f} ms")
    print(f"memoire --help   {ours * 1000:7.1f} ms   ratio {ours / peer:.2f}x")
    worst = 0.0
    for stage in ("synth", "ingest", "people", "graph", "persona", "pat", "label", "train", "rank", "eval", "status", "schema"):
        worst = max(worst, median_seconds([memoire, stage, "--help"], max(3, args.repeat // 3)))
    print(f"slowest subcommand --help {worst * 1000:7.1f} ms   ratio {worst / peer:.2f}x")


if __name__ == "__main__":
    main()
