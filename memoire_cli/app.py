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

#: Subcommand modules in pipeline order (`memoire --help` lists them so), then the tools.
STAGE_NAMES = ("synth", "ingest", "graph", "persona", "pat", "label", "train", "rank", "eval")
TOOL_NAMES = ("status", "schema")

EPILOG = "Pipeline: synth (or ingest) → graph → persona → pat → label → train → rank → eval. Tools: status, schema."

HELP = f"""memoire {__version__}: learn what matters to a person from their photo gallery, and curate it.

Stages read and write one workspace (a DuckDB file and a Zarr group) and print one JSON manifest
line on stdout, so they compose:  memoire synth -w W --users 4 | memoire graph | memoire persona
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
    """The typer application (a :class:`memoire_cli.cli.MemoireGroup` of every command)."""
    import typer

    from memoire_cli.cli import MemoireGroup

    app = typer.Typer(cls=MemoireGroup, help=HELP, epilog=EPILOG, no_args_is_help=True, add_completion=False,
                      pretty_exceptions_enable=False, rich_markup_mode=None, context_settings={"help_option_names": ["-h", "--help"]})
    for name, module in zip((*STAGE_NAMES, *TOOL_NAMES), _modules((*STAGE_NAMES, *TOOL_NAMES))):
        app.command(name=name, help=module.HELP, epilog=EPILOG)(module.command)
    return app


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
        sys.exit(EXIT_INTERRUPTED)
