"""The impact predictor network (S1.4.1) and the S1.4.1 preprocessing, on tiny configurations."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from memoire_cli.train.model import PredictorConfig, build_model, count_parameters
from memoire_cli.train.predictor import impact_from_calibration, preprocess

torch.set_num_threads(1)

TINY = {"image_size": 64, "dims": (8, 16, 24, 32), "depths": (1, 1, 2, 1), "heads": (1, 1, 1, 1), "windows": (7, 7, 7, 7),
            "head_hidden": 16, "film_hidden": 4}


def tiny(fusion: str = "early+mid") -> PredictorConfig:
    return PredictorConfig(fusion=fusion, **TINY)


def test_preprocess_shortest_side_centre_crop_and_minmax() -> None:
    image = np.zeros((40, 80, 3), np.uint8)
    image[:, 20:60] = 200  # the centre 40 columns are bright: the crop keeps exactly them
    att = np.zeros((40, 80), np.float32)
    att[:, 20:40] = 0.5
    att[:, 40:60] = 0.25
    rgb, a = preprocess(image, att, 32)
    assert rgb.shape == (32, 32, 3) and rgb.dtype == np.uint8
    assert a.shape == (32, 32) and a.dtype == np.float32
    assert rgb[:, 2:30].min() == 200  # the dark margins were cropped away
    assert a.min() == 0.0 and a.max() == pytest.approx(1.0)  # min–max normalised
    assert a[:, :14].mean() > a[:, 18:].mean()  # aligned with the image (left half stronger)
    # uint8 maps read as A·255 and give the same result
    rgb2, a2 = preprocess(image, (att * 255).astype(np.uint8), 32)
    assert np.array_equal(rgb, rgb2) and np.allclose(a, a2, atol=0.02)


def test_preprocess_constant_map_and_bad_shapes() -> None:
    _rgb, a = preprocess(np.full((50, 50, 3), 7, np.uint8), np.full((50, 50), 0.3, np.float32), 32)
    assert not a.any()
    with pytest.raises(ValueError, match="differ in size"):
        preprocess(np.zeros((10, 12, 3), np.uint8), np.zeros((12, 10), np.float32), 32)
    with pytest.raises(ValueError, match="uint8"):
        preprocess(np.zeros((10, 12, 3), np.float32), np.zeros((10, 12), np.float32), 32)


@pytest.mark.parametrize("fusion", ["early+mid", "early", "mid", "none"])
def test_fusion_variants_use_attention_as_specified(fusion: str) -> None:
    torch.manual_seed(0)
    model = build_model(tiny(fusion)).eval()
    assert model.backbone.patch_embed.conv1.conv.in_channels == (4 if "early" in fusion else 3)
    # make FiLM non-trivial (it starts as the identity)
    for film_row in model.films:
        for film in film_row:
            torch.nn.init.normal_(film.out.weight, std=0.3)
    rgb = torch.randn(3, 3, 64, 64)
    a1, a2 = torch.rand(3, 1, 64, 64), torch.rand(3, 1, 64, 64)
    with torch.no_grad():
        s1, s2 = model(rgb, a1), model(rgb, a2)
    assert s1.shape == (3,)
    if fusion == "none":
        assert torch.equal(s1, s2)  # RGB only: A(I) is ignored
    else:
        assert not torch.allclose(s1, s2)
    parts = count_parameters(model)
    assert (parts["film"] > 0) == (fusion in ("early+mid", "mid"))
    assert parts["total"] == parts["backbone"] + parts["film"] + parts["head"]


def test_untrained_film_is_identity() -> None:
    torch.manual_seed(0)
    with_film = build_model(tiny("early+mid")).eval()
    torch.manual_seed(0)
    without = build_model(tiny("early")).eval()
    without.backbone.load_state_dict(with_film.backbone.state_dict())
    without.head.load_state_dict(with_film.head.state_dict())
    rgb, a = torch.randn(2, 3, 64, 64), torch.rand(2, 1, 64, 64)
    with torch.no_grad():
        assert torch.allclose(with_film(rgb, a), without(rgb, a), atol=1e-6)


def test_full_size_tiny_vit_parameter_count() -> None:
    parts = count_parameters(build_model(PredictorConfig()))
    # timm tiny_vit_5m_224 without its 1000-way classifier, FiLM after all 12 blocks, 320→256→256→1 head
    assert parts["backbone"] == 5_072_052
    assert parts["head"] == 320 * 256 + 256 + 256 * 256 + 256 + 256 + 1
    assert 5_200_000 < parts["total"] < 5_400_000


def test_impact_calibration_is_monotone_cdf() -> None:
    q = np.quantile(np.arange(1000, dtype=float), np.linspace(0, 1, 101))
    out = impact_from_calibration(np.array([-5.0, 0.0, 499.5, 999.0, 2000.0]), q)
    assert out[0] == 0 and out[1] == 0 and out[2] == pytest.approx(50, abs=0.5) and out[3] == 100 and out[4] == 100
    assert np.all(impact_from_calibration(np.array([1.0, 2.0]), np.zeros(101)) == 50)


def test_config_round_trip_and_validation() -> None:
    cfg = tiny("mid")
    assert PredictorConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="fusion"):
        PredictorConfig(fusion="late")
    with pytest.raises(ValueError, match="multiple of 8"):
        PredictorConfig(image_size=100)


def test_losses_match_their_formulas() -> None:
    from memoire_cli.train.losses import alignment_loss, gradcam, ranking_loss

    sp, sn = torch.tensor([2.0, 0.0]), torch.tensor([0.0, 0.5])
    assert float(ranking_loss("logistic", sp, sn)) == pytest.approx(float(np.mean(np.log1p(np.exp([-2.0, 0.5])))))
    assert float(ranking_loss("hinge", sp, sn)) == pytest.approx((0.0 + 1.5) / 2)
    t = torch.tensor([1.0, 0.0])
    expected = 0.5 * (((sp - t) ** 2).mean() + ((sn - t) ** 2).mean()) + (0.5 * (1 - torch.tanh(sp - sn))).mean()
    assert float(ranking_loss("l2-kendall", sp, sn, t, t)) == pytest.approx(float(expected))
    with pytest.raises(ValueError, match="unknown loss"):
        ranking_loss("mse", sp, sn)
    # Grad-CAM of s = Σ F_c over a map equal to A: perfectly aligned (loss 0); its negative: anti-aligned
    att = torch.rand(2, 1, 4, 4)
    feats = att.repeat(1, 3, 1, 1).requires_grad_(True)
    cam = gradcam(feats.mean(dim=(1, 2, 3)), feats, create_graph=True)
    assert cam.shape == (2, 4, 4)
    assert float(alignment_loss(cam, att).detach()) == pytest.approx(0.0, abs=1e-5)
    assert float(alignment_loss(1 - att[:, 0], att)) == pytest.approx(2.0, abs=1e-5)
    assert float(alignment_loss(torch.zeros(2, 4, 4), att)) == pytest.approx(1.0)  # no variance: corr 0, not NaN


def test_augmentations_keep_the_map_aligned() -> None:
    from memoire_cli.train.augment import augment

    yy, xx = torch.meshgrid(torch.linspace(0, 1, 48), torch.linspace(0, 1, 48), indexing="ij")
    att = torch.stack([xx * yy, (1 - xx) * yy, xx * (1 - yy), (1 - xx) * (1 - yy)])[:, None]  # (4, 1, 48, 48)
    rgb = att.repeat(1, 3, 1, 1)  # RGB equal to the map: geometry must move both alike
    out_rgb, out_att = augment(rgb, att, torch.Generator().manual_seed(1))
    assert out_rgb.shape == rgb.shape and out_att.shape == att.shape
    assert not torch.allclose(out_att, att)  # cropped / flipped
    for i in range(4):
        r = np.corrcoef(out_rgb[i].mean(0).flatten().numpy(), out_att[i, 0].flatten().numpy())[0, 1]
        assert r > 0.95  # photometric changes only rescale RGB; blur smooths it a little
    again = augment(rgb, att, torch.Generator().manual_seed(1))
    assert torch.equal(again[0], out_rgb) and torch.equal(again[1], out_att)  # seeded


def test_variant_names_set_fusion_and_loss() -> None:
    from memoire_cli.errors import UsageError
    from memoire_cli.train.persona_vector import PERSONA_DIM
    from memoire_cli.train.stage import VARIANTS, TrainStage

    for name, (fusion, loss, persona) in VARIANTS.items():
        stage = TrainStage(name=name, preset="smoke")
        assert (stage.fusion, stage.loss, stage.net.fusion) == (fusion, loss, fusion)
        assert stage.net.persona_dim == (PERSONA_DIM if persona and fusion in ("early+mid", "mid") else 0), name
    assert TrainStage(name="spec-literal", preset="smoke").net.conditioned is False
    assert TrainStage(name="mine", fusion="mid", loss="l2-kendall", preset="paper").opt.lr == 5e-4  # Table 6's optimiser
    smoke = TrainStage(preset="smoke", epochs=5)
    assert (smoke.opt.epochs, smoke.net.image_size, smoke.settings["max_pairs"]) == (5, 64, 400)
    paper = TrainStage(preset="paper")
    assert (paper.opt.epochs, paper.opt.batch_size, paper.opt.lr, paper.opt.weight_decay, paper.net.image_size) == (150, 128, 1e-4, 1e-5, 224)
    assert (paper.backbone, paper.net.frozen, paper.weights) == ("tiny_vit_5m_224", False, None)
    # auto: the paper preset on CUDA, the CPU preset (a frozen packaged ImageNet backbone) otherwise
    assert TrainStage(device="cuda").preset == "paper"
    cpu = TrainStage(device="cpu")
    assert (cpu.preset, cpu.backbone, cpu.net.frozen, cpu.net.persona_dim) == ("cpu", "efficientnet_lite0", True, PERSONA_DIM)
    assert cpu.weights is not None and cpu.net.in_chans == 3
    assert TrainStage(device="cpu", frozen=False).net.in_chans == 4  # fine-tuned: early fusion at the stem again
    with pytest.raises(UsageError, match="--name"):
        TrainStage(name="a/b")


def test_tie_to_user_follows_equation_2() -> None:
    from memoire_cli.train.persona_vector import tie_to_user

    omegas = (1.0, 0.6, 0.3, 0.1)
    assert [tie_to_user(r, omegas) for r in ("self", "daughter", "mother", "cousin", "friend", "colleague", "unknown", None)] \
        == [1.0, 1.0, 1.0, 0.6, 0.6, 0.3, 0.1, 0.1]


def test_persona_vector_components() -> None:
    """π(I) of a hand-made image: two people (one bigger), a place, an event (memoire_cli.train.persona_vector)."""
    from memoire_cli.train.persona_vector import PERSONA_DIM, persona_vector

    masks = np.zeros((4, 10, 10), np.uint8)
    masks[0, :4, :4] = 255  # person, 16 % of the frame
    masks[1, :1, :1] = 255  # person, 1 %
    masks[2, 5:, :] = 255  # place, 50 %
    masks[3, :, :] = 255  # event, 100 %
    types = np.array(["P", "P", "L", "E"], object)
    importance = np.array([1.0, 0.5, 0.25, 0.125])
    ties = np.array([1.0, 0.3, 7.0, 7.0])  # a daughter (ω_kin) and a colleague (ω_work); places/events ignore it
    v = persona_vector(types, masks, importance, ties=ties)
    assert v.shape == (PERSONA_DIM,) and v.dtype == np.float32
    expect = [1.5, 1.0, 0.25, 0.125, 1.0 * 0.4 + 0.5 * 0.1, 0.4, np.log(3), 1.0 * 0.16 + 0.5 * 0.01 + 0.25 * 0.5 + 0.125 * 1.0,
              1.0 + 0.5 * 0.3, 1.0 * 0.4 + 0.5 * 0.3 * 0.1]
    assert np.allclose(v, expect, atol=1e-6)
    # no relation structure (A1 No-Persona): every tie is 1
    flat = persona_vector(types, masks, importance)
    assert flat[8] == pytest.approx(flat[0]) and flat[9] == pytest.approx(flat[4])
    assert not persona_vector(np.zeros(0, object), np.zeros((0, 10, 10), np.uint8), np.zeros(0)).any()


def test_relative_importance_is_a_rank_so_the_session_blend_keeps_its_scale() -> None:
    """α̃ is α's percentile rank among the user's tags: the same for α and any monotone change of it
    (the session blend (16) at large ρ); all 1 for uniform α (A1)."""
    from memoire_cli.train.persona_vector import relative_importance

    alpha = np.array([0.05, 0.4, 0.2, 0.2, 0.15])
    r = relative_importance(alpha)
    assert np.allclose(r, [0.0, 1.0, 0.625, 0.625, 0.25])
    peaky = np.exp(8 * np.log(alpha))
    assert np.allclose(relative_importance(peaky / peaky.sum()), r)
    assert np.array_equal(relative_importance(np.full(6, 1 / 6)), np.ones(6))
    assert np.array_equal(relative_importance(np.array([0.3])), np.ones(1))


@pytest.mark.parametrize("fusion", ["early+mid", "early", "mid", "none"])
def test_frozen_backbone_and_the_persona_vector(fusion: str) -> None:
    """A frozen backbone: weights and batch-norm statistics never change, its map is reused (trunk →
    from_trunk gives forward's scores), FiLM reads π(I) exactly when the model is conditioned, and the
    early fusion is the A(I)-weighted pooling."""
    from memoire_cli.train.persona_vector import PERSONA_DIM

    torch.manual_seed(0)
    cfg = PredictorConfig(backbone="efficientnet_lite0", fusion=fusion, image_size=64, head_hidden=16, film_hidden=4,
                          frozen=True, persona_dim=PERSONA_DIM)
    model = build_model(cfg)
    assert cfg.in_chans == 3 and not any(p.requires_grad for p in model.backbone.parameters())
    before = {k: v.clone() for k, v in model.backbone.state_dict().items()}
    model.train()
    assert not model.backbone.training  # batch norm keeps ImageNet's statistics
    rgb, att = torch.randn(3, 3, 64, 64), torch.zeros(3, 1, 64, 64)
    att[..., :32, :32] = 1.0  # the top-left quadrant; flipped, the top-right one
    pers = torch.rand(3, PERSONA_DIM)
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.01)
    opt.zero_grad()
    (model(rgb, att.flip(-1), pers * 0).sum() - model(rgb, att, pers).sum()).backward()
    opt.step()  # a training step leaves the backbone as it was
    for film in model.films.modules():  # FiLM starts as the identity: give it weights to read its inputs with
        if hasattr(film, "out"):
            torch.nn.init.normal_(film.out.weight, std=0.5)
            torch.nn.init.normal_(film.persona.weight, std=0.5)
    model.eval()
    for k, v in model.backbone.state_dict().items():
        assert torch.equal(v, before[k]), k
    with torch.no_grad():
        s = model(rgb, att, pers)
        assert torch.allclose(model.readout(model.from_trunk(model.trunk(rgb), att, pers), att), s)
        reads_persona = not torch.allclose(model(rgb, att, pers * 0), s)
        reads_attention = not torch.allclose(model(rgb, att.flip(-1), pers), s)
    assert reads_persona == (fusion in ("early+mid", "mid"))
    assert reads_attention == (fusion != "none")


def test_preset_auto_is_paper_on_cuda_and_cpu_elsewhere() -> None:
    from memoire_cli.errors import UsageError
    from memoire_cli.train.stage import resolve_preset

    assert resolve_preset("auto", "cuda") == resolve_preset("auto", "cuda:1") == "paper"
    assert resolve_preset("auto", "cpu") == "cpu" and resolve_preset("paper", "cpu") == "paper"
    with pytest.raises(UsageError):
        resolve_preset("gpu", "cpu")
