"""What stages write matches schemas/; generated docs are current; hidden truth stays hidden; migrations."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import numpy as np
import pytest
import zarr

from conftest import TINY
from memoire_cli.errors import SchemaVersionError, WorkspaceError
from memoire_cli.migrations import migrate
from memoire_cli.schema import Schema, load_schema, render_ddl, render_reference
from memoire_cli.workspace import Workspace

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = ROOT / "schemas"


@pytest.fixture
def synth_ws(cli, box_renderer, tmp_path: Path) -> Path:
    ws = tmp_path / "w"
    assert cli("synth", "-w", ws, *TINY).exit_code == 0
    return ws


def test_generated_files_are_current() -> None:
    assert (SCHEMAS / "ddl.sql").read_text() == render_ddl(), "run: memoire schema ddl > schemas/ddl.sql"
    assert (SCHEMAS / "REFERENCE.md").read_text() == render_reference(), "run: memoire schema docs > schemas/REFERENCE.md"


def test_prose_docs_name_every_table_and_array() -> None:
    prose = (SCHEMAS / "README.md").read_text()
    schema = load_schema()
    for name in schema.tables:
        assert f"`{name}`" in prose, f"schemas/README.md does not mention table {name}"
    for spec in schema.arrays.values():
        assert f"`{spec.path}`" in prose, f"schemas/README.md does not mention array {spec.path}"


def test_declarations_are_well_formed() -> None:
    schema = load_schema()
    for spec in schema.tables.values():
        names = spec.column_names
        assert len(set(names)) == len(names)
        assert set(spec.primary_key) <= set(names), spec.name
        assert spec.hidden == spec.name.startswith("truth."), spec.name
        if spec.producer not in ("workspace", "every stage", "train", "eval"):  # train, eval: global stages
            assert "user_id" in names, f"{spec.name}: per-user tables need user_id"
    for spec in schema.arrays.values():
        assert len(spec.dims) == len(spec.shape) == len(spec.chunks)
        assert spec.hidden == spec.path.startswith("truth/")


def test_written_tables_match_declarations(synth_ws: Path) -> None:
    schema = load_schema()
    con = duckdb.connect(str(synth_ws / "memoire.duckdb"), read_only=True)
    try:
        for spec in schema.tables.values():
            schema_name, _, table_name = spec.name.rpartition(".")
            rows = con.execute(
                "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
                [schema_name or "main", table_name],
            ).fetchall()
            assert [(c.name, c.type) for c in spec.columns] == rows, spec.name
            if spec.producer == "synth":
                assert con.execute(f"SELECT count(*) FROM {spec.name}").fetchone()[0] > 0 or spec.name == "qc", spec.name
    finally:
        con.close()


def test_written_arrays_match_declarations(synth_ws: Path) -> None:
    schema = load_schema()
    con = duckdb.connect(str(synth_ws / "memoire.duckdb"), read_only=True)
    counts = dict(con.execute("SELECT user_id, count(*) FROM images GROUP BY 1").fetchall())
    regions = dict(con.execute("SELECT user_id, count(*) FROM truth.regions GROUP BY 1").fetchall())
    anchors = dict(con.execute("SELECT user_id, count(*) FROM anchors GROUP BY 1").fetchall())
    con.close()
    root = zarr.open_group(str(synth_ws / "arrays.zarr"), mode="r")
    extents = {"image_size": 128, "anchor_size": 128}
    for user_id, n in counts.items():
        lengths = {"n_images": n, "n_regions": regions[user_id], "n_anchors": anchors[user_id]}
        for spec in schema.arrays_of("synth"):
            arr = root[spec.path.format(user_id=user_id)]
            want_shape = tuple(lengths.get(s, extents.get(s, s)) for s in spec.shape)
            assert arr.shape == want_shape, spec.path
            assert arr.dtype == np.dtype(spec.dtype), spec.path
            want_chunks = tuple(c if isinstance(c, int) else extents[c] for c in spec.chunks)
            assert arr.chunks == want_chunks, spec.path


def test_image_rows_point_at_pixels(synth_ws: Path) -> None:
    ws = Workspace.open(synth_ws, "pat")
    rows = ws.query("SELECT user_id, idx, width, height FROM images ORDER BY image_id")
    arr = ws.read_array("images", rows[0][0])
    for user_id, idx, width, height in rows[:5]:
        if user_id != rows[0][0]:
            continue
        pixels = arr[idx]
        assert pixels[:height, :width].std() > 0
        assert not pixels[height:, :].any()


def test_only_eval_reads_hidden_truth(synth_ws: Path) -> None:
    for stage in ("graph", "persona", "pat", "label", "train", "rank", "status"):
        ws = Workspace.open(synth_ws, stage)
        with pytest.raises(WorkspaceError, match="may not read hidden ground truth"):
            ws.query("SELECT count(*) FROM truth.scores")
        with pytest.raises(WorkspaceError, match="hidden"):
            ws.read_array("truth_regions", "u0000")
    ws = Workspace.open(synth_ws, "eval")
    assert ws.query("SELECT count(*) FROM truth.scores")[0][0] > 0
    assert ws.read_array("truth_regions", "u0000").shape[0] > 0


def test_no_module_upstream_of_eval_names_hidden_tables() -> None:
    """A static guard beside the runtime one: only synth (the writer) and eval mention truth tables."""
    allowed = {"synth", "eval", "eval.py", "workspace.py", "schema.py"}
    pattern = re.compile(r"truth\.(users|scores|images|regions|faces)|truth_regions")
    for path in list((ROOT / "memoire_cli").rglob("*.py")) + list((ROOT / "commands").rglob("*.py")):
        rel = path.relative_to(ROOT)
        if any(part in allowed for part in rel.parts):
            continue
        assert not pattern.search(path.read_text()), f"{rel} refers to hidden ground truth"


def test_older_schema_is_migrated(synth_ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import memoire_cli.migrations as migrations

    base = load_schema()
    current = base.version
    newer = Schema(version=current + 1, tables=base.tables, arrays=base.arrays)

    def add_note(con) -> None:  # noqa: ANN001
        con.execute("INSERT INTO meta VALUES ('migrated', 'yes')")

    monkeypatch.setattr(migrations, "MIGRATIONS", {current: add_note})
    Workspace(synth_ws, "status", schema=newer)._check_version()
    con = duckdb.connect(str(synth_ws / "memoire.duckdb"), read_only=True)
    assert dict(con.execute("SELECT key, value FROM meta").fetchall())["schema_version"] == str(current + 1)
    assert dict(con.execute("SELECT key, value FROM meta").fetchall())["migrated"] == "yes"
    con.close()


def test_missing_migration_step_changes_nothing(synth_ws: Path) -> None:
    con = duckdb.connect(str(synth_ws / "memoire.duckdb"))
    with pytest.raises(SchemaVersionError, match="no migration from workspace schema version 1"):
        migrate(con, 1, 2, steps={})
    con.close()
    version = load_schema().version
    skip = Schema(version=version + 2, tables=load_schema().tables, arrays=load_schema().arrays)
    with pytest.raises(SchemaVersionError):
        Workspace(synth_ws, "status", schema=skip)._check_version()
    assert Workspace.open(synth_ws, "status").query("SELECT value FROM meta WHERE key = 'schema_version'") == [(str(version),)]


def test_version_1_workspace_gets_the_people_tables(synth_ws: Path) -> None:
    """The real 1 → 2 step: a workspace made before `memoire people` is upgraded in place, nothing else changes."""
    import zarr

    from memoire_cli.migrations import PEOPLE_TABLES, V2_COLUMNS

    con = duckdb.connect(str(synth_ws / "memoire.duckdb"))
    before = con.execute("SELECT count(*) FROM image_tags").fetchone()
    for name in PEOPLE_TABLES:
        con.execute(f"DROP TABLE {name}")
    for table, columns in V2_COLUMNS.items():
        for column in columns:
            con.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    con.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    con.execute("DELETE FROM meta WHERE key = 'tables'")  # version 1 did not record its tables
    con.close()
    zarr.open_group(store=str(synth_ws / "arrays.zarr"), mode="a").attrs["memoire_schema_version"] = 1
    ws = Workspace.open(synth_ws, "status")
    assert ws.query("SELECT value FROM meta WHERE key = 'schema_version'") == [("2",)]
    assert zarr.open_group(store=str(synth_ws / "arrays.zarr"), mode="r").attrs["memoire_schema_version"] == 2
    for table in V2_COLUMNS:
        cols = ws.query(f"SELECT column_name FROM information_schema.columns WHERE table_name = '{table}' ORDER BY ordinal_position")
        assert [c for (c,) in cols] == list(ws.schema.tables[table].column_names)
    assert ws.query("SELECT count(*) FROM stage_users WHERE upstream IS NOT NULL") == [(0,)]  # unknown: taken as current
    names = {n for (n,) in ws.query("SELECT table_name FROM information_schema.tables")}
    assert set(PEOPLE_TABLES) <= names
    assert ws.query("SELECT count(*) FROM people_image_tags") == [(0,)]
    assert ws.query("SELECT count(*) FROM image_tags") == [before]


@pytest.mark.parametrize("path", sorted((SCHEMAS / "examples" / "manifest").rglob("*.json")), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_manifest_examples(path: Path) -> None:
    """Valid examples validate, invalid ones do not (and the CLI's own manifests are checked in test_cli_contracts)."""
    import json

    from memoire_cli.manifest import manifest_problems

    problems = manifest_problems(json.loads(path.read_text()))
    assert (problems == []) == (path.parent.name == "valid"), problems


def test_tables_added_to_the_schema_appear_in_older_workspaces(tmp_path: Path) -> None:
    """A table declared after a workspace was made is created (empty) the next time it is opened."""
    import json

    import duckdb

    ws = Workspace.open(tmp_path / "w", "synth", create=True)
    con = duckdb.connect(str(ws.db_path))
    con.execute("DROP TABLE pat_faces")
    con.execute("DROP TABLE truth.faces")
    # made before they were declared: the workspace's record of its tables lacks them
    recorded = [t for t in json.loads(con.execute("SELECT value FROM meta WHERE key = 'tables'").fetchone()[0])
                if t not in ("pat_faces", "truth.faces")]
    con.execute("UPDATE meta SET value = ? WHERE key = 'tables'", [json.dumps(recorded)])
    con.close()
    again = Workspace.open(tmp_path / "w", "status")
    names = {n for (n,) in again.query("SELECT table_schema || '.' || table_name FROM information_schema.tables")}
    assert {"main.pat_faces", "truth.faces"} <= names
    assert again.query("SELECT count(*) FROM pat_faces") == [(0,)]
