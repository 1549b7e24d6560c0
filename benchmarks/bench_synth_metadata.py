"""`memoire synth` without rendering: plan 100 users' galleries and build their tables (issue: < 10 s).

    .venv/bin/python benchmarks/bench_synth_metadata.py [--users 100]

Peer in the same run: drawing the same number of random numbers the plans consume is not a
meaningful peer, so the peer is the cost of writing the same rows into DuckDB (the part any
implementation pays); the ratio shows how much the generator adds on top of storage.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from memoire_cli.synth.gallery import SynthConfig, plan_user
from memoire_cli.synth.stage import SynthStage
from memoire_cli.workspace import Workspace


class _NameOnly:
    name = "procedural"
    version = "bench"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=100)
    args = parser.parse_args()
    cfg = SynthConfig(users=args.users)
    stage = SynthStage(cfg, "procedural")
    stage.renderer = _NameOnly()
    t0 = time.perf_counter()
    tables = []
    for i in range(cfg.users):
        plan = plan_user(cfg, i)
        n = len(plan.images)
        anchors = [(p.tag_id, k) for p in plan.people if p.in_graph for k in range(cfg.anchors_per_person)]
        tables.append(stage.tables(plan, [0] * n, [1] * n, [], anchors, []))
    t_plan = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace.open(Path(tmp) / "w", "synth", create=True)
        t1 = time.perf_counter()
        ws.commit_users("synth", "bench", [(f"u{i:04d}", "bench", "bench", t) for i, t in enumerate(tables)])
        t_write = time.perf_counter() - t1
        images = ws.query("SELECT count(*) FROM images")[0][0]
    total = t_plan + t_write
    print(f"users {cfg.users}  images {images}")
    print(f"plan + tables  {t_plan:6.2f} s")
    print(f"DuckDB writes  {t_write:6.2f} s   (peer: storage alone)")
    print(f"total          {total:6.2f} s   generator/storage ratio {t_plan / t_write:.2f}x   goal < 10 s: {'met' if total < 10 else 'NOT met'}")
    assert np.isfinite(total)


if __name__ == "__main__":
    main()
