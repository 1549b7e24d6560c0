"""`memoire graph`: Build each user's tag graph, tag features and the importance prior IPS^0 (S1.2.1–1.2.4)."""

from __future__ import annotations

from memoire_cli.cli import WorkspaceOpt, not_built

HELP = """Build each user's tag graph, tag features and the importance prior IPS^0 (S1.2.1–1.2.4)."""


def command(workspace: WorkspaceOpt = None) -> None:
    not_built("graph")
