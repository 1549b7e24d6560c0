"""`memoire eval`: SRCC, APS@k, Redundancy@k, Coverage@k against ground truth or ratings; baselines, ablations (S2.2–2.4)."""

from __future__ import annotations

from typing import Annotated

import typer

from memoire_cli.cli import ForceOpt, WorkspaceOpt, run_global
from memoire_cli.eval.config import EvalConfig  # light: dataclasses only, the defaults' one source

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

_D = EvalConfig()


def command(
    workspace: WorkspaceOpt = None,
    k: Annotated[int, typer.Option("--k", "-k", help="Size of the selected set for APS@k, Redundancy@k, Coverage@k (S2.2: 20).")] = _D.k,
    suite: Annotated[str, typer.Option("--suite", help="quick (comparison, Table 9, λ sweep, loss) or full (also ρ sweep, tag noise, graph size, face-ID errors, runtime).")] = _D.suite,
    runtime: Annotated[str, typer.Option("--runtime", help="Score with the PyTorch checkpoint (torch) or the ONNX export (onnx).")] = _D.runtime,
    users: Annotated[str | None, typer.Option("--users", help="Comma-separated user ids to evaluate (default: the test split, else the users without a split); train/val users are evaluated only so, and said to be optimistic.", show_default=False)] = None,
    sheets: Annotated[int, typer.Option("--sheets", help="Users with top-k contact sheets in the report.")] = _D.sheets,
    force: ForceOpt = False,
) -> None:
    EvalConfig(k=k, suite=suite, runtime=runtime, sheets=sheets)  # the checks
    from memoire_cli.eval.stage import EvalStage

    chosen = [u.strip() for u in users.split(",") if u.strip()] if users else None
    run_global(lambda: EvalStage(k=k, suite=suite, runtime=runtime, users=chosen, sheets=sheets), workspace, force=force)
