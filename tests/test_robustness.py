"""Issue 16 (reliability): bounded inputs, one bad file never aborts an ingest, one line instead of a traceback.

Each test here failed before its fix (the audit's items 2, 3, 5, 7 and 8); the generated cases of
the same contracts are in ``tests/test_fuzz_*.py``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
import pytest
from PIL import Image

from conftest import Pipeline, rows

SMALL = ["--user-count", "2", "--images-per-user", "2", "--frames-per-clip", "1", "--image-size", "128", "--anchors", "1",
         "--split", "50/0/50"]


def one_line_error(result, code: int = 1) -> str:  # noqa: ANN001
    """The one stderr line of a failed command (asserting the contract: that exit code, no traceback, no stdout)."""
    err = result.stderr
    assert result.exit_code == code, (result.exit_code, result.output, result.exception)
    assert "Traceback" not in err and result.stdout == "", result.output
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines and sum(": error: " in line or ": usage error: " in line for line in lines) == 1, err
    assert ": error: " in lines[-1] or ": usage error: " in lines[-1], err  # a progress bar may come before
    return lines[-1]


@pytest.fixture(scope="module")
def tiny_ws(pipeline: Pipeline) -> Path:
    """The shared pipeline's synthetic workspace (procedural renderer, 128 px), read only; tests copy it to write."""
    return pipeline("synth")


def copy_ws(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


# ------------------------------------------------------------------------------ item 2: bounded inputs
@pytest.mark.parametrize("args, needle", [
    (["--user-count", "1000000000"], "--user-count must be between 1 and 100000"),
    (["--images-per-user", "100000000"], "--images-per-user must be between 1 and 5000"),
    (["--seed", "-1"], "--seed must be between 0 and"),
])
def test_synth_sizes_are_bounded(cli, tmp_path: Path, args: list[str], needle: str) -> None:
    start = time.monotonic()
    line = one_line_error(cli("synth", "-w", tmp_path / "w", *args), code=2)
    assert needle in line and time.monotonic() - start < 5
    assert not (tmp_path / "w").exists()


@pytest.mark.parametrize("command", ["label", "persona", "train"])
def test_negative_seeds_are_usage_errors(cli, tmp_path: Path, command: str) -> None:
    line = one_line_error(cli(command, "-w", tmp_path / "w", "--seed", "-1"), code=2)
    assert "--seed" in line


def test_session_id_lists_are_read_with_a_cap(cli, tiny_ws: Path, tmp_path: Path) -> None:
    start = time.monotonic()
    line = one_line_error(cli("rank", "-w", tiny_ws, "--session", "ids:@/dev/zero"), code=2)
    assert "not a regular file (a device)" in line and time.monotonic() - start < 10
    fifo = tmp_path / "ids.fifo"
    os.mkfifo(fifo)
    line = one_line_error(cli("rank", "-w", tiny_ws, "--session", f"ids:@{fifo}"), code=2)
    assert "not a regular file (a FIFO)" in line
    secret = b"password=hunter2\x00\xff\xfe"
    (tmp_path / "bin").write_bytes(secret)
    line = one_line_error(cli("rank", "-w", tiny_ws, "--session", f"ids:@{tmp_path / 'bin'}"), code=2)
    assert "binary content" in line and "hunter2" not in line
    (tmp_path / "latin1").write_bytes(b"caf\xe9,abc")
    line = one_line_error(cli("rank", "-w", tiny_ws, "--session", f"ids:@{tmp_path / 'latin1'}"), code=2)
    assert "not UTF-8 text" in line and "caf" not in line


def test_bounded_reader(tmp_path: Path) -> None:
    from memoire_cli.bounded import BoundedReadError, read_capped

    (tmp_path / "ok").write_bytes(b"x" * 10)
    assert read_capped(tmp_path / "ok", 10) == b"x" * 10
    with pytest.raises(BoundedReadError, match="larger than 9 bytes"):
        read_capped(tmp_path / "ok", 9)
    with pytest.raises(BoundedReadError, match="a folder"):
        read_capped(tmp_path, 10)
    os.symlink("/dev/zero", tmp_path / "zero")
    with pytest.raises(BoundedReadError, match="a device"):
        read_capped(tmp_path / "zero", 1 << 20)
    with pytest.raises(FileNotFoundError):
        read_capped(tmp_path / "missing", 10)


def _photo(path: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)).save(path, "JPEG", quality=80)


def _ingest(cli, root: Path, ws: Path):  # noqa: ANN001, ANN202
    return cli("ingest", root, "-w", ws, "--image-size", "64", "--anchor-size", "32")


