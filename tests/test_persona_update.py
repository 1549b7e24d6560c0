"""`memoire persona update` (S1.2.11): streaming maintenance of the graph and persona."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import numpy as np
import pytest
import zarr

from conftest import PIPELINE, TINY, Pipeline, copy_workspace, manifest, rows

FAST = ["--epochs", "2", "--steps-per-epoch", "2", "--device", "cpu"]
USER = "u0000"


def built(pipeline: Pipeline, ws: Path, until: str = "persona") -> Path:
    """A copy at ``ws`` of the shared pipeline through ``until``: the tiny gallery (:data:`TINY`), graph, persona run with FAST."""
    assert PIPELINE["synth"] == TINY and PIPELINE["persona"] == FAST
    return copy_workspace(pipeline(until), ws)


def append_images(ws: Path, user_id: str, tag_sets: list[list[int]], new_person: str | None = "friend") -> int | None:
    """Append one image per tag set (usage known) for ``user_id``; a new person tag (id max+1) is
    created when ``new_person`` is given and the tag id −1 in a set stands for it. Returns its id."""
    con = duckdb.connect(str(ws / "memoire.duckdb"))
    try:
        n, last = con.execute("SELECT count(*), max(taken_at) FROM images WHERE user_id = ?", [user_id]).fetchone()
        new_tag = None
        if new_person:
            new_tag = con.execute("SELECT max(tag_id) + 1 FROM tags WHERE user_id = ?", [user_id]).fetchone()[0]
            con.execute("INSERT INTO tags (user_id, tag_id, type, name, relation) VALUES (?, ?, 'P', 'Newcomer', ?)", [user_id, new_tag, new_person])
        for k, tags in enumerate(tag_sets):
            image_id = f"{user_id}/{n + k:05d}"
            con.execute("INSERT INTO images (user_id, image_id, idx, kind, taken_at) VALUES (?, ?, ?, 'still', ?)", [user_id, image_id, n + k, last])
            con.execute("INSERT INTO usage (user_id, image_id, views, views_norm, favourite) VALUES (?, ?, 3, 0.5, true)", [user_id, image_id])
            for t in tags:
                con.execute("INSERT INTO image_tags VALUES (?, ?, ?)", [user_id, image_id, new_tag if t == -1 else t])
        # as a gallery stage would: its committed row counts follow (else the change reads as damage)
        stage, contents = con.execute("SELECT stage, contents FROM stage_users WHERE stage IN ('synth', 'ingest') AND user_id = ?",
                                      [user_id]).fetchone()
        counts = json.loads(contents)
        for key in counts:
            if key.startswith("table:"):
                counts[key] = con.execute(f"SELECT count(*) FROM {key[6:]} WHERE user_id = ?", [user_id]).fetchone()[0]
        con.execute("UPDATE stage_users SET contents = ? WHERE stage = ? AND user_id = ?", [json.dumps(counts), stage, user_id])
    finally:
        con.close()
    return new_tag


def snapshot(ws: Path, user_id: str) -> dict:
    by_tag = lambda sql: {r[0]: r[1:] for r in rows(ws, sql.format(u=user_id))}  # noqa: E731
    return {
        "nodes": by_tag("SELECT tag_id, count, f_z, ips0 FROM graph_nodes WHERE user_id = '{u}'"),
        "persona": by_tag("SELECT tag_id, alpha, score, score_ema FROM persona WHERE user_id = '{u}'"),
        "edges": {(a, b): (c, w) for a, b, c, w in rows(ws, f"""
            SELECT least(s.tag_id, d.tag_id), greatest(s.tag_id, d.tag_id), e.count, e.weight FROM graph_edges e
            JOIN graph_nodes s ON s.user_id = e.user_id AND s.node = e.src
            JOIN graph_nodes d ON d.user_id = e.user_id AND d.node = e.dst WHERE e.user_id = '{user_id}'""")},
    }


def pick_tags(ws: Path, user_id: str) -> list[int]:
    """A person and a location of the user's graph that do not already co-occur with every node."""
    people = [r[0] for r in rows(ws, f"SELECT tag_id FROM graph_nodes WHERE user_id = '{user_id}' AND type = 'P' ORDER BY count DESC, tag_id")]
    places = [r[0] for r in rows(ws, f"SELECT tag_id FROM graph_nodes WHERE user_id = '{user_id}' AND type = 'L' ORDER BY count, tag_id")]
    return [people[0], places[0]]


