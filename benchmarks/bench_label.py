"""Offline judge speed on one core (S1.1.10; goal ≥ 5,000 pairs/s).

    .venv/bin/python benchmarks/bench_label.py

A synthetic user of N = 200 images at 256 px with 4 tag masks each (random pixels, masks and A(I),
in memory). The judge precomputes per-image features once (`bind`), then judges 20,000 pairs;
the time counted is bind + judge. Peer in the same run: the same judge recomputing the two
images' features for every pair (what a judge without the per-user cache does), on 200 pairs —
a timing peer only (its percentiles are over the two images, not the user's gallery).
"""

from __future__ import annotations

import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np


def gallery(n: int = 200, size: int = 256, per_image: int = 4, seed: int = 0):  # noqa: ANN201
    from memoire_cli.label import UserGallery

    rng = np.random.default_rng(seed)
    relations = ["daughter", "father", "friend", "colleague"]
    tags = {k: ("P", f"p{k}", relations[k]) for k in range(4)}
    tags.update({4: ("L", "Home", None), 5: ("L", "Park", None), 6: ("E", "Birthday", None), 7: ("E", "Picnic", None)})
    alpha = dict(enumerate(rng.dirichlet(np.ones(8))))
    image_tags, mask_rows = [], []
    for i in range(n):
        present = sorted(rng.choice(8, per_image, replace=False).tolist())
        image_tags.append(present)
        mask_rows += [{"mask_idx": len(mask_rows), "idx": i, "tag_id": t, "type": tags[t][0], "alpha": alpha[t]} for t in present]
    images = rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8)
    attention = rng.integers(0, 256, (n, size, size), dtype=np.uint8)
    masks = rng.integers(0, 256, (len(mask_rows), size, size), dtype=np.uint8)
    return UserGallery("u0000", [f"u0000/{i:05d}" for i in range(n)], [size] * n, [size] * n, images, attention, masks,
                       mask_rows, tags, alpha, image_tags, [""] * n)


class PerPairJudge:
    """The peer: features of the two images recomputed for every pair (no per-user cache)."""

    def __init__(self, g) -> None:  # noqa: ANN001
        self.g = g

    def judge_one(self, a: int, b: int) -> tuple[str, str]:
        from memoire_cli.label import UserGallery
        from memoire_cli.label.offline import answers, image_features, scores

        g = self.g
        rows = [r for r in g.mask_rows if r["idx"] in (a, b)]
        remap = {a: 0, b: 1}
        sub = UserGallery(g.user_id, [g.image_ids[a], g.image_ids[b]], [g.width[a], g.width[b]], [g.height[a], g.height[b]],
                          g.images[[a, b]], g.attention[[a, b]], g.masks[[r["mask_idx"] for r in rows]],
                          [{**r, "mask_idx": k, "idx": remap[r["idx"]]} for k, r in enumerate(rows)], g.tags, g.alpha,
                          [g.image_tags[a], g.image_tags[b]], ["", ""])
        s1, s2 = scores(image_features(sub))
        x, y = answers(s1, s2, np.array([0]), np.array([1]))
        return str(x[0]), str(y[0])


def main() -> None:
    from memoire_cli.label import PairInput
    from memoire_cli.label.offline import OfflineJudge
    from memoire_cli.label.pairs import sample_pairs, user_rng

    g = gallery()
    rng = np.random.default_rng(1)
    n = len(g.image_ids)
    a, b, _ = sample_pairs(rng.integers(0, 10, n), rng.integers(-1, 4, n), rng.integers(0, 3, n), 20000, user_rng(0, "u0000"))
    pairs = [PairInput(int(i), int(j)) for i, j in zip(a, b)]
    judge = OfflineJudge()
    t0 = time.perf_counter()
    judge.bind(g)
    t_bind = time.perf_counter() - t0
    t1 = time.perf_counter()
    out = judge.judge(pairs)
    t_judge = time.perf_counter() - t1
    total = time.perf_counter() - t0
    rate = len(pairs) / total
    peer = PerPairJudge(g)
    m = 200
    t2 = time.perf_counter()
    for p in pairs[:m]:
        peer.judge_one(p.a, p.b)
    peer_rate = m / (time.perf_counter() - t2)
    assert len(out) == len(pairs)
    print(f"offline judge: {len(pairs)} pairs, {n} images at 256 px: bind {t_bind * 1e3:.0f} ms, judge {t_judge * 1e3:.0f} ms")
    print(f"cached features: {rate:,.0f} pairs/s (goal >= 5,000)   per-pair features (peer): {peer_rate:,.0f} pairs/s   "
          f"ratio {rate / peer_rate:,.0f}x")


if __name__ == "__main__":
    main()
