"""`memoire eval` through the CLI: the whole evaluation on a tiny gallery, caching, the report, and
bad input (missing stages, no model, k larger than a session, ratings naming unknown images)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import numpy as np
import pytest

from conftest import manifest, rows
from memoire_cli.errors import MemoireError

SYNTH = ["--users", "3", "--images-per-user", "8", "--frames-per-clip", "1", "--image-size", "128", "--anchors", "1", "--seed", "5"]


@pytest.fixture(scope="module")
def pat_ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny gallery through synth → graph → persona → pat → label (no model yet)."""
    from conftest import Invoker

    cli = Invoker()
    ws = tmp_path_factory.mktemp("eval") / "w"
    before = cli("eval", "-w", ws)  # no workspace content at all
    assert before.exit_code != 0 and before.stdout == ""
    assert cli("synth", "-w", ws, *SYNTH).exit_code == 0
    missing = cli("eval", "-w", ws)
    assert missing.exit_code == 1 and missing.stdout == ""
    assert "needs the outputs of synth or ingest and persona and pat" in missing.stderr and "Traceback" not in missing.stderr
    for args in (["graph", "-w", ws], ["persona", "-w", ws, "--epochs", "2"], ["pat", "-w", ws], ["label", "-w", ws, "--max-pairs", "60"]):
        result = cli(*args)
        assert result.exit_code == 0, result.stderr
    return ws


def test_eval_without_a_model_names_train(pat_ws: Path, cli) -> None:  # noqa: ANN001
    result = cli("eval", "-w", pat_ws, "--k", "3")
    assert result.exit_code == 1 and result.stdout == "" and "Traceback" not in result.stderr
    assert "run `memoire train`" in result.stderr
    assert rows(pat_ws, "SELECT status FROM runs WHERE stage = 'eval'") == [("failed",)]


def test_bad_options(pat_ws: Path, cli) -> None:  # noqa: ANN001
    for args, needle in ((["--k", "0"], "--k must be at least 1"), (["--suite", "huge"], "choose quick or full"),
                         (["--runtime", "tf"], "choose torch or onnx"), (["--users", "nobody"], "nobody")):
        result = cli("eval", "-w", pat_ws, *args)
        assert result.exit_code != 0 and result.stdout == "" and needle in result.stderr, (args, result.stderr)


def test_ground_truth_from_ratings_and_unknown_ids(pat_ws: Path, tmp_path: Path) -> None:
    from memoire_cli.eval.truth import evaluated_users, load_ground_truth
    from memoire_cli.workspace import Workspace

    copy = tmp_path / "w"
    shutil.copytree(pat_ws, copy)
    con = duckdb.connect(str(copy / "memoire.duckdb"))
    images = [r[0] for r in con.execute("SELECT image_id FROM images WHERE user_id = 'u0001' ORDER BY image_id LIMIT 4").fetchall()]
    con.execute("DELETE FROM truth.scores WHERE user_id = 'u0001'")
    for image_id, stars in zip(images, (5.0, 3.0, 1.0, -1.0)):
        con.execute("INSERT INTO ratings VALUES ('u0001', ?, ?, 'xmp:Rating')", [image_id, stars])
    con.close()
    ws = Workspace.open(copy, "eval")
    users = ["u0000", "u0001", "u0002"]
    chosen, note = evaluated_users(ws, users)
    split = dict(rows(copy, "SELECT user_id, split FROM users"))
    assert chosen == ([u for u in users if split[u] == "test"] or users) and note
    truth = load_ground_truth(ws, users)
    assert truth.source["u0001"] == "ratings" and truth.source["u0000"] == "truth.scores"
    assert [truth.pis["u0001"][i] for i in images] == pytest.approx([100.0, 200 / 3, 100 / 3, 0.0])
    n0 = rows(copy, "SELECT count(*) FROM images WHERE user_id = 'u0000'")[0][0]
    assert len(truth.pis["u0000"]) == n0 and all(0 <= v <= 100 for v in truth.pis["u0000"].values())
    con = duckdb.connect(str(copy / "memoire.duckdb"))
    con.execute("INSERT INTO ratings VALUES ('u0001', 'u0001/99999', 4.0, 'xmp:Rating')")
    con.close()
    with pytest.raises(MemoireError, match="u0001/99999"):
        load_ground_truth(ws, users)
