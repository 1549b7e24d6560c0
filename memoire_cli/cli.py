"""What every subcommand shares: its options, error reporting and the stage runner glue.

Kept light (typer and the standard library only) so that ``memoire --help`` stays instant; the
library code a command wraps is imported inside the command.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from memoire_cli.errors import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_USAGE, MemoireError, UsageError, describe_library_error

WorkspaceOpt = Annotated[
    Path | None,
    typer.Option("--workspace", "-w", help="Workspace folder. Default: $MEMOIRE_WORKSPACE, else a manifest line on stdin.", show_default=False),
]
ForceOpt = Annotated[bool, typer.Option("--force", help="Redo the stage even where inputs and parameters are unchanged.")]
UsersOpt = Annotated[str | None, typer.Option("--users", help="Comma-separated user ids to run on (default: all).", show_default=False)]
ShardOpt = Annotated[str | None, typer.Option("--shard", help="i/n: run on the i-th of n disjoint shards of the users (0-based).", show_default=False)]
DeviceOpt = Annotated[str, typer.Option("--device", help="Torch device: cpu, cuda, cuda:1 … (auto: cuda when present).")]
JobsOpt = Annotated[str, typer.Option("--jobs", "-j", metavar="N|auto", help="Run the users in N worker processes on this workspace (auto: one per CPU, at most one per user to compute); the result is the same as with 1.")]

#: Set in the environment of the worker processes of ``--jobs``: ``j/J`` and the worker's users.
JOB_ENV = "MEMOIRE_JOB"
JOB_USERS_ENV = "MEMOIRE_JOB_USERS"
#: The command line of this invocation (after ``memoire``), recorded by :class:`MemoireGroup` so
#: that ``--jobs`` can start workers with the same options.
_ARGV: list[str] = []


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _interrupt_later(hook: Any) -> Any:
    """A ``sys.unraisablehook`` that re-delivers an interrupt raised where Python cannot raise it.

    A signal that lands inside a weakref callback or a finaliser (an import lock's, say) raises
    KeyboardInterrupt in a context Python only reports: it printed a traceback and went on. The
    interrupt is signalled again instead, to be raised at the next ordinary line; other unraisable
    errors go to ``hook``."""

    def unraisable(info: Any) -> None:
        if isinstance(info.exc_value, KeyboardInterrupt):
            signal.raise_signal(signal.SIGTERM)
        else:
            hook(info)

    return unraisable


def check_argv(argv: list[str]) -> None:
    """Refuse what typer would turn into something else: an empty ``--workspace`` (it would become the
    current folder) and arguments that are not valid text (bytes the terminal could not decode)."""
    for i, arg in enumerate(argv):
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:  # file and folder names included: the database stores them as text
            shown = arg.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
            shown = shown if len(shown) <= 60 else "…" + shown[-59:]
            raise UsageError(f"argument {i + 1} is not valid UTF-8 text ({shown}): rename the file or folder") from None
        if (arg in ("-w", "--workspace") and i + 1 < len(argv) and not argv[i + 1].strip()) or arg in ("--workspace=", "-w="):
            raise UsageError("--workspace needs a folder, got an empty path")


class MemoireGroup(typer.core.TyperGroup):
    """The ``memoire`` command group: every failure is one line on stderr and a documented exit code."""

    def main(self, args: Any = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        from typer._click import exceptions as click  # typer vendors its own click
        from typer.exceptions import Abort

        argv = list(sys.argv[1:] if args is None else args)
        _ARGV[:] = argv
        sub = next((a for a in argv if not a.startswith("-")), "")
        where = f"memoire {sub}".strip()
        previous = signal.signal(signal.SIGTERM, _raise_interrupt)
        previous_hook, sys.unraisablehook = sys.unraisablehook, _interrupt_later(sys.unraisablehook)
        try:
            check_argv(argv)
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
        except Exception as exc:
            from memoire_cli.workspace import is_interrupted_query

            if is_interrupted_query(exc):  # DuckDB's form of a Ctrl-C that landed inside a statement
                sys.stderr.write(f"{where}: interrupted\n")
                code = EXIT_INTERRUPTED
            else:
                reason = describe_library_error(exc)
                if reason is None:  # not a known kind of damaged input: a bug, shown with its traceback
                    raise
                sys.stderr.write(f"{where}: error: {' '.join(reason.split())}\n")
                code = EXIT_FAILURE
        finally:
            signal.signal(signal.SIGTERM, previous)
            sys.unraisablehook = previous_hook
        sys.stderr.flush()
        sys.exit(code)


def run(stage_factory: Any, workspace: Path | None, users: str | None = None, shard: str | None = None,
        force: bool = False, create: bool = False, check: Any = None, jobs: str | int = 1, show: Any = None) -> Any:
    """What every command that runs a stage does: open the workspace, run the stage, print its manifest;
    returns the workspace.

    The stage (``stage_factory()``) is a per-user :class:`~memoire_cli.stage.Stage` over the users
    ``users``/``shard`` select, or a :class:`~memoire_cli.global_stage.GlobalStage` (then neither is
    given); :func:`memoire_cli.runner.run_stage` runs either. The workspace is ``workspace``, else
    ``$MEMOIRE_WORKSPACE``, else a manifest line on stdin (created with ``create``).

    Args:
        check: ``check(ws)`` validates request details that need the workspace, before any work.
        jobs: ``--jobs``: the users to compute in that many worker processes (``auto``: one per CPU,
            :mod:`memoire_cli.runner.jobs`); a worker process (``$MEMOIRE_JOB`` set) runs the users it
            was given, prints its manifest and nothing else.
        show: ``show(ws, manifest)`` after the run (not in a worker): shows the results on stderr and
            returns the line to print instead of the manifest (``memoire rank --json``).
    """
    from memoire_cli.console import emit_json, stderr_console
    from memoire_cli.manifest import resolve_workspace
    from memoire_cli.runner import run_stage
    from memoire_cli.stage import Selection, parse_selection
    from memoire_cli.workspace import Workspace

    selection = parse_selection(users, shard)
    n_jobs = parse_jobs(jobs)
    stage = stage_factory()
    root = resolve_workspace(workspace)
    ws = Workspace.open(root, stage.name, create=create)
    if check is not None:  # validate request details that need the workspace, before any work
        check(ws)
    console = stderr_console()
    if is_job_worker():
        mine = tuple(u for u in os.environ.get(JOB_USERS_ENV, "").split(",") if u)
        emit_json(run_stage(ws, stage, Selection(mine), force, console, progress="lines"))
        return ws
    manifest = run_stage(ws, stage, selection, force, console, jobs=n_jobs, argv=_ARGV)
    emit_json(manifest if show is None else show(ws, manifest))
    return ws


def parse_jobs(value: str | int) -> int:
    """``--jobs``: a positive number, or ``auto`` (returned as 0)."""
    text = str(value).strip().lower()
    if text == "auto":
        return 0
    try:
        n = int(text)
    except ValueError:
        n = -1
    if not 1 <= n <= 1024:
        raise UsageError(f"--jobs must be a positive number of processes or auto, got {value!r}")
    return n


def is_job_worker() -> bool:
    """Whether this process is a worker of another process's ``--jobs`` (it then leaves work that
    concerns the whole run, such as ``pat --overlay``, to its parent)."""
    return bool(os.environ.get(JOB_ENV))


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask, else the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def run_global(stage_factory: Any, workspace: Path | None, force: bool = False, check: Any = None) -> Any:
    """:func:`run` for a global stage (train, eval: one output set over many users)."""
    return run(stage_factory, workspace, force=force, check=check)


def not_built(stage: str) -> None:
    """The stage's command exists (its place in the pipeline and its help) but not its code yet."""
    raise MemoireError(f"`memoire {stage}` is not built in this version of memoire yet (see CHANGELOG.md)")
