"""The global-stage runner (train, eval): fingerprints over every input user, caching, run records."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conftest import TINY, rows
from memoire_cli.errors import MemoireError
from memoire_cli.global_stage import GlobalStage
from memoire_cli.manifest import manifest_problems
from memoire_cli.runner import run_stage
from memoire_cli.workspace import Workspace


class Quiet:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def print(self, *args: Any, **kwargs: Any) -> None:
        self.lines.append(" ".join(str(a) for a in args))


class Counting(GlobalStage):
    """Counts the images of every input user; fails on demand."""

    name = "eval"
    inputs = ("gallery",)

    def __init__(self, k: int = 1, fail: bool = False, extra: str = "") -> None:
        self.k, self.fail, self.extra, self.calls = k, fail, extra, 0

    def params(self) -> dict[str, Any]:
        return {"k": self.k}

    def extra_digest(self, ws: Workspace, users: list[str]) -> str:
        return self.extra

    def run(self, ws: Workspace, users: list[str], run_id: str, fingerprint: str, console: Any) -> dict[str, Any]:
        self.calls += 1
        if self.fail:
            raise MemoireError("boom\nsecond line")
        return {"images": ws.query("SELECT count(*) FROM images")[0][0]}


@pytest.fixture(scope="module")
def gallery(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from conftest import Invoker

    ws = tmp_path_factory.mktemp("global") / "ws"
    result = Invoker()("synth", "-w", ws, *TINY)
    assert result.exit_code == 0, result.output
    return ws


def test_runs_then_caches_then_reruns_on_change(gallery: Path) -> None:
    ws = Workspace.open(gallery, "eval")
    stage = Counting()
    first = run_stage(ws, stage, None, False, Quiet())
    assert manifest_problems(first) == [] and not first["skipped"] and first["images"] > 0
    assert first["users"] == len(rows(gallery, "SELECT user_id FROM users"))
    again = run_stage(ws, stage, None, False, Quiet())
    assert again["skipped"] and stage.calls == 1 and manifest_problems(again) == []
    assert run_stage(ws, Counting(k=2), None, False, Quiet())["skipped"] is False  # parameters changed
    assert run_stage(ws, Counting(extra="model-b"), None, False, Quiet())["skipped"] is False  # extra digest changed
    assert run_stage(ws, stage, None, True, Quiet())["skipped"] is False  # --force
    statuses = [s for (s,) in ws.query("SELECT status FROM runs WHERE stage = 'eval' ORDER BY started_at")]
    assert statuses == ["done", "skipped", "done", "done", "done"]


def test_failure_is_recorded_with_its_first_line(gallery: Path) -> None:
    ws = Workspace.open(gallery, "eval")
    with pytest.raises(MemoireError):
        run_stage(ws, Counting(k=3, fail=True), None, False, Quiet())
    status, message = ws.query("SELECT status, message FROM runs WHERE stage = 'eval' ORDER BY started_at DESC LIMIT 1")[0]
    assert (status, message) == ("failed", "boom")
    # a failed run is not a cache hit
    assert run_stage(ws, Counting(k=3), None, False, Quiet())["skipped"] is False


def test_missing_inputs_name_the_stage(gallery: Path) -> None:
    class NeedsLabels(Counting):
        inputs = ("gallery", "label")

    ws = Workspace.open(gallery, "eval")
    with pytest.raises(MemoireError, match="needs the outputs of synth or ingest and label"):
        run_stage(ws, NeedsLabels(), None, False, Quiet())


def test_workspace_id_is_stable_and_distinct(gallery: Path, tmp_path: Path) -> None:
    first = Workspace.open(gallery, "eval").workspace_id
    assert first == Workspace.open(gallery, "eval").workspace_id and len(first) == 32
    other = Workspace.open(tmp_path / "other", "synth", create=True).workspace_id
    assert other != first
