"""`memoire label`: Pairwise High/Low personal-impact labels from a vision–language judge (S1.1.10)."""

from __future__ import annotations

from memoire_cli.cli import WorkspaceOpt, not_built

HELP = """Pairwise High/Low personal-impact labels from a vision–language judge (S1.1.10)."""


def command(workspace: WorkspaceOpt = None) -> None:
    not_built("label")
