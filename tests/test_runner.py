"""The one runner (memoire_cli/runner): run records, per-user commits through the workspace, stage hooks,
the command glue (``cli.run``), and that nothing else writes ``runs`` or ``stage_users``."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rich.console import Console

from memoire_cli.errors import MemoireError
from memoire_cli.global_stage import GlobalStage
from memoire_cli.runner import run_stage
from memoire_cli.stage import Plan, Selection, Stage, UserOutput
from memoire_cli.workspace import Mark, UserCommit, Workspace

ROOT = Path(__file__).resolve().parents[1]
#: The modules allowed to write ``runs`` and ``stage_users`` (the workspace; the runner goes through it).
WRITERS = {"memoire_cli/workspace.py"}
WRITE = re.compile(r"(INSERT\s+(OR\s+\w+\s+)?INTO|DELETE\s+FROM|REPLACE\s+INTO|TRUNCATE(\s+TABLE)?)\s+(main\.)?(runs|stage_users)\b"
                   r"|UPDATE\s+(main\.)?(runs|stage_users)\s+SET\b", re.IGNORECASE)


def session_rows(user_id: str, n: int = 1) -> dict[str, np.ndarray]:
    """``n`` rows of pat_sessions for ``user_id`` (a table with plain columns, for the toy stages)."""
    def obj(values: list[str]) -> np.ndarray:
        return np.array(values, dtype=object)

    return {"user_id": obj([user_id] * n), "row": np.arange(n, dtype=np.int32), "image_id": obj([f"{user_id}/{k:05d}" for k in range(n)]),
            "idx": np.arange(n, dtype=np.int32), "session": obj(["all"] * n), "rho": np.full(n, 0.5), "c_s": np.full(n, 0.1)}


class Toy(Stage):
    """A per-user stage over fixed users: skips, fails or interrupts on demand, notes each commit."""

    name = "pat"
    replaces = ("pat_sessions",)
    writes_arrays = ("pat_session_attention",)
    commit_every_s = 0.0
    progress_bar = False

    def __init__(self, users: tuple[str, ...] = ("a", "b", "c"), skip: tuple[str, ...] = (), fail: str | None = None,
                 interrupt: str | None = None, refuse: bool = False, array: str = "pat_session_attention") -> None:
        self.users, self.skip, self.fail, self.interrupt, self.refuse, self.array = users, skip, fail, interrupt, refuse, array
        self.after_called = False

    def params(self) -> dict[str, Any]:
        return {"k": 1}

    def code(self) -> str:
        return "toy.1"

    def plan(self, ws: Workspace, selection: Selection, force: bool) -> Plan:
        users = selection.apply(list(self.users))
        return Plan(users, self.params(), {}, {}, [(u, f"fp-{u}") for u in users])

    def compute(self, ws: Workspace, user_id: str) -> UserOutput | None:
        if user_id == self.fail:
            raise MemoireError("boom\nsecond line")
        if user_id == self.interrupt:
            raise KeyboardInterrupt
        if user_id in self.skip:
            return None
        return UserOutput(tables={"pat_sessions": session_rows(user_id, 2)}, arrays={self.array: np.full((2, 4, 4), 7, np.uint8)},
                          run_params={"from": {user_id: {"seen": 1}}}, note=f"toy: {user_id} committed")

    def verdict(self, run: dict[str, Any]) -> tuple[str, str] | None:
        return ("failed", "refused after the commits") if self.refuse else None

    def after(self, ws: Workspace, run: dict[str, Any], console: Any) -> None:
        self.after_called = True
        if self.refuse:
            raise MemoireError("refused")


@pytest.fixture()
def ws(tmp_path: Path) -> Workspace:
    return Workspace.open(tmp_path / "w", "pat", create=True)


def quiet() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, highlight=False, soft_wrap=True), out


def last_run(ws: Workspace) -> dict[str, Any]:
    with ws.connect(read_only=True) as con:
        cur = con.execute("SELECT * FROM runs ORDER BY started_at DESC LIMIT 1")
        cols = [d[0] for d in cur.description]
        return dict(zip(cols, cur.fetchone()))


def test_no_module_outside_the_workspace_writes_runs_or_stage_users() -> None:
    offenders = []
    for path in sorted([*ROOT.glob("memoire_cli/**/*.py"), *ROOT.glob("commands/*.py")]):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith("memoire_cli/commands/") or rel in WRITERS:  # memoire_cli/commands is commands/
            continue
        offenders += [f"{rel}: {m.group(0)}" for m in WRITE.finditer(path.read_text(encoding="utf-8"))]
    assert offenders == []
    assert WRITE.search((ROOT / "memoire_cli/workspace.py").read_text(encoding="utf-8"))  # the scan does find writes


def test_the_scan_sees_a_write() -> None:
    assert WRITE.search('con.execute("INSERT INTO stage_users (stage) VALUES (?)")')
    assert WRITE.search("DELETE FROM runs WHERE run_id = ?")
    assert WRITE.search("update stage_users set contents = ?")
    assert not WRITE.search("SELECT run_id FROM runs") and not WRITE.search("the update runs' parameters")


def test_users_are_committed_with_their_marks_notes_and_run_params(ws: Workspace) -> None:
    console, out = quiet()
    m = run_stage(ws, Toy(skip=("b",)), Selection(), False, console)
    assert (m["users"], m["computed"], m["cached"], m["skipped"]) == (3, 2, 1, False)
    assert out.getvalue().splitlines() == ["toy: a committed", "toy: c committed"]
    run = last_run(ws)
    assert (run["status"], run["computed"], run["code_version"], run["fingerprint"]) == ("done", 2, "toy.1", None)
    assert json.loads(run["params"]) == {"k": 1, "from": {"a": {"seen": 1}, "c": {"seen": 1}}}
    marks = ws.query("SELECT user_id, fingerprint, run_id, upstream, contents FROM stage_users WHERE stage = 'pat' ORDER BY user_id")
    assert [(u, fp, r, up) for u, fp, r, up, _ in marks] == [("a", "fp-a", run["run_id"], None), ("c", "fp-c", run["run_id"], None)]
    assert json.loads(marks[0][4]) == {"table:pat_sessions": 2, "array:pat_session_attention": [2, 4, 4]}
    assert ws.query("SELECT user_id, count(*) FROM pat_sessions GROUP BY 1 ORDER BY 1") == [("a", 2), ("c", 2)]
    assert np.asarray(ws.read_array("pat_session_attention", "c")[...]).tolist() == np.full((2, 4, 4), 7).tolist()
    assert not list(ws.zarr_path.glob("*/*/*.staged-*"))  # swapped in with the commit


def test_an_undeclared_array_is_refused_before_anything_is_written(ws: Workspace) -> None:
    with pytest.raises(ValueError, match="does not declare arrays"):
        run_stage(ws, Toy(array="pat_masks"), Selection(), False, quiet()[0])
    assert last_run(ws)["status"] == "failed" and ws.query("SELECT count(*) FROM stage_users") == [(0,)]


def test_nothing_to_commit_is_a_skipped_run(ws: Workspace) -> None:
    m = run_stage(ws, Toy(skip=("a", "b", "c")), Selection(), False, quiet()[0])
    assert m["skipped"] and m["computed"] == 0 and last_run(ws)["status"] == "skipped"


def test_an_error_keeps_the_users_committed_before_it(ws: Workspace) -> None:
    with pytest.raises(MemoireError, match="boom"):
        run_stage(ws, Toy(fail="b"), Selection(), False, quiet()[0])
    run = last_run(ws)
    assert (run["status"], run["message"], run["computed"]) == ("failed", "boom", 1)
    assert ws.query("SELECT user_id FROM stage_users") == [("a",)]
    assert json.loads(run["params"])["from"] == {"a": {"seen": 1}}  # recorded with a's commit
    assert not list(ws.zarr_path.glob("*/*/*.staged-*"))  # b's staged arrays were never left behind


def test_an_interrupt_is_recorded_as_such(ws: Workspace) -> None:
    with pytest.raises(KeyboardInterrupt):
        run_stage(ws, Toy(interrupt="c"), Selection(("b", "c")), False, quiet()[0])
    assert last_run(ws)["status"] == "interrupted"
    assert ws.query("SELECT user_id FROM stage_users") == [("b",)]


def test_a_stage_verdict_is_recorded_before_it_fails(ws: Workspace) -> None:
    stage = Toy(refuse=True)
    with pytest.raises(MemoireError, match="refused"):
        run_stage(ws, stage, Selection(("a",)), False, quiet()[0])
    run = last_run(ws)
    assert (run["status"], run["message"], run["computed"]) == ("failed", "refused after the commits", 1)
    assert stage.after_called and ws.query("SELECT user_id FROM stage_users") == [("a",)]


def test_commit_refuses_what_the_stage_does_not_own(ws: Workspace) -> None:
    with pytest.raises(ValueError, match="does not own tables"):
        ws.commit("graph", "r1", [UserCommit("a", {"pat_sessions": session_rows("a")})], ["pat_sessions"])
    with pytest.raises(ValueError, match="does not own tables"):  # rows of a table the commit does not replace
        ws.commit("pat", "r1", [UserCommit("a", {"pat_sessions": session_rows("a")})], [])
    with pytest.raises(ValueError, match="does not own arrays"):
        ws.commit("graph", "r1", [UserCommit("a", {})], [], staged={"a": {"pat_masks": (1, 2, 2)}})
    assert ws.query("SELECT count(*) FROM pat_sessions") == [(0,)]


def test_commit_marks_other_stages_and_rewrites_the_run_in_one_transaction(ws: Workspace) -> None:
    """As ``persona update`` does: the running stage writes the tables of the stages it marks."""
    from memoire_cli.runner import new_run, record_run

    run = new_run("eval", {"x": 1}, "toy.1", "0/1", 1)
    record_run(ws, run)
    ws.commit("eval", run["run_id"], [UserCommit("a", {"pat_sessions": session_rows("a", 3)},
                                                 (Mark("pat", "fp", "dg", {"gallery": "synth:1"}),))],
              ["pat_sessions"], recheck=False, run={**run, "computed": 1, "params": '{"x":2}'})
    row = ws.query("SELECT stage, fingerprint, digest, upstream, contents FROM stage_users")
    assert row == [("pat", "fp", "dg", '{"gallery": "synth:1"}', '{"table:pat_sessions": 3}')]
    assert ws.query("SELECT computed, params FROM runs WHERE run_id = ?", [run["run_id"]]) == [(1, '{"x":2}')]
    with pytest.raises(ValueError, match="does not own tables"):  # without the mark, eval owns no pat table
        ws.commit("eval", run["run_id"], [UserCommit("a", {"pat_sessions": session_rows("a")})], ["pat_sessions"])


def test_commit_rechecks_recorded_inputs(ws: Workspace) -> None:
    from memoire_cli.workspace import StaleInputError

    with pytest.raises(StaleInputError, match="changed while"):
        ws.commit("pat", "r1", [UserCommit("a", {}, (Mark("pat", "fp", "dg", {"graph": "graph:gone"}),))], ["pat_sessions"])
    assert ws.query("SELECT count(*) FROM stage_users") == [(0,)]


class Whole(GlobalStage):
    name = "eval"

    def __init__(self) -> None:
        self.calls = 0

    def params(self) -> dict[str, Any]:
        return {}

    def users(self, ws: Workspace) -> list[str]:
        return []

    def run(self, ws: Workspace, users: list[str], run_id: str, fingerprint: str, console: Any) -> dict[str, Any]:
        self.calls += 1
        return {"answer": 42}


def test_cli_run_runs_global_and_per_user_stages(ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    from memoire_cli.cli import run

    stage = Whole()
    run(lambda: stage, ws.root)
    first = json.loads(capsys.readouterr().out)
    assert first["stage"] == "eval" and first["answer"] == 42 and not first["skipped"]
    run(lambda: stage, ws.root)
    assert json.loads(capsys.readouterr().out)["skipped"] and stage.calls == 1  # cached by fingerprint
    checked: list[Workspace] = []
    run(lambda: Toy(), ws.root, users="a,c", check=checked.append, show=lambda w, m: {"shown": m["computed"]})
    assert json.loads(capsys.readouterr().out) == {"shown": 2} and len(checked) == 1
    run(lambda: Toy(), ws.root, users="b")
    assert json.loads(capsys.readouterr().out)["computed"] == 1
