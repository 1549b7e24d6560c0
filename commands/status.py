"""`memoire status`: what a workspace holds, per stage, and with which parameters."""

from __future__ import annotations

from typing import Annotated

import typer

from memoire_cli.cli import WorkspaceOpt

HELP = """Show, per stage, how many users are committed, with which parameters, and the last runs.

A table for people on stderr; one JSON line on stdout. A run whose process is gone (killed) reads
`interrupted`.

--check also verifies that every committed (stage, user) has the rows and arrays it recorded (shapes,
chunk files) and that no rows or arrays exist without their stage's record: one line per problem on
stderr, and exit code 1 when there is any.
"""

CheckOpt = Annotated[bool, typer.Option("--check", help="Verify committed rows and arrays (and the reverse); exit 1 on damage.")]


def command(workspace: WorkspaceOpt = None, check: CheckOpt = False) -> None:
    from memoire_cli.console import emit_json, stderr_console
    from memoire_cli.errors import MemoireError
    from memoire_cli.manifest import resolve_workspace
    from memoire_cli.status import check_workspace, render_status, workspace_status
    from memoire_cli.workspace import Workspace

    ws = Workspace.open(resolve_workspace(workspace), "status")
    status = workspace_status(ws)
    console = stderr_console()
    render_status(status, console)
    if check:
        problems = check_workspace(ws)
        status["problems"] = problems
        for line in problems:
            console.print(line, markup=False, highlight=False)
    emit_json(status)
    if check and status["problems"]:
        raise MemoireError(f"workspace {ws.root}: {len(status['problems'])} problem(s) found (listed above)")
    if check:
        console.print("check: every committed output has its rows and arrays")
