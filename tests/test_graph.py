"""`memoire graph` (S1.2.1–S1.2.4, S1.2.10): the worked example, the pieces, bad input, the stage contract."""

from __future__ import annotations

import math
from pathlib import Path

import duckdb
import numpy as np
import pytest

from conftest import TINY, manifest, rows
from memoire_cli.graph import cooccurrence as co
from memoire_cli.graph.build import GraphInputs, build_user_graph
from memoire_cli.graph.config import GraphConfig
from memoire_cli.graph.social import FRIEND, KIN, UNK, WORK, class_table, relation_class
from memoire_cli.schema import load_schema
from memoire_cli.vocabulary import RELATIONS
from test_graph_reference import gallery_from_sets, random_gallery, write_gallery

US_PER_DAY = 86_400_000_000


def inputs_from_sets(sets: list[list[int]], tags: list[tuple[int, str, str | None]], **extra) -> GraphInputs:  # noqa: ANN003
    """GraphInputs for images given as tag-id sets (tag ids must be 0…T−1), dated a day apart."""
    pair_image = np.array([i for i, s in enumerate(sets) for _ in s], dtype=np.int64)
    pair_tag = np.array([t for s in sets for t in s], dtype=np.int64)
    n = len(sets)
    base = dict(
        user_id="u", now_us=100 * US_PER_DAY, tag_ids=np.array([t[0] for t in tags], dtype=np.int64),
        tag_types=np.array([t[1] for t in tags], dtype=object), relations=np.array([t[2] for t in tags], dtype=object),
        times_us=np.arange(n, dtype=np.int64) * US_PER_DAY, dated=np.ones(n, bool), views=np.full(n, np.nan),
        favourite=np.full(n, np.nan), pair_image=pair_image, pair_tag=pair_tag,
    )
    return GraphInputs(**{**base, **extra})


FATHER, DAUGHTER, MOTHER, BIRTHDAY, HOME, RESTAURANT = range(6)
EXAMPLE_TAGS = [(FATHER, "P", "father"), (DAUGHTER, "P", "daughter"), (MOTHER, "P", "mother"),
                (BIRTHDAY, "E", None), (HOME, "L", None), (RESTAURANT, "L", None)]
EXAMPLE_SETS = [[FATHER, DAUGHTER, BIRTHDAY, HOME], [FATHER, MOTHER, BIRTHDAY, RESTAURANT]]


def edges_of(tables: dict) -> dict[tuple[int, int], dict[str, float]]:
    e = tables["graph_edges"]
    return {(int(s), int(d)): {"count": int(c), "cooc": co_, "social": so, "weight": w}
            for s, d, c, co_, so, w in zip(e["src"], e["dst"], e["count"], e["cooc"], e["social"], e["weight"])}


# ------------------------------------------------------------------------------- S1.2.2 example


def test_worked_example_of_s122() -> None:
    cfg = GraphConfig()
    tables = build_user_graph(inputs_from_sets(EXAMPLE_SETS, EXAMPLE_TAGS), cfg)
    edges = edges_of(tables)
    # 6 pairs per image, Father–Birthday shared: 11 co-occurrence edges, 2 of them person–person
    assert len(edges) == 11
    p_pp = 2 / 11
    lam_s = 1 / (1 + math.exp(-5 * (p_pp - 0.5)))
    users = tables["graph_users"]
    assert users["p_pp"][0] == pytest.approx(p_pp) and users["lambda_s"][0] == pytest.approx(lam_s)
    assert users["lambda_c"][0] == pytest.approx(1 - lam_s)
    # Home–Restaurant never co-occur: not connected (nor Daughter–Mother)
    assert (HOME, RESTAURANT) not in edges and (DAUGHTER, MOTHER) not in edges
    # Father–Daughter and Father–Mother: co-occurrence and ω_kin
    for pair in ((FATHER, DAUGHTER), (FATHER, MOTHER)):
        e = edges[pair]
        assert e["cooc"] == pytest.approx(0.5) and e["social"] == cfg.omega_kin
        assert e["weight"] == pytest.approx((1 - lam_s) * 0.5 + lam_s * cfg.omega_kin)
    # Birthday links to each person and place via co-occurrence only
    for other in (FATHER, DAUGHTER, MOTHER, HOME, RESTAURANT):
        e = edges[tuple(sorted((BIRTHDAY, other)))]
        assert e["social"] == 0.0 and e["weight"] == pytest.approx((1 - lam_s) * e["cooc"])
    assert edges[(FATHER, BIRTHDAY)]["cooc"] == 1.0
    # the kin boost lifts Father–Daughter above an equally co-occurring non-person pair
    assert edges[(FATHER, HOME)]["cooc"] == 0.5 and edges[(FATHER, DAUGHTER)]["weight"] > edges[(FATHER, HOME)]["weight"]
    # Father and Birthday (in both images) are the best-connected tags: close family tied to the event
    g = tables["graph_nodes"]["g"]
    assert set(np.argsort(g)[-2:].tolist()) == {FATHER, BIRTHDAY} and g.sum() == pytest.approx(2.0)


