"""Shared fixtures: one torch thread, an isolated cache, a CLI runner, a fast stand-in renderer, the
shared tiny pipeline (:func:`pipeline`) and the specification text (:func:`spec_text`)."""

from __future__ import annotations

import itertools
import json
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.pop("MEMOIRE_TORCH_THREADS", None)  # stages pin 1 torch thread; tests that need another count set it

import numpy as np
import pytest
from typer.testing import CliRunner, Result

from memoire_cli.app import build_app
from memoire_cli.synth.render.base import Region, Rendered, Renderer

TINY = ["--user-count", "3", "--images-per-user", "6", "--frames-per-clip", "2", "--image-size", "128", "--anchors", "1"]


@pytest.fixture(autouse=True, scope="session")
def _interruptible_children() -> None:
    """Ctrl-C at its default for the processes the tests start: a test run started in the background
    by a non-interactive shell (a CI runner's `cmd &`) has SIGINT ignored, every child inherits that,
    and the tests that interrupt a real `memoire` process would see it run to the end."""
    import signal

    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(autouse=True, scope="session")
def _one_thread(tmp_path_factory: pytest.TempPathFactory) -> None:
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:  # pragma: no cover
        pass
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("cache"))


class BoxRenderer(Renderer):
    """A fast stand-in for contract tests: noise plus one box per tag (the real renderer has its own tests)."""

    name = "box"
    version = "test"

    def describe(self) -> str:
        return "renderer: box (test stand-in)"

    def render(self, shot):  # noqa: ANN001, ANN201
        rng = np.random.default_rng(shot.seed)
        img = rng.integers(0, 255, (shot.height, shot.width, 3), dtype=np.uint8)
        regions = []
        for k, p in enumerate(shot.people):
            mask = np.zeros((shot.height, shot.width), bool)
            mask[8 + k * 10 : 40 + k * 10, 8:30] = True
            regions.append(Region(p.tag_id, "P", (8, 8 + k * 10, 30, 40 + k * 10), mask, (10, 10 + k * 10, 28, 20 + k * 10)))
        regions.append(Region(shot.location_tag, "L", (0, 0, shot.width, shot.height), np.ones((shot.height, shot.width), bool)))
        return Rendered(img, regions)

    def render_anchor(self, person, k, seed, size):  # noqa: ANN001, ANN201
        return np.full((size, size, 3), (person.tag_id * 17 + k) % 255, np.uint8)


