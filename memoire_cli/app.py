"""The ``memoire`` command: one subcommand per stage (modules in ``commands/``).

Importing this module costs the standard library only: :func:`main` first makes Ctrl-C and SIGTERM
an interrupt (exit 130, one line) and only then imports typer and the commands, so a signal that
lands while the program is still starting is reported like one that lands mid-run. Each command
imports its library code when it runs, so ``memoire --help`` comes back at once.
"""

from __future__ import annotations

import signal
import sys
from typing import Any

from memoire_cli import __version__
from memoire_cli.pipeline import PIPELINE, TOOL_NAMES, describe

#: Subcommand modules in pipeline order (`memoire --help` lists them so), then the tools.
STAGE_NAMES = PIPELINE
EPILOG = describe()

HELP = f"""memoire {__version__}: learn what matters to a person from their photo gallery, and curate it.

Stages read and write one workspace (a DuckDB file and a Zarr group) and print one JSON manifest
line on stdout, so they compose:  memoire synth -w W --user-count 4 | memoire graph | memoire persona
"""


def _modules(names: tuple[str, ...]) -> tuple[Any, ...]:
    import importlib

    return tuple(importlib.import_module(f"memoire_cli.commands.{n}") for n in names)


def __getattr__(name: str) -> Any:
    """``STAGES`` and ``TOOLS``: the command modules, imported on first use."""
    if name == "STAGES":
        return _modules(STAGE_NAMES)
    if name == "TOOLS":
        return _modules(TOOL_NAMES)
    raise AttributeError(name)


def build_app() -> Any:
    """The typer application: a :class:`memoire_cli.cli.MemoireGroup`, which builds a command from
    its module (:func:`build_command`) only when it is asked for, so that ``memoire synth --help``
    imports and builds synth's alone."""
    import typer

    from memoire_cli.cli import MemoireGroup

    class Memoire(MemoireGroup):
        build = staticmethod(build_command)
        help_of = staticmethod(command_help)

    app = typer.Typer(cls=Memoire, help=HELP, epilog=EPILOG, no_args_is_help=True, add_completion=False,
                      pretty_exceptions_enable=False, rich_markup_mode=None, context_settings={"help_option_names": ["-h", "--help"]})
    app.callback()(_no_options)
    return app


def _no_options() -> None:
    """The ``memoire`` group itself takes no option but --help."""


def command_help(name: str) -> str:
    """The help text of command ``name`` (its module's ``HELP``)."""
    return _modules((name,))[0].HELP


def build_command(name: str) -> Any:
    """The click command of ``memoire NAME`` (a group when the command has sub-actions)."""
    import typer

    app = typer.Typer(add_completion=False, rich_markup_mode=None)
    add_command(app, name, _modules((name,))[0])
    command = typer.main.get_command(app)
    return getattr(command, "commands", {}).get(name, command)


def command_tree(hidden: bool = False) -> dict[tuple[str, ...], Any]:
    """Every command of the app by its path, ``()`` (``memoire`` itself), ``("synth",)``, …,
    ``("persona", "update")``, each built; ``hidden``: with the hidden old spellings."""
    import typer

    tree: dict[tuple[str, ...], Any] = {}

    def walk(path: tuple[str, ...], command: Any) -> None:
        tree[path] = command
        names = command.list_commands(None) if hasattr(command, "list_commands") else ()
        for name in names:
            sub = command.get_command(None, name)
            if hidden or not sub.hidden:
                walk((*path, name), sub)

    walk((), typer.main.get_command(build_app()))
    return tree


