"""`memoire eval`: SRCC, APS@k, Redundancy@k, Coverage@k against ground truth or ratings; baselines, ablations (S2.2–2.4)."""

from __future__ import annotations

from typing import Annotated

import typer

from memoire_cli.cli import ForceOpt, WorkspaceOpt, run_global

HELP = """SRCC, APS@k, Redundancy@k, Coverage@k against ground truth or ratings; baselines, ablations (S2.2–2.4).

Evaluates held-out users only: the test split, else (an ingested gallery) the users without a split;
a synthetic gallery with train/val users only is refused unless --users names them (then "trained-on
users: optimistic"). Scores against the hidden PIS of synthetic users, or the owner's star ratings of
an ingested gallery. A source whose input is derived from that truth (views of `synth --views-link` > 0,
favourites of `--favourite-link` > 0 or of `ingest --favourites-from-rating`) is flagged, and a
flagged baseline is not counted in the "beats every baseline" goal. Memoire (the `default` model,
λ = 0.4, ρ by eq. 17) is compared in the same run with the offline baselines random, most-recent,
most-viewed, favourites-first, tag-frequency, quality and expo (0.3 quality + 0.7 faces); then
Table 9's ablations, the λ sweep and logistic vs hinge (--suite quick, fits the main job), plus the
ρ sweep by archetype, tag noise, graph size, face-ID errors and runtime scaling (--suite full). Rows that need a variant model name the
`memoire train` command that makes it. Writes eval_* tables and W/reports/<run_id>/ (index.html,
summary.md, summary.json).
"""


def command(
    workspace: WorkspaceOpt = None,
    k: Annotated[int, typer.Option("--k", "-k", help="Size of the selected set for APS@k, Redundancy@k, Coverage@k (S2.2: 20).")] = 20,
    suite: Annotated[str, typer.Option("--suite", help="quick (comparison, Table 9, λ sweep, loss) or full (also ρ sweep, tag noise, graph size, face-ID errors, runtime).")] = "quick",
    runtime: Annotated[str, typer.Option("--runtime", help="Score with the PyTorch checkpoint (torch) or the ONNX export (onnx).")] = "torch",
    users: Annotated[str | None, typer.Option("--users", help="Comma-separated user ids to evaluate (default: the test split, else the users without a split); train/val users are evaluated only so, and said to be optimistic.", show_default=False)] = None,
    sheets: Annotated[int, typer.Option("--sheets", help="Users with top-k contact sheets in the report.")] = 4,
    force: ForceOpt = False,
) -> None:
    from memoire_cli.errors import UsageError

    if k < 1:
        raise UsageError(f"--k must be at least 1, got {k}")
    if suite not in ("quick", "full"):
        raise UsageError(f"--suite {suite!r}: choose quick or full")
    if runtime not in ("torch", "onnx"):
        raise UsageError(f"--runtime {runtime!r}: choose torch or onnx")
    if sheets < 0:
        raise UsageError(f"--sheets must be ≥ 0, got {sheets}")
    from memoire_cli.eval.stage import EvalStage

    chosen = [u.strip() for u in users.split(",") if u.strip()] if users else None
    run_global(lambda: EvalStage(k=k, suite=suite, runtime=runtime, users=chosen, sheets=sheets), workspace, force=force)
