"""Fuzzing a damaged workspace (issue 16): whatever happened to the files, one line and a documented exit code.

Each case damages a copy of a tiny workspace (synth + graph) in one or two ways — the DuckDB file
truncated or overwritten in places, a table or a column dropped, a Zarr chunk or metadata file
deleted, truncated or garbled — then runs a command on it (status, graph, pat, label, rank,
eval) and reads every declared array of every user through :meth:`Workspace.read_array`. The CLI
contract of tests/fuzz_support.py holds for the commands; the array reads may only raise
:class:`~memoire_cli.errors.MemoireError`.

Run: ``pytest tests/test_fuzz_workspace.py`` (a quarter of the budget); ``MEMOIRE_FUZZ=thorough`` for the whole
budget; ``MEMOIRE_FUZZ=nightly`` for 20× as many cases, randomised.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fuzz_support import assert_contract, copy_workspace, fuzz_settings, tiny_workspace


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from typer.testing import CliRunner

    from memoire_cli.app import build_app

    root = tmp_path_factory.mktemp("fuzz-ws")
    ws = tiny_workspace(root)
    result = CliRunner().invoke(build_app(), ["graph", "-w", str(ws)])
    assert result.exit_code == 0, result.output
    return ws


def _tables(ws: Path) -> list[tuple[str, str, list[str]]]:
    con = duckdb.connect(str(ws / "memoire.duckdb"), read_only=True)
    try:
        cols = con.execute("SELECT table_schema, table_name, column_name FROM information_schema.columns ORDER BY ALL").fetchall()
    finally:
        con.close()
    out: dict[tuple[str, str], list[str]] = {}
    for schema, table, column in cols:
        out.setdefault((schema, table), []).append(column)
    return [(s, t, c) for (s, t), c in out.items()]


DAMAGE = st.one_of(
    st.tuples(st.just("truncate-db"), st.floats(0, 1)),
    st.tuples(st.just("garble-db"), st.lists(st.tuples(st.floats(0, 1), st.integers(1, 4096)), min_size=1, max_size=4)),
    st.tuples(st.just("drop-table"), st.integers(0, 10_000)),
    st.tuples(st.just("drop-column"), st.tuples(st.integers(0, 10_000), st.integers(0, 100))),
    st.tuples(st.sampled_from(["delete-zarr", "truncate-zarr", "garble-zarr"]), st.tuples(st.integers(0, 10_000), st.floats(0, 1))),
)


def damage(ws: Path, how: tuple[str, Any]) -> str:
    """Apply one kind of damage; returns what was done (for the failure message)."""
    kind, arg = how
    db = ws / "memoire.duckdb"
    if kind == "truncate-db":
        size = int(db.stat().st_size * arg)
        os.truncate(db, size)
        return f"{kind} to {size}"
    if kind == "garble-db":
        size = db.stat().st_size
        with open(db, "r+b") as f:
            for where, n in arg:
                f.seek(int(size * where))
                f.write(bytes((i * 131 + 7) % 256 for i in range(n)))
        return f"{kind} {arg}"
    if kind in ("drop-table", "drop-column"):
        tables = _tables(ws)
        index = arg if kind == "drop-table" else arg[0]
        schema, table, columns = tables[index % len(tables)]
        con = duckdb.connect(str(db))
        try:
            if kind == "drop-table":
                con.execute(f'DROP TABLE "{schema}"."{table}" CASCADE')
                return f"{kind} {schema}.{table}"
            column = columns[arg[1] % len(columns)]
            try:
                con.execute(f'ALTER TABLE "{schema}"."{table}" DROP COLUMN "{column}"')
            except duckdb.Error:  # a key column cannot be dropped: the table goes instead
                con.execute(f'DROP TABLE "{schema}"."{table}" CASCADE')
            return f"{kind} {schema}.{table}.{column}"
        finally:
            con.close()
    files = sorted(p for p in (ws / "arrays.zarr").rglob("*") if p.is_file())
    target = files[arg[0] % len(files)]
    if kind == "delete-zarr":
        target.unlink()
    elif kind == "truncate-zarr":
        os.truncate(target, int(target.stat().st_size * arg[1]))
    else:
        data = bytearray(target.read_bytes())
        for i in range(0, len(data), max(1, int(len(data) * (1 - arg[1])) or 1)):
            data[i] = (data[i] + 101) % 256
        target.write_bytes(bytes(data) or b"\xff")
    return f"{kind} {target.relative_to(ws)}"


COMMANDS = [["status"], ["graph", "--force"], ["pat"], ["rank"], ["eval"], ["label"]]


@fuzz_settings(50)
@given(hows=st.lists(DAMAGE, min_size=1, max_size=2), command=st.sampled_from(COMMANDS))
def test_a_damaged_workspace_gives_one_line_and_a_documented_exit_code(base: Path, hows: list, command: list[str]) -> None:
    from typer.testing import CliRunner

    from memoire_cli.app import build_app
    from memoire_cli.errors import MemoireError
    from memoire_cli.workspace import Workspace

    scratch = Path(tempfile.mkdtemp(dir=base.parent))
    try:
        ws = copy_workspace(base, scratch / "w")
        done = []
        for how in hows:
            try:
                done.append(damage(ws, how))
            except duckdb.Error:  # the file is already too damaged for the next damage: that is fine
                done.append(f"{how[0]} (could not apply)")
        started = time.monotonic()
        result = CliRunner().invoke(build_app(), [command[0], "-w", str(ws), *command[1:]])
        assert_contract(result, started, f"{' '.join(command)} after {done}")
        try:
            opened = Workspace.open(ws, "eval")
            users = [u for u, in opened.query("SELECT user_id FROM users")]
            for name in opened.schema.arrays:
                for user in users:
                    try:
                        arr = opened.read_array(name, user)
                    except MemoireError:
                        continue
                    arr[...]
        except MemoireError:
            pass
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


@pytest.fixture(autouse=True)
def _no_workspace_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MEMOIRE_WORKSPACE", raising=False)
