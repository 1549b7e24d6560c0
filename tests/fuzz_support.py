"""What the fuzz suites (``tests/test_fuzz_*.py``) share: Hypothesis profiles, the contract, a tiny workspace.

Profiles, chosen by ``$MEMOIRE_FUZZ``; each test states its budget (``fuzz_settings(examples)``):

* ``quick`` (the default, what ``pytest`` runs): derandomised (the same cases on every run, so a failure
  reproduces), no deadline (timings on a shared 2-core machine vary), a quarter of each test's budget
  (at least 5 cases);
* ``thorough``: the same, with each test's whole budget (1,540 cases together, about two minutes on
  2 cores), e.g. ``MEMOIRE_FUZZ=thorough pytest tests/test_fuzz_*.py`` (``ci`` is another name for it);
* ``nightly``: 20 times the whole budget, randomised (new cases each night; Hypothesis prints the
  ``@reproduce_failure`` blob of anything it finds).

The contract every case is held to (:func:`assert_contract`): the exit code is one of 0, 1, 2, 130
(errors.py), nothing escapes as a Python exception, no traceback is printed, and the case ends in
bounded time.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings

#: Profile name → the share of each test's budget it runs.
SCALES = {"quick": 0.25, "thorough": 1.0, "ci": 1.0, "nightly": 20.0}
PROFILE = os.environ.get("MEMOIRE_FUZZ") or "quick"
if PROFILE not in SCALES:
    raise ValueError(f"$MEMOIRE_FUZZ must be one of {', '.join(SCALES)}, got {PROFILE!r}")
#: Longest a single generated case may take (seconds): the bounded-time part of the contract.
CASE_LIMIT_S = 120.0 if PROFILE == "nightly" else 60.0
ALLOWED_EXIT_CODES = frozenset({0, 1, 2, 130})

_COMMON = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                                       HealthCheck.data_too_large, HealthCheck.filter_too_much],
               print_blob=True)
for _name in ("quick", "thorough", "ci"):
    settings.register_profile(_name, derandomize=True, database=None, **_COMMON)
settings.register_profile("nightly", derandomize=False, **_COMMON)


def fuzz_settings(examples: int) -> settings:
    """Settings of one fuzz test whose whole budget is ``examples`` cases, scaled by the profile
    (a quarter of it, at least 5, by default; all of it with ``thorough``; 20 times it with ``nightly``)."""
    return settings(settings.get_profile(PROFILE), max_examples=max(5, round(examples * SCALES[PROFILE])))


def assert_contract(result: Any, started: float, what: str = "") -> None:
    """A CliRunner result obeys the CLI contract (see the module docstring)."""
    output = result.output + (result.stderr if _has_stderr(result) else "")
    exc = result.exception
    if exc is not None and not isinstance(exc, SystemExit):
        raise AssertionError(f"{what}: escaped {type(exc).__name__}: {exc}\n{output[-2000:]}") from exc
    assert result.exit_code in ALLOWED_EXIT_CODES, (what, result.exit_code, output[-2000:])
    assert "Traceback" not in output, (what, output[-2000:])
    if result.exit_code != 0:
        lines = [line for line in result.stderr.splitlines() if line.strip()] if _has_stderr(result) else []
        assert lines and any(word in lines[-1] for word in (": error: ", ": usage error: ", "Usage:", "interrupted")), (what, output[-2000:])
    assert time.monotonic() - started < CASE_LIMIT_S, (what, time.monotonic() - started)


def _has_stderr(result: Any) -> bool:
    try:
        result.stderr  # noqa: B018 - raises when stderr was mixed into output
    except ValueError:
        return False
    return True


def copy_workspace(src: Path, dst: Path) -> Path:
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(src, dst)
    return dst


def tiny_workspace(root: Path) -> Path:
    """A two-user synthetic workspace (procedural renderer, 2 stills per user at 128 px), made in ``root``."""
    from typer.testing import CliRunner

    from memoire_cli.app import build_app

    ws = root / "w"
    result = CliRunner().invoke(build_app(), ["synth", "-w", str(ws), "--user-count", "2", "--images-per-user", "2", "--frames-per-clip", "1",
                                              "--image-size", "128", "--anchors", "1", "--split", "50/0/50"])
    assert result.exit_code == 0, result.output
    return ws
