"""`memoire status`: per stage, what the workspace holds and with which parameters."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from memoire_cli.stage import PIPELINE
from memoire_cli.workspace import COMPLETE_ATTR, Workspace


def workspace_status(ws: Workspace) -> dict[str, Any]:
    """A JSON-able summary: schema version, per-stage committed users, last run and its parameters."""
    version = ws.query("SELECT value FROM meta WHERE key = 'schema_version'")[0][0]
    committed = dict(ws.query("SELECT stage, count(*) FROM stage_users GROUP BY stage"))
    stages: dict[str, Any] = {}
    for stage in PIPELINE:
        last = ws.query(
            "SELECT run_id, status, params, shard, users, computed, started_at, ended_at, message FROM runs "
            "WHERE stage = ? ORDER BY started_at DESC LIMIT 1",
            [stage],
        )
        entry: dict[str, Any] = {"users": committed.get(stage, 0)}
        if last:
            run_id, status, params, shard, users, computed, started, ended, message = last[0]
            entry["last_run"] = {"run_id": run_id, "status": status, "params": json.loads(params), "shard": shard,
                                 "users": users, "computed": computed, "started_at": str(started),
                                 "ended_at": None if ended is None else str(ended), "message": message}
        stages[stage] = entry
    tables = {}
    for spec in ws.schema.tables.values():
        if spec.hidden:
            continue
        tables[spec.name] = ws.query(f"SELECT count(*) FROM {spec.name}")[0][0]
    return {"workspace": str(ws.root), "stage": "status", "schema_version": int(version), "stages": stages,
            "rows": tables, "gallery": gallery_summary(ws)}


def gallery_summary(ws: Workspace) -> dict[str, Any]:
    """What the gallery holds (observable tables only): users per split, images, events, tags."""
    splits = dict(ws.query("SELECT split, count(*) FROM users GROUP BY 1 ORDER BY 1"))
    kinds = dict(ws.query("SELECT kind, count(*) FROM images GROUP BY 1"))
    tags = dict(ws.query("SELECT type, count(*) FROM tags GROUP BY 1"))
    events = ws.query("SELECT event_type, count(*) FROM events GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 5")
    fav = ws.query("SELECT avg(favourite::INT), avg(views) FROM usage")[0]
    return {
        "users": sum(splits.values()), "splits": splits, "stills": kinds.get("still", 0),
        "video_frames": kinds.get("video_frame", 0), "events": ws.query("SELECT count(*) FROM events")[0][0],
        "top_event_types": dict(events), "tags": tags,
        "favourite_rate": None if fav[0] is None else round(float(fav[0]), 3),
        "mean_views": None if fav[1] is None else round(float(fav[1]), 1),
    }


def render_status(status: dict[str, Any], console: Any) -> None:
    from rich.table import Table

    table = Table(title=f"memoire workspace {status['workspace']} (schema v{status['schema_version']})")
    for col in ("stage", "users", "last run", "parameters"):
        table.add_column(col)
    for stage, entry in status["stages"].items():
        run = entry.get("last_run")
        if run is None:
            table.add_row(stage, str(entry["users"]), "—", "")
            continue
        params = ", ".join(f"{k}={v}" for k, v in sorted(run["params"].items()))
        table.add_row(stage, str(entry["users"]), f"{run['status']} {run['ended_at'] or run['started_at']} (shard {run['shard']})", params)
    console.print(table)
    g = status["gallery"]
    if g["users"]:
        splits = ", ".join(f"{k} {v}" for k, v in g["splits"].items())
        tags = ", ".join(f"{k} {v}" for k, v in sorted(g["tags"].items()))
        top = ", ".join(f"{k} ×{v}" for k, v in g["top_event_types"].items())
        console.print(f"gallery: {g['users']} users ({splits}); {g['stills']} stills and {g['video_frames']} video frames "
                      f"from {g['events']} events; tags {tags}; "
                      f"favourites {'—' if g['favourite_rate'] is None else format(g['favourite_rate'], '.0%')}, "
                      f"mean views {g['mean_views']}; most common events: {top}")


def check_workspace(ws: Workspace) -> list[str]:
    """``memoire status --check``: one line per problem found (empty when the workspace is consistent).

    * every committed ``stage_users`` row has the rows it recorded in each of its tables (``contents``;
      rows committed before schema version 2 recorded none are checked for their arrays only where recorded);
    * every array it recorded exists with the recorded shape and every chunk file (arrays written complete);
    * the reverse: no table of a per-user stage holds rows of a user that stage never committed, and no
      user folder of a per-user array exists without its producer's row.
    """
    problems: list[str] = []
    committed: dict[str, set[str]] = {}
    counts: dict[str, dict[str, int]] = {}

    def count(table: str) -> dict[str, int]:
        if table not in counts:
            counts[table] = dict(ws.query(f"SELECT user_id, count(*) FROM {table} GROUP BY user_id"))
        return counts[table]

    for stage, user_id, contents in ws.query("SELECT stage, user_id, contents FROM stage_users ORDER BY stage, user_id"):
        committed.setdefault(stage, set()).add(user_id)
        for key, value in (json.loads(contents) if contents else {}).items():
            kind, _, name = key.partition(":")
            if kind == "table":
                found = count(name).get(user_id, 0)
                if found != value:
                    problems.append(f"user {user_id}: {stage} committed {value} rows of {name}, the table holds {found}")
            elif kind == "array" and name in ws.schema.arrays:
                path = ws.schema.arrays[name].path.format(user_id=user_id)
                problem = array_problem(ws.zarr_path / path, tuple(value))
                if problem:
                    problems.append(f"user {user_id}: {stage}'s array {path} {problem}")
    holders = {st: committed.get(st, set()) for st in PIPELINE}
    for spec in ws.schema.tables.values():
        producers = [p for p in spec.producers if p in PIPELINE]
        if spec.hidden or not producers or len(producers) != len(spec.producers) or "user_id" not in spec.column_names:
            continue
        owners = set().union(*(holders[p] for p in producers))
        for user_id, n in sorted(count(spec.name).items()):
            if user_id not in owners:
                problems.append(f"user {user_id}: table {spec.name} holds {n} rows but no {' or '.join(producers)} output is committed")
    for aspec in ws.schema.arrays.values():
        producers = [p for p in aspec.producers if p in PIPELINE]
        if aspec.hidden or not producers:
            continue
        owners = set().union(*(holders[p] for p in producers))
        head, _, tail = aspec.path.partition("{user_id}")
        for folder in sorted((ws.zarr_path / head).glob(f"*{tail}")):
            user_id = folder.relative_to(ws.zarr_path / head).parts[0]
            if (folder / "zarr.json").exists() and user_id not in owners:
                problems.append(
                    f"user {user_id}: array {aspec.path.format(user_id=user_id)} exists but no {' or '.join(producers)} output is committed"
                )
    return problems


def array_problem(folder: Path, shape: tuple[int, ...]) -> str | None:
    """What is wrong with a committed array folder (missing, another shape, chunk files missing), or None.

    Reads the Zarr v3 metadata (``zarr.json``) and lists the chunk files: no array data is read."""
    import math
    import os

    try:
        meta = json.loads((folder / "zarr.json").read_text())
    except FileNotFoundError:
        return "is missing"
    except (OSError, ValueError):
        return "has unreadable metadata"
    found = tuple(meta.get("shape", ()))
    if found != shape:
        return f"has shape {found}, {shape} was committed"
    if meta.get("attributes", {}).get(COMPLETE_ATTR) == "complete" and math.prod(shape):
        chunk = meta["chunk_grid"]["configuration"]["chunk_shape"]
        expected = math.prod(math.ceil(n / c) for n, c in zip(shape, chunk))
        present = sum(len(files) for _, _, files in os.walk(folder / "c"))
        if present < expected:
            return f"lacks {expected - present} of its {expected} chunk files"
    return None
