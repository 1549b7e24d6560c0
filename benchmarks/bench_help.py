"""Start-up cost of every `memoire … --help` against `python -c "import typer"`, in one run.

    .venv/bin/python benchmarks/bench_help.py [--repeat 9] [--limit 2.0]

Times `memoire --help` and the --help of every subcommand and sub-action (`memoire persona update
--help` …, found in the app itself, hidden old spellings left out) against importing typer, which
any typer program pays. The runs are interleaved (one round of every command, `--repeat` rounds)
so that a change of machine load touches all of them alike; each line is a median wall time and
its ratio to typer's. Exits 1 when any ratio is above `--limit` (issue 17: 2).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path


def help_commands() -> list[list[str]]:
    """``[]``, ``["synth"]``, …, ``["persona", "update"]``: every visible command path of the app."""
    from memoire_cli.app import command_tree

    return [list(path) for path in command_tree()]


def seconds(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=9, help="rounds (medians over them)")
    parser.add_argument("--limit", type=float, default=2.0, help="largest ratio to `import typer` allowed")
    args = parser.parse_args()
    memoire = shutil.which("memoire", path=str(Path(sys.executable).parent)) or "memoire"
    baseline = "python -c 'import typer'"
    runs = {baseline: [sys.executable, "-c", "import typer"]}
    runs |= {" ".join(["memoire", *path, "--help"]): [memoire, *path, "--help"] for path in help_commands()}
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(args.repeat):
        for name, cmd in runs.items():
            times[name].append(seconds(cmd))
    medians = {name: statistics.median(t) for name, t in times.items()}
    peer = medians.pop(baseline)
    width = max(map(len, runs))
    print(f"{baseline:<{width}} {peer * 1000:7.1f} ms")
    for name, t in medians.items():
        print(f"{name:<{width}} {t * 1000:7.1f} ms   {t / peer:4.2f}x{'   OVER' if t / peer > args.limit else ''}")
    worst = max(medians, key=medians.__getitem__)
    print(f"slowest: {worst}, {medians[worst] / peer:.2f}x import typer (limit {args.limit:g}x)")
    sys.exit(1 if medians[worst] / peer > args.limit else 0)


if __name__ == "__main__":
    main()
