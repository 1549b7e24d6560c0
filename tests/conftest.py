"""Shared fixtures: one torch thread, an isolated cache, a CLI runner, a fast stand-in renderer."""

from __future__ import annotations

import json
import os
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.pop("MEMOIRE_TORCH_THREADS", None)  # stages pin 1 torch thread; tests that need another count set it

import numpy as np
import pytest
from typer.testing import CliRunner

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


def spec_file() -> Path:
    """The specification (the Memoire supplementary material): ``$MEMOIRE_SPEC``, else a
    ``shared/spec/memoire-supplementary.txt`` or ``spec/memoire-supplementary.txt`` beside the
    checkout or one of its parents. Tests that compare text with it skip when it is absent."""
    explicit = os.environ.get("MEMOIRE_SPEC")
    if explicit:
        return Path(explicit)
    for folder in Path(__file__).resolve().parents:
        for rel in ("shared/spec/memoire-supplementary.txt", "spec/memoire-supplementary.txt"):
            if (folder / rel).is_file():
                return folder / rel
    return Path("memoire-supplementary.txt")
