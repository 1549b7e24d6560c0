"""Schema migrations: older workspaces are upgraded in place, one version at a time.

``MIGRATIONS[v]`` upgrades a workspace from version ``v`` to ``v + 1`` inside the transaction
:meth:`memoire_cli.workspace.Workspace._check_version` opens (so a failed migration changes
nothing). A schema change adds its step here and bumps ``schema_version`` in ``schemas/schema.toml``.

* 1 → 2: the tables of `memoire people` (``people_*``), created empty; ``runs`` gains ``pid`` and
  ``host`` (a dead process's ``running`` row reads ``interrupted``), ``stage_users`` gains ``upstream``
  and ``contents`` (transitive staleness and integrity checks); all NULL on the rows migrated, which
  are then checked as far as their records allow. A user whose people stage never ran reads exactly as before.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from memoire_cli.errors import SchemaVersionError

#: The tables schema version 2 added (all of `memoire people`).
PEOPLE_TABLES = ("people_users", "people_faces", "people_image_tags", "people_clusters", "people_flags", "people_tags", "people_names")
#: The (nullable) columns schema version 2 appended to existing tables.
V2_COLUMNS = {"runs": ("pid", "host"), "stage_users": ("upstream", "contents")}


def _v1_to_v2(con: Any) -> None:
    """Version 2 adds the `memoire people` tables (created empty, as declared) and the columns of :data:`V2_COLUMNS`."""
    from memoire_cli.schema import load_schema, table_ddl

    schema = load_schema()
    for name in PEOPLE_TABLES:
        con.execute(table_ddl(schema.tables[name]))
    add_missing_columns(con, schema)


def add_missing_columns(con: Any, schema: Any) -> None:
    """Append the declared trailing columns a table lacks (NULL on existing rows).

    Also run on every open: workspaces made by an early version-2 build lack :data:`V2_COLUMNS`.
    Only a missing *suffix* of the declared columns is added; any other difference is left to fail loudly.
    """
    for table, names in V2_COLUMNS.items():
        found = [c for (c,) in con.execute("SELECT column_name FROM information_schema.columns WHERE table_schema = 'main' "
                                           "AND table_name = ? ORDER BY ordinal_position", [table]).fetchall()]
        declared = schema.tables[table].columns
        if not found or len(found) >= len(declared) or [c.name for c in declared[:len(found)]] != found:
            continue
        for col in declared[len(found):]:
            if col.name in names:
                con.execute(f"ALTER TABLE {table} ADD COLUMN {col.name} {col.type}")


MIGRATIONS: dict[int, Callable[[Any], None]] = {1: _v1_to_v2}


def migrate(con: Any, found: int, target: int, steps: dict[int, Callable[[Any], None]] | None = None) -> None:
    """Apply the steps from ``found`` to ``target`` and record the new version."""
    steps = MIGRATIONS if steps is None else steps
    for version in range(found, target):
        if version not in steps:
            raise SchemaVersionError(f"no migration from workspace schema version {version} to {version + 1}")
        steps[version](con)
    con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", [str(target)])
