"""The one runner of every action: per-user stages, global stages, and ``--jobs`` worker processes.

An action is a :class:`memoire_cli.stage.Stage` (computed per user: ``synth`` … ``rank``,
``persona update``, ``pat --session``) or a :class:`memoire_cli.global_stage.GlobalStage` (one output
set: ``train``, ``eval``). :func:`run_stage` runs either: it records the invocation in ``runs``
(:mod:`.records`), commits outputs only through :class:`memoire_cli.workspace.Workspace` (which
checks that the stage owns what it writes), and returns the manifest line.
"""

from __future__ import annotations

from typing import Any

from memoire_cli.runner.records import (
    end_run,
    manifest_of,
    new_run,
    record_failure,
    record_run,
    recorded,
)
from memoire_cli.runner.users import PROGRESS_PREFIX, run_users

__all__ = ["PROGRESS_PREFIX", "end_run", "manifest_of", "new_run", "record_failure", "record_run", "recorded", "run_stage"]


def run_stage(ws: Any, stage: Any, selection: Any, force: bool, console: Any, progress: str = "bar",
              jobs: int = 1, argv: list[str] | None = None) -> dict[str, Any]:
    """Run ``stage`` and return its manifest.

    Args:
        selection: the users of a per-user stage (:class:`memoire_cli.stage.Selection`); ignored
            for a global stage, which runs over every input user.
        progress: ``bar`` or ``lines`` (:func:`.users.run_users`).
        jobs: a per-user stage's users in that many worker processes (0: one per CPU), each
            started as ``python -m memoire_cli *argv`` (:func:`.jobs.run_jobs`); 1: in this process.
    """
    from memoire_cli.global_stage import GlobalStage

    if isinstance(stage, GlobalStage):
        from memoire_cli.runner.whole import run_whole

        return run_whole(ws, stage, force, console)
    if jobs != 1 and argv:
        from memoire_cli.runner.jobs import run_jobs

        return run_jobs(ws, stage, selection, force, jobs, console, argv)
    return run_users(ws, stage, selection, force, console, progress=progress)
