"""A straightforward reference build of the graph stage (Python loops + networkx), and equality tests.

:func:`naive_graph` builds the same graph, features and prior as :mod:`memoire_cli.graph` the plain
way: rows fetched as Python tuples, loops over images and tag pairs, a ``networkx.Graph``. It
shares only the *policy* with the library (:func:`~memoire_cli.graph.social.relation_class`, the
relation → class rule, and the defaults of :class:`~memoire_cli.graph.config.GraphConfig`), never
its machinery. ``benchmarks/bench_graph.py`` times it as the peer; the tests here check the library
against it edge for edge. :func:`write_gallery` and :func:`random_gallery` build input workspaces
without rendering anything.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from memoire_cli.graph.config import GraphConfig
from memoire_cli.graph.social import BIAS_KIN, relation_class
from memoire_cli.schema import load_schema
from memoire_cli.vocabulary import RELATIONS
from memoire_cli.workspace import Workspace

NOW = datetime(2025, 7, 1, 12, 0, 0)

# ------------------------------------------------------------------------------------ inputs

_DEFAULTS = {"VARCHAR": object, "INTEGER": np.int32, "BIGINT": np.int64, "DOUBLE": np.float64, "BOOLEAN": bool, "TIMESTAMP": "datetime64[us]"}


def _table(name: str, user_id: str, given: dict[str, Any]) -> dict[str, np.ndarray]:
    """Columns of a synth table in declared order: the given ones, defaults for the rest."""
    spec = load_schema().tables[name]
    n = len(next(iter(given.values())))
    out: dict[str, np.ndarray] = {}
    for col in spec.columns:
        if col.name in given:
            values = given[col.name]
            out[col.name] = values if isinstance(values, np.ndarray) else np.array(values, dtype=_DEFAULTS[col.type])
        elif col.name == "user_id":
            out[col.name] = np.array([user_id] * n, dtype=object)
        elif col.type == "VARCHAR":
            out[col.name] = np.full(n, None, dtype=object)
        elif col.type == "TIMESTAMP":
            out[col.name] = np.full(n, np.datetime64("NaT"), dtype="datetime64[us]")
        else:
            out[col.name] = np.zeros(n, dtype=_DEFAULTS[col.type])
    return out


def write_gallery(root: Path, users: dict[str, dict[str, Any]]) -> Path:
    """Create a workspace whose synth outputs are the given per-user tables (nothing rendered).

    Each user: ``tags`` [(tag_id, type, relation)], ``images`` {image_id, taken_at}, ``image_tags``
    {image_id, tag_id}, optional ``usage`` {image_id, views_norm, favourite} and ``now``.
    """
    ws = Workspace.open(root, "synth", create=True)
    batch = []
    for user_id, g in users.items():
        tags = g.get("tags", [])
        tables = {"users": _table("users", user_id, {"now": np.array([g.get("now", NOW)], dtype="datetime64[us]")})}
        if tags:
            tables["tags"] = _table("tags", user_id, {"tag_id": [t[0] for t in tags], "type": np.array([t[1] for t in tags], dtype=object),
                                                      "relation": np.array([t[2] for t in tags], dtype=object)})
        images = g.get("images")
        if images is not None and len(images["image_id"]):
            n = len(images["image_id"])
            tables["images"] = _table("images", user_id, {"image_id": images["image_id"], "idx": np.arange(n, dtype=np.int32),
                                                          "taken_at": np.asarray(images["taken_at"], dtype="datetime64[us]")})
        pairs = g.get("image_tags")
        if pairs is not None and len(pairs["image_id"]):
            tables["image_tags"] = _table("image_tags", user_id, pairs)
        usage = g.get("usage")
        if usage is not None and len(usage["image_id"]):
            tables["usage"] = _table("usage", user_id, usage)
        batch.append((user_id, f"fp-{user_id}", f"digest-{user_id}", tables))
    ws.commit_users("synth", "test", batch)
    return root


def gallery_from_sets(sets: list[list[int]], tags: list[tuple[int, str, str | None]], *, start: datetime = datetime(2025, 6, 1)) -> dict[str, Any]:
    """A user's tables from the tag set of each image (images one day apart, no usage)."""
    n = len(sets)
    ids = np.array([f"x/{i:05d}" for i in range(n)], dtype=object)
    taken = np.datetime64(start, "us") + np.arange(n) * np.timedelta64(1, "D")
    pairs = [(ids[i], t) for i, s in enumerate(sets) for t in s]
    return {"tags": tags, "images": {"image_id": ids, "taken_at": taken},
            "image_tags": {"image_id": np.array([p[0] for p in pairs], dtype=object), "tag_id": np.array([p[1] for p in pairs], dtype=np.int32)}}


