"""`memoire status`: what a workspace holds, per stage, and with which parameters."""

from __future__ import annotations

from memoire_cli.cli import WorkspaceOpt

HELP = """Show, per stage, how many users are committed, with which parameters, and the last runs.

A table for people on stderr; one JSON line on stdout.
"""


def command(workspace: WorkspaceOpt = None) -> None:
    from memoire_cli.console import emit_json, stderr_console
    from memoire_cli.manifest import resolve_workspace
    from memoire_cli.status import render_status, workspace_status
    from memoire_cli.workspace import Workspace

    ws = Workspace.open(resolve_workspace(workspace), "status")
    status = workspace_status(ws)
    render_status(status, stderr_console())
    emit_json(status)
