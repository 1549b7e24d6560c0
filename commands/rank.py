"""`memoire rank`: Session-adapted, diversity-aware top-k of a session with reasons (S1.2.8, S2.4)."""

from __future__ import annotations

from memoire_cli.cli import WorkspaceOpt, not_built

HELP = """Session-adapted, diversity-aware top-k of a session with reasons (S1.2.8, S2.4)."""


def command(workspace: WorkspaceOpt = None) -> None:
    not_built("rank")
