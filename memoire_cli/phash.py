"""Perceptual hashing of images: the ``items.phash`` column, and synth's duplicate control (S1.1.6).

The classic DCT hash: greyscale, 32×32, 2-D DCT-II, the 8×8 lowest frequencies against their median.
"""

from __future__ import annotations

import numpy as np


def phash(image: np.ndarray) -> int:
    """64-bit perceptual hash of an (H, W, 3) uint8 image."""
    from PIL import Image
    from scipy.fft import dctn

    grey = Image.fromarray(image).convert("L").resize((32, 32), Image.Resampling.LANCZOS)
    coeffs = dctn(np.asarray(grey, dtype=np.float64), type=2, norm="ortho")[:8, :8]  # (8, 8)
    bits = (coeffs > np.median(coeffs)).ravel()
    return int(np.packbits(bits).view(">u8")[0])


def hamming(a: int, hashes: np.ndarray) -> np.ndarray:
    """Hamming distances between one hash and an array of hashes (uint64)."""
    x = np.bitwise_xor(np.uint64(a), hashes.astype(np.uint64))
    return np.unpackbits(x.view(np.uint8).reshape(-1, 8), axis=1).sum(axis=1)