@pytest.fixture
def box_renderer(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make `memoire synth` render with :class:`BoxRenderer`."""
    import memoire_cli.synth.render as render

    monkeypatch.setattr(render, "make_renderer", lambda name, cache_dir: BoxRenderer())


class Invoker:
    def __init__(self) -> None:
        self.runner = CliRunner()
        self.app = build_app()

    def __call__(self, *args: str, input: str | None = None):  # noqa: A002, ANN204
        return self.runner.invoke(self.app, [str(a) for a in args], input=input)


@pytest.fixture
def cli() -> Invoker:
    os.environ.pop("MEMOIRE_WORKSPACE", None)
    return Invoker()


def rows(ws, sql: str) -> list[tuple]:  # noqa: ANN001
    """Rows of a query on a workspace's database, opened read-only."""
    import duckdb

    con = duckdb.connect(str(ws / "memoire.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def manifest(result) -> dict:  # noqa: ANN001
    from memoire_cli.manifest import manifest_problems

    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1, result.stdout
    obj = json.loads(lines[0])
    if obj.get("stage") != "status":
        assert manifest_problems(obj) == [], obj
    return obj


def spec_text() -> str:
    """The text of the specification (the Memoire supplementary material, ``memoire-supplementary.txt``),
    read from the file ``$MEMOIRE_SPEC`` names. It is not part of the checkout: a test that compares text
    with it is skipped, with the reason, when the variable is unset, and fails when it names no file."""
    path = os.environ.get("MEMOIRE_SPEC", "")
    if not path:
        pytest.skip("set $MEMOIRE_SPEC to the path of memoire-supplementary.txt to compare with the specification text")
    if not Path(path).is_file():
        pytest.fail(f"$MEMOIRE_SPEC names no file: {path}")
    return Path(path).read_text(encoding="utf-8")


# ------------------------------------------------------------------------------ the shared pipeline
#: The stages of the shared pipeline, in order, each with the options it runs with: the tiny gallery
#: (:data:`TINY`, the real procedural renderer, so pat finds faces) through the shortest real runs.
PIPELINE: dict[str, list[str]] = {
    "synth": TINY,
    "graph": [],
    "persona": ["--epochs", "2", "--steps-per-epoch", "2", "--device", "cpu"],
    "pat": [],
    "label": ["--max-pairs", "40", "--seed", "3"],
    "train": ["--preset", "smoke", "--input-size", "32", "--epochs", "1", "--batch-size", "8", "--max-pairs", "16"],
    "rank": ["--show", "2"],
}


def copy_workspace(src: Path, dst: Path) -> Path:
    """A writable copy of the workspace ``src`` (database, arrays, models, caches) at ``dst``; returns ``dst``."""
    shutil.copytree(src, dst, symlinks=True)
    return dst


def _db_stamp(ws: Path) -> tuple[int, int]:
    stat = (ws / "memoire.duckdb").stat()
    return stat.st_size, stat.st_mtime_ns


class Pipeline:
    """``pipeline(until)``: the path of a workspace with the shared tiny gallery run through every stage
    of :data:`PIPELINE` up to ``until`` (``"synth"`` … ``"rank"``), each with the options listed there;
    ``pipeline.output(stage)``: that stage's CLI result (its manifest line on stdout, its stderr).

    Each workspace is made once per test session (each stage on a copy of the one before), then shared:
    a test only reads it. A test that writes (re-runs a stage, edits a table, damages a file) works on a
    copy (:func:`copy_workspace`, or the ``workspace_copy`` fixture): a write to a shared workspace is an
    error at its next request and at the end of the session."""

    def __init__(self, tmp_path_factory: pytest.TempPathFactory) -> None:
        self._tmp = tmp_path_factory
        self._built: dict[str, tuple[Path, tuple[int, int]]] = {}
        self._outputs: dict[str, Result] = {}

    def __call__(self, until: str) -> Path:
        stages = list(PIPELINE)
        if until not in PIPELINE:
            raise ValueError(f"pipeline(until) takes one of {', '.join(stages)}, got {until!r}")
        if until in self._built:
            return self.check(until)
        k = stages.index(until)
        ws = self._tmp.mktemp(f"pipeline-{until}") / "w"
        if k:
            copy_workspace(self(stages[k - 1]), ws)
        os.environ.pop("MEMOIRE_WORKSPACE", None)
        result = Invoker()(until, "-w", ws, *PIPELINE[until])
        assert result.exit_code == 0, (until, result.stderr)
        self._outputs[until] = result
        self._built[until] = ws, _db_stamp(ws)
        return ws

    def output(self, stage: str) -> Result:
        self(stage)
        return self._outputs[stage]

    def check_all(self) -> None:
        for until in self._built:
            self.check(until)

    def check(self, until: str) -> Path:
        ws, stamp = self._built[until]
        if _db_stamp(ws) != stamp:
            raise AssertionError(f"a test wrote to the shared pipeline({until!r}) workspace {ws}: tests that write work on a copy")
        return ws


@pytest.fixture(scope="session")
def pipeline(tmp_path_factory: pytest.TempPathFactory, _one_thread: None) -> Iterator[Pipeline]:
    """The shared tiny pipeline (see :class:`Pipeline`), made lazily, once per test session."""
    made = Pipeline(tmp_path_factory)
    yield made
    made.check_all()


@pytest.fixture
def workspace_copy(tmp_path: Path) -> Callable[[Path], Path]:
    """``workspace_copy(ws)``: a writable copy of the workspace ``ws`` in this test's temporary folder."""
    made = itertools.count()

    def copy(src: Path) -> Path:
        return copy_workspace(src, tmp_path / f"copy{next(made)}" / "w")

    return copy