# -------------------------------------------------------------------------------- social (2)


@pytest.mark.parametrize(("a", "b", "cls"), [
    ("self", "father", KIN), ("self", "mother", KIN), ("self", "son", KIN), ("self", "spouse", KIN),
    ("father", "daughter", KIN), ("father", "mother", KIN), ("spouse", "son", KIN), ("mother", "sibling", KIN),
    ("grandparent", "father", KIN),
    ("self", "sibling", FRIEND), ("sibling", "sibling", FRIEND), ("son", "daughter", FRIEND), ("self", "friend", FRIEND),
    ("friend", "friend", FRIEND), ("self", "grandparent", FRIEND), ("cousin", "self", FRIEND),
    ("colleague", "self", WORK), ("colleague", "colleague", WORK), ("colleague", "father", WORK),
    ("unknown", "self", UNK), ("unknown", "colleague", UNK), ("friend", "father", UNK), (None, "self", UNK), ("uncle", "self", UNK),
])
def test_relation_classes(a: str | None, b: str | None, cls: int) -> None:
    assert relation_class(a, b) == cls == relation_class(b, a)


def test_class_table_is_symmetric_and_default_omegas_are_ordered() -> None:
    table = class_table()
    assert table.shape == (len(RELATIONS), len(RELATIONS)) and (table == table.T).all()
    cfg = GraphConfig()
    assert 1 >= cfg.omega_kin > cfg.omega_friend > cfg.omega_work > cfg.omega_unk >= 0


# ------------------------------------------------------------------------ pieces of the graph


def test_sparsify_knn_union_and_threshold() -> None:
    # path 0-1-2-3 plus a weak 0-3 (edges sorted by (src, dst)): with k = 1 each node keeps its strongest edge
    src, dst = np.array([0, 0, 1, 2]), np.array([1, 3, 2, 3])
    w = np.array([0.9, 0.1, 0.5, 0.8])
    assert co.sparsify(src, dst, w, 1, 0.0).tolist() == [True, False, False, True]
    assert co.sparsify(src, dst, w, 2, 0.0).tolist() == [True, True, True, True]
    assert co.sparsify(src, dst, w, 0, 0.5).tolist() == [True, False, True, True]
    assert co.sparsify(src, dst, w, 1, 0.5).tolist() == [True, False, False, True]  # threshold first, then k-NN
    assert co.sparsify(src, dst, w, 0, 0.0).all()
    assert co.sparsify(src[:0], dst[:0], w[:0], 20, 0.0).tolist() == []


def test_prune_keeps_most_frequent_per_type() -> None:
    counts = np.array([5, 1, 9, 3, 3, 7, 0, 2])
    codes = np.array([0, 0, 0, 1, 1, 1, 2, 2])
    assert co.prune(counts, codes, (2, 2, 1)).tolist() == [0, 2, 3, 5, 7]  # tie 3/3: lower index first
    assert co.prune(counts, codes, (0, 0, 0)).tolist() == []


