"""Reliability of results (issue 16): staleness by content through the pipeline, damage found not
read as data, writes that never lose the previous result, and runs of killed processes."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from conftest import PIPELINE, Pipeline, copy_workspace, manifest, rows

#: Every check here reads the shared pipeline's ranking, which needs its trained model (about a minute
#: and a half to build on 2 cores): `pytest -m "not slow"` leaves the module out.
pytestmark = pytest.mark.slow

GALLERY = PIPELINE["synth"]  # the shared pipeline's tiny gallery: 3 users of 6 stills


@pytest.fixture
def ws(pipeline: Pipeline, tmp_path: Path) -> Path:
    """A copy of the shared pipeline through rank (synth → graph → persona → pat → label → train → rank),
    for a test to damage."""
    return copy_workspace(pipeline("rank"), tmp_path / "w")


def one_line_error(result) -> str:  # noqa: ANN001
    assert result.exit_code == 1, (result.exit_code, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    return lines[-1]


# ------------------------------------------------------------------------------------- staleness
@pytest.mark.parametrize("stage", ["label", "rank"])
def test_a_regrown_gallery_makes_downstream_stages_name_the_stage_to_rerun(cli, ws: Path, stage: str) -> None:
    """Failure 1: after synth grows the gallery, label crashed reading pat's arrays (BoundsCheckError)
    and rank ranked every image with masks computed for fewer; now both refuse in one line."""
    grown = [*GALLERY[:3], "7", *GALLERY[4:]]
    assert cli("synth", "-w", ws, *grown).exit_code == 0
    before = rows(ws, f"SELECT count(*) FROM stage_users WHERE stage = '{stage}'")
    line = one_line_error(cli(stage, "-w", ws))
    assert "graph was computed from an older gallery" in line and "re-run memoire graph" in line, line
    assert "pat" in line
    assert rows(ws, f"SELECT count(*) FROM stage_users WHERE stage = '{stage}'") == before


def test_every_stage_upstream_is_checked_not_only_the_direct_inputs(cli, ws: Path) -> None:
    """graph re-run on the regrown gallery: persona (graph's consumer) is now the stale one pat names."""
    assert cli("synth", "-w", ws, *GALLERY[:3], "7", *GALLERY[4:]).exit_code == 0
    assert cli("graph", "-w", ws).exit_code == 0
    line = one_line_error(cli("pat", "-w", ws))
    assert "persona was computed from an older graph" in line and "re-run memoire persona" in line, line


def test_a_gallery_changed_while_a_stage_ran_is_not_committed_as_current(ws: Path) -> None:
    """Failure 1 (race): the inputs a user was computed from are checked again inside its commit."""
    from memoire_cli.stage import upstream_parts
    from memoire_cli.workspace import StaleInputError, Workspace

    w = Workspace.open(ws, "graph")
    planned = upstream_parts(w.stage_users(), ("gallery",))["u0000"]
    w.transaction(lambda con: con.execute("UPDATE stage_users SET digest = 'regrown' WHERE stage = 'synth' AND user_id = 'u0000'"))
    with pytest.raises(StaleInputError, match="gallery changed while `memoire graph` ran"):
        w.commit_users("graph", "test", [("u0000", "fp", "digest", {})], upstream={"u0000": planned})
    assert rows(ws, "SELECT fingerprint FROM stage_users WHERE stage = 'graph' AND user_id = 'u0000'") != [("fp",)]


# ------------------------------------------------------------------------------------- integrity
def test_a_missing_chunk_is_an_error_not_a_black_image(cli, ws: Path) -> None:
    """Failure 4: pat --force read a deleted chunk of the gallery as zeros and exited 0."""
    chunk = ws / "arrays.zarr" / "users" / "u0000" / "images" / "c" / "2" / "0" / "0" / "0"
    assert chunk.is_file()
    chunk.unlink()
    line = one_line_error(cli("pat", "-w", ws, "--force"))
    assert "users/u0000/images lacks 1 chunk file" in line, line


def test_a_dropped_table_is_named_not_recreated_empty(cli, ws: Path) -> None:
    """Failure 4: a dropped image_tags was re-created empty and graph --force found zero tags."""
    con = duckdb.connect(str(ws / "memoire.duckdb"))
    con.execute("DROP TABLE image_tags")
    con.close()
    line = one_line_error(cli("graph", "-w", ws, "--force"))
    assert "table image_tags is missing" in line, line
    assert "image_tags" not in {n for (n,) in rows(ws, "SELECT table_name FROM information_schema.tables")}


def test_rows_deleted_behind_memoires_back_are_noticed(cli, ws: Path) -> None:
    """Failure 4: graph said "unchanged" over a gallery whose rows were deleted."""
    con = duckdb.connect(str(ws / "memoire.duckdb"))
    con.execute("DELETE FROM image_tags WHERE user_id = 'u0001' AND image_id IN (SELECT image_id FROM image_tags WHERE user_id = 'u0001' LIMIT 2)")
    con.close()
    line = one_line_error(cli("graph", "-w", ws))
    assert "user u0001: table image_tags holds" in line and "changed outside memoire" in line, line


def test_the_zarr_groups_schema_version_is_checked(cli, ws: Path) -> None:
    import zarr

    zarr.open_group(store=str(ws / "arrays.zarr"), mode="a").attrs["memoire_schema_version"] = 99
    line = one_line_error(cli("status", "-w", ws))
    assert "arrays.zarr has schema version 99" in line and "upgrade memoire" in line, line


def test_status_with_the_array_store_deleted_reports_damage(cli, ws: Path) -> None:
    """Failure 4: status reported a healthy workspace with arrays.zarr deleted."""
    shutil.rmtree(ws / "arrays.zarr")
    line = one_line_error(cli("status", "-w", ws))
    assert "arrays.zarr is missing" in line, line


def test_status_check(cli, ws: Path) -> None:
    result = cli("status", "-w", ws, "--check")
    assert result.exit_code == 0, result.stderr
    assert manifest(result)["problems"] == []
    shutil.rmtree(ws / "arrays.zarr" / "pat" / "u0001" / "masks")
    con = duckdb.connect(str(ws / "memoire.duckdb"))
    con.execute("DELETE FROM pat_images WHERE user_id = 'u0000'")
    con.execute("DELETE FROM stage_users WHERE stage = 'rank' AND user_id = 'u0001'")
    con.close()
    result = cli("status", "-w", ws, "--check")
    assert result.exit_code == 1
    problems = manifest(result)["problems"]
    assert any(p.startswith("user u0000: pat committed") and "pat_images" in p for p in problems), problems
    assert "user u0001: pat's array pat/u0001/masks is missing" in problems
    assert any(p.startswith("user u0001: table rankings holds") for p in problems), problems
    assert any(p.startswith("user u0001: array rank/u0001/embeddings exists") for p in problems), problems
    for p in problems:
        assert p in result.stderr
    assert "problem(s) found" in result.stderr.strip().splitlines()[-1]


# --------------------------------------------------------------------------------- safe writes
def test_a_failed_array_write_keeps_the_previous_result(cli, ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Failure 6: pat --force with an unwritable array store deleted the good pat rows first."""
    from memoire_cli.workspace import Workspace

    before = rows(ws, "SELECT user_id, count(*) FROM pat_masks GROUP BY 1 ORDER BY 1")
    digests = rows(ws, "SELECT user_id, digest FROM stage_users WHERE stage = 'pat' ORDER BY 1")
    masks = Workspace.open(ws, "label").read_array("pat_masks", "u0000")[...]

    def unwritable(self, name, user_id, data, tag):  # noqa: ANN001, ANN202
        raise OSError(13, "Permission denied")

    monkeypatch.setattr(Workspace, "stage_array", unwritable)
    result = cli("pat", "-w", ws, "--force")
    assert result.exit_code != 0
    assert rows(ws, "SELECT user_id, count(*) FROM pat_masks GROUP BY 1 ORDER BY 1") == before
    assert rows(ws, "SELECT user_id, digest FROM stage_users WHERE stage = 'pat' ORDER BY 1") == digests
    monkeypatch.undo()
    assert (Workspace.open(ws, "label").read_array("pat_masks", "u0000")[...] == masks).all()


def test_a_failed_commit_swaps_the_previous_arrays_back(ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np

    from memoire_cli.workspace import Workspace

    w = Workspace.open(ws, "persona")
    old = w.read_array("persona_embeddings", "u0000")[...]
    tables = {"persona": {c: np.asarray([], object) for c in w.schema.tables["persona"].column_names}}
    w.stage_array("persona_embeddings", "u0000", np.zeros((3, 128), np.float32), "t2")
    monkeypatch.setattr(Workspace, "insert", lambda *a: (_ for _ in ()).throw(RuntimeError("disk full")))
    with pytest.raises(RuntimeError, match="disk full"):
        w.commit_users("persona", "t2", [("u0000", "fp", "d", tables)], staged={"u0000": {"persona_embeddings": (3, 128)}}, tag="t2")
    assert (w.read_array("persona_embeddings", "u0000")[...] == old).all()
    assert not list((ws / "arrays.zarr" / "persona" / "u0000").glob("*.staged-*"))
    assert not list((ws / "arrays.zarr" / "persona" / "u0000").glob("*.old-*"))


def test_synth_with_fewer_users_or_images_needs_force(cli, ws: Path) -> None:
    """Failure 6: synth --users 1 silently deleted u0001's gallery and left its downstream results."""
    line = one_line_error(cli("synth", "-w", ws, "--user-count", "1", *GALLERY[2:]))
    assert "delete the gallery of u0001" in line and "graph" in line and "rank" in line and "--force" in line, line
    line = one_line_error(cli("synth", "-w", ws, *GALLERY[:3], "5", *GALLERY[4:]))
    assert "shrink the gallery of u0000, u0001, u0002 to 5 images" in line and "stale" in line, line
    assert rows(ws, "SELECT count(DISTINCT user_id) FROM images") == [(3,)]
    result = cli("synth", "-w", ws, "--user-count", "1", *GALLERY[2:], "--force")
    assert result.exit_code == 0, result.stderr
    assert "delete the gallery of u0001" in result.stderr
    assert rows(ws, "SELECT DISTINCT user_id FROM stage_users") == [("u0000",)]
    assert rows(ws, "SELECT count(*) FROM pat_masks WHERE user_id = 'u0001'") == [(0,)]
    assert not (ws / "arrays.zarr" / "pat" / "u0001" / "masks").exists()
    assert cli("status", "-w", ws, "--check").exit_code == 0


# ----------------------------------------------------------------------------------------- runs
def test_a_killed_run_reads_interrupted(tmp_path: Path) -> None:
    """Failure 7: every kill -9 left a runs row `running` forever."""
    ws = tmp_path / "w"
    env = {k: v for k, v in os.environ.items() if k != "MEMOIRE_WORKSPACE"}
    proc = subprocess.Popen([sys.executable, "-m", "memoire_cli", "synth", "-w", str(ws), "--user-count", "8", *GALLERY[2:]],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not (ws / "arrays.zarr" / "users" / "u0001").exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    if proc.poll() is not None:
        pytest.skip("synth finished before it could be killed")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert rows(ws, "SELECT status, pid FROM runs") == [("running", proc.pid)]
    status = subprocess.run([sys.executable, "-m", "memoire_cli", "status", "-w", str(ws)], env=env, capture_output=True, text=True)
    assert status.returncode == 0, status.stderr
    run = json.loads(status.stdout)["stages"]["synth"]["last_run"]
    assert run["status"] == "interrupted" and "killed" in run["message"]
    assert rows(ws, "SELECT status FROM runs") == [("interrupted",)]
    assert not list((ws / "arrays.zarr").glob("*/*/*.staged-*"))  # what it had staged is cleared
