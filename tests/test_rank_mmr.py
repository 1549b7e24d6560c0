"""MMR selection (memoire_cli.rank.mmr) and session specs (memoire_cli.session.selection)."""

from __future__ import annotations

import numpy as np
import pytest

from memoire_cli.errors import UsageError
from memoire_cli.rank.mmr import SimilaritySpace, mmr_plain, mmr_select, relevance
from memoire_cli.session.selection import parse_session


def clustered(n: int, seed: int, d: int = 16, c: int = 12) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(max(1, n // 5), d))
    label = rng.integers(0, len(centres), n)
    emb = centres[label] + 0.3 * rng.normal(size=(n, d))
    ctx = rng.random((n, c)) < 0.15
    ctx[np.arange(n), label % c] = True
    return emb.astype(np.float32), ctx, rng.normal(size=n)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("lam", [0.0, 0.2, 0.4, 0.8, 1.0])
def test_lazy_mmr_equals_the_plain_loop(seed: int, lam: float) -> None:
    emb, ctx, scores = clustered(40 + 7 * seed, seed)
    space = SimilaritySpace.build(emb, ctx)
    rel = relevance(scores)
    fast, fast_scores = mmr_select(rel, space, 12, lam)
    slow, slow_scores = mmr_plain(rel, space, 12, lam)
    assert fast.tolist() == slow.tolist()
    np.testing.assert_allclose(fast_scores, slow_scores, rtol=0, atol=1e-6)  # float32 dot products in different batch shapes


def test_lambda_zero_is_the_relevance_order_with_ties_by_id() -> None:
    emb, ctx, _ = clustered(10, 0)
    rel = np.array([0.5, 1.0, 0.5, 0.2, 0.5, 0.0, 0.9, 0.5, 0.1, 0.3])
    tiebreak = np.array([9, 0, 3, 1, 2, 4, 5, 8, 6, 7])  # the rank of each candidate's image id
    picked, _ = mmr_select(rel, SimilaritySpace.build(emb, ctx), 6, 0.0, tiebreak)
    # 1.0, 0.9, then the four 0.5s by image-id rank: 4 (2), 2 (3), 7 (8), 0 (9)
    assert picked.tolist() == [1, 6, 4, 2, 7, 0]


def test_diversity_skips_a_near_duplicate() -> None:
    # 0 and 1 are the same shot (same embedding, same context); 2 is different and slightly less relevant.
    emb = np.array([[1, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], np.float32)
    ctx = np.array([[1, 0], [1, 0], [0, 1], [0, 1]], bool)
    rel = np.array([1.0, 0.95, 0.9, 0.0])
    space = SimilaritySpace.build(emb, ctx)
    assert mmr_select(rel, space, 2, 0.0)[0].tolist() == [0, 1]
    assert mmr_select(rel, space, 2, 0.4)[0].tolist() == [0, 2]
    assert space.sim(0, [1])[0] == pytest.approx(1.0)


def test_similarity_is_in_unit_range_and_symmetric() -> None:
    emb, ctx, _ = clustered(30, 3)
    space = SimilaritySpace.build(emb, ctx)
    m = space.matrix(np.arange(30))
    assert m.min() >= 0.0 and m.max() <= 1.0 + 1e-6
    np.testing.assert_allclose(m, m.T, atol=1e-6)


def test_k_larger_than_the_candidates_returns_all() -> None:
    emb, ctx, scores = clustered(5, 1)
    picked, _ = mmr_select(relevance(scores), SimilaritySpace.build(emb, ctx), 20, 0.4)
    assert sorted(picked.tolist()) == [0, 1, 2, 3, 4]


def test_relevance_is_min_max() -> None:
    np.testing.assert_allclose(relevance(np.array([2.0, 4.0, 3.0])), [0.0, 1.0, 0.5])
    assert relevance(np.array([3.0, 3.0])).tolist() == [0.0, 0.0]


def test_bad_lambda() -> None:
    emb, ctx, scores = clustered(5, 1)
    with pytest.raises(ValueError):
        mmr_select(relevance(scores), SimilaritySpace.build(emb, ctx), 2, 1.5)


def test_session_specs(tmp_path) -> None:
    assert parse_session("all").text == "all"
    assert parse_session("event:3").event_id == 3
    s = parse_session("dates:2024-01-01..2024-02-01")
    assert (str(s.start), str(s.end)) == ("2024-01-01", "2024-02-01")
    assert parse_session("ids:u0/00001, u0/00002,u0/00001").image_ids == ("u0/00001", "u0/00002")
    f = tmp_path / "ids.txt"
    f.write_text("u0/00003\nu0/00004\n")
    assert parse_session(f"ids:@{f}").image_ids == ("u0/00003", "u0/00004")
    assert parse_session("folder:2023/trip").prefix == "2023/trip"
    for bad in ("", "event:x", "dates:2024-02-01..2024-01-01", "dates:yesterday", "ids:", "folder:", "album:3", f"ids:@{tmp_path}/none"):
        with pytest.raises(UsageError):
            parse_session(bad)
