"""Rejected photos (a −1 rating or a reject flag, issue 14) are last in every ranking and never in a top-k:
``rank_user``, eval's re-selection (B1/A3) and every baseline — on a synthetic session and tiny networks —
and ``UserContext`` reads them from an ingested gallery. Seconds, no trained model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from conftest import rows
from memoire_cli.eval.baselines import BASELINES
from test_eval_metrics import signals
from test_eval_saliency import FakeWorkspace, Quiet, suite_env, synthetic_context, tiny_predictor  # noqa: F401 (suite_env: a fixture)
from test_ingest import ingest, marked_folder

torch.set_num_threads(1)


def test_rank_user_puts_rejected_images_last_and_never_selects_them() -> None:
    from memoire_cli.eval.suite import reselect
    from memoire_cli.rank import RankOptions, rank_user

    ctx = synthetic_context("u0", n=8)
    assert ctx.rejected.dtype == bool and ctx.rejected.shape == (8,) and not ctx.rejected.any()  # the default: none
    predictor = tiny_predictor()
    base = rank_user(ctx, predictor, RankOptions(k=8))
    assert len(base.selected) == 8
    reject = [base.image_ids[0], base.image_ids[3]]  # the best-scored image and another
    ctx.rejected = np.isin(ctx.image_ids, reject)
    got = rank_user(ctx, predictor, RankOptions(k=8))
    assert got.image_ids == [i for i in base.image_ids if i not in reject] + reject  # last, by score among themselves
    assert sorted(got.selected) == sorted(set(base.image_ids) - set(reject))  # fewer than k remain: a shorter selection
    for lam in (0.0, 0.4, 0.9):
        top = rank_user(ctx, predictor, RankOptions(k=3, lam=lam))
        assert len(top.selected) == 3 and not set(top.selected) & set(reject)
        assert reselect(ctx, got, lam, 3) == top.selected  # eval's B1/A3 shortcut agrees
    assert rank_user(ctx, predictor, RankOptions(k=3, lam=0.0)).selected == got.image_ids[:3]
    ctx.rejected[:] = True
    everything = rank_user(ctx, predictor, RankOptions(k=3))
    assert everything.selected == [] and everything.image_ids == base.image_ids


def test_baselines_never_put_a_rejected_image_in_their_top_k() -> None:
    from memoire_cli.eval.baselines import baseline_scores, favourites_first, ranking_of

    sig = signals()
    ids = sig.image_ids
    assert ranking_of(ids, favourites_first(sig), 1)[1] == [ids[1]]  # the favourite leads …
    sig.rejected = np.array([False, True, False, False])  # … but its owner rejected it
    full, top = ranking_of(ids, favourites_first(sig), 4, sig.rejected)
    assert full == [ids[0], ids[3], ids[2], ids[1]] and top == full[:3]
    for name in BASELINES:
        for scores in baseline_scores(name, sig):
            plain, _ = ranking_of(ids, scores, 4)
            full, top = ranking_of(ids, scores, 2, sig.rejected)
            assert full == [i for i in plain if i != ids[1]] + [ids[1]] and top == full[:2], name


def test_eval_keeps_rejected_images_out_of_every_top_k(suite_env) -> None:  # noqa: F811 - the fixture imported above
    from memoire_cli.eval.suite import run_suite

    truth, contexts, _ = suite_env
    ctx = contexts["u0000"]
    reject = ctx.image_ids[:6]  # two images left: every top-3 of this user is shorter
    ctx.rejected = np.isin(ctx.image_ids, reject)
    result = run_suite(FakeWorkspace(), truth, "quick", 3, "torch", Quiet())
    assert {s.split(":", 1)[1] for s in result.per_user if s.startswith("baseline:")} == set(BASELINES)
    assert any(not s.startswith("baseline:") for s in result.per_user)  # Memoire's settings (rank_user, reselect)
    for source, users in result.per_user.items():
        assert not set(users["u0000"].selected) & set(reject) and len(users["u0000"].selected) <= 2, source
        assert len(users["u0001"].selected) == 3, source  # a user without rejections keeps full top-ks


def test_context_reads_rejections_of_an_ingested_gallery(cli, tmp_path: Path) -> None:
    from memoire_cli.rank import UserContext
    from memoire_cli.session.selection import parse_session
    from memoire_cli.workspace import Workspace

    root = marked_folder(tmp_path / "photos", ["five.jpg", "minus.jpg", "flagged.jpg", "plain.jpg"])
    ws = tmp_path / "w"
    assert ingest(cli, root, ws).exit_code == 0
    for args in (["graph"], ["persona", "--epochs", "1", "--steps-per-epoch", "1", "--device", "cpu"], ["pat"]):
        result = cli(*args, "-w", ws)
        assert result.exit_code == 0, result.output
    path = dict(rows(ws, "SELECT json_extract_string(image_ids, '$[0]'), path FROM ingest_files"))
    ctx = UserContext.load(Workspace.open(ws, "rank"), "me", parse_session("all"), image_size=64, model_inputs=False)
    assert {path[i] for i, r in zip(ctx.image_ids, ctx.rejected) if r} == {"minus.jpg", "flagged.jpg"}
