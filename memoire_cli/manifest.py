"""Manifest lines: how stages find the workspace in a pipe and report what they did.

Every command prints exactly one JSON line on stdout when it succeeds::

    {"memoire": "0.1.0", "stage": "synth", "workspace": "/abs/W", "run_id": "…", "skipped": false,
     "shard": "0/1", "users": 10, "computed": 10, "cached": 0,
     "wrote": {"tables": ["images", …], "arrays": ["users/{user_id}/images", …]}}

A command given no ``--workspace`` and no ``$MEMOIRE_WORKSPACE`` reads such a line from stdin, so
``memoire synth -w W | memoire graph | memoire persona`` works.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import IO

from memoire_cli.errors import UsageError
from memoire_cli.workspace import ENV_VAR


def workspace_from_manifest(text: str) -> Path | None:
    """The workspace named by the last manifest line of ``text`` (other lines are ignored)."""
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict) and isinstance(obj.get("workspace"), str):
            return Path(obj["workspace"])
    return None


def resolve_workspace(flag: Path | None, stdin: IO[str] | None = None) -> Path:
    """``--workspace``, else ``$MEMOIRE_WORKSPACE``, else a manifest line on stdin."""
    if flag is not None:
        return flag
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env)
    stdin = sys.stdin if stdin is None else stdin
    if stdin is not None and not stdin.closed and not stdin.isatty():
        found = workspace_from_manifest(stdin.read())
        if found is not None:
            return found
    raise UsageError(f"no workspace: pass --workspace DIR, set ${ENV_VAR}, or pipe a manifest line from another memoire command")
