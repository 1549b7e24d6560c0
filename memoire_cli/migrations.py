"""Schema migrations: older workspaces are upgraded in place, one version at a time.

``MIGRATIONS[v]`` upgrades a workspace from version ``v`` to ``v + 1`` inside the transaction
:meth:`memoire_cli.workspace.Workspace._check_version` opens (so a failed migration changes
nothing). Version 1 is the first published schema, so there is nothing to migrate yet; a schema
change adds its step here and bumps ``schema_version`` in ``schemas/schema.toml``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from memoire_cli.errors import SchemaVersionError

MIGRATIONS: dict[int, Callable[[Any], None]] = {}


def migrate(con: Any, found: int, target: int, steps: dict[int, Callable[[Any], None]] | None = None) -> None:
    """Apply the steps from ``found`` to ``target`` and record the new version."""
    steps = MIGRATIONS if steps is None else steps
    for version in range(found, target):
        if version not in steps:
            raise SchemaVersionError(f"no migration from workspace schema version {version} to {version + 1}")
        steps[version](con)
    con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", [str(target)])