def add_command(app: Any, name: str, module: Any) -> None:
    """Register a command module: ``command`` with its ``HELP`` and (optional) ``RENAMED`` options;
    with ``SUBCOMMANDS`` (name → (function, help), a leading ``_`` hides it), ``command`` is the callback
    of a group that runs the stage when no sub-action follows (``memoire persona`` and
    ``memoire persona update``)."""
    import typer

    from memoire_cli.cli import MemoireCommand, MemoireSubGroup

    def cls(base: type, renamed: dict[str, str]) -> type:
        return type(base.__name__, (base,), {"renamed": renamed}) if renamed else base

    actions = getattr(module, "SUBCOMMANDS", None)
    if not actions:
        app.command(name=name, help=module.HELP, epilog=EPILOG, cls=cls(MemoireCommand, getattr(module, "RENAMED", {})))(module.command)
        return
    group = typer.Typer(cls=cls(MemoireSubGroup, getattr(module, "RENAMED", {})), add_completion=False, rich_markup_mode=None)
    group.callback(invoke_without_command=True, help=module.HELP, epilog=EPILOG)(module.command)
    for action, (function, text) in actions.items():
        group.command(name=action.lstrip("_"), help=text, epilog=EPILOG, hidden=action.startswith("_"), cls=MemoireCommand)(function)
    app.add_typer(group, name=name)


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main() -> None:
    """Run ``memoire`` with ``sys.argv``: an interrupt before the command group takes over is one line, exit 130."""
    from memoire_cli.errors import EXIT_INTERRUPTED

    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        app = build_app()
        app()
    except KeyboardInterrupt:
        sub = next((a for a in sys.argv[1:] if not a.startswith("-")), "")
        sys.stderr.write(f"{f'memoire {sub}'.strip()}: interrupted\n")
        sys.stderr.flush()
        quiet_after_interrupt()
        exit_interrupted()
    except SystemExit as exc:
        if exc.code == EXIT_INTERRUPTED:
            quiet_after_interrupt()
            exit_interrupted()
        else:  # the command has finished and said so: a signal while Python shuts down changes nothing
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise


def exit_interrupted() -> None:
    """End the process with exit status 130 now, once the command has said "interrupted".

    Python ends a process whose KeyboardInterrupt reached a C-level ``PyRun`` call by killing itself
    with SIGINT at shutdown (status −2), even when the interrupt was caught afterwards; its
    finalisation also runs library exit hooks that report on abandoned tasks. Every output is
    committed or rolled back by then (transactions, write-then-swap), so the process exits at once
    with the documented code, its streams flushed."""
    import os

    from memoire_cli.errors import EXIT_INTERRUPTED

    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(EXIT_INTERRUPTED)


def quiet_after_interrupt() -> None:
    """Let an interrupted Zarr write stop quietly once the command said "interrupted".

    Zarr writes chunks from tasks of an asyncio loop in its own I/O thread; an interrupt stops the
    main thread's wait, not those tasks. Left pending, zarr's exit hook closes the loop under them
    and each prints a "Task was destroyed but it is pending!" or an "Event loop is closed" traceback
    (hundreds of lines for a large array). They are cancelled here and awaited (a few seconds at
    most); the user's outputs are safe either way (a user without its ``stage_users`` row has none).
    Whatever still reports after that (the ``asyncio`` logger, unraisable errors of abandoned
    coroutines) is switched off for the rest of the process, and a second Ctrl-C or SIGTERM while
    it exits is ignored.
    """
    import logging

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _cancel_zarr_io()
    logging.getLogger("asyncio").disabled = True
    sys.unraisablehook = lambda info: None
    import warnings

    warnings.simplefilter("ignore", RuntimeWarning)  # "coroutine … was never awaited"


def _cancel_zarr_io(timeout_s: float = 5.0) -> None:
    """Cancel and await the tasks pending on zarr's I/O loop (when zarr was used at all)."""
    sync = sys.modules.get("zarr.core.sync")
    loop = getattr(sync, "loop", [None])[0] if sync is not None else None
    if loop is None or loop.is_closed() or not loop.is_running():
        return
    import asyncio

    async def cancel_all() -> None:
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    try:
        asyncio.run_coroutine_threadsafe(cancel_all(), loop).result(timeout_s)
    except Exception:  # noqa: BLE001, S110 - a loop that will not settle is closed by zarr's exit hook anyway
        pass