def random_gallery(seed: int, n_images: int, n_people: int, n_locations: int, n_events: int, prefix: str = "r") -> dict[str, Any]:
    """A random gallery (numpy, fast at 100k images): 0–4 people (Zipf-like popularity), one place,
    one event per image; usage with some rows missing and some NULL views."""
    rng = np.random.default_rng(seed)
    rel_pool = [r for r in RELATIONS if r != "self"]
    tags = [(0, "P", "self")] + [(i, "P", rel_pool[int(rng.integers(len(rel_pool)))]) for i in range(1, n_people)]
    tags += [(n_people + i, "L", None) for i in range(n_locations)] + [(n_people + n_locations + i, "E", None) for i in range(n_events)]

    def zipf(n: int, size: int) -> np.ndarray:
        p = 1.0 / np.arange(1, n + 1) ** 1.1
        return rng.choice(n, size=size, p=p / p.sum())

    ids = np.array([f"{prefix}/{i:06d}" for i in range(n_images)], dtype=object)
    span_us = 540 * 86_400_000_000
    taken = (np.datetime64(NOW, "us") - rng.integers(0, span_us, n_images).astype("timedelta64[us]")).astype("datetime64[us]")
    taken[rng.random(n_images) < 0.01] = np.datetime64("NaT")
    k_people = rng.integers(0, 5, n_images)
    img_p = np.repeat(np.arange(n_images), k_people)
    tag_p = zipf(n_people, len(img_p))
    img = np.concatenate([img_p, np.arange(n_images), np.arange(n_images)])
    tag = np.concatenate([tag_p, n_people + zipf(n_locations, n_images), n_people + n_locations + zipf(n_events, n_images)])
    uniq = np.unique(img.astype(np.int64) * (1 << 20) + tag)  # one row per (image, tag)
    img, tag = uniq >> 20, uniq & ((1 << 20) - 1)
    with_usage = rng.random(n_images) > 0.05
    views = rng.random(n_images)
    views_col = np.where(rng.random(n_images) < 0.05, np.nan, views)[with_usage]  # NaN → NULL
    fav = np.empty(int(with_usage.sum()), dtype=object)
    fav[:] = list(rng.random(len(fav)) < 0.3)
    return {"tags": tags, "images": {"image_id": ids, "taken_at": taken},
            "image_tags": {"image_id": ids[img], "tag_id": tag.astype(np.int32)},
            "usage": {"image_id": ids[with_usage], "views_norm": views_col, "favourite": fav}}


# ----------------------------------------------------------------------------- the reference


def _zscore(xs: list[float]) -> list[float]:
    n = len(xs)
    if n == 0:
        return []
    mean = sum(xs) / n
    std = math.sqrt(sum((x - mean) ** 2 for x in xs) / n)
    return [(x - mean) / std if std > 0 else 0.0 for x in xs]


