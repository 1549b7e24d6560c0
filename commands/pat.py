"""`memoire pat`: Personal attention maps A(I): people, location and event masks fused by α (S1.3)."""

from __future__ import annotations

from memoire_cli.cli import WorkspaceOpt, not_built

HELP = """Personal attention maps A(I): people, location and event masks fused by α (S1.3)."""


def command(workspace: WorkspaceOpt = None) -> None:
    not_built("pat")
