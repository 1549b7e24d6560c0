"""Honest measurement in `memoire eval` (issue 14): which users are scored, and which sources read an
input derived from the ground truth (flagged in the note, the stderr table, the report, left out of
the goal line). Fast: synth-only galleries (the box renderer) and hand-made summaries."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import duckdb
import pytest

from conftest import BoxRenderer, Invoker
from memoire_cli.errors import UsageError

SYNTH = ["--user-count", "6", "--images-per-user", "3", "--frames-per-clip", "0", "--image-size", "128", "--anchors", "1", "--seed", "2"]


@pytest.fixture(scope="module")
def galleries(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two 6-user synthetic galleries (5 train + 1 test users): S1.1.3's views, and views/favourites drawn
    from the hidden utility."""
    import memoire_cli.synth.render as render

    out = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(render, "make_renderer", lambda name, cache_dir: BoxRenderer())
        cli = Invoker()
        for name, extra in (("plain", []), ("linked", ["--views-link", "0.6", "--favourite-link", "0.3"])):
            ws = tmp_path_factory.mktemp(name) / "w"
            result = cli("synth", "-w", ws, *SYNTH, *extra)
            assert result.exit_code == 0, result.stderr
            out[name] = ws
    return out


def copy_of(src: Path, dst: Path, *sql: tuple[str, list]) -> Path:
    shutil.copytree(src, dst)
    con = duckdb.connect(str(dst / "memoire.duckdb"))
    for statement, args in sql:
        con.execute(statement, args)
    con.close()
    return dst


def open_ws(path: Path):
    from memoire_cli.workspace import Workspace

    return Workspace.open(path, "eval")


def splits(path: Path) -> dict[str, str | None]:
    con = duckdb.connect(str(path / "memoire.duckdb"), read_only=True)
    try:
        return dict(con.execute("SELECT user_id, split FROM users").fetchall())
    finally:
        con.close()


# 1. Eval scores held-out users only ---------------------------------------------------------------------


def test_test_split_users_only(galleries: dict[str, Path]) -> None:
    from memoire_cli.eval.truth import evaluated_users

    split = splits(galleries["plain"])
    users = sorted(split)
    assert sorted(split.values()) == ["test"] + ["train"] * 5
    chosen, note, trained = evaluated_users(open_ws(galleries["plain"]), users)
    assert chosen == [u for u in users if split[u] == "test"] and trained == [] and "test-split" in note


def test_train_val_only_gallery_is_refused_unless_named(galleries: dict[str, Path], tmp_path: Path) -> None:
    """Before issue 14 this silently scored all (trained-on) users."""
    from memoire_cli.eval.truth import OPTIMISTIC, evaluated_users

    path = copy_of(galleries["plain"], tmp_path / "w", ("UPDATE users SET split = 'val' WHERE split = 'test'", []))
    ws = open_ws(path)
    users = sorted(splits(path))
    with pytest.raises(UsageError, match=r"no test-split user.*5 train, 1 val.*--users") as err:
        evaluated_users(ws, users)
    assert OPTIMISTIC in str(err.value)
    chosen, note, trained = evaluated_users(ws, users, asked=users[:2])
    assert chosen == users[:2] and trained == users[:2] and OPTIMISTIC in note


def test_named_test_users_are_not_optimistic(galleries: dict[str, Path]) -> None:
    from memoire_cli.eval.truth import OPTIMISTIC, evaluated_users

    split = splits(galleries["plain"])
    test = [u for u, s in split.items() if s == "test"]
    chosen, note, trained = evaluated_users(open_ws(galleries["plain"]), sorted(split), asked=test)
    assert chosen == test and trained == [] and OPTIMISTIC not in note


def test_unsplit_users_are_evaluated(galleries: dict[str, Path], tmp_path: Path) -> None:
    """An ingested gallery writes users.split NULL: its users are the ones evaluated (the note says why)."""
    from memoire_cli.eval.truth import evaluated_users

    path = copy_of(galleries["plain"], tmp_path / "w", ("UPDATE users SET split = NULL WHERE user_id IN ('u0000', 'u0001')", []),
                   ("UPDATE users SET split = 'train' WHERE split = 'test'", []))
    chosen, note, trained = evaluated_users(open_ws(path), sorted(splits(path)))
    assert chosen == ["u0000", "u0001"] and trained == [] and "without a split" in note


# 2. Inputs derived from the truth are detected and flagged -----------------------------------------------


def test_leaks_of_synth_links(galleries: dict[str, Path]) -> None:
    from memoire_cli.eval.leaks import find_leaks

    users = sorted(splits(galleries["plain"]))
    assert find_leaks(open_ws(galleries["plain"]), users) == []
    leaks = find_leaks(open_ws(galleries["linked"]), users)
    assert {(leak.signal, leak.why) for leak in leaks} == {("views", "synth --views-link 0.6"),
                                                           ("favourites", "synth --favourite-link 0.3")}
    assert all(leak.users == tuple(users) for leak in leaks)