def test_cooccurrence_is_jaccard() -> None:
    assert co.cooccurrence(np.array([2, 1]), np.array([2, 4]), np.array([2, 3])).tolist() == [1.0, pytest.approx(1 / 6)]


def test_features_and_prior() -> None:
    """z-scores have mean 0 and std 1; IPS⁰ is (7) of the stored columns; recency is measured from now."""
    cfg = GraphConfig()
    gal = random_gallery(3, 300, 12, 6, 5)
    ids = {iid: k for k, iid in enumerate(gal["images"]["image_id"])}
    tag_ids = np.array([t[0] for t in gal["tags"]])
    now = np.datetime64("2025-07-01T12:00:00", "us")
    times = gal["images"]["taken_at"]
    fav = np.full(300, np.nan)
    views = np.full(300, np.nan)
    known = np.array([ids[i] for i in gal["usage"]["image_id"]])
    views[known] = gal["usage"]["views_norm"]
    fav[known] = gal["usage"]["favourite"].astype(float)
    inp = GraphInputs(
        user_id="u", now_us=int(now.astype(np.int64)), tag_ids=tag_ids, tag_types=np.array([t[1] for t in gal["tags"]], dtype=object),
        relations=np.array([t[2] for t in gal["tags"]], dtype=object), times_us=np.where(np.isnat(times), 0, times.astype(np.int64)),
        dated=~np.isnat(times), views=views, favourite=fav,
        pair_image=np.array([ids[i] for i in gal["image_tags"]["image_id"]]), pair_tag=np.searchsorted(tag_ids, gal["image_tags"]["tag_id"]),
    )
    t = build_user_graph(inp, cfg)
    nodes, users = t["graph_nodes"], t["graph_users"]
    for name in ("f", "r", "v", "q", "g"):
        z = nodes[f"{name}_z"]
        assert z.mean() == pytest.approx(0, abs=1e-12) and z.std() == pytest.approx(1)
        assert np.isfinite(nodes[name]).all()
    assert users["lambda_r"][0] + users["lambda_rel"][0] + users["lambda_f"][0] == pytest.approx(1)
    logits = np.array([users["burstiness"][0], users["social_density"][0], users["longevity"][0]])
    assert np.array([users["lambda_r"][0], users["lambda_rel"][0], users["lambda_f"][0]]) == pytest.approx(np.exp(logits) / np.exp(logits).sum())
    bias = np.array([0.2 if r == "self" else 0.1 if r in ("father", "mother", "spouse", "son", "daughter") else 0.0 for r in nodes["relation"]])
    want = (users["lambda_f"][0] * nodes["f_z"] + users["lambda_r"][0] * nodes["r_z"] + users["lambda_rel"][0] * nodes["g_z"]
            + 0.25 * nodes["v_z"] + 0.25 * nodes["q_z"] + bias)
    assert nodes["ips0"] == pytest.approx(want)
    dt = (now - nodes["last_seen"]).astype("timedelta64[us]").astype(np.int64) / US_PER_DAY
    assert nodes["r"] == pytest.approx(np.exp(-dt / 30.0))
    assert nodes["f"] == pytest.approx(nodes["count"] / 300)


# -------------------------------------------------------------------------- degenerate inputs


