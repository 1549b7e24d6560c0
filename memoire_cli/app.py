"""The ``memoire`` command: one subcommand per stage (modules in ``commands/``).

Importing this module must stay cheap (typer only): each command imports its library code when it
runs, so ``memoire --help`` comes back at once.
"""

from __future__ import annotations

import typer

from memoire_cli import __version__
from memoire_cli.cli import MemoireGroup
from memoire_cli.commands import eval as eval_cmd
from memoire_cli.commands import export, graph, ingest, label, pat, people, persona, rank, schema, status, synth, train

#: Pipeline order; `memoire --help` lists them in this order.
STAGES = (synth, ingest, people, graph, persona, pat, label, train, rank, eval_cmd)
TOOLS = (export, status, schema)

EPILOG = "Pipeline: synth (or ingest) → people (optional) → graph → persona → pat → label → train → rank → eval. Tools: export, status, schema."

HELP = f"""memoire {__version__}: learn what matters to a person from their photo gallery, and curate it.

Stages read and write one workspace (a DuckDB file and a Zarr group) and print one JSON manifest
line on stdout, so they compose:  memoire synth -w W --users 4 | memoire graph | memoire persona
"""


def build_app() -> typer.Typer:
    app = typer.Typer(cls=MemoireGroup, help=HELP, epilog=EPILOG, no_args_is_help=True, add_completion=False,
                      pretty_exceptions_enable=False, rich_markup_mode=None, context_settings={"help_option_names": ["-h", "--help"]})
    for module in (*STAGES, *TOOLS):
        name = module.__name__.rsplit(".", 1)[1].removesuffix("_cmd")
        app.command(name=name, help=module.HELP, epilog=EPILOG)(module.command)
    return app


def main() -> None:
    build_app()()
