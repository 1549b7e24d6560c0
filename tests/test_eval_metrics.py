"""`memoire eval` library: the S2.2 metrics against hand-computed values, the offline baselines,
the in-memory perturbations and the report writer."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from memoire_cli.eval import metrics
from memoire_cli.eval.baselines import (
    UserSignals,
    baseline_scores,
    expo,
    favourites_first,
    most_recent,
    most_viewed,
    ranking_of,
    tag_frequency,
)
from memoire_cli.eval.truth import minmax_0_100


def test_srcc_hand_computed() -> None:
    pis = {"a": 10.0, "b": 20.0, "c": 30.0, "d": 40.0}
    assert metrics.srcc(["d", "c", "b", "a"], pis) == pytest.approx(1.0)
    assert metrics.srcc(["a", "b", "c", "d"], pis) == pytest.approx(-1.0)
    # order d, b, c, a: model ranks (best=4) d4 b3 c2 a1; truth ranks d4 c3 b2 a1 → Σd² = 2 → 1 − 6·2/(4·15) = 0.8
    assert metrics.srcc(["d", "b", "c", "a"], pis) == pytest.approx(0.8)
    # PIS ties take average ranks: truth ranks a1 b2.5 c2.5 d4; model order d c b a → Pearson of the ranks
    tied = {"a": 1.0, "b": 5.0, "c": 5.0, "d": 9.0}
    x, y = np.array([4, 3, 2, 1.0]), np.array([4, 2.5, 2.5, 1])
    assert metrics.srcc(["d", "c", "b", "a"], tied) == pytest.approx(np.corrcoef(x, y)[0, 1])
    assert math.isnan(metrics.srcc(["a"], pis))
    assert math.isnan(metrics.srcc(["a", "b"], {"a": 3.0, "b": 3.0}))


def test_aps_redundancy_coverage_hand_computed() -> None:
    assert metrics.aps(["a", "c"], {"a": 10.0, "b": 99.0, "c": 50.0}) == pytest.approx(30.0)
    e = np.array([[1.0, 0.0], [0.0, 2.0], [3.0, 3.0]])  # cosines: 0, 1/√2, 1/√2
    assert metrics.redundancy(e) == pytest.approx((0 + 2 / math.sqrt(2)) / 3)
    assert math.isnan(metrics.redundancy(e[:1]))
    session = [[1, 2], [2, 3], [4], []]
    types = {1: "P", 2: "L", 3: "E", 4: "E"}
    assert metrics.coverage([[1, 2], [4]], session, types) == pytest.approx(3 / 4)
    assert metrics.coverage([[1, 2], [4]], session, types, "E") == pytest.approx(1 / 2)
    assert math.isnan(metrics.coverage([[1]], [[1]], types, "L"))


def test_mean_ci() -> None:
    mean, lo, hi = metrics.mean_ci([0.2, 0.4, 0.6, 0.8])
    assert mean == pytest.approx(0.5) and 0.2 <= lo < mean < hi <= 0.8
    assert metrics.mean_ci([0.3]) == (0.3, 0.3, 0.3)
    assert metrics.mean_ci([0.1, 0.5, 0.9]) == metrics.mean_ci([0.1, 0.5, 0.9])  # seeded
    assert all(math.isnan(x) for x in metrics.mean_ci([float("nan")]))
    assert metrics.nanmean([1.0, float("nan"), 3.0]) == 2.0


def signals() -> UserSignals:
    t = np.array(["2024-01-03", "2024-01-01", "NaT", "2024-01-02"], "datetime64[us]")
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 255, (16, 16, 3), dtype=np.uint8) for _ in range(4)]
    images[1] = np.full((16, 16, 3), 128, np.uint8)  # flat: no contrast, no sharpness
    return UserSignals("u0", ["u0/00000", "u0/00001", "u0/00002", "u0/00003"], t,
                       np.array([0.5, np.nan, 1.0, 0.5]), np.array([0.0, 1.0, np.nan, 0.0]),
                       [[1, 2], [1], [3], [1, 2, 3]], np.array([2.0, 0.0, 1.0, 3.0]), images)


def test_baselines_order_as_documented() -> None:
    sig = signals()
    ids = sig.image_ids
    assert ranking_of(ids, most_recent(sig), 2) == ([ids[0], ids[3], ids[1], ids[2]], [ids[0], ids[3]])
    # equal views → ties by image id; unknown views count 0
    assert ranking_of(ids, most_viewed(sig), 4)[0] == [ids[2], ids[0], ids[3], ids[1]]
    # the favourite first, then by recency
    assert ranking_of(ids, favourites_first(sig), 4)[0] == [ids[1], ids[0], ids[3], ids[2]]
    # tag shares: tag 1 in 3/4, tag 2 in 2/4, tag 3 in 2/4
    assert tag_frequency(sig) == pytest.approx([1.25, 0.75, 0.5, 1.75])
    assert ranking_of(ids, expo(sig), 1)[1] == [ids[3]]  # most faces and textured
    r1, r2 = baseline_scores("random", sig), baseline_scores("random", sig)
    assert len(r1) == 3 and all((a == b).all() for a, b in zip(r1, r2)) and not (r1[0] == r1[1]).all()
    with pytest.raises(ValueError):
        baseline_scores("nima", sig)
    assert list(minmax_0_100(np.array([1.0, 3.0, 5.0, -1.0]))) == pytest.approx([100 / 3, 200 / 3, 100.0, 0.0])
    assert list(minmax_0_100(np.array([4.0, 4.0]))) == [50.0, 50.0]


def test_perturbations() -> None:
    from memoire_cli.eval.perturb import prune_graph, tag_noise
    from memoire_cli.rank.context import UserContext
    from memoire_cli.session.context import ImageMasks
    from memoire_cli.session.selection import Session

    tags = {1: ("P", "Ann", "mother"), 2: ("P", "Bo", "friend"), 3: ("L", "home", None), 4: ("E", "party", None)}
    masks = [ImageMasks(np.array([1, 3, 4]), np.array(["P", "L", "E"], object), np.full((3, 4, 4), 200, np.uint8)),
             ImageMasks(np.array([2]), np.array(["P"], object), np.full((1, 4, 4), 90, np.uint8))]
    ctx = UserContext(
        user_id="u0", session=Session("all"), image_ids=["u0/0", "u0/1"], idxs=np.arange(2), event_ids=np.zeros(2, np.int64),
        taken_at=np.zeros(2, "datetime64[us]"), views=np.zeros(2), favourite=np.zeros(2), image_tags=[[1, 3, 4], [2]],
        tags=tags, node_tags=np.array([1, 2, 3, 4]), node_types=np.array(["P", "P", "L", "E"], object),
        node_relations=np.array(["mother", "friend", None, None], object), alpha=np.array([0.4, 0.3, 0.2, 0.1]),
        graph_params={}, images=[np.zeros((4, 4, 3), np.uint8)] * 2, masks=masks, image_size=4,
        rgb=np.zeros((2, 4, 4, 3), np.uint8), embeddings=np.eye(2, dtype=np.float32),
        membership=np.array([[1, 0, 1, 1], [0, 1, 0, 0]], bool))
    assert tag_noise(ctx, 0.0) is ctx
    noisy = tag_noise(ctx, 1.0)  # every tag dropped or swapped: P↔P swaps only, L/E (no other of their type) dropped
    assert noisy.image_tags[0] in ([2], []) and noisy.image_tags[1] in ([1], [])
    assert [list(m.tag_ids) for m in noisy.masks] == [t for t in noisy.image_tags]
    assert noisy.membership.sum() == sum(len(t) for t in noisy.image_tags)
    assert ctx.image_tags == [[1, 3, 4], [2]]  # the original is untouched
    pruned = prune_graph(ctx, 2)
    assert pruned.alpha == pytest.approx([4 / 7, 3 / 7, 0, 0])
    assert prune_graph(ctx, 10) is ctx


def test_report_is_self_contained(tmp_path: Path) -> None:
    from memoire_cli.eval.report import write_report

    rows = [{"section": "comparison", "variant": v, "setting": "", "status": "ok", "note": "", "n_users": 2, "srcc": s,
             "srcc_lo": s - 0.1, "srcc_hi": s + 0.1, "aps": a, "redundancy": 0.4, "coverage": 0.7, "coverage_events": None,
             "latency_ms": 3.0} for v, s, a in (("Memoire", 0.5, 70.0), ("random", 0.0, 50.0))]
    rows.append({"section": "B5", "variant": "PAT constants", "setting": "", "status": "not run", "note": "needs pat",
                 "n_users": 0, "srcc": None, "srcc_lo": None, "srcc_hi": None, "aps": None, "redundancy": None,
                 "coverage": None, "coverage_events": None, "latency_ms": None})
    summary = {"run_id": "r1", "k": 3, "suite": "quick", "users": ["u0", "u1"], "users_note": "all", "ground_truth": "truth.scores",
               "embedder": "colour-texture-v1", "models": {"default": {"fusion": "early+mid", "runtime": "torch"}}, "rows": rows,
               "runtime": [], "goals": ["Memoire SRCC 0.500: beats every baseline"]}
    sheet = ("u0 — Memoire", "iVBORw0KGgo=", ["2024/IMG_0412.jpg ★★★★☆ PIS 81 2024-05-01 10:00"])
    folder = tmp_path / "reports" / "r1"
    write_report(folder, summary, [sheet])
    write_report(folder, summary, [sheet])  # replaces itself
    page = (folder / "index.html").read_text()
    assert page.count("data:image/png;base64,") >= 2 and "src='http" not in page and 'src="http' not in page
    assert "needs pat" in page and "0.500 [0.400, 0.600]" in page
    assert json.loads((folder / "summary.json").read_text())["rows"][0]["variant"] == "Memoire"
    md = (folder / "summary.md").read_text()
    assert "| Memoire |" in md and "## Table 14" in md
    assert "2024/IMG_0412.jpg" in md and "2024/IMG_0412.jpg" in page  # the picks are named by file
    assert sorted(p.name for p in folder.parent.iterdir()) == ["r1"]
