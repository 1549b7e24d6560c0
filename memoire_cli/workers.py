"""The environment of ``--jobs`` worker processes: how a worker knows it is one, and which users are its.

Light (``os`` only): the command line reads it for every command, the runner when it starts workers
(:mod:`memoire_cli.runner.jobs`).
"""

from __future__ import annotations

import os

JOB_ENV = "MEMOIRE_JOB"  # "j/n" in a worker process of another process's --jobs
JOB_USERS_ENV = "MEMOIRE_JOB_USERS"  # the comma-separated users a worker commits


def is_job_worker() -> bool:
    """Whether this process is a worker of another process's ``--jobs`` (it then leaves work that
    concerns the whole run, such as ``pat --overlay``, to its parent)."""
    return bool(os.environ.get(JOB_ENV))


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask, else the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)
