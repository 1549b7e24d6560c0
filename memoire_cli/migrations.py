"""Schema migrations: older workspaces are upgraded in place, one version at a time.

``MIGRATIONS[v]`` upgrades a workspace from version ``v`` to ``v + 1`` inside the transaction
:meth:`memoire_cli.workspace.Workspace._check_version` opens (so a failed migration changes
nothing). A schema change adds its step here and bumps ``schema_version`` in ``schemas/schema.toml``.

* 1 → 2: the tables of `memoire people` (``people_*``), created empty. Nothing else changes: a user
  whose people stage never ran reads exactly as before.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from memoire_cli.errors import SchemaVersionError

#: The tables schema version 2 added (all of `memoire people`).
PEOPLE_TABLES = ("people_users", "people_faces", "people_image_tags", "people_clusters", "people_flags", "people_tags", "people_names")


def _v1_to_v2(con: Any) -> None:
    """Version 2 adds the `memoire people` tables; create them (empty) as declared."""
    from memoire_cli.schema import load_schema, table_ddl

    schema = load_schema()
    for name in PEOPLE_TABLES:
        con.execute(table_ddl(schema.tables[name]))


MIGRATIONS: dict[int, Callable[[Any], None]] = {1: _v1_to_v2}


def migrate(con: Any, found: int, target: int, steps: dict[int, Callable[[Any], None]] | None = None) -> None:
    """Apply the steps from ``found`` to ``target`` and record the new version."""
    steps = MIGRATIONS if steps is None else steps
    for version in range(found, target):
        if version not in steps:
            raise SchemaVersionError(f"no migration from workspace schema version {version} to {version + 1}")
        steps[version](con)
    con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", [str(target)])
