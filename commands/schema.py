"""`memoire schema`: print the workspace schema as DDL, as the reference docs, or as JSON."""

from __future__ import annotations

from typing import Annotated

import typer

from memoire_cli.errors import UsageError

HELP = """Print the workspace schema: `ddl` (DuckDB DDL), `docs` (Markdown reference) or `json`.

schemas/ddl.sql and schemas/REFERENCE.md are this command's output, checked in CI.
"""


def command(what: Annotated[str, typer.Argument(help="ddl | docs | json")] = "json") -> None:
    import json
    import sys
    from dataclasses import asdict

    from memoire_cli.schema import load_schema, render_ddl, render_reference

    if what == "ddl":
        sys.stdout.write(render_ddl())
    elif what == "docs":
        sys.stdout.write(render_reference())
    elif what == "json":
        schema = load_schema()
        sys.stdout.write(json.dumps({"schema_version": schema.version,
                                     "tables": {k: asdict(v) for k, v in schema.tables.items()},
                                     "arrays": {k: asdict(v) for k, v in schema.arrays.items()}}) + "\n")
    else:
        raise UsageError(f"unknown schema format {what!r}: use ddl, docs or json")
