"""Real processes: two shards of one stage side by side on one workspace, and SIGTERM mid-run."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import pytest
import zarr

from conftest import manifest, rows

SMALL = ["--user-count", "4", "--images-per-user", "3", "--frames-per-clip", "1", "--image-size", "128", "--anchors", "1"]


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


@pytest.mark.slow
def test_two_shard_processes_share_a_workspace(tmp_path: Path) -> None:
    ws = tmp_path / "w"
    # create the workspace first so both shards open the same one
    subprocess.run(memoire("synth", "-w", str(ws), *SMALL[:1], "1", *SMALL[2:]), check=True, env=env(), capture_output=True)
    procs = [subprocess.Popen(memoire("synth", "-w", str(ws), *SMALL, "--shard", f"{i}/2"), env=env(),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (_out, err) in zip(procs, outs):
        assert p.returncode == 0, err
    manifests = [json.loads(out) for out, _ in outs]
    assert sorted(m["users"] for m in manifests) == [2, 2]
    assert sorted(committed(ws)) == ["u0000", "u0001", "u0002", "u0003"]
    assert_consistent(ws)


@pytest.mark.slow
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


# ----------------------------------------------------------------------------------------- --jobs
PERSONA_FAST = ["--epochs", "2", "--steps-per-epoch", "2", "--device", "cpu"]


def stage_digests(ws: Path, stage: str) -> list[tuple]:
    """Per user: the fingerprint of its inputs and parameters, and the digest of everything it wrote."""
    return rows(ws, f"SELECT user_id, fingerprint, digest FROM stage_users WHERE stage = '{stage}' ORDER BY 1")


def persona_workspace(root: Path, users: int, n_images: int = 40) -> Path:
    """A workspace holding only hand-made `graph` outputs (toy galleries), for persona runs."""
    from memoire_cli.persona.toy import gallery_graph
    from test_persona_stage import graph_rows, graph_workspace

    tables = {}
    for k in range(users):
        g, _ = gallery_graph(n_images=n_images, seed=k)
        tables[f"u{k}"] = graph_rows(f"u{k}", g.n_nodes, g.src.tolist(), g.dst.tolist(), g.weight.tolist())
    return graph_workspace(root, tables)


@pytest.mark.slow
def test_jobs_give_the_result_of_one_process(cli, tmp_path: Path) -> None:
    """synth → graph → persona with --jobs 2 writes what one process writes (every user's digest),
    prints one manifest line for the whole run and records the workers' runs in its own."""
    one, many = tmp_path / "one", tmp_path / "many"
    for stage, extra in (("synth", SMALL), ("graph", []), ("persona", PERSONA_FAST)):
        single = cli(stage, "-w", one, *extra)
        assert single.exit_code == 0, single.stderr
        jobs = cli(stage, "-w", many, *extra, "--jobs", "2")
        assert jobs.exit_code == 0, jobs.stderr
        m = manifest(jobs)
        assert (m["stage"], m["users"], m["computed"], m["cached"], m["shard"]) == (stage, 4, 4, 0, "0/1")
        assert "4 user(s) in 2 worker processes" in jobs.stderr and "Traceback" not in jobs.stderr
        assert stage_digests(many, stage) == stage_digests(one, stage) and len(stage_digests(one, stage)) == 4
        (status, users, computed, message), = rows(many, f"SELECT status, users, computed, message FROM runs WHERE run_id = '{m['run_id']}'")
        assert (status, users, computed) == ("done", 4, 4) and message.startswith("--jobs 2: worker runs ")
    assert "[job 1/2] persona: PERSONA-GAT on cpu" in jobs.stderr
    assert rows(many, "SELECT count(*) FROM persona") == rows(one, "SELECT count(*) FROM persona")
    assert_consistent(many)
    # nothing left to do: no workers are started, whatever --jobs says
    again = cli("persona", "-w", many, *PERSONA_FAST, "--jobs", "auto")
    assert manifest(again)["skipped"] is True and "worker processes" not in again.stderr


@pytest.mark.slow
def test_a_failing_worker_fails_the_run_in_one_line(cli, tmp_path: Path) -> None:
    from test_persona_stage import graph_rows, graph_workspace

    bad = graph_rows("u-bad", 3, [1], [1], [0.5])  # a self-loop row: src < dst is violated
    ws = graph_workspace(tmp_path / "w", {"u-bad": bad, "u-good": graph_rows("u-good", 3, [0], [1], [0.5])})
    result = cli("persona", "-w", ws, *PERSONA_FAST, "--jobs", "2")
    assert result.exit_code == 1 and result.stdout == "", result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[-1] == ("memoire persona: error: worker 1 of 2 failed: user u-bad: graph_edges must have src < dst "
                         "(self-loops are implicit): rerun `memoire graph`"), result.stderr
    assert sum("error" in line for line in lines) == 1 and "Traceback" not in result.stderr
    assert rows(ws, "SELECT count(*) FROM persona WHERE user_id = 'u-bad'") == [(0,)]
    assert ("failed", "0/1") in rows(ws, "SELECT status, shard FROM runs WHERE stage = 'persona'")


@pytest.mark.slow
def test_ctrl_c_stops_every_worker(tmp_path: Path) -> None:
    ws = persona_workspace(tmp_path / "w", users=8, n_images=80)
    proc = subprocess.Popen(memoire("persona", "-w", str(ws), "--device", "cpu", "--jobs", "2"), env=env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in proc.stderr], daemon=True)
    reader.start()
    pids, started, seen = [], 0, []
    deadline = time.monotonic() + 180
    while started < 2 and time.monotonic() < deadline and proc.poll() is None:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            continue
        seen.append(line)
        if "worker processes (pids" in line:
            pids = [int(p) for p in re.findall(r"\d+", line.split("pids", 1)[1])]
        started += "PERSONA-GAT on cpu" in line  # a worker is training
    assert len(pids) == 2, "".join(seen)
    if proc.poll() is not None:
        pytest.skip("the run finished before it could be interrupted")
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=120)
    out = proc.stdout.read()
    reader.join(timeout=10)
    while not lines.empty():
        seen.append(lines.get())
    seen = [line for line in seen if line.strip()]
    if proc.returncode == 0:  # the signal landed as the run was finishing
        return
    assert proc.returncode == 130 and out == "", "".join(seen)
    assert seen[-1].strip() == "memoire persona: interrupted", "".join(seen)
    assert sum("interrupted" in line for line in seen) == 1 and "Traceback" not in "".join(seen)
    for pid in pids:  # stopped and reaped
        assert not Path(f"/proc/{pid}").exists()
    assert ("interrupted",) in rows(ws, "SELECT status FROM runs WHERE stage = 'persona' AND shard = '0/1'")  # the parent's run
    for user_id, in rows(ws, "SELECT user_id FROM stage_users WHERE stage = 'persona'"):  # committed users are whole
        assert zarr.open_group(str(ws / "arrays.zarr"), mode="r")[f"persona/{user_id}/z"].shape[0] > 0


