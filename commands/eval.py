"""`memoire eval`: SRCC, APS@k, Redundancy@k, Coverage@k against ground truth or ratings; baselines, ablations (S2.2–2.4)."""

from __future__ import annotations

from memoire_cli.cli import WorkspaceOpt, not_built

HELP = """SRCC, APS@k, Redundancy@k, Coverage@k against ground truth or ratings; baselines, ablations (S2.2–2.4)."""


def command(workspace: WorkspaceOpt = None) -> None:
    not_built("eval")
