"""Where the ranking signal is, per user: why Memoire does or does not beat the baselines (S2.2–2.4).

    .venv/bin/python benchmarks/signal_diagnosis.py W [--model default] [--users u0003,u0006]

For each user of workspace W with ground truth (``truth.scores``), SRCC against the hidden PIS of:

* ``views``: the usage views (what the most-viewed baseline ranks by);
* ``Σα``: the sum of the global persona α over the image's tags (S1.2, no pixels, no model);
* ``Σα*``: the same with the session-blended α* of the whole-gallery session (S1.2.8, ρ by eq. 17);
* with a trained model: the predictor's score when A*(I) and the persona vector π(I) come from α
  (ρ = 0), from α* (ρ by eq. 17, what `memoire rank` feeds it), from uniform α (A1), and with an
  all-zero A(I) and π(I) (what pixels alone give that model).

A(I) is min–max normalised per image (S1.3.5, Table 1), so it shows where the persona's tags are, not
how much they matter in total: Σα is the signal the normalisation removes, and the persona vector
π(I) gives back to a persona-conditioned model (`memoire train`'s default; the `spec-literal` variant
reads A(I) alone). The script prints ρ too: for the whole gallery c_S = 1 and N is large, so eq. (17)
gives ρ ≈ 0.9–1.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def main() -> None:
    from scipy.stats import spearmanr

    from memoire_cli.rank import RankOptions, UserContext, rank_user
    from memoire_cli.session import Session, session_alpha
    from memoire_cli.workspace import Workspace

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("workspace", type=Path)
    ap.add_argument("--model", default="default", help="model name; `none` skips the predictor columns")
    ap.add_argument("--users", default="", help="comma-separated user ids (default: every user with ground truth)")
    args = ap.parse_args()

    ws = Workspace.open(args.workspace, "eval")
    users = [u for u in args.users.split(",") if u] or [r[0] for r in ws.query(
        "SELECT DISTINCT user_id FROM truth.scores ORDER BY user_id")]
    split = dict(ws.query("SELECT user_id, split FROM users"))
    predictor = None
    if args.model != "none":
        from memoire_cli.train.predictor import load_predictor

        predictor = load_predictor(ws, args.model)
    size = predictor.image_size if predictor else 32
    variants = {"ρ=0": RankOptions(rho=0.0), "ρ=eq17": RankOptions(), "uniform α": RankOptions(alpha="uniform")}
    head = f"{'user':7s} {'split':5s} {'N':>3s} {'ρ':>5s} {'views':>6s} {'Σα':>6s} {'Σα*':>6s}"
    if predictor:
        head += "".join(f" {name:>10s}" for name in [*variants, "A=0"])
    print(head)
    rows = []
    for user in users:
        ctx = UserContext.load(ws, user, Session("all"), image_size=size, model_inputs=predictor is not None)
        pis = dict(ws.query("SELECT image_id, pis FROM truth.scores WHERE user_id = ?", [user]))
        truth = np.array([pis[i] for i in ctx.image_ids])  # (N,)
        nodes = [int(t) for t in ctx.node_tags]

        def per_image(alpha: np.ndarray) -> np.ndarray:  # used in this iteration only: this user's nodes and images
            of = dict(zip(nodes, np.asarray(alpha, np.float64)))  # noqa: B023
            return np.array([sum(of.get(int(t), 0.0) for t in tags) for tags in ctx.image_tags])  # noqa: B023 - (N,)

        alpha_star, rho, _ = session_alpha(ctx.evidence())
        views = np.nan_to_num(np.asarray(ctx.views, np.float64), nan=-1.0)
        row = [spearmanr(views, truth)[0], spearmanr(per_image(ctx.alpha), truth)[0], spearmanr(per_image(alpha_star), truth)[0]]
        if predictor:
            for options in variants.values():
                ranking = rank_user(ctx, predictor, options)
                score = dict(zip(ranking.image_ids, ranking.scores))
                row.append(spearmanr([score[i] for i in ctx.image_ids], truth)[0])
            zero = np.zeros((len(ctx), size, size), np.float32)
            row.append(spearmanr(predictor.score(ctx.rgb, zero), truth)[0])
        rows.append(row)
        print(f"{user:7s} {split.get(user) or '-':5s} {len(ctx):3d} {rho:5.2f}" + "".join(f" {v:+6.3f}" if k < 3 else f" {v:+10.3f}"
                                                                                  for k, v in enumerate(row)))
    if rows:
        mean = np.nanmean(np.array(rows, np.float64), axis=0)
        print(f"{'mean':7s} {'':5s} {'':3s} {'':5s}" + "".join(f" {v:+6.3f}" if k < 3 else f" {v:+10.3f}" for k, v in enumerate(mean)))


if __name__ == "__main__":
    main()
