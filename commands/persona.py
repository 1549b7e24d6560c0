"""`memoire persona`: Train PERSONA-GAT per user: tag importances α_t (global persona), S1.2.5–1.2.11."""

from __future__ import annotations

from memoire_cli.cli import WorkspaceOpt, not_built

HELP = """Train PERSONA-GAT per user: tag importances α_t (global persona), S1.2.5–1.2.11."""


def command(workspace: WorkspaceOpt = None) -> None:
    not_built("persona")
