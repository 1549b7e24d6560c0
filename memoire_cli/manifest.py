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

#: Required keys of a stage manifest and their JSON types.
MANIFEST_FIELDS: dict[str, type] = {
    "memoire": str, "stage": str, "workspace": str, "run_id": str, "skipped": bool, "shard": str,
    "users": int, "computed": int, "cached": int, "wrote": dict,
}


def manifest_problems(obj: object) -> list[str]:
    """Why ``obj`` is not a valid stage manifest (empty when it is). Examples: schemas/examples/manifest/."""
    if not isinstance(obj, dict):
        return ["a manifest is a JSON object"]
    problems = [f"missing {k}" for k in MANIFEST_FIELDS if k not in obj]
    problems += [f"{k} must be {t.__name__}" for k, t in MANIFEST_FIELDS.items()
                 if k in obj and (not isinstance(obj[k], t) or (t is int and isinstance(obj[k], bool)))]
    if problems:
        return problems
    if obj["computed"] + obj["cached"] != obj["users"] or min(obj["computed"], obj["cached"]) < 0:
        problems.append("computed + cached must equal users")
    if obj["skipped"] != (obj["computed"] == 0):
        problems.append("skipped means nothing was computed")
    try:
        i, n = (int(x) for x in obj["shard"].split("/"))
        if not 0 <= i < n:
            problems.append("shard i/n needs 0 <= i < n")
    except ValueError:
        problems.append("shard must look like i/n")
    for key in ("tables", "arrays"):
        if not isinstance(obj["wrote"].get(key), list):
            problems.append(f"wrote.{key} must be a list")
    return problems


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
