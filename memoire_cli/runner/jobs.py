"""``--jobs N``: a per-user stage's users in worker processes on one workspace.

The users to compute (as the stage's :meth:`~memoire_cli.stage.Stage.plan` finds them) are dealt
round-robin to ``jobs`` workers (``0``: one per CPU), never more workers than users. Each worker is
the same command again (``python -m memoire_cli`` with the same options) told its users through
``$MEMOIRE_JOB_USERS``: it commits them through the ordinary runner, so the rows and arrays are those
of a one-process run (users are independent and seeded per user, as with ``--shard``). The parent
records a ``runs`` row of its own (the workers' run ids in its message), shows one progress bar (the
workers' other stderr lines come through prefixed ``[job j/J]``), and prints one manifest line that
adds up the workers'. A worker that fails stops the others and the run fails with one line naming
it and its error; Ctrl-C or SIGTERM stops every worker (exit 130). What was committed stays
committed: the next run continues.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

from memoire_cli.errors import EXIT_INTERRUPTED, EXIT_USAGE, MemoireError
from memoire_cli.progress import stage_bar
from memoire_cli.runner.records import end_run, new_run, recorded
from memoire_cli.runner.users import PROGRESS_PREFIX, run_users
from memoire_cli.stage import Selection, Stage, check_gallery
from memoire_cli.workers import JOB_ENV, JOB_USERS_ENV, available_cpus
from memoire_cli.workspace import ENV_VAR, Workspace


def run_jobs(ws: Workspace, stage: Stage, selection: Selection, force: bool, jobs: int, console: Any,
             argv: list[str]) -> dict[str, Any]:
    """Run a per-user stage's users in worker processes (module docstring); returns the manifest.

    Args:
        argv: the command line after ``memoire`` that each worker runs again.
    """
    import subprocess
    import threading


    plan = stage.plan(ws, selection, force)
    todo = [u for u, _ in plan.todo]
    n = min(jobs or available_cpus(), len(todo))
    if n <= 1 or not argv:  # nothing to share out (or no command line to start workers with)
        return run_users(ws, stage, selection, force, console)
    check_gallery(ws, stage, todo)
    stage.confirm(ws, selection, todo, force, console)
    where = f"memoire {argv[0]}"
    run = new_run(stage.name, plan.params, stage.code(), selection.shard, len(plan.users))
    run["fingerprint"] = plan.fingerprint
    procs: list[subprocess.Popen] = []
    pumps: list[threading.Thread] = []
    verdicts: dict[int, str] = {}
    with recorded(ws, run):
        try:
            env = {**os.environ, ENV_VAR: str(ws.root)}
            env.setdefault("OMP_NUM_THREADS", "1")  # one core per worker: the workers are the parallelism
            for j in range(n):
                env_j = {**env, JOB_ENV: f"{j}/{n}", JOB_USERS_ENV: ",".join(todo[j::n])}
                procs.append(subprocess.Popen([sys.executable, "-m", "memoire_cli", *argv], env=env_j, stdin=subprocess.DEVNULL,
                                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1))
            console.print(f"{stage.name}: {len(todo)} user(s) in {n} worker processes (pids {', '.join(str(p.pid) for p in procs)})")
            with stage_bar(stage.name, console) as bar:
                task = bar.add_task(stage.name, total=len(todo))

                def pump(j: int, stream: Any) -> None:
                    for line in stream:
                        line = line.rstrip("\n")
                        if line.startswith(PROGRESS_PREFIX):
                            bar.advance(task)
                        elif line.startswith(f"{where}: ") and (": error: " in line or ": usage error: " in line or line.endswith(": interrupted")):
                            verdicts[j] = line[len(where) + 2:]  # the worker's last word, reported by the parent
                        elif line.strip():
                            console.print(f"[job {j + 1}/{n}] {line}", markup=False, highlight=False)

                pumps += [threading.Thread(target=pump, args=(j, p.stderr), daemon=True) for j, p in enumerate(procs)]
                for t in pumps:
                    t.start()
                failed = _wait_all(procs)
                for t in pumps:
                    t.join(timeout=10)
            if failed is not None:
                rc = procs[failed].returncode
                said = verdicts.get(failed, "")
                for prefix in ("error: ", "usage error: "):
                    said = said.removeprefix(prefix)
                why = said or (f"stopped by signal {-rc}" if rc < 0 else f"exited with code {rc}")
                exc = MemoireError(f"worker {failed + 1} of {n} failed: {why}")
                exc.exit_code = rc if rc in (EXIT_USAGE, EXIT_INTERRUPTED) else 1
                raise exc
            manifests = [_worker_manifest(j, n, p) for j, p in enumerate(procs)]
            run["computed"] = sum(m["computed"] for m in manifests)
            stage.finish(ws, selection)
        except BaseException:
            _stop(procs)
            for t in pumps:  # the workers' last lines come before the parent's
                t.join(timeout=5)
            raise
        finally:
            for p in procs:
                for stream in (p.stdout, p.stderr):
                    if stream is not None:
                        stream.close()
    skipped = run["computed"] == 0
    end_run(ws, run, "skipped" if skipped else "done", f"--jobs {n}: worker runs {', '.join(m['run_id'] for m in manifests)}")
    return stage.manifest(ws, run, skipped)


def _worker_manifest(j: int, n: int, proc: Any) -> dict[str, Any]:
    """The manifest line a worker that succeeded printed."""
    lines = proc.stdout.read().strip().splitlines()
    try:
        return json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        raise MemoireError(f"worker {j + 1} of {n} exited without its manifest line") from None


def _wait_all(procs: list[Any]) -> int | None:
    """Wait for every worker; at the first that fails, stop the others. Returns its index, or ``None``."""
    while True:
        alive = False
        for j, p in enumerate(procs):
            rc = p.poll()
            if rc is None:
                alive = True
            elif rc != 0:
                _stop(procs)
                return j
        if not alive:
            return None
        time.sleep(0.05)


def _stop(procs: list[Any], grace_s: float = 20.0) -> None:
    """SIGTERM every running worker (each stops after committing what it finished), then wait;
    SIGKILL those still running after ``grace_s``."""
    import subprocess

    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
