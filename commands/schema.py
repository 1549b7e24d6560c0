"""`memoire schema`: print the workspace schema as DDL, as the reference docs, or as JSON."""

from __future__ import annotations

import typer

HELP = """Print the workspace schema: `schema ddl` (DuckDB DDL), `schema docs` (Markdown reference) or
`schema json` (the default).

schemas/ddl.sql and schemas/REFERENCE.md are this command's output, checked in CI.
"""


def command(ctx: typer.Context) -> None:
    if ctx.invoked_subcommand is None:
        json_()


def ddl() -> None:
    import sys

    from memoire_cli.schema import render_ddl

    sys.stdout.write(render_ddl())


def docs() -> None:
    import sys

    from memoire_cli.schema import render_reference

    sys.stdout.write(render_reference())


def json_() -> None:
    import json
    import sys
    from dataclasses import asdict

    from memoire_cli.schema import load_schema

    schema = load_schema()
    sys.stdout.write(json.dumps({"schema_version": schema.version,
                                 "tables": {k: asdict(v) for k, v in schema.tables.items()},
                                 "arrays": {k: asdict(v) for k, v in schema.arrays.items()}}) + "\n")


#: The formats, one sub-action each (`memoire schema ddl`).
SUBCOMMANDS = {"ddl": (ddl, "The DuckDB DDL (schemas/ddl.sql)."),
               "docs": (docs, "The Markdown reference (schemas/REFERENCE.md)."),
               "json": (json_, "Tables and arrays as one JSON line.")}