def naive_graph(con: Any, user_id: str, cfg: GraphConfig) -> dict[str, Any]:
    """The user's graph the plain way; returns {"users": dict, "nodes": [dict], "edges": {(src, dst): dict}}."""
    import networkx as nx

    row = con.execute("SELECT now FROM users WHERE user_id = ?", [user_id]).fetchone()
    now = row[0] if row else None
    tags = con.execute("SELECT tag_id, type, relation FROM tags WHERE user_id = ? ORDER BY tag_id", [user_id]).fetchall()
    images = con.execute("SELECT i.image_id, i.taken_at, u.views_norm, u.favourite FROM images i LEFT JOIN usage u "
                         "ON u.image_id = i.image_id AND u.user_id = i.user_id WHERE i.user_id = ?", [user_id]).fetchall()
    image_tags = con.execute("SELECT image_id, tag_id FROM image_tags WHERE user_id = ?", [user_id]).fetchall()

    type_of = {t: ty for t, ty, _ in tags}
    rel_of = {t: rel for t, _, rel in tags}
    tags_of: dict[str, set[int]] = defaultdict(set)
    for image_id, tag_id in image_tags:
        tags_of[image_id].add(tag_id)
    if now is None:
        dated = [taken for _, taken, _, _ in images if taken is not None]
        now = max(dated) if dated else None

    count: Counter = Counter()
    last: dict[int, datetime] = {}
    vsum: Counter = Counter()
    vn: Counter = Counter()
    qsum: Counter = Counter()
    qn: Counter = Counter()
    for image_id, taken, views, fav in images:
        for t in tags_of.get(image_id, ()):
            count[t] += 1
            if taken is not None and (t not in last or taken > last[t]):
                last[t] = taken
            if views is not None and not math.isnan(views):
                vsum[t] += views
                vn[t] += 1
            if fav is not None:
                qsum[t] += float(fav)
                qn[t] += 1

    quotas = {"P": cfg.max_people, "L": cfg.max_locations, "E": cfg.max_events}
    kept: set[int] = set()
    for typ, quota in quotas.items():
        ids = sorted((t for t, ty, _ in tags if ty == typ), key=lambda t: (-count[t], t))
        kept |= set(ids[:quota])
    nodes = sorted(kept)
    node_of = {t: i for i, t in enumerate(nodes)}

    pair: Counter = Counter()
    for ts in tags_of.values():
        for a, b in itertools.combinations(sorted(t for t in ts if t in kept), 2):
            pair[(a, b)] += 1
    n_pp = sum(1 for a, b in pair if type_of[a] == "P" and type_of[b] == "P")
    p_pp = n_pp / len(pair) if pair else 0.0
    lambda_s = 1.0 / (1.0 + math.exp(-cfg.kappa * (p_pp - cfg.mu)))
    lambda_c = 1.0 - lambda_s
    omegas = cfg.omegas

    graph = nx.Graph()
    graph.add_nodes_from(range(len(nodes)))
    for (a, b), c in pair.items():
        cooc = c / max(1, count[a] + count[b] - c)
        social = omegas[relation_class(rel_of[a], rel_of[b])] if type_of[a] == type_of[b] == "P" else 0.0
        graph.add_edge(node_of[a], node_of[b], count=c, cooc=cooc, social=social, weight=lambda_c * cooc + lambda_s * social)
    graph.remove_edges_from([(u, v) for u, v, w in graph.edges(data="weight") if w < cfg.edge_threshold])
    if cfg.knn > 0:
        keep = set()
        for u in graph.nodes:
            near = sorted(graph[u].items(), key=lambda kv: (-kv[1]["weight"], kv[0]))[: cfg.knn]
            keep |= {frozenset((u, v)) for v, _ in near}
        graph.remove_edges_from([(u, v) for u, v in list(graph.edges) if frozenset((u, v)) not in keep])
    total = graph.size(weight="weight")

    n_images = len(images)
    raw: dict[str, list[float]] = {"f": [], "r": [], "v": [], "q": [], "g": []}
    for t in nodes:
        raw["f"].append(count[t] / n_images if n_images else 0.0)
        if now is None or t not in last:
            raw["r"].append(0.0)
        else:
            raw["r"].append(math.exp(-max(0.0, (now - last[t]).total_seconds() / 86400) / cfg.tau_r))
        raw["v"].append(vsum[t] / vn[t] if vn[t] else 0.0)
        raw["q"].append(qsum[t] / qn[t] if qn[t] else 0.0)
        raw["g"].append(graph.degree(node_of[t], weight="weight") / total if total > 0 else 0.0)
    z = {k: _zscore(v) for k, v in raw.items()}

    dated_ages = [(now - taken).total_seconds() / 86400 for _, taken, _, _ in images if taken is not None] if now else []
    burst = sum(1 for a in dated_ages if a <= cfg.tau_b) / len(dated_ages) if dated_ages else 0.0
    longevity = sum(1 for a in dated_ages if a > cfg.tau_l) / len(dated_ages) if dated_ages else 0.0
    logits = [cfg.beta * burst, cfg.gamma * p_pp, cfg.alpha * longevity]
    exps = [math.exp(x - max(logits)) for x in logits]
    lambda_r, lambda_rel, lambda_f = (e / sum(exps) for e in exps)

    out_nodes = []
    for i, t in enumerate(nodes):
        rel = rel_of[t] if type_of[t] == "P" else None
        label = rel if rel in RELATIONS else "unknown"
        bias = 0.0 if type_of[t] != "P" else (cfg.bias_self if label == "self" else cfg.bias_kin if label in BIAS_KIN else 0.0)
        ips = (lambda_f * z["f"][i] + lambda_r * z["r"][i] + lambda_rel * z["g"][i] + cfg.eta_v * z["v"][i] + cfg.eta_q * z["q"][i] + bias)
        out_nodes.append({"node": i, "tag_id": t, "type": type_of[t], "relation": rel, "count": count[t], "last_seen": last.get(t),
                          **{k: raw[k][i] for k in raw}, **{f"{k}_z": z[k][i] for k in z}, "ips0": ips})
    edges = {}
    for u, v, d in graph.edges(data=True):
        edges[(min(u, v), max(u, v))] = {"count": d["count"], "cooc": d["cooc"], "social": d["social"], "weight": d["weight"]}
    users = {"n_images": n_images, "n_tags": len(tags), "n_nodes": len(nodes), "n_edges": graph.number_of_edges(), "p_pp": p_pp,
             "lambda_s": lambda_s, "lambda_c": lambda_c, "burstiness": burst, "social_density": p_pp, "longevity": longevity,
             "lambda_r": lambda_r, "lambda_rel": lambda_rel, "lambda_f": lambda_f, "now": now}
    return {"users": users, "nodes": out_nodes, "edges": edges}