def test_degenerate_inputs_give_documented_results() -> None:
    cfg = GraphConfig()
    # no tags at all (and no images)
    empty = build_user_graph(inputs_from_sets([], []), cfg)
    assert empty["graph_users"]["n_nodes"][0] == 0 and len(empty["graph_nodes"]["node"]) == 0 and len(empty["graph_edges"]["src"]) == 0
    assert empty["graph_users"]["n_images"][0] == 0 and empty["graph_users"]["p_pp"][0] == 0.0
    # tags but no images: isolated nodes, every feature 0
    lonely = build_user_graph(inputs_from_sets([], EXAMPLE_TAGS), cfg)
    assert len(lonely["graph_nodes"]["node"]) == 6 and not lonely["graph_nodes"]["f"].any() and not lonely["graph_nodes"]["ips0"][3:].any()
    # a single image: every pair co-occurs with cooc = 1
    single = edges_of(build_user_graph(inputs_from_sets([[0, 1, 3, 4]], EXAMPLE_TAGS), cfg))
    assert len(single) == 6 and all(e["cooc"] == 1.0 for e in single.values())
    # tags that never co-occur: no edges, p_PP = 0, g = 0
    apart = build_user_graph(inputs_from_sets([[0], [1], [3], [4]], EXAMPLE_TAGS), cfg)
    assert len(apart["graph_edges"]["src"]) == 0 and apart["graph_users"]["p_pp"][0] == 0 and not apart["graph_nodes"]["g"].any()
    # no timestamps and no now: recency 0, B = L = 0, now NULL
    undated = build_user_graph(inputs_from_sets(EXAMPLE_SETS, EXAMPLE_TAGS, now_us=None, dated=np.zeros(2, bool)), cfg)
    assert not undated["graph_nodes"]["r"].any() and np.isnat(undated["graph_users"]["now"][0])
    assert undated["graph_users"]["burstiness"][0] == undated["graph_users"]["longevity"][0] == 0
    assert np.isnat(undated["graph_nodes"]["last_seen"]).all()
    for out in (empty, lonely, apart, undated):
        for table in out.values():
            for col in table.values():
                if col.dtype.kind == "f":
                    assert np.isfinite(col).all()


def test_bad_tag_type_is_one_clear_error() -> None:
    from memoire_cli.errors import MemoireError

    with pytest.raises(MemoireError, match="tags.type must be P, L or E, found 'X'"):
        build_user_graph(inputs_from_sets([[0]], [(0, "X", None)]), GraphConfig())


# ------------------------------------------------------------------------------- through the CLI


@pytest.fixture
def synth_ws(cli, box_renderer, tmp_path: Path) -> tuple[Path, str]:
    ws = tmp_path / "w"
    result = cli("synth", "-w", ws, *TINY)
    assert result.exit_code == 0, result.stderr
    return ws, result.stdout


def test_pipe_cache_force_and_declared_tables(cli, synth_ws: tuple[Path, str]) -> None:
    ws, synth_out = synth_ws
    first = cli("graph", input=synth_out)  # workspace from the manifest line on stdin
    assert first.exit_code == 0, first.stderr
    m = manifest(first)
    assert m["stage"] == "graph" and m["workspace"] == str(ws.resolve()) and m["computed"] == 3 and not m["skipped"]
    assert m["wrote"]["tables"] == ["graph_users", "graph_nodes", "graph_edges"]
    again = cli("graph", input=first.stdout)
    assert manifest(again)["skipped"] is True and "nothing to do" in again.stderr
    assert manifest(cli("graph", "-w", ws, "--force"))["computed"] == 3
    assert manifest(cli("graph", "-w", ws, "--knn", "2"))["computed"] == 3  # a changed knob recomputes
    assert [r[0] for r in rows(ws, "SELECT status FROM runs WHERE stage = 'graph' ORDER BY started_at")] == ["done", "skipped", "done", "done"]
    # what graph wrote matches schemas/schema.toml, column by column and type by type
    con = duckdb.connect(str(ws / "memoire.duckdb"), read_only=True)
    try:
        for spec in load_schema().tables_of("graph"):
            cols = con.execute("SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'main' "
                               "AND table_name = ? ORDER BY ordinal_position", [spec.name]).fetchall()
            assert [(c.name, c.type) for c in spec.columns] == cols, spec.name
            assert con.execute(f"SELECT count(DISTINCT user_id) FROM {spec.name}").fetchone()[0] == 3, spec.name
        nodes, users, bad = con.execute(
            "SELECT (SELECT sum(n_nodes) FROM graph_users), (SELECT count(*) FROM graph_nodes), "
            "(SELECT count(*) FROM graph_edges e WHERE e.src >= e.dst OR e.weight <= 0)").fetchone()
        assert nodes == users and bad == 0
        assert con.execute("SELECT count(*) FROM graph_nodes n ANTI JOIN tags t USING (user_id, tag_id)").fetchone()[0] == 0
    finally:
        con.close()


