"""The ``runs`` row of an invocation: started ``running``, ended ``done`` | ``skipped`` | ``failed`` | ``interrupted``.

Every action (a per-user stage, a global stage, a ``--jobs`` parent) records itself the same way:
:func:`new_run` makes the row, :func:`recorded` writes it and turns an error or an interruption into
its end (with the error's first line), :func:`end_run` records a normal end. The row is written
through :meth:`memoire_cli.workspace.Workspace.write_run`, the only writer of ``runs``.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from memoire_cli.stage import canonical_json, manifest_of, sha16  # noqa: F401  (manifest_of re-exported)
from memoire_cli.workspace import Workspace, utcnow


def new_run(stage: str, params: dict[str, Any], code: str, shard: str, users: int) -> dict[str, Any]:
    """A ``runs`` row for an invocation that starts now (status ``running``)."""
    return {
        "run_id": uuid.uuid4().hex[:16],
        "stage": stage,
        "status": "running",
        "params": canonical_json(params),
        "params_hash": sha16(canonical_json(params))[:16],
        "code_version": code,
        "fingerprint": None,
        "shard": shard,
        "users": users,
        "computed": 0,
        "started_at": utcnow(),
        "ended_at": None,
        "message": None,
        "pid": os.getpid(),
        "host": socket.gethostname(),
    }


def record_run(ws: Workspace, run: dict[str, Any]) -> None:
    """Insert or replace a row of ``runs`` (a dict with every column), in its own transaction."""
    ws.transaction(lambda con: ws.write_run(con, run))


def record_failure(ws: Workspace, run: dict[str, Any], exc: BaseException) -> None:
    """Record a run that ended by an error (its first line) or an interruption; never masks ``exc``."""
    interrupted = isinstance(exc, KeyboardInterrupt)
    run.update(status="interrupted" if interrupted else "failed", ended_at=utcnow(),
               message=str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    try:
        record_run(ws, run)
    except Exception:  # noqa: BLE001, S110 - the original error matters more than the bookkeeping
        pass


@contextmanager
def recorded(ws: Workspace, run: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Record ``run`` as started; an exception leaving the block is recorded as its end and re-raised."""
    record_run(ws, run)
    try:
        yield run
    except BaseException as exc:
        record_failure(ws, run, exc)
        raise


def end_run(ws: Workspace, run: dict[str, Any], status: str, message: str | None = None) -> None:
    """Record a run's normal end (``done``, ``skipped``, or a stage's own verdict such as ``failed``)."""
    run.update(status=status, ended_at=utcnow())
    if message is not None:
        run["message"] = message
    record_run(ws, run)