def test_update_folds_in_new_images(cli, pipeline: Pipeline, tmp_path: Path) -> None:
    ws = built(pipeline, tmp_path / "w")
    before = snapshot(ws, USER)
    others = rows(ws, f"SELECT user_id, tag_id, alpha, score_ema FROM persona WHERE user_id <> '{USER}' ORDER BY 1, 2")
    z_before = zarr.open_group(str(ws / "arrays.zarr"), mode="r")[f"persona/{USER}/z"][...]
    n_before = rows(ws, f"SELECT n_images FROM graph_users WHERE user_id = '{USER}'")[0][0]
    old = pick_tags(ws, USER)
    new_tag = append_images(ws, USER, [[*old, -1], [old[0], -1]])

    result = cli("persona", "update", "-w", ws)
    assert result.exit_code == 0, result.stderr
    m = manifest(result)
    assert m["stage"] == "persona" and m["action"] == "update" and m["computed"] == 1 and m["cached"] == 2 and not m["skipped"]
    assert f"user {USER}: 3 tag(s) touched, 1 new" in " ".join(result.stderr.split())
    after = snapshot(ws, USER)
    touched = {*old, new_tag}

    # (1)–(3): counts and c_uv as a fresh `memoire graph` over the enlarged gallery computes them
    fresh = tmp_path / "fresh"
    shutil.copytree(ws, fresh)
    assert cli("graph", "-w", fresh, "--force").exit_code == 0
    full = snapshot(fresh, USER)
    assert set(after["nodes"]) == set(full["nodes"]) == set(before["nodes"]) | {new_tag}
    for t in touched:
        assert after["nodes"][t][0] == full["nodes"][t][0]
    assert after["nodes"][old[0]][0] == before["nodes"][old[0]][0] + 2 and after["nodes"][new_tag][0] == 2
    for pair in {p for p in full["edges"] if set(p) <= touched}:
        assert after["edges"][pair][0] == full["edges"][pair][0], pair
    assert after["edges"][tuple(sorted((old[0], new_tag)))][0] == 2
    for pair, (count, _) in before["edges"].items():  # untouched pairs keep their counts
        if not set(pair) <= touched:
            assert after["edges"][pair][0] == count
    assert rows(ws, f"SELECT n_images, n_nodes FROM graph_users WHERE user_id = '{USER}'")[0] == (n_before + 2, len(full["nodes"]))
    assert rows(ws, f"SELECT count(*) FROM graph_nodes WHERE user_id = '{USER}'")[0][0] <= 500
    nodes = [r[0] for r in rows(ws, f"SELECT tag_id FROM graph_nodes WHERE user_id = '{USER}' ORDER BY node")]
    assert nodes == sorted(nodes)  # tag-id order, as `memoire graph` writes it

    # (4): nodes outside the 1-hop ego graph of the touched tags keep s̄ (and z)
    ego = set(touched)
    for (a, b) in after["edges"]:
        if a in touched or b in touched:
            ego |= {a, b}
    outside = set(before["persona"]) - ego
    for t in outside:
        assert after["persona"][t][1:] == before["persona"][t][1:]
    z_after = zarr.open_group(str(ws / "arrays.zarr"), mode="r")[f"persona/{USER}/z"][...]
    node_of = {t: i for i, t in enumerate(nodes)}
    old_nodes = sorted(before["persona"])
    for t in outside:
        assert np.array_equal(z_after[node_of[t]], z_before[old_nodes.index(t)])
    for t in ego - {new_tag}:
        assert after["persona"][t][2] != before["persona"][t][2]
    # α = softmax(s̄), sums to 1; (5): the new tag exists with a blended α
    alpha = np.array([after["persona"][t][0] for t in nodes])
    ema = np.array([after["persona"][t][2] for t in nodes])
    assert alpha.sum() == pytest.approx(1.0) and alpha.min() > 0
    assert np.allclose(alpha, np.exp(ema - ema.max()) / np.exp(ema - ema.max()).sum())
    assert z_after.shape == (len(nodes), 128)
    # other users untouched
    assert rows(ws, f"SELECT user_id, tag_id, alpha, score_ema FROM persona WHERE user_id <> '{USER}' ORDER BY 1, 2") == others

    # bookkeeping: a persona run with update params; a plain persona run is cached, update again: nothing new
    params = json.loads(rows(ws, f"SELECT params FROM runs WHERE run_id = '{m['run_id']}'")[0][0])
    assert params["update"] is True and params["beta"] == 0.9 and set(params["from"]) == {USER}
    again = cli("persona", "-w", ws, *FAST)
    assert again.exit_code == 0 and manifest(again)["skipped"] is True
    second = cli("persona", "update", "-w", ws)
    assert second.exit_code == 0, second.stderr
    assert manifest(second)["skipped"] is True and "nothing new" in second.stderr
    assert snapshot(ws, USER) == after

    # a second batch still resolves the training parameters through the update run
    append_images(ws, USER, [[old[1], new_tag]], new_person=None)
    third = cli("persona", "update", "-w", ws, "--users", USER)
    assert third.exit_code == 0, third.stderr
    assert manifest(third)["computed"] == 1
    assert snapshot(ws, USER)["nodes"][new_tag][0] == 3