def test_sidecars_that_are_fifos_or_devices_are_not_read(cli, tmp_path: Path) -> None:
    root = tmp_path / "photos"
    root.mkdir()
    for i, name in enumerate(("fifo.jpg", "zero.jpg", "big.jpg", "plain.jpg")):
        _photo(root / name, i)
    os.mkfifo(root / "fifo.jpg.xmp")  # a read of it would block forever
    os.symlink("/dev/zero", root / "zero.jpg.json")  # a read of it would never end
    with open(root / "big.jpg.json", "wb") as f:  # sparse: 2 MiB, over the 1 MiB Takeout cap
        f.truncate(2 << 20)
    start = time.monotonic()
    result = _ingest(cli, root, tmp_path / "w")
    assert result.exit_code == 0, result.output
    assert time.monotonic() - start < 60
    detail = dict(rows(tmp_path / "w", "SELECT path, detail FROM ingest_files"))
    status = dict(rows(tmp_path / "w", "SELECT path, status FROM ingest_files"))
    assert set(status.values()) == {"ingested"}
    assert "sidecar fifo.jpg.xmp not read (not a regular file (a FIFO))" in detail["fifo.jpg"]
    assert "takeout JSON not read (not a regular file (a device))" in detail["zero.jpg"]
    assert "takeout JSON not read (larger than 1 MiB)" in detail["big.jpg"]


# ------------------------------------------------------------------------------ item 3: per-file isolation
def test_a_takeout_time_past_year_9999_is_a_note_not_an_abort(cli, tmp_path: Path) -> None:
    root = tmp_path / "photos"
    root.mkdir()
    _photo(root / "a.jpg", 1)
    _photo(root / "b.jpg", 2)
    (root / "a.jpg.json").write_text(json.dumps({"photoTakenTime": {"timestamp": "99999999999999"}}))
    result = _ingest(cli, root, tmp_path / "w")
    assert result.exit_code == 0, result.output
    status = dict(rows(tmp_path / "w", "SELECT path, status FROM ingest_files"))
    assert status == {"a.jpg": "ingested", "b.jpg": "ingested"}
    detail = dict(rows(tmp_path / "w", "SELECT path, detail FROM ingest_files"))
    assert "after the year 9999" in detail["a.jpg"]