def test_jobs_values() -> None:
    from memoire_cli.cli import available_cpus, parse_jobs
    from memoire_cli.errors import UsageError

    assert parse_jobs("auto") == 0 and parse_jobs("3") == 3 and parse_jobs(1) == 1 and available_cpus() >= 1
    for bad in ("0", "-2", "x", "1.5", ""):
        with pytest.raises(UsageError, match="--jobs"):
            parse_jobs(bad)


def test_an_interrupt_in_a_finaliser_is_raised_again_not_printed() -> None:
    """A Ctrl-C that lands in a weakref callback (an import lock's) printed a traceback from a --jobs
    worker and was lost (issue 14's CI run); memoire's unraisable hook signals it again instead."""
    import signal as signal_module

    from memoire_cli.cli import _interrupt_later, _raise_interrupt

    seen: list = []
    previous = signal_module.signal(signal_module.SIGTERM, _raise_interrupt)
    try:
        hook = _interrupt_later(seen.append)
        hook(type("Info", (), {"exc_value": ValueError("other")})())
        assert len(seen) == 1  # other unraisable errors reach the previous hook
        with pytest.raises(KeyboardInterrupt):
            hook(type("Info", (), {"exc_value": KeyboardInterrupt()})())
    finally:
        signal_module.signal(signal_module.SIGTERM, previous)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.slow
def test_an_interrupt_during_zarr_writes_is_one_line(tmp_path: Path, sig: signal.Signals) -> None:
    """Zarr writes chunks from an asyncio loop in its own thread: an interrupt mid-write printed
    hundreds of "Task was destroyed but it is pending!" and "Event loop is closed" lines."""
    ws = tmp_path / "w"
    proc = subprocess.Popen(memoire("synth", "-w", str(ws), "--user-count", "3", "--images-per-user", "30", "--image-size", "512",
                                    "--frames-per-clip", "1", "--anchors", "1"),
                            env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    images = ws / "arrays.zarr" / "users" / "u0000" / "images"
    deadline = time.monotonic() + 180
    while not images.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.002)
    still_running = proc.poll() is None
    if still_running:
        proc.send_signal(sig)  # the first user's pixels are being written
    out, err = proc.communicate(timeout=120)
    if not still_running or proc.returncode == 0:
        pytest.skip("the run finished before it could be interrupted")
    lines = [line for line in err.splitlines() if line.strip()]
    assert proc.returncode == 130 and out == "", err
    assert lines[-1] == "memoire synth: interrupted", err
    assert len(lines) <= 3 and "Traceback" not in err and "Task was destroyed" not in err, err  # renderer line, bar, verdict
    assert_consistent(ws)