def assert_same_graph(tables: dict[str, dict[str, np.ndarray]], ref: dict[str, Any]) -> None:
    """The library's tables for one user equal the reference: edges exactly, features to 1e-9."""
    e = tables["graph_edges"]
    mine = {(int(s), int(d)): {"count": int(c), "cooc": float(co), "social": float(so), "weight": float(w)}
            for s, d, c, co, so, w in zip(e["src"], e["dst"], e["count"], e["cooc"], e["social"], e["weight"])}
    assert list(mine) == sorted(mine), "edges are stored sorted by (src, dst)"
    assert mine == ref["edges"]  # edge for edge, bit for bit
    n = tables["graph_nodes"]
    assert len(n["node"]) == len(ref["nodes"])
    for i, want in enumerate(ref["nodes"]):
        assert (int(n["node"][i]), int(n["tag_id"][i]), n["type"][i], n["relation"][i], int(n["count"][i])) == (
            want["node"], want["tag_id"], want["type"], want["relation"], want["count"])
        seen = n["last_seen"][i]
        assert (np.isnat(seen) and want["last_seen"] is None) or seen == np.datetime64(want["last_seen"], "us")
        for key in ("f", "r", "v", "q", "g", "f_z", "r_z", "v_z", "q_z", "g_z", "ips0"):
            assert n[key][i] == pytest.approx(want[key], rel=1e-9, abs=1e-12), (i, key)
    u = tables["graph_users"]
    for key, want in ref["users"].items():
        got = u[key][0]
        if key == "now":
            assert (np.isnat(got) and want is None) or got == np.datetime64(want, "us")
        elif isinstance(want, int):
            assert int(got) == want, key
        else:
            assert float(got) == pytest.approx(want, rel=1e-12, abs=1e-15), key


def library_and_reference(root: Path, user_id: str, cfg: GraphConfig) -> tuple[dict, dict]:
    import duckdb

    from memoire_cli.graph.stage import GraphStage

    ws = Workspace.open(root, "graph")
    tables = GraphStage(cfg).compute(ws, user_id).tables
    con = duckdb.connect(str(root / "memoire.duckdb"), read_only=True)
    try:
        ref = naive_graph(con, user_id, cfg)
    finally:
        con.close()
    return tables, ref


# ----------------------------------------------------------------------------------- tests


@pytest.mark.parametrize("cfg", [
    GraphConfig(),
    GraphConfig(knn=3, max_people=12, max_locations=5, max_events=4),
    GraphConfig(knn=0, edge_threshold=0.05, kappa=2.0, mu=0.3),
    GraphConfig(knn=2, edge_threshold=0.02, max_people=8, max_locations=0, max_events=3, tau_b=30, tau_l=200),
], ids=["defaults", "pruned-knn3", "threshold", "no-places"])
def test_library_equals_reference_on_random_gallery(tmp_path: Path, cfg: GraphConfig) -> None:
    root = write_gallery(tmp_path / "w", {"u0000": random_gallery(7, 400, 30, 12, 9)})
    tables, ref = library_and_reference(root, "u0000", cfg)
    assert ref["users"]["n_edges"] > 0
    assert_same_graph(tables, ref)


def test_library_equals_reference_on_synth_gallery(cli, box_renderer, tmp_path: Path) -> None:
    from conftest import TINY

    ws = tmp_path / "w"
    assert cli("synth", "-w", ws, *TINY).exit_code == 0
    for user_id in ("u0000", "u0001", "u0002"):
        tables, ref = library_and_reference(ws.resolve(), user_id, GraphConfig(knn=4))
        assert_same_graph(tables, ref)


def test_equal_weights_tie_break_by_node(tmp_path: Path) -> None:
    """One image with six places: every pair has the same weight, and k-NN keeps each node's lowest neighbours."""
    tags = [(t, "L", None) for t in range(6)]
    root = write_gallery(tmp_path / "w", {"u0000": gallery_from_sets([list(range(6))], tags)})
    tables, ref = library_and_reference(root, "u0000", GraphConfig(knn=2))
    assert_same_graph(tables, ref)
    assert sorted(ref["edges"]) == [(0, 1), (0, 2), (0, 3), (0, 4), (0, 5), (1, 2), (1, 3), (1, 4), (1, 5)]
