"""What every subcommand shares: its options, error reporting and the stage runner glue.

Kept light (typer and the standard library only) so that ``memoire --help`` stays instant; the
library code a command wraps is imported inside the command.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Annotated, Any, ClassVar

import typer

from memoire_cli.errors import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_USAGE, MemoireError, UsageError, describe_library_error

# JOB_ENV, JOB_USERS_ENV: set in the environment of the worker processes of ``--jobs`` (``j/J`` and the worker's users).
from memoire_cli.workers import JOB_ENV, JOB_USERS_ENV, available_cpus, is_job_worker  # noqa: F401  (commands import them from here)

WorkspaceOpt = Annotated[
    Path | None,
    typer.Option("--workspace", "-w", help="Workspace folder. Default: $MEMOIRE_WORKSPACE, else a manifest line on stdin.", show_default=False),
]
ForceOpt = Annotated[bool, typer.Option("--force", help="Redo the stage even where inputs and parameters are unchanged.")]
UsersOpt = Annotated[str | None, typer.Option("--users", help="Comma-separated user ids to run on (default: all).", show_default=False)]
ShardOpt = Annotated[
    str | None, typer.Option("--shard", help="i/n: run on the i-th of n disjoint shards of the users (0-based).", show_default=False)
]
DeviceOpt = Annotated[str, typer.Option("--device", help="Torch device: cpu, cuda, cuda:1 … (auto: cuda when present).")]
JobsOpt = Annotated[
    str,
    typer.Option(
        "--jobs",
        "-j",
        metavar="N|auto",
        help=(
            "Run the users in N worker processes on this workspace (auto: one per CPU, at most one per user to compute);"
            " the result is the same as with 1."
        ),
    ),
]

#: Key of the command line of this invocation (after ``memoire``) in the click context's ``meta``,
#: put there by :class:`MemoireGroup` so that ``--jobs`` can start workers with the same options.
ARGV_KEY = "memoire.argv"


def command_argv() -> list[str]:
    """The command line (after ``memoire``) of the invocation now running; empty outside one."""
    from typer._click.globals import get_current_context

    ctx = get_current_context(silent=True)
    return list(ctx.meta.get(ARGV_KEY, ())) if ctx is not None else []


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


class _RenamedOption:
    """The parser entry of an option's old spelling: the new option's, plus one line on stderr."""

    def __init__(self, option: Any, old: str, new: str):
        self._option, self._old, self._new = option, old, new

    def __getattr__(self, name: str) -> Any:
        return getattr(self._option, name)

    def process(self, value: Any, state: Any) -> None:
        if not is_job_worker():  # the parent of --jobs said it already
            sys.stderr.write(f"`{self._old}` is now `{self._new}`\n")
        self._option.process(value, state)


class _DefaultsAsDeclared:
    """A parameter's value check that takes a default as declared and checks only what was given.

    typer checks every value, defaults included, through a pydantic TypeAdapter, so that even
    ``memoire persona update --help`` (which sets the defaults of ``memoire persona``'s options)
    imported pydantic, most of its cost. The defaults in ``commands/`` are values of their
    options' types already; a value from the command line or the environment gets typer's check."""

    def coerce(self, value: Any, param: Any, ctx: Any) -> Any:
        from typer._click.core import ParameterSource

        if ctx.get_parameter_source(param.name) is ParameterSource.DEFAULT:
            return value
        from typer._coercion import build_runtime_param

        param._runtime_param = build_runtime_param(param.type_descriptor)
        return param._runtime_param.coerce(value, param=param, ctx=ctx)


class CommandParts:
    """What every memoire command and command group adds to typer's: options listed in their help
    groups (``rich_help_panel``, also without rich), renamed options' old spellings (``renamed``:
    old → new, hidden, one stderr line each), and defaults that cost no pydantic import (a bare ``--help`` needs none)."""

    #: Old spelling → new, set per command by :func:`memoire_cli.app.build_app`.
    renamed: ClassVar[dict[str, str]] = {}

    def make_parser(self, ctx: Any) -> Any:
        parser = super().make_parser(ctx)  # type: ignore[misc]
        for old, new in self.renamed.items():
            parser._long_opt[old] = _RenamedOption(parser._long_opt[new], old, new)
        return parser

    def get_params(self, ctx: Any) -> Any:
        params = super().get_params(ctx)  # type: ignore[misc]
        for param in params:
            if getattr(param, "_runtime_param", False) is None:
                param._runtime_param = _DefaultsAsDeclared()
        return params

    def format_options(self, ctx: Any, formatter: Any) -> None:
        arguments: list[Any] = []
        panels: dict[str, list[Any]] = {"Options": []}
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is None:
                continue
            if param.param_type_name == "argument":
                arguments.append(record)
            else:
                panels.setdefault(getattr(param, "rich_help_panel", None) or "Options", []).append(record)
        if arguments:
            with formatter.section("Arguments"):
                formatter.write_dl(arguments)
        for title, records in panels.items():
            if records:
                with formatter.section(title):
                    formatter.write_dl(records)
        if hasattr(self, "format_commands"):
            self.format_commands(ctx, formatter)


class MemoireCommand(CommandParts, typer.core.TyperCommand):
    """One ``memoire`` subcommand."""


class GroupParts(CommandParts):
    """What the command groups add: "did you mean" among the visible commands only (the root
    builds its commands on demand, and hidden old spellings are not offered)."""

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        from difflib import get_close_matches

        from typer._click.exceptions import UsageError as ClickUsageError

        try:
            return self._click_resolve_command(ctx, args)  # type: ignore[attr-defined]
        except ClickUsageError as exc:
            names = [n for n in self.list_commands(ctx) if not getattr(self.commands.get(n), "hidden", False)]  # type: ignore[attr-defined]
            matches = get_close_matches(args[0], names) if args else []
            if matches:
                exc.message = f"{exc.message.rstrip('.')}. Did you mean {', '.join(map(repr, matches))}?"
            raise


class MemoireSubGroup(GroupParts, typer.core.TyperGroup):
    """A subcommand with sub-actions (``memoire persona update``): the group's own options run the
    stage when no sub-action follows."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.subcommand_metavar = "[COMMAND [ARGS]...]"


