"""The per-user loop: compute each user to do, commit users in short transactions, record the run.

What a stage has to do comes from :meth:`memoire_cli.stage.Stage.plan` (by default the users whose
fingerprint changed, :func:`memoire_cli.stage.plan_stage`). For each of them the runner calls
:meth:`~memoire_cli.stage.Stage.compute` without holding the database, writes its arrays under a
staged name, and commits its rows, arrays and ``stage_users`` marks through
:meth:`memoire_cli.workspace.Workspace.commit` (users computed within the stage's
``commit_every_s`` of each other share a transaction). An interrupted run keeps every user it
committed; the next run continues with the rest.
"""

from __future__ import annotations

import json
import time
from typing import Any

from memoire_cli.progress import stage_bar
from memoire_cli.runner.records import end_run, new_run, recorded
from memoire_cli.stage import (
    Plan,
    Selection,
    Stage,
    UserOutput,
    canonical_json,
    check_gallery,
)
from memoire_cli.workspace import Mark, UserCommit, Workspace, digest_columns

#: ``run_users(progress=...)``: a Rich progress bar, or (for a parent process that runs the stage in
#: worker processes, ``memoire … --jobs N``) one line per committed user, ``PROGRESS_PREFIX stage user``.
PROGRESS_PREFIX = "memoire-progress:"


def run_users(ws: Workspace, stage: Stage, selection: Selection, force: bool, console: Any,
              progress: str = "bar") -> dict[str, Any]:
    """Run a per-user ``stage`` for the selected users; returns the manifest.

    Args:
        progress: ``bar`` (a Rich progress bar on ``console``, where the stage shows one) or ``lines``
            (a plain ``PROGRESS_PREFIX`` line per committed user, for a ``--jobs`` parent to count).
    """
    plan = stage.plan(ws, selection, force)
    todo = [u for u, _ in plan.todo]
    run = new_run(stage.name, plan.params, stage.code(), selection.shard, len(plan.users))
    run["fingerprint"] = plan.fingerprint
    check_gallery(ws, stage, todo)  # before any array is written
    stage.confirm(ws, selection, todo, force, console)
    with recorded(ws, run):
        if todo:
            stage.prepare(ws, console)
            compute_and_commit(ws, stage, plan, run, console, progress)
        else:
            stage.idle(plan.users, console)
        stage.finish(ws, selection)
    skipped = run["computed"] == 0
    status, message = stage.verdict(run) or ("skipped" if skipped else "done", None)
    end_run(ws, run, status, message)
    stage.after(ws, run, console)
    return stage.manifest(ws, run, skipped)


def compute_and_commit(ws: Workspace, stage: Stage, plan: Plan, run: dict[str, Any], console: Any, progress: str) -> None:
    """Compute every user of ``plan.todo`` and commit it; users fully computed before an interruption
    or an error are committed, arrays staged for users never committed are removed."""

    replace = stage.writes(ws)
    pending: list[tuple[UserCommit, UserOutput]] = []
    staged: dict[str, dict[str, tuple[int, ...]]] = {}
    last_flush = time.monotonic()

    def flush() -> None:
        nonlocal last_flush
        if pending:
            batch = list(pending)
            pending.clear()  # an interrupt raised once the batch is committed must not commit it again
            users_now = [c.user_id for c, _ in batch]
            run["computed"] += len(batch)
            row, params = None, _merged_params(run, [o.run_params for _, o in batch if o.run_params])
            if params is not None:  # the run's parameters record what these users were computed from
                row = {**run, "params": params}
            ws.commit(stage.name, run["run_id"], [c for c, _ in batch], replace,
                      staged={u: staged.pop(u) for u in users_now if u in staged}, tag=run["run_id"],
                      recheck=all(o.marks is None for _, o in batch), run=row)
            if params is not None:
                run["params"] = params
            for _, out in batch:
                if out.note:
                    console.print(out.note, markup=False)
            if progress == "lines":
                for user_id in users_now:
                    console.print(f"{PROGRESS_PREFIX} {stage.name} {user_id}", markup=False, highlight=False)
        last_flush = time.monotonic()

    with stage_bar(stage.name, console, disable=progress != "bar" or not stage.progress_bar) as bar:
        task = bar.add_task(stage.name, total=len(plan.todo))
        try:
            for user_id, fp in plan.todo:
                out = stage.compute(ws, user_id)
                if out is not None:  # None: nothing to commit for this user (the stage said why)
                    undeclared = sorted(set(out.arrays) - set(stage.writes_arrays or out.arrays))
                    if undeclared:
                        raise ValueError(f"stage {stage.name} does not declare arrays {undeclared}")
                    staged[user_id] = {}
                    for name, data in out.arrays.items():  # beside the live arrays; swapped in with the commit
                        staged[user_id][name] = data.shape
                        ws.stage_array(name, user_id, data, run["run_id"])
                    marks = out.marks
                    if marks is None:
                        marks = (Mark(stage.name, fp, digest_columns(out.tables, out.arrays), plan.upstream.get(user_id)),)
                    pending.append((UserCommit(user_id, out.tables, marks), out))
                    if time.monotonic() - last_flush >= stage.commit_every_s:
                        flush()
                bar.advance(task)
        finally:
            try:
                flush()  # users fully computed before an interruption or error are kept
            finally:
                for user_id, names in staged.items():  # written but never committed
                    ws.delete_arrays(user_id, list(names), suffix=f".staged-{run['run_id']}")


def _merged_params(run: dict[str, Any], extras: list[dict[str, dict[str, Any]]]) -> str | None:
    """The run's parameters with ``extras`` merged one level deep (canonical JSON); None without extras."""
    if not extras:
        return None
    params = json.loads(run["params"])
    for extra in extras:
        for key, value in extra.items():
            params.setdefault(key, {}).update(value)
    return canonical_json(params)
