"""PAT fusion and post-processing (S1.3.5–S1.3.7): weights, overlaps, fallbacks, determinism."""

from __future__ import annotations

import numpy as np
import pytest

from memoire_cli.pat.fusion import attention_map, fuse, gaussian_blob
from memoire_cli.session.refusion import postprocess, quantise

H, W = 48, 64


def square(x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
    m = np.zeros((H, W), np.float32)
    m[y0:y1, x0:x1] = 1.0
    return m


def test_gaussian_blob_is_centred_and_normalised() -> None:
    blob = gaussian_blob((10, 8, 30, 28), H, W)
    assert blob.dtype == np.float32 and blob.shape == (H, W)
    assert blob.max() == pytest.approx(1.0, abs=1e-3) and blob.min() >= 0
    y, x = np.unravel_index(np.argmax(blob), blob.shape)
    assert (x, y) in {(19, 17), (20, 18), (19, 18), (20, 17)}
    # std = 0.35 × 20 px = 7 px: one std from the centre the blob is ≈ e^{-1/2}
    assert blob[18, 20 + 7] == pytest.approx(np.exp(-0.5), abs=0.05)


def test_heavier_tags_dominate_and_overlaps_add() -> None:
    a, b = square(4, 4, 20, 20), square(40, 20, 60, 44)
    out = attention_map([a, b], [0.7, 0.3], H, W)
    assert out.dtype == np.float32 and 0.0 <= out.min() and out.max() <= 1.0
    assert out[12, 12] > out[32, 50] > out[2, 40]
    both = fuse([a, square(10, 10, 30, 30)], [0.5, 0.5], H, W)
    assert both[15, 15] == pytest.approx(1.0) and both[5, 5] == pytest.approx(0.5)


def test_masks_are_clamped_and_shapes_checked() -> None:
    wild = square(0, 0, 10, 10) * 5.0 - 1.0
    assert fuse([wild], [1.0], H, W).max() == pytest.approx(1.0)
    assert fuse([wild], [1.0], H, W).min() == 0.0
    with pytest.raises(ValueError):
        fuse([np.zeros((H, W + 1))], [1.0], H, W)
    with pytest.raises(ValueError):
        fuse([square(0, 0, 1, 1)], [], H, W)


def test_no_modality_gives_an_empty_map() -> None:
    out = attention_map([], [], H, W)
    assert out.shape == (H, W) and not out.any()


def test_close_fills_pinholes_and_blur_softens_edges() -> None:
    m = square(10, 10, 30, 30)
    m[20, 20] = 0.0
    out = postprocess(m)
    assert out[20, 20] > 0.9
    edge = out[20, 8:13]
    assert 0.0 < edge[1] < edge[3] < 1.0


def test_bit_identical_and_quantised() -> None:
    rng = np.random.default_rng(0)
    masks = [rng.random((H, W)).astype(np.float32) for _ in range(4)]
    alphas = [0.4, 0.3, 0.2, 0.1]
    a = attention_map(masks, alphas, H, W)
    b = attention_map([m.copy() for m in masks], list(alphas), H, W)
    assert a.tobytes() == b.tobytes()
    q = quantise(a)
    assert q.dtype == np.uint8 and q.max() == 255 and q.min() == 0


def test_postprocess_agrees_with_the_scipy_reference() -> None:
    from scipy.ndimage import gaussian_filter, grey_closing

    field = np.random.default_rng(1).random((H, W)).astype(np.float32)
    ref = gaussian_filter(grey_closing(field, size=(3, 3), mode="nearest"), sigma=1.0, mode="nearest")
    ref = (ref - ref.min()) / (ref.max() - ref.min() + 1e-6)
    assert np.abs(postprocess(field) - ref).max() < 1e-5


def test_refusion_from_stored_masks() -> None:
    from memoire_cli.session.refusion import refuse

    masks = [square(4, 4, 20, 20), square(40, 20, 60, 44)]
    stored = np.stack([quantise(m) for m in masks])
    a = refuse(stored, [0.9, 0.1])
    b = refuse(stored, [0.1, 0.9])
    assert a[12, 12] > a[32, 50] and b[12, 12] < b[32, 50]
    assert np.abs(a - attention_map(masks, [0.9, 0.1], H, W)).max() < 1e-5