def test_old_synth_runs_were_linked(galleries: dict[str, Path], tmp_path: Path) -> None:
    """A synth run recorded before the keys existed (code version 1) linked views at 0.6, favourites at 0.4."""
    from memoire_cli.eval.leaks import find_leaks

    con = duckdb.connect(str(galleries["plain"] / "memoire.duckdb"), read_only=True)
    run_id, params = con.execute("SELECT run_id, params FROM runs WHERE stage = 'synth'").fetchone()
    con.close()
    old = {k: v for k, v in json.loads(params).items() if k not in ("views_link", "favourite_link")}
    path = copy_of(galleries["plain"], tmp_path / "w", ("UPDATE runs SET params = ? WHERE run_id = ?", [json.dumps(old), run_id]))
    leaks = find_leaks(open_ws(path), ["u0000"])
    assert [(leak.signal, leak.why) for leak in leaks] == [
        ("views", "synth --views-link 0.6 as in synth code version 1, which did not record it"),
        ("favourites", "synth --favourite-link 0.4 as in synth code version 1, which did not record it")]


def test_ingested_favourites_from_ratings(galleries: dict[str, Path], tmp_path: Path) -> None:
    """An ingest run with --favourites-from-rating made favourites of the ratings eval scores."""
    from memoire_cli.eval.leaks import find_leaks

    path = copy_of(galleries["plain"], tmp_path / "w",
                   ("INSERT INTO runs (run_id, stage, status, params) VALUES ('ingest1', 'ingest', 'done', ?)",
                    [json.dumps({"favourites_from_rating": 4})]),
                   ("UPDATE stage_users SET stage = 'ingest', run_id = 'ingest1' WHERE stage = 'synth' AND user_id = 'u0001'", []))
    leaks = find_leaks(open_ws(path), ["u0000", "u0001"])
    assert [(leak.signal, leak.why, leak.users) for leak in leaks] == [("favourites", "ingest --favourites-from-rating 4", ("u0001",))]
    assert "for 1/2 users" in leaks[0].text(2) and "star ratings" in leaks[0].text(2)


def comparison_rows(values: dict[str, float]) -> list:
    from memoire_cli.eval.suite import Row

    rows = []
    for variant, value in values.items():
        row = Row("comparison", variant, "", f"baseline:{variant}")
        row.summary = {"srcc": value, "srcc_lo": value - 0.1, "srcc_hi": value + 0.1, "aps": value * 100}
        row.n_users = 2
        rows.append(row)
    return rows


def test_flags_in_note_table_report_and_goals(tmp_path: Path) -> None:
    """most-viewed beats Memoire, but its views were drawn from the truth: flagged, not counted."""
    from rich.console import Console

    from memoire_cli.eval.leaks import FLAG, Leak, apply_flags
    from memoire_cli.eval.report import markdown, row_dict
    from memoire_cli.eval.stage import goals, print_summary

    rows = comparison_rows({"Memoire": 0.5, "random": 0.0, "most-viewed": 0.9, "favourites-first": 0.2, "expo": 0.1})
    leaks = [Leak("views", "synth --views-link 0.6", ("u0", "u1"))]
    flags = apply_flags(rows, leaks, 2)
    assert set(flags) == {"most-viewed", "Memoire"}  # favourites and Expo read no derived signal
    dicts = [row_dict(r) for r in rows]
    by = {d["variant"]: d for d in dicts}
    assert by["most-viewed"]["note"].startswith(f"{FLAG}: input derived from the truth — views drawn from the hidden utility")
    assert by["Memoire"]["note"].startswith(f"{FLAG}: persona reads views") and by["expo"]["note"] == ""
    summary = {"run_id": "r", "k": 3, "suite": "quick", "users": ["u0", "u1"], "users_note": "x", "ground_truth": "truth.scores",
               "embedder": "e", "models": {}, "rows": dicts, "runtime": [], "flags": flags, "trained_on": [],
               "leaks": [leaks[0].text(2)]}
    lines = goals(summary)
    assert lines[0].startswith("Memoire SRCC 0.500: beats every baseline (not counted, input derived from the truth: most-viewed (0.900))")
    assert "Memoire's persona reads inputs derived from the truth: optimistic" in lines[0]
    summary["goals"] = lines
    md = markdown(summary)
    assert "Inputs derived from the ground truth: views drawn from the hidden utility" in md and f"{FLAG}: input derived" in md
    buf = io.StringIO()
    print_summary(Console(file=buf, width=200), summary)
    table = buf.getvalue()
    assert table.count(" flagged ") == 2
    # without the flag the same numbers lose to most-viewed (the line before issue 14)
    plain = goals({**summary, "flags": {}, "rows": [row_dict(r) for r in comparison_rows({"Memoire": 0.5, "most-viewed": 0.9})]})
    assert plain[0] == "Memoire SRCC 0.500: does not beat most-viewed (0.900)"


def test_optimistic_users_in_goals_and_report() -> None:
    from memoire_cli.eval.report import markdown
    from memoire_cli.eval.stage import goals
    from memoire_cli.eval.truth import OPTIMISTIC

    summary = {"run_id": "r", "k": 3, "suite": "quick", "users": ["u0"], "users_note": f"the 1 user(s) asked for; {OPTIMISTIC}: …",
               "ground_truth": "truth.scores", "embedder": "e", "models": {}, "rows": [], "runtime": [], "trained_on": ["u0"]}
    summary["goals"] = goals(summary)
    assert summary["goals"][0].startswith(OPTIMISTIC)
    assert "Trained-on users: optimistic" in markdown(summary)