def parent_option(ctx: Any, name: str, value: Any) -> Any:
    """``value``, else the value the group's own option ``name`` got (``memoire pat -w W session``)."""
    if value is not None or ctx.parent is None:
        return value
    return ctx.parent.params.get(name)


def old_action(function: Any, old: str, new: str) -> Any:
    """A hidden sub-action that keeps an old spelling working (``memoire persona train`` for
    ``memoire persona``): ``function``'s options, one stderr line, then ``function``; options given
    to the group before the old word count too."""
    import functools

    from typer._click.core import ParameterSource

    @functools.wraps(function)
    def action(ctx: Any, **kwargs: Any) -> Any:
        sys.stderr.write(f"`{old}` is now `{new}`\n")
        for name, value in ctx.parent.params.items():
            if name in kwargs and ctx.get_parameter_source(name) in (None, ParameterSource.DEFAULT):
                kwargs[name] = value
        return function(ctx, **kwargs)

    return action


class MemoireGroup(GroupParts, typer.core.TyperGroup):
    """The ``memoire`` command group: every failure is one line on stderr and a documented exit code."""

    #: ``build(name)``: the click command of a subcommand, built from its module; ``help_of(name)``: its
    #: help text without building it. Set by :func:`memoire_cli.app.build_app` (the application knows the modules).
    build: ClassVar[Any] = None
    help_of: ClassVar[Any] = None

    def list_commands(self, ctx: Any) -> list[str]:
        from memoire_cli.pipeline import PIPELINE, TOOL_NAMES

        return [*PIPELINE, *TOOL_NAMES]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        """The command ``cmd_name``, built on first use (its module is imported then)."""
        if cmd_name not in self.commands and cmd_name in self.list_commands(ctx):
            self.commands[cmd_name] = type(self).build(cmd_name)
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        """The commands and the first words of their help, from their modules (none is built)."""
        from typer._click.utils import make_default_short_help

        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(map(len, names))
        with formatter.section("Commands"):
            formatter.write_dl([(name, make_default_short_help(type(self).help_of(name), limit)) for name in names])

    def command_path_of(self, argv: list[str]) -> list[str]:
        """The subcommand (and sub-action) ``argv`` names, for messages: ``["people", "name"]``."""
        sub = next((a for a in argv if not a.startswith("-")), "")
        if not sub:
            return []
        actions = getattr(self.get_command(None, sub), "commands", {}) if sub in self.list_commands(None) else {}
        action = next((a for a in argv[argv.index(sub) + 1:] if a in actions), None)
        return [sub] if action is None or actions[action].hidden else [sub, action]  # an old spelling speaks as the group

    def make_context(self, info_name: Any, args: list[str], parent: Any = None, **extra: Any) -> Any:
        argv = list(args)
        ctx = super().make_context(info_name, args, parent=parent, **extra)
        if parent is None:
            ctx.meta[ARGV_KEY] = argv
        return ctx

    def main(self, args: Any = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, windows_expand_args: bool = True, **extra: Any) -> Any:
        from typer._click import exceptions as click  # typer vendors its own click
        from typer.exceptions import Abort

        argv = list(sys.argv[1:] if args is None else args)
        where = " ".join(["memoire", *self.command_path_of(argv)])
        previous = signal.signal(signal.SIGTERM, _raise_interrupt)
        previous_hook, sys.unraisablehook = sys.unraisablehook, _interrupt_later(sys.unraisablehook)
        try:
            check_argv(argv)
            rv = super().main(argv, prog_name or "memoire", complete_var, standalone_mode=False,
                              windows_expand_args=windows_expand_args, **extra)
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
    manifest = run_stage(ws, stage, selection, force, console, jobs=n_jobs, argv=command_argv())
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


def run_global(stage_factory: Any, workspace: Path | None, force: bool = False, check: Any = None) -> Any:
    """:func:`run` for a global stage (train, eval: one output set over many users)."""
    return run(stage_factory, workspace, force=force, check=check)


def not_built(stage: str) -> None:
    """The stage's command exists (its place in the pipeline and its help) but not its code yet."""
    raise MemoireError(f"`memoire {stage}` is not built in this version of memoire yet (see CHANGELOG.md)")
