"""A global stage's run (``train``, ``eval``: one output set computed from many users).

The contracts are the per-user runner's (DESIGN.md), with one output set: the fingerprint covers
every input user's upstream digests (:meth:`memoire_cli.global_stage.GlobalStage.fingerprint`); a
``done`` run with the same fingerprint whose outputs still exist makes the run ``skipped``
(``--force`` redoes it); the stage writes its own outputs inside
:meth:`~memoire_cli.global_stage.GlobalStage.run`, through :meth:`Workspace.transaction`.
"""

from __future__ import annotations

from typing import Any

from memoire_cli.global_stage import GlobalStage, last_done_fingerprints
from memoire_cli.runner.records import end_run, manifest_of, new_run, recorded
from memoire_cli.stage import changed_inputs, stale_inputs
from memoire_cli.workspace import Workspace


def run_whole(ws: Workspace, stage: GlobalStage, force: bool, console: Any) -> dict[str, Any]:
    """Run a global stage (or skip it when cached); records the run and returns the manifest."""
    users = stage.users(ws)
    changed_inputs(ws, stage.inputs, users)
    stale_inputs(ws, stage.name, stage.inputs, users)
    params = stage.params()
    fp = stage.fingerprint(ws, users)
    run = new_run(stage.name, params, stage.code(), "0/1", len(users))
    run["fingerprint"] = fp
    cached = not force and fp in last_done_fingerprints(ws, stage.name) and stage.outputs_exist(ws, fp)
    extra: dict[str, Any] = {}
    with recorded(ws, run):
        if cached:
            console.print(f"{stage.name}: inputs and parameters unchanged for {len(users)} user(s); nothing to do (use --force to redo)")
        else:
            extra = stage.run(ws, users, run["run_id"], fp, console) or {}
            run["computed"] = len(users)
    end_run(ws, run, "skipped" if cached else "done")
    manifest = manifest_of(ws, stage.name, run, cached)
    manifest.update({k: v for k, v in extra.items() if k not in manifest})
    return manifest