def test_any_error_reading_one_file_skips_that_file(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from memoire_cli.ingest import files

    root = tmp_path / "photos"
    root.mkdir()
    for i in range(3):
        _photo(root / f"p{i}.jpg", i)
    real = files.read_metadata

    def flaky(data: bytes, sidecar, max_pixels):  # noqa: ANN001, ANN202
        meta, im = real(data, sidecar, max_pixels)
        if im.size == (64, 48) and data == (root / "p1.jpg").read_bytes():
            raise RecursionError("a reader's bug on odd bytes")
        return meta, im

    monkeypatch.setattr(files, "read_metadata", flaky)
    result = _ingest(cli, root, tmp_path / "w")
    assert result.exit_code == 0, result.output
    got = {p: (s, d) for p, s, d in rows(tmp_path / "w", "SELECT path, status, detail FROM ingest_files")}
    assert got["p0.jpg"][0] == got["p2.jpg"][0] == "ingested"
    assert got["p1.jpg"] == ("skipped", "cannot read (RecursionError: a reader's bug on odd bytes)")
    assert "skipped p1.jpg" in result.stderr


# ------------------------------------------------------------------------------ item 5: one line, not a traceback
def test_status_of_a_gallery_without_favourite_marks(cli, tmp_path: Path) -> None:
    """Found by tests/test_fuzz_cli.py: `memoire status` formatted a missing favourite rate (a TypeError)."""
    root = tmp_path / "photos"
    root.mkdir()
    _photo(root / "a.jpg", 1)
    assert _ingest(cli, root, tmp_path / "w").exit_code == 0
    con = duckdb.connect(str(tmp_path / "w" / "memoire.duckdb"))
    con.execute("UPDATE usage SET favourite = NULL")
    con.close()
    result = cli("status", "-w", tmp_path / "w")
    assert result.exit_code == 0 and "favourites —" in result.stderr, result.output


def test_a_truncated_database_is_one_line(cli, tiny_ws: Path, tmp_path: Path) -> None:
    ws = copy_ws(tiny_ws, tmp_path / "w")
    with open(ws / "memoire.duckdb", "r+b") as f:
        f.truncate(20000)
    for command in ("graph", "status"):
        line = one_line_error(cli(command, "-w", ws))
        assert str(ws / "memoire.duckdb") in line


def test_a_checksum_damaged_database_is_one_line(cli, tiny_ws: Path, tmp_path: Path) -> None:
    ws = copy_ws(tiny_ws, tmp_path / "w")
    size = (ws / "memoire.duckdb").stat().st_size
    with open(ws / "memoire.duckdb", "r+b") as f:
        for offset in range(4096 * 3, size, 65536):  # every block's bytes, past the headers
            f.seek(offset)
            f.write(np.random.default_rng(offset).bytes(2048))
    line = one_line_error(cli("graph", "-w", ws))
    assert "memoire.duckdb" in line


def test_a_dropped_column_is_one_line(cli, tiny_ws: Path, tmp_path: Path) -> None:
    ws = copy_ws(tiny_ws, tmp_path / "w")
    con = duckdb.connect(str(ws / "memoire.duckdb"))
    con.execute("ALTER TABLE images DROP COLUMN taken_at")
    con.close()
    line = one_line_error(cli("graph", "-w", ws, "--force"))
    assert "workspace database" in line and "memoire.duckdb" in line


def test_a_garbled_zarr_chunk_is_one_line(tiny_ws: Path, tmp_path: Path) -> None:
    from memoire_cli.errors import WorkspaceError
    from memoire_cli.workspace import Workspace

    ws_path = copy_ws(tiny_ws, tmp_path / "w")
    chunk = next(p for p in sorted((ws_path / "arrays.zarr" / "users").rglob("*")) if p.is_file() and "/images/c/" in str(p))
    chunk.write_bytes(np.random.default_rng(0).bytes(100))
    ws = Workspace.open(ws_path, "pat")
    user = chunk.relative_to(ws_path / "arrays.zarr" / "users").parts[0]
    arr = ws.read_array("images", user)
    assert arr.shape[0] >= 1 and arr.dtype == np.uint8  # attributes are the array's
    with pytest.raises(WorkspaceError, match=r"images cannot be read \(.*\): a chunk is damaged"):
        arr[...]
    with pytest.raises(WorkspaceError):
        np.asarray(arr)


def test_library_errors_left_over_are_one_line() -> None:
    import zipfile

    from memoire_cli.errors import describe_library_error

    assert "Zstd decompression error" in describe_library_error(RuntimeError("Zstd decompression error: invalid input data"))
    assert describe_library_error(zipfile.BadZipFile("File is not a zip file")).startswith("damaged archive file")
    assert "not valid UTF-8" in describe_library_error(RuntimeError("std::bad_cast"))
    assert describe_library_error(duckdb.IOException("Could not read enough bytes")).startswith("workspace database")
    assert describe_library_error(ValueError("a bug")) is None  # bugs keep their traceback


def test_a_workspace_path_that_is_not_utf8_is_refused_before_anything_is_made(tmp_path: Path) -> None:
    bad = os.fsdecode(os.fsencode(tmp_path) + b"/w\xff")
    proc = subprocess.run([sys.executable, "-m", "memoire_cli", "synth", "-w", bad, *SMALL], capture_output=True, text=True,
                          env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert "not valid UTF-8" in proc.stderr and "w\\xff" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert os.listdir(tmp_path) == []


def test_a_workspace_path_that_is_not_utf8_from_the_environment(tmp_path: Path) -> None:
    from memoire_cli.errors import UsageError
    from memoire_cli.workspace import Workspace

    bad = Path(os.fsdecode(os.fsencode(tmp_path) + b"/w\xff"))
    with pytest.raises(UsageError, match="not valid UTF-8"):
        Workspace.open(bad, "synth", create=True)
    assert os.listdir(tmp_path) == []


def test_an_empty_workspace_flag_is_refused(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for args in (["-w", ""], ["--workspace", ""], ["--workspace="]):
        line = one_line_error(cli("synth", *args, "--user-count", "1"), code=2)
        assert "--workspace needs a folder" in line
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("value", ["abc", "nan", "-1", "1e99"])
def test_a_bad_lock_timeout_is_one_line(cli, tiny_ws: Path, monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("MEMOIRE_LOCK_TIMEOUT", value)
    line = one_line_error(cli("status", "-w", tiny_ws), code=2)
    assert "$MEMOIRE_LOCK_TIMEOUT must be a number of seconds" in line


def test_backbone_weights_that_are_not_weights_are_refused_before_any_work(cli, tiny_ws: Path, tmp_path: Path) -> None:
    (tmp_path / "w.txt").write_text("hello")
    line = one_line_error(cli("train", "-w", tiny_ws, "--preset", "smoke", "--backbone-weights", tmp_path / "w.txt"), code=2)
    assert "not a PyTorch weights file" in line


def test_weights_of_the_wrong_kind_are_a_value_error(tmp_path: Path) -> None:
    import torch

    from memoire_cli.train.model import PredictorConfig, build_model, load_backbone_weights

    model = build_model(PredictorConfig(backbone="efficientnet_lite0", fusion="early+mid", image_size=64, persona_dim=0, frozen=False))
    torch.save({"model": "not tensors"}, tmp_path / "odd.pt")
    with pytest.raises(ValueError, match="not a state dict of tensors"):
        load_backbone_weights(model, str(tmp_path / "odd.pt"))
    (tmp_path / "zip.pt").write_bytes(b"PK\x03\x04" + b"\x00" * 30)
    with pytest.raises(ValueError, match="not a readable PyTorch weights file"):
        load_backbone_weights(model, str(tmp_path / "zip.pt"))


def test_a_truncated_face_bank_cache_is_rebuilt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import types

    from memoire_cli.faces import bank as bank_module

    rebuilt = types.SimpleNamespace(_save_npz=lambda path: None)
    monkeypatch.setattr(bank_module.FaceBank, "build", classmethod(lambda cls: rebuilt))
    path = tmp_path / f"facebank-{bank_module.bank_key()}.npz"
    np.savez(path, version=np.array(bank_module.BANK_VERSION), crops=np.zeros(100000))
    path.write_bytes(path.read_bytes()[:500])  # a cache cut short (a full disk, a killed process)
    assert bank_module.FaceBank.load(tmp_path) is rebuilt


# ------------------------------------------------------------------------------ item 7: early interrupts
def _memoire(*args: str) -> list[str]:
    return [sys.executable, "-m", "memoire_cli", *args]


_STARTING = """
import os, signal, sys, time
import memoire_cli.app as app
sys.argv = ["memoire", "status", "-w", sys.argv[1]]
build = app.build_app
def slow_start():  # the signal lands while typer and the commands are being imported
    os.kill(os.getpid(), int(sys.argv_sig))
    time.sleep(5)
    return build()
sys.argv_sig = {sig}
app.build_app = slow_start
app.main()
"""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupt_while_starting_is_one_line(tiny_ws: Path, sig: signal.Signals) -> None:
    """A signal while the commands are still being imported: exit 130 and one line (it was a
    KeyboardInterrupt traceback, or death by SIGTERM)."""
    proc = subprocess.run([sys.executable, "-c", _STARTING.format(sig=int(sig)), str(tiny_ws)], capture_output=True, text=True,
                          env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=60)
    assert proc.returncode == 130, (proc.returncode, proc.stderr)
    assert proc.stderr.strip() == "memoire status: interrupted" and proc.stdout == ""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupt_in_the_first_moments_is_one_line(tiny_ws: Path, sig: signal.Signals) -> None:
    """Real processes signalled 0–0.3 s after ``main`` took the signals over (Python's own start-up,
    about 40 ms of site-packages, comes before any code of memoire's can catch a signal)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("MEMOIRE_WORKSPACE", None)
    for delay in (0.0, 0.02, 0.05, 0.1, 0.2, 0.3):
        proc = subprocess.Popen(_memoire("status", "-w", str(tiny_ws)), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        _wait_for_main(proc)
        time.sleep(delay)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
        if proc.returncode == 0:  # it finished first
            continue
        assert proc.returncode == 130, (delay, proc.returncode, err)
        assert err.strip() == "memoire status: interrupted", (delay, err)


def _wait_for_main(proc: subprocess.Popen) -> None:
    """Until the child ran :func:`memoire_cli.app.main`'s first line (SIGTERM is then caught by Python)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with open(f"/proc/{proc.pid}/status") as f:
                caught = next(line for line in f if line.startswith("SigCgt:"))
        except (OSError, StopIteration):
            caught = "SigCgt: 0"
        if int(caught.split()[1], 16) & (1 << (signal.SIGTERM - 1)):
            return
        time.sleep(0.001)


# ------------------------------------------------------------------------------ item 8: no temp files left
@pytest.mark.slow
def test_persona_leaves_no_generated_code_in_the_temp_folder(tiny_ws: Path, tmp_path: Path) -> None:
    ws = copy_ws(tiny_ws, tmp_path / "w")
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TMPDIR": str(scratch)}
    for command in (["graph"], ["persona", "--device", "cpu", "--epochs", "1"]):
        proc = subprocess.run(_memoire(*command, "-w", str(ws)), capture_output=True, text=True, env=env, timeout=300)
        assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in scratch.rglob("*.py")) == []
    assert tempfile.gettempdir() != str(scratch)
