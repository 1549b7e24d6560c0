"""`memoire status`: per stage, what the workspace holds and with which parameters."""

from __future__ import annotations

import json
from typing import Any

from memoire_cli.workspace import Workspace

PIPELINE = ("synth", "ingest", "people", "graph", "persona", "pat", "label", "train", "rank", "eval")


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
                      f"from {g['events']} events; tags {tags}; favourites {'—' if g['favourite_rate'] is None else format(g['favourite_rate'], '.0%')}, "
                      f"mean views {g['mean_views']}; most common events: {top}")