def test_shards_split_users(cli, synth_ws: tuple[Path, str]) -> None:
    ws, _ = synth_ws
    assert [manifest(cli("graph", "-w", ws, "--shard", f"{i}/2"))["computed"] for i in range(2)] == [2, 1]
    assert manifest(cli("graph", "-w", ws))["skipped"] is True
    assert manifest(cli("graph", "-w", ws, "--users", "u0001", "--force"))["computed"] == 1


def test_graph_before_synth(cli, tmp_path: Path) -> None:
    result = cli("graph", "-w", tmp_path / "nowhere")
    assert result.exit_code == 1 and result.stdout == "" and "no workspace at" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    from memoire_cli.workspace import Workspace

    Workspace.open(tmp_path / "empty", "synth", create=True)  # a workspace without any gallery yet
    result = cli("graph", "-w", tmp_path / "empty")
    assert result.exit_code == 1 and result.stdout == "" and len(result.stderr.strip().splitlines()) == 1
    assert "needs the outputs of synth or ingest" in result.stderr
    assert rows(tmp_path / "empty", "SELECT count(*) FROM graph_users") == [(0,)]


@pytest.mark.parametrize(("args", "words"), [
    (["--omega-kin", "0.5", "--omega-friend", "0.7"], "1 >= --omega-kin > --omega-friend"),
    (["--omega-unk", "-0.1"], "--omega-unk >= 0"),
    (["--knn", "-1"], "--knn must be between 0 and"),
    (["--mu", "1.5"], "--mu must be in (0, 1)"),
    (["--tau-r", "0"], "--tau-r must be > 0"),
    (["--max-people", "0", "--max-locations", "0", "--max-events", "0"], "at least one node"),
])
def test_bad_flags(cli, tmp_path: Path, args: list[str], words: str) -> None:
    result = cli("graph", "-w", tmp_path / "w", *args)
    assert result.exit_code == 2 and result.stdout == ""
    assert words in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_bad_and_missing_metadata_through_the_cli(cli, tmp_path: Path) -> None:
    """No tags; one image; never co-occurring tags; absent usage, NULL views, NULL times and now; > 500 tags."""
    ex = gallery_from_sets(EXAMPLE_SETS, EXAMPLE_TAGS)
    no_usage = dict(ex, now=None)
    no_usage["images"] = dict(ex["images"], taken_at=np.array(["NaT", "2025-06-02"], dtype="datetime64[us]"))
    null_views = dict(ex, usage={"image_id": ex["images"]["image_id"][:1], "views_norm": np.array([np.nan]),
                                 "favourite": np.array([None], dtype=object)})
    wide = random_gallery(11, 3000, 260, 300, 10, prefix="wide")
    users = {
        "u0000": {"tags": [], "images": {"image_id": np.array(["e/0"], dtype=object), "taken_at": np.array(["2025-01-01"], "datetime64[us]")}},
        "u0001": gallery_from_sets([[0, 1, 3, 4]], EXAMPLE_TAGS),
        "u0002": gallery_from_sets([[0], [1], [3], [4]], EXAMPLE_TAGS),
        "u0003": no_usage,
        "u0004": null_views,
        "u0005": wide,
    }
    for uid in users:  # image ids are globally unique
        for table in ("images", "image_tags", "usage"):
            if table in users[uid]:
                users[uid][table] = dict(users[uid][table], image_id=np.array([f"{uid}/{i}" for i in users[uid][table]["image_id"]], dtype=object))
    ws = write_gallery(tmp_path / "w", users)
    con = duckdb.connect(str(ws / "memoire.duckdb"))
    con.execute("UPDATE usage SET views_norm = 'NaN'::DOUBLE WHERE user_id = 'u0004'")  # a stored NaN, not a NULL
    con.close()
    result = cli("graph", "-w", ws)
    assert result.exit_code == 0, result.stderr
    assert manifest(result)["computed"] == 6
    stats = {r[0]: r[1:] for r in rows(ws, "SELECT user_id, n_images, n_tags, n_nodes, n_edges, p_pp, now FROM graph_users")}
    assert stats["u0000"][:4] == (1, 0, 0, 0)
    assert stats["u0001"][2:4] == (6, 6)
    assert stats["u0002"][3] == 0 and stats["u0002"][4] == 0.0
    assert str(stats["u0003"][5]) == "2025-06-02 00:00:00"  # now falls back to the latest capture time
    assert stats["u0005"][1] == 570 and stats["u0005"][2] == 200 + 150 + 10  # pruned to the type quotas
    types = dict(rows(ws, "SELECT type, count(*) FROM graph_nodes WHERE user_id = 'u0005' GROUP BY 1"))
    assert types == {"P": 200, "L": 150, "E": 10}
    bad = rows(ws, "SELECT count(*) FROM graph_nodes WHERE isnan(f) OR isnan(r) OR isnan(v) OR isnan(q) OR isnan(g) OR isnan(ips0) "
                   "OR ips0 IS NULL OR v IS NULL OR q IS NULL")
    assert bad == [(0,)]
    # NULL views and favourite are unknown, not zero; usage-less users get 0 with z = 0
    assert rows(ws, "SELECT max(v), max(q), max(abs(v_z)) FROM graph_nodes WHERE user_id IN ('u0003', 'u0004')") == [(0.0, 0.0, 0.0)]
    # pruning keeps the most frequent tags of each type, and g is recomputed on the kept edges
    kept_min = rows(ws, "SELECT min(count) FROM graph_nodes WHERE user_id = 'u0005' AND type = 'P'")[0][0]
    dropped_max = rows(ws, "SELECT max(c) FROM (SELECT it.tag_id, count(*) c FROM image_tags it JOIN tags t USING (user_id, tag_id) "
                           "WHERE it.user_id = 'u0005' AND t.type = 'P' AND it.tag_id NOT IN "
                           "(SELECT tag_id FROM graph_nodes WHERE user_id = 'u0005') GROUP BY 1)")[0][0]
    assert dropped_max <= kept_min
    assert rows(ws, "SELECT round(sum(g), 9) FROM graph_nodes WHERE user_id = 'u0005'") == [(2.0,)]