def test_update_is_deterministic(cli, pipeline: Pipeline, tmp_path: Path) -> None:
    a, b = built(pipeline, tmp_path / "a"), tmp_path / "b"
    shutil.copytree(a, b)
    for ws in (a, b):
        append_images(ws, USER, [[*pick_tags(ws, USER), -1]])
        assert cli("persona", "update", "-w", ws).exit_code == 0
    assert snapshot(a, USER) == snapshot(b, USER)


def test_update_before_persona_is_one_line(cli, pipeline: Pipeline, tmp_path: Path) -> None:
    ws = built(pipeline, tmp_path / "w", until="graph")
    result = cli("persona", "update", "-w", ws)
    assert result.exit_code == 1 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "run `memoire persona` first" in lines[0] and "Traceback" not in result.stderr


def test_update_after_a_graph_rerun_asks_for_persona(cli, pipeline: Pipeline, tmp_path: Path) -> None:
    ws = built(pipeline, tmp_path / "w")
    append_images(ws, USER, [[*pick_tags(ws, USER), -1]])
    assert cli("graph", "-w", ws, "--force").exit_code == 0
    result = cli("persona", "update", "-w", ws)
    assert result.exit_code == 1 and "older than its graph" in result.stderr


def test_bad_action_and_options(cli, tmp_path: Path) -> None:
    result = cli("persona", "retrain", "-w", tmp_path)
    assert result.exit_code == 2 and "No such command 'retrain'" in result.stderr
    for option in ("--force", "--shard", "--jobs"):  # not options of `persona update`
        result = cli("persona", "update", "-w", tmp_path, option, "2")
        assert result.exit_code == 2 and f"No such option: {option}" in result.stderr


def test_pruning_keeps_the_budget() -> None:
    """(6): over budget, aged tags go first, then the lowest counts; the new tag stays."""
    import torch

    from memoire_cli.graph.config import GraphConfig
    from memoire_cli.persona.train import PersonaConfig, build_model
    from memoire_cli.persona.update import NewImages, UpdateConfig, UserState, update_state

    n, day = 8, 86_400_000_000
    now = 1_000 * day
    rng = np.random.default_rng(0)
    counts = np.array([5, 1, 4, 1, 3, 2, 6, 1])
    last = np.array([now, now - 400 * day, now, now - 10 * day, now, now, now, now - 500 * day])
    src, dst = np.array([0, 0, 1, 2, 4]), np.array([1, 2, 3, 6, 5])
    st = UserState(
        tag_id=np.arange(n) * 2, type=np.array(["P", "L", "E", "P", "L", "E", "P", "L"], object),
        relation=np.array(["self", None, None, "friend", None, None, "father", None], object),
        count=counts.copy(), last=last, raw={k: rng.random(n) for k in "frvqg"}, z={k: rng.normal(size=n) for k in "frvqg"},
        ips0=rng.normal(size=n), score=rng.normal(size=n), ema=rng.normal(size=n), alpha=np.full(n, 1 / n),
        emb=rng.normal(size=(n, 128)).astype(np.float32), src=src, dst=dst, c_uv=np.ones(5, np.int64), cooc=np.full(5, 0.2),
        social=np.zeros(5), weight=np.full(5, 0.2), n_images=20, now_us=now,
        users_row={"lambda_s": 0.3, "lambda_c": 0.7, "lambda_r": 0.3, "lambda_rel": 0.3, "lambda_f": 0.4},
    )
    torch.manual_seed(0)
    model = build_model(PersonaConfig())
    new = NewImages(times_us=np.array([now]), dated=np.array([True]), views=np.array([np.nan]), favourite=np.array([np.nan]),
                    tags=[[0, 99]], tag_info={99: ("L", None)})
    report = update_state(st, new, model, GraphConfig(), UpdateConfig(max_nodes=6))
    # 9 nodes, budget 6: the aged tags 2 (count 1, 400 days) and 14 (500 days) go, then the lowest count: 6 (count 1, 10 days)
    assert st.n == 6 and sorted(report.pruned_tags) == [2, 6, 14]
    assert 99 in st.tag_id and list(st.tag_id) == sorted(st.tag_id)
    assert st.alpha.sum() == pytest.approx(1.0) and (st.src < st.dst).all() and st.dst.max() < st.n
    assert report.new.tolist() == [int(np.flatnonzero(st.tag_id == 99)[0])]
