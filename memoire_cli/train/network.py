"""torch modules of the impact predictor (S1.4.1); imported only by functions that need torch.

See :mod:`memoire_cli.train.model` for the design. Layouts: timm's MBConv blocks (TinyViT stage 0) and
EfficientNet blocks are NCHW, TinyViT blocks NHWC; :class:`FiLM` takes a ``channels_last`` flag.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from memoire_cli.train.model import ATTENTION_MEAN, ATTENTION_STD, PredictorConfig


class FiLM(nn.Module):
    """ĥ = γ(A) ⊙ h + β(A) per patch (S1.4.1), A(I) average-pooled to the block's grid.

    γ, β: small CNNs sharing a trunk (3×3 conv 1→k, ReLU, 1×1 conv k→2C). The last conv starts at zero
    and γ = 1 + Δγ, so the untrained module is the identity.
    Shapes: h (B, C, H, W) or (B, H, W, C) with ``channels_last``; attention (B, 1, S, S).
    """

    def __init__(self, channels: int, hidden: int):
        super().__init__()
        self.trunk = nn.Sequential(nn.Conv2d(1, hidden, 3, padding=1), nn.ReLU())
        self.out = nn.Conv2d(hidden, 2 * channels, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, h: torch.Tensor, attention: torch.Tensor, channels_last: bool) -> torch.Tensor:
        grid = h.shape[1:3] if channels_last else h.shape[2:4]
        a = F.adaptive_avg_pool2d(attention, (int(grid[0]), int(grid[1])))
        gamma, beta = self.out(self.trunk(a)).chunk(2, dim=1)  # (B, C, H, W) each
        if channels_last:
            gamma, beta = gamma.permute(0, 2, 3, 1), beta.permute(0, 2, 3, 1)
        return (1.0 + gamma) * h + beta


def _blocks(backbone: nn.Module, name: str) -> list[tuple[nn.Module, list[nn.Module], bool]]:
    """(stage, its blocks, channels_last) per stage, in order."""
    if name == "efficientnet_lite0":
        return [(stage, list(stage), False) for stage in backbone.blocks]
    return [(stage, list(stage.blocks), i > 0) for i, stage in enumerate(backbone.stages)]


def _block_channels(backbone: nn.Module, name: str, image_size: int) -> list[list[int]]:
    """Output channels of every block, found by a dry run at 64 px."""
    with torch.no_grad():
        x = torch.zeros(1, backbone_in_chans(backbone, name), 64, 64)
        out: list[list[int]] = []
        if name == "efficientnet_lite0":
            x = backbone.bn1(backbone.conv_stem(x))
            for stage in backbone.blocks:
                row = []
                for block in stage:
                    x = block(x)
                    row.append(int(x.shape[1]))
                out.append(row)
            return out
        x = backbone.patch_embed(x)
        for i, stage in enumerate(backbone.stages):
            row = []
            if i == 0:
                for block in stage.blocks:
                    x = block(x)
                    row.append(int(x.shape[1]))
            else:
                x = stage.downsample(x).permute(0, 2, 3, 1)
                for block in stage.blocks:
                    x = block(x)
                    row.append(int(x.shape[-1]))
                x = x.permute(0, 3, 1, 2)
            out.append(row)
        return out


def backbone_in_chans(backbone: nn.Module, name: str) -> int:
    conv = backbone.conv_stem if name == "efficientnet_lite0" else backbone.patch_embed.conv1.conv
    return int(conv.in_channels)


class ImpactPredictor(nn.Module):
    """s(I) from (rgb, attention): early fusion, FiLM after every block, pooled features → 3-layer MLP.

    ``forward(rgb (B,3,S,S) normalised, attention (B,1,S,S) in [0,1]) -> (B,)``;
    :meth:`forward_with_features` also returns the penultimate feature map (B, C, h, w) for Grad-CAM.
    """

    def __init__(self, config: PredictorConfig, backbone: nn.Module, _torch: Any = None):
        super().__init__()
        self.config = config
        self.backbone = backbone
        channels = _block_channels(backbone, config.backbone, config.image_size)
        self.films = nn.ModuleList(
            nn.ModuleList(FiLM(c, config.film_hidden) for c in row) if config.mid else nn.ModuleList() for row in channels
        )
        width = int(backbone.num_features)
        self.head = nn.Sequential(
            nn.Linear(width, config.head_hidden), nn.ReLU(), nn.Dropout(config.dropout),
            nn.Linear(config.head_hidden, config.head_hidden), nn.ReLU(), nn.Dropout(config.dropout),
            nn.Linear(config.head_hidden, 1),
        )

    def _film(self, i: int, j: int, x: torch.Tensor, a: torch.Tensor, channels_last: bool) -> torch.Tensor:
        return self.films[i][j](x, a, channels_last) if self.config.mid else x

    def features(self, rgb: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
        """The penultimate feature map (B, C, h, w) (before the head's norm and pooling)."""
        bb, cfg = self.backbone, self.config
        x = torch.cat([rgb, (attention - ATTENTION_MEAN) / ATTENTION_STD], dim=1) if cfg.early else rgb
        if cfg.backbone == "efficientnet_lite0":
            x = bb.bn1(bb.conv_stem(x))
            for i, stage in enumerate(bb.blocks):
                for j, block in enumerate(stage):
                    x = self._film(i, j, block(x), attention, False)
            return bb.bn2(bb.conv_head(x))
        x = bb.patch_embed(x)
        for i, stage in enumerate(bb.stages):
            if i == 0:
                for j, block in enumerate(stage.blocks):
                    x = self._film(i, j, block(x), attention, False)
            else:
                x = stage.downsample(x).permute(0, 2, 3, 1)  # NCHW → NHWC
                for j, block in enumerate(stage.blocks):
                    x = self._film(i, j, block(x), attention, True)
                x = x.permute(0, 3, 1, 2)  # NHWC → NCHW
        return x

    def pooled(self, features: torch.Tensor) -> torch.Tensor:
        """(B, C, h, w) → (B, C): the backbone's own pre-logits (norm + average pool for TinyViT)."""
        if self.config.backbone == "efficientnet_lite0":
            return features.mean(dim=(2, 3))
        x = features.mean(dim=(2, 3), keepdim=True)
        return self.backbone.head.norm(x).flatten(1)

    def forward_with_features(self, rgb: torch.Tensor, attention: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        feats = self.features(rgb, attention)
        return self.head(self.pooled(feats)).squeeze(-1), feats

    def forward(self, rgb: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
        return self.forward_with_features(rgb, attention)[0]


def normalise_rgb(rgb_u8: torch.Tensor) -> torch.Tensor:
    """(B, S, S, 3) uint8 → (B, 3, S, S) float32, ImageNet mean/std (S1.4.1)."""
    from memoire_cli.train.model import IMAGENET_MEAN, IMAGENET_STD

    x = rgb_u8.permute(0, 3, 1, 2).float() / 255.0
    mean = torch.tensor(IMAGENET_MEAN, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=x.device).view(1, 3, 1, 1)
    return (x - mean) / std