@pytest.mark.parametrize(("broken_sets", "orphan", "words"), [
    ([[0, 1], [0, 99]], False, "image_tags names tag id(s) 99 missing from tags"),
    ([[0, 1], [0, 3]], True, "2 image_tags row(s) name images missing from images"),
], ids=["unknown-tag", "unknown-image"])
def test_inconsistent_gallery_fails_in_one_line_and_writes_nothing_for_that_user(
        cli, tmp_path: Path, broken_sets: list[list[int]], orphan: bool, words: str) -> None:
    good = gallery_from_sets(EXAMPLE_SETS, EXAMPLE_TAGS)
    broken = gallery_from_sets(broken_sets, EXAMPLE_TAGS)
    for k, g in enumerate((good, broken)):
        for table in ("images", "image_tags"):
            g[table] = dict(g[table], image_id=np.array([f"u{k}/{i}" for i in g[table]["image_id"]], dtype=object))
    if orphan:  # the second image's tags point at an image that is not in images
        keep = broken["images"]["image_id"] != "u1/x/00001"
        broken["images"] = {c: v[keep] for c, v in broken["images"].items()}
    ws = write_gallery(tmp_path / "w", {"u0000": good, "u0001": broken})
    result = cli("graph", "-w", ws)
    assert result.exit_code == 1 and result.stdout == ""
    # one error line (after the runner's progress line for the user committed before), no traceback
    assert result.stderr.strip().splitlines()[-1] == f"memoire graph: error: user u0001: {words}"
    assert "Traceback" not in result.stderr and result.stderr.count("error") == 1
    assert rows(ws, "SELECT DISTINCT user_id FROM graph_nodes") == [("u0000",)]
    assert rows(ws, "SELECT user_id FROM stage_users WHERE stage = 'graph'") == [("u0000",)]
    assert rows(ws, "SELECT status FROM runs WHERE stage = 'graph'") == [("failed",)]
