"""MMR top-k selection (S2.4, λ = 0.4) over many candidates, on one CPU core.

    .venv/bin/python benchmarks/bench_mmr.py [--n 10000] [--k 20] [--dims 512,1280] [--repeats 7]

Goal (issue 7): the top-20 over 10k candidates in ≤ 50 ms on one core. Candidates look like a
gallery: events of 10–40 shots (embeddings = event centre + per-shot noise, so shots of one event
are near-duplicates), each shot with one place, one event type, 0–3 people of a 300-tag vocabulary
and its event instance as context; scores ~ N(0, 1). D = 512 is CLIP ViT-B's embedding, 1280 the
offline EfficientNet-Lite0's. Timed, best of ``--repeats``:

* **lazy**: :func:`memoire_cli.rank.mmr.mmr_select` (the one `rank` uses) on a built similarity space;
* **space**: :meth:`SimilaritySpace.build` (centring and normalising the embeddings, the context
  matrix) — paid once per session, whatever k and λ;
* **dense**: the usual vectorised MMR, each step computing the new pick's similarity to every
  candidate (an N×D and an N×C product) and updating the running max — the peer a numpy user would
  write — on its own prepared space (explicitly centred embeddings, float32 context: **d.prep**);
* **plain**: :func:`memoire_cli.rank.mmr.mmr_plain`, the textbook loop over every candidate at
  every step (timed once; it takes seconds).

All must pick the same images in the same order (checked); ratios are printed against lazy, and
(+prep) compares dense + its preparation with lazy + space.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np

from memoire_cli.rank.mmr import SimilaritySpace, mmr_plain, mmr_select, relevance


def gallery(n: int, dim: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(N, D) float32 embeddings, (N, C) bool context, (N,) scores of a gallery-like candidate set."""
    rng = np.random.default_rng(seed)
    sizes = []
    while sum(sizes) < n:
        sizes.append(int(rng.integers(10, 41)))
    event = np.repeat(np.arange(len(sizes)), sizes)[:n]
    n_events = int(event.max()) + 1
    centres = rng.normal(size=(n_events, dim)).astype(np.float32)
    emb = centres[event] + 0.6 * rng.normal(size=(n, dim)).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    n_people, n_places, n_types = 120, 90, 90
    place = rng.integers(0, n_places, n_events)[event]
    etype = rng.integers(0, n_types, n_events)[event]
    ctx = np.zeros((n, n_people + n_places + n_types + n_events), bool)
    ctx[np.arange(n), n_people + place] = True
    ctx[np.arange(n), n_people + n_places + etype] = True
    ctx[np.arange(n), n_people + n_places + n_types + event] = True
    popularity = 1.0 / np.arange(1, n_people + 1)
    popularity /= popularity.sum()
    for i, m in enumerate(rng.integers(0, 4, n)):
        ctx[i, rng.choice(n_people, size=m, replace=False, p=popularity)] = True
    return emb, ctx, rng.normal(size=n)


def dense_prepare(emb: np.ndarray, ctx: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The dense peer's own space: explicitly centred unit embeddings (N, D), float32 context (N, C), |C_i|."""
    e = emb - emb.mean(axis=0, dtype=np.float64).astype(np.float32)
    norm = np.linalg.norm(e, axis=1, keepdims=True)
    e = np.where(norm >= 1e-6, e / np.where(norm > 0, norm, 1.0), 0.0).astype(np.float32)
    c = ctx.astype(np.float32)
    return e, c, c.sum(axis=1)


def mmr_dense(rel: np.ndarray, prepared: tuple[np.ndarray, np.ndarray, np.ndarray], k: int, lam: float) -> np.ndarray:
    """Vectorised MMR: per step, the new pick's similarity to all N candidates (ties: smaller index)."""
    e, c, sizes = prepared
    base = (1.0 - lam) * rel
    maxsim = np.zeros(len(rel))
    taken = np.zeros(len(rel), bool)
    picks = []
    for _ in range(min(k, len(rel))):
        score = np.where(taken, -np.inf, base - lam * maxsim)
        i = int(np.argmax(score))  # first maximum = smallest index
        picks.append(i)
        taken[i] = True
        cos = np.clip(e @ e[i], 0.0, 1.0)
        inter = c @ c[i]
        union = sizes + sizes[i] - inter
        jac = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
        np.maximum(maxsim, 0.5 * cos + 0.5 * jac, out=maxsim)
    return np.array(picks)


def best_of(fn, repeats: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--k", type=int, default=20)
    ap.add_argument("--lam", type=float, default=0.4)
    ap.add_argument("--dims", default="512,1280")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--no-plain", action="store_true", help="skip the textbook loop (seconds at 10k)")
    args = ap.parse_args()
    print(f"MMR top-{args.k} of {args.n} candidates, λ = {args.lam}, one core; best of {args.repeats} (plain: once)")
    print(f"{'D':>5} {'lazy ms':>9} {'space ms':>9} {'dense ms':>9} {'d.prep ms':>10} {'plain ms':>10} "
          f"{'dense/lazy':>11} {'plain/lazy':>11} {'(+prep)':>9}")
    for dim in (int(d) for d in args.dims.split(",")):
        emb, ctx, scores = gallery(args.n, dim)
        rel = relevance(scores)
        t_space, space = best_of(lambda: SimilaritySpace.build(emb, ctx), args.repeats)  # noqa: B023
        t_lazy, (picks, _) = best_of(lambda: mmr_select(rel, space, args.k, args.lam), args.repeats)  # noqa: B023
        t_prep, prepared = best_of(lambda: dense_prepare(emb, ctx), args.repeats)  # noqa: B023
        t_dense, dense = best_of(lambda: mmr_dense(rel, prepared, args.k, args.lam), args.repeats)  # noqa: B023
        if picks.tolist() != dense.tolist():
            raise SystemExit(f"D={dim}: lazy and dense MMR disagree")
        t_plain = float("nan")
        if not args.no_plain:
            t_plain, (plain, _) = best_of(lambda: mmr_plain(rel, space, args.k, args.lam), 1)  # noqa: B023
            if picks.tolist() != plain.tolist():
                raise SystemExit(f"D={dim}: lazy and plain MMR disagree")
        print(f"{dim:>5} {t_lazy * 1e3:>9.2f} {t_space * 1e3:>9.1f} {t_dense * 1e3:>9.1f} {t_prep * 1e3:>10.1f} {t_plain * 1e3:>10.0f} "
              f"{t_dense / t_lazy:>10.1f}× {t_plain / t_lazy:>10.0f}× {(t_dense + t_prep) / (t_lazy + t_space):>8.1f}×")
        goal = t_lazy + t_space
        print(f"      lazy + space = {goal * 1e3:.1f} ms: {'within' if goal <= 0.05 else 'OVER'} the 50 ms goal")


if __name__ == "__main__":
    main()
