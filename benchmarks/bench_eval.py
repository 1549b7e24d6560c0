"""The evaluation's hot parts (S2.2–S2.4, `memoire eval`), each against a plain peer in the same run.

    .venv/bin/python benchmarks/bench_eval.py [--threads 1] [--workspace W | --users 2 --images 16]
        [--k 5] [--repeats 5] [--no-cli] [--keep]

* **(a) bootstrap CI** — :func:`memoire_cli.eval.metrics.mean_ci` (one (n_boot, n) index draw and a
  row mean) vs the per-resample Python loop a reader would write (same generator stream: the CIs
  must be identical, checked), at 5, 50 and 500 users, 1000 resamples.
* **(b) λ sweep** — Table 10's five λ for one user: eval's path (one :func:`rank_user` at λ = 0.4,
  then :func:`memoire_cli.eval.suite.reselect` per other λ, reusing the scores) vs ranking from
  scratch with ``rank_user`` for each λ (α*, A*(I) re-fusion, preprocessing, the predictor, MMR);
  the picks must agree (checked). Also B4's Saliency↔PAT r for that user: ``rank_user`` with the
  Grad-CAM taken in its scoring pass (:class:`memoire_cli.eval.saliency.FedInputs`, what eval runs;
  **B4 extra** = its cost over a plain ``rank_user``) vs a separate Grad-CAM pass on the same inputs
  (:func:`memoire_cli.eval.saliency.saliency_pat_r`, **2nd pass**); both must give the same r (checked).
* **(c) `memoire eval --suite quick`** wall time (a subprocess, ``--force``), on the same workspace.

(b) and (c) run on a real tiny workspace: ``--workspace`` names one that has a trained ``default``
model (and ideally ``hinge``); otherwise one is built in a temporary folder — synth (``--users`` ×
``--images``, 128 px), graph, persona, pat, label, and two small models (64 px, 1 epoch: ``default``
and ``hinge``) — which takes a minute or two and is not timed. Times: best of ``--repeats``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def set_threads(n: int | None) -> None:
    if n:
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(n)


def best_of(fn, repeats: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


# --------------------------------------------------------------------------------- (a) bootstrap
def mean_ci_loop(values, n_boot: int = 1000, level: float = 0.95, seed: int = 0) -> tuple[float, float, float]:
    """The plain peer: one resample (and its mean) per Python iteration, same generator stream."""
    import numpy as np

    x = np.asarray([v for v in values if np.isfinite(v)], np.float64)
    mean = float(x.mean())
    rng = np.random.default_rng(seed)
    boots = []
    for _ in range(n_boot):
        sample = x[rng.integers(0, len(x), len(x))]
        boots.append(sample.mean())
    a = (1.0 - level) / 2.0
    return mean, float(np.quantile(boots, a)), float(np.quantile(boots, 1.0 - a))


def bench_bootstrap(repeats: int) -> None:
    import numpy as np

    from memoire_cli.eval.metrics import mean_ci

    print("(a) SRCC mean and bootstrap 95% CI over users, 1000 resamples")
    print(f"{'users':>6} {'mean_ci ms':>11} {'loop ms':>9} {'loop/mean_ci':>13}")
    for n in (5, 50, 500):
        srcc = np.random.default_rng(n).uniform(-0.2, 0.9, n)
        t_vec, ci = best_of(lambda: mean_ci(srcc), repeats)  # noqa: B023
        t_loop, ci_loop = best_of(lambda: mean_ci_loop(srcc), repeats)  # noqa: B023
        if not np.allclose(ci, ci_loop, rtol=0, atol=1e-12):
            raise SystemExit(f"{n} users: mean_ci {ci} and the loop {ci_loop} disagree")
        print(f"{n:>6} {t_vec * 1e3:>11.3f} {t_loop * 1e3:>9.2f} {t_loop / t_vec:>12.1f}×")


# --------------------------------------------------------------------------------- workspace
def memoire(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("memoire")
    cmd = [str(exe), *map(str, args)] if exe.exists() else [sys.executable, "-m", "memoire_cli", *map(str, args)]
    done = subprocess.run(cmd, check=False, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise SystemExit(f"memoire {' '.join(map(str, args[:1]))} failed:\n{done.stderr[-2000:]}")
    return done


def build_workspace(folder: Path, users: int, images: int, env: dict[str, str]) -> Path:
    ws = folder / "w"
    t0 = time.perf_counter()
    # half of the users in the test split: eval scores held-out users only
    memoire("synth", "-w", ws, "--user-count", users, "--split", "50/0/50", "--images-per-user", images, "--frames-per-clip", 1,
            "--image-size", 128, "--anchors", 1, "--seed", 5, env=env)
    for args in (["graph"], ["persona", "--epochs", "2"], ["pat"], ["label", "--max-pairs", "60"],
                 ["train", "--input-size", "64", "--epochs", "1", "--batch-size", "16", "--max-pairs", "48", "--no-export"],
                 ["train", "--name", "hinge", "--loss", "hinge", "--input-size", "64", "--epochs", "1", "--batch-size", "16",
                  "--max-pairs", "48", "--no-export"]):
        memoire(args[0], "-w", ws, *args[1:], env=env)
    print(f"built a workspace of {users} users × {images} images in a temporary folder ({time.perf_counter() - t0:.0f} s, not timed)")
    return ws


# --------------------------------------------------------------------------------- (b) λ sweep
def bench_sweep(ws_path: Path, k: int, repeats: int) -> None:
    from memoire_cli.eval.saliency import FedInputs, mean_r, saliency_pat_r
    from memoire_cli.eval.suite import LAMBDAS, reselect
    from memoire_cli.rank import RankOptions, UserContext, rank_user
    from memoire_cli.rank.ranker import attention_maps
    from memoire_cli.session import Session, session_alpha
    from memoire_cli.train.predictor import load_predictor
    from memoire_cli.workspace import Workspace

    ws = Workspace.open(ws_path, "eval")
    predictor = load_predictor(ws)
    users = [u for (u,) in ws.query("SELECT user_id FROM stage_users WHERE stage = 'pat' ORDER BY user_id")]
    print(f"(b) Table 10's λ sweep ({', '.join(f'{x:g}' for x in LAMBDAS)}), k = {k}, model 'default' "
          f"({predictor.image_size} px, torch); workspace users, whole gallery as the session")
    print(f"{'user':>6} {'N':>4} {'eval ms':>9} {'scratch ms':>11} {'scratch/eval':>13} {'rank_user ms':>13} {'+B4 cam ms':>11} "
          f"{'B4 extra':>8} {'2nd pass':>10} {'r':>7}")
    for user in users:
        ctx = UserContext.load(ws, user, Session("all"), image_size=predictor.image_size)
        kk = min(k, len(ctx))

        def eval_path():
            base = rank_user(ctx, predictor, RankOptions(k=kk, lam=0.4))  # noqa: B023
            return {lam: (base.selected if lam == 0.4 else reselect(ctx, base, lam, kk)) for lam in LAMBDAS}  # noqa: B023

        def scratch():
            return {lam: rank_user(ctx, predictor, RankOptions(k=kk, lam=lam)).selected for lam in LAMBDAS}  # noqa: B023

        t_eval, picks = best_of(eval_path, repeats)
        t_scratch, picks_scratch = best_of(scratch, repeats)
        if picks != picks_scratch:
            raise SystemExit(f"{user}: reselect and rank_user pick differently")
        t_rank, _ = best_of(lambda: rank_user(ctx, predictor, RankOptions(k=kk)), repeats)  # noqa: B023

        def with_cam():  # what eval's B4 sources run: the ranking with Grad-CAM from the scoring pass
            fed = FedInputs(predictor, saliency=True)
            rank_user(ctx, fed, RankOptions(k=kk))  # noqa: B023
            return mean_r(fed.saliency, fed.attention)

        t_cam, r = best_of(with_cam, repeats)
        alpha, _, _ = session_alpha(ctx.evidence())
        att, _ = attention_maps(ctx, {int(t): float(a) for t, a in zip(ctx.node_tags, alpha)}, ("P", "L", "E"))
        t_sal, r2 = best_of(lambda: saliency_pat_r(predictor, ctx.rgb, att), repeats)  # noqa: B023
        if abs(r - r2) > 1e-5:
            raise SystemExit(f"{user}: Saliency↔PAT r from the scoring pass ({r}) and a separate pass ({r2}) differ")
        print(f"{user:>6} {len(ctx):>4} {t_eval * 1e3:>9.1f} {t_scratch * 1e3:>11.1f} {t_scratch / t_eval:>12.1f}× "
              f"{t_rank * 1e3:>13.1f} {t_cam * 1e3:>11.1f} {t_cam / t_rank - 1:>+8.1%} {t_sal * 1e3:>10.1f} {r:>7.3f}")


# --------------------------------------------------------------------------------- (c) the CLI
def bench_cli(ws_path: Path, k: int, env: dict[str, str]) -> None:
    t0 = time.perf_counter()
    done = memoire("eval", "-w", ws_path, "--suite", "quick", "--k", k, "--sheets", "1", "--force", env=env)
    wall = time.perf_counter() - t0
    lines = [x for x in done.stderr.splitlines() if "rankings in" in x]
    print(f"(c) `memoire eval --suite quick --k {k} --force`: {wall:.1f} s wall (a new process: imports included)")
    for x in lines:
        print(f"    {x.strip()}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1, help="BLAS/OpenMP/torch threads (0: library defaults)")
    ap.add_argument("--workspace", type=Path, help="an existing workspace with a trained `default` model (else one is built)")
    ap.add_argument("--users", type=int, default=2)
    ap.add_argument("--images", type=int, default=16, help="images per synthetic user")
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--no-cli", action="store_true", help="skip (c)")
    ap.add_argument("--only-bootstrap", action="store_true", help="run (a) only (no workspace)")
    ap.add_argument("--keep", action="store_true", help="keep the built workspace (its path is printed)")
    args = ap.parse_args()
    set_threads(args.threads)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    print(f"threads: {args.threads or 'library defaults'}; best of {args.repeats}")
    bench_bootstrap(args.repeats)
    if args.only_bootstrap:
        return
    env = dict(os.environ)
    tmp = None
    ws = args.workspace
    if ws is None:
        tmp = tempfile.mkdtemp(prefix="bench-eval-")
        ws = build_workspace(Path(tmp), args.users, args.images, env)
    try:
        bench_sweep(ws, args.k, args.repeats)
        if not args.no_cli:
            bench_cli(ws, args.k, env)
    finally:
        if tmp and not args.keep:
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)
        elif tmp:
            print(f"workspace kept: {ws}")


if __name__ == "__main__":
    main()
