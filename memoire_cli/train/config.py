"""The settings of `memoire train`, with their defaults and checks (S1.4.1–S1.4.2, Table 6).

:class:`PredictorConfig` describes the network's shape (built by :mod:`memoire_cli.train.model` and
:mod:`memoire_cli.train.network`, stored in every checkpoint); :class:`TrainConfig` the optimisation.
Presets (``paper``, ``cpu``, ``smoke``) fill what the command leaves open (:mod:`memoire_cli.train.stage`).

Light: dataclasses only, so `memoire train --help` imports it at once.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from memoire_cli.errors import ParameterError
from memoire_cli.train.backbones import BACKBONES  # the registry of backbones (light: factories import lazily)

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



@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings (the network's shape is :class:`PredictorConfig`)."""

    loss: str = "logistic"
    epochs: int = 150
    batch_size: int = 128
    lr: float = 1e-4
    weight_decay: float = 1e-5
    align_weight: float = 0.1
    seed: int = 0
    session_mix: float = 0.5  # share of training pairs fed the whole-gallery session's maps (ρ by eq. 17)

    def __post_init__(self) -> None:
        for flag, value in (("--epochs", self.epochs), ("--batch-size", self.batch_size)):
            if value < 1:
                raise ParameterError(f"{flag} must be at least 1, got {value}")
        for flag, rate in (("--lr", self.lr), ("--align-weight", self.align_weight), ("--weight-decay", self.weight_decay)):
            if not math.isfinite(rate):
                raise ParameterError(f"{flag} must be a finite number, got {rate}")
        if self.lr <= 0 or self.align_weight < 0 or self.weight_decay < 0:
            raise ParameterError("--lr must be positive, --align-weight and --weight-decay non-negative")
        if not 0.0 <= self.session_mix <= 1.0:
            raise ParameterError(f"--session-mix must be in [0, 1], got {self.session_mix}")
