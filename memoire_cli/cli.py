"""What every subcommand shares: its options, error reporting and the stage runner glue.

Kept light (typer and the standard library only) so that ``memoire --help`` stays instant; the
library code a command wraps is imported inside the command.
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from memoire_cli.errors import EXIT_INTERRUPTED, EXIT_USAGE, MemoireError

WorkspaceOpt = Annotated[
    Path | None,
    typer.Option("--workspace", "-w", help="Workspace folder. Default: $MEMOIRE_WORKSPACE, else a manifest line on stdin.", show_default=False),
]
ForceOpt = Annotated[bool, typer.Option("--force", help="Redo the stage even where inputs and parameters are unchanged.")]
UsersOpt = Annotated[str | None, typer.Option("--users", help="Comma-separated user ids to run on (default: all).", show_default=False)]
ShardOpt = Annotated[str | None, typer.Option("--shard", help="i/n: run on the i-th of n disjoint shards of the users (0-based).", show_default=False)]
DeviceOpt = Annotated[str, typer.Option("--device", help="Torch device: cpu, cuda, cuda:1 … (auto: cuda when present).")]


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


class MemoireGroup(typer.core.TyperGroup):
    """The ``memoire`` command group: every failure is one line on stderr and a documented exit code."""

    def main(self, args: Any = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        from typer._click import exceptions as click  # typer vendors its own click
        from typer.exceptions import Abort

        argv = list(sys.argv[1:] if args is None else args)
        sub = next((a for a in argv if not a.startswith("-")), "")
        where = f"memoire {sub}".strip()
        previous = signal.signal(signal.SIGTERM, _raise_interrupt)
        try:
            rv = super().main(argv, prog_name or "memoire", complete_var, standalone_mode=False, **extra)
            code = rv if isinstance(rv, int) else 0
            if code == EXIT_INTERRUPTED:  # typer turns Ctrl-C into exit code 130
                sys.stderr.write(f"{where}: interrupted\n")
        except click.NoArgsIsHelpError as exc:
            exc.show()  # the help, on stderr
            code = EXIT_USAGE
        except click.UsageError as exc:
            sys.stderr.write(f"{where}: usage error: {exc.format_message()} (see `{where} --help`)\n")
            code = EXIT_USAGE
        except click.ClickException as exc:
            sys.stderr.write(f"{where}: error: {exc.format_message()}\n")
            code = exc.exit_code
        except (KeyboardInterrupt, Abort):
            sys.stderr.write(f"{where}: interrupted\n")
            code = EXIT_INTERRUPTED
        except MemoireError as exc:
            sys.stderr.write(f"{where}: error: {' '.join(str(exc).split())}\n")
            code = exc.exit_code
        finally:
            signal.signal(signal.SIGTERM, previous)
        sys.stderr.flush()
        sys.exit(code)


def run(stage_factory: Any, workspace: Path | None, users: str | None = None, shard: str | None = None,
        force: bool = False, create: bool = False, check: Any = None) -> Any:
    """Open the workspace, run a stage over the selected users, print its manifest; returns the workspace."""
    from memoire_cli.console import emit_json, stderr_console
    from memoire_cli.manifest import resolve_workspace
    from memoire_cli.stage import parse_selection, run_stage
    from memoire_cli.workspace import Workspace

    selection = parse_selection(users, shard)
    stage = stage_factory()
    root = resolve_workspace(workspace)
    ws = Workspace.open(root, stage.name, create=create)
    if check is not None:  # validate request details that need the workspace, before any work
        check(ws)
    manifest = run_stage(ws, stage, selection, force, stderr_console())
    emit_json(manifest)
    return ws


def run_global(stage_factory: Any, workspace: Path | None, force: bool = False, check: Any = None) -> Any:
    """Open the workspace, run a global stage (train, eval: one output set over many users), print its manifest."""
    from memoire_cli.console import emit_json, stderr_console
    from memoire_cli.global_stage import run_global_stage
    from memoire_cli.manifest import resolve_workspace
    from memoire_cli.workspace import Workspace

    stage = stage_factory()
    ws = Workspace.open(resolve_workspace(workspace), stage.name)
    if check is not None:
        check(ws)
    emit_json(run_global_stage(ws, stage, force, stderr_console()))
    return ws


def not_built(stage: str) -> None:
    """The stage's command exists (its place in the pipeline and its help) but not its code yet."""
    raise MemoireError(f"`memoire {stage}` is not built in this version of memoire yet (see CHANGELOG.md)")
