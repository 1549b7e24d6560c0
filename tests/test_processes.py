"""Real processes: two shards of one stage side by side on one workspace, and SIGTERM mid-run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import zarr

SMALL = ["--users", "4", "--images-per-user", "3", "--frames-per-clip", "1", "--image-size", "128", "--anchors", "1"]


def memoire(*args: str) -> list[str]:
    return [sys.executable, "-m", "memoire_cli", *args]


def env() -> dict[str, str]:
    e = dict(os.environ)
    e.pop("MEMOIRE_WORKSPACE", None)
    e["OMP_NUM_THREADS"] = "1"
    return e


def committed(ws: Path) -> dict[str, int]:
    con = duckdb.connect(str(ws / "memoire.duckdb"), read_only=True)
    try:
        return dict(con.execute("SELECT s.user_id, u.n_images FROM stage_users s JOIN users u USING (user_id) WHERE stage = 'synth'").fetchall())
    finally:
        con.close()


def assert_consistent(ws: Path) -> None:
    """Every committed user has all its arrays with as many rows as its tables say."""
    root = zarr.open_group(str(ws / "arrays.zarr"), mode="r")
    for user_id, n in committed(ws).items():
        assert root[f"users/{user_id}/images"].shape[0] == n


def test_two_shard_processes_share_a_workspace(tmp_path: Path) -> None:
    ws = tmp_path / "w"
    # create the workspace first so both shards open the same one
    subprocess.run(memoire("synth", "-w", str(ws), *SMALL[:1], "1", *SMALL[2:]), check=True, env=env(), capture_output=True)
    procs = [subprocess.Popen(memoire("synth", "-w", str(ws), *SMALL, "--shard", f"{i}/2"), env=env(),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
    manifests = [json.loads(out) for out, _ in outs]
    assert sorted(m["users"] for m in manifests) == [2, 2]
    assert sorted(committed(ws)) == ["u0000", "u0001", "u0002", "u0003"]
    assert_consistent(ws)


def test_sigterm_leaves_a_resumable_workspace(tmp_path: Path) -> None:
    ws = tmp_path / "w"
    proc = subprocess.Popen(memoire("synth", "-w", str(ws), *SMALL[:1], "8", *SMALL[2:]), env=env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (ws / "arrays.zarr" / "users" / "u0001").exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    still_running = proc.poll() is None
    if still_running:
        proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    if still_running and proc.returncode != 0:  # 0: the signal landed as the run was finishing
        assert proc.returncode == 130, err
        assert out == "" and "interrupted" in err
    assert_consistent(ws)
    done = subprocess.run(memoire("synth", "-w", str(ws), *SMALL[:1], "8", *SMALL[2:]), env=env(), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    m = json.loads(done.stdout)
    assert m["computed"] + m["cached"] == 8 and len(committed(ws)) == 8
    assert_consistent(ws)
