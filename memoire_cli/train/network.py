"""torch modules of the impact predictor (S1.4.1); imported only by functions that need torch.

See :mod:`memoire_cli.train.model` for the design. Layouts: timm's MBConv blocks (TinyViT stage 0) and
EfficientNet blocks are NCHW, TinyViT blocks NHWC; :class:`FiLM` takes a ``channels_last`` flag.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from memoire_cli.train.config import (
    ATTENTION_MEAN,
    ATTENTION_STD,
    IMAGENET_MEAN,
    IMAGENET_STD,
    PredictorConfig,
)


class FiLM(nn.Module):
    """ĥ = γ(A, π) ⊙ h + β(A, π) per patch (S1.4.1; Table 6 "FiLM conditioning with persona vectors").

    A(I) is average-pooled to the block's grid; γ, β come from a small CNN on it (3×3 conv 1→k, ReLU,
    1×1 conv k→2C, per patch) plus, when ``persona_dim`` > 0, a linear map of the persona vector π(I)
    (:mod:`memoire_cli.train.persona_vector`) to 2C, the same for every patch. Both last layers start at
    zero and γ = 1 + Δγ, so the untrained module is the identity.
    Shapes: h (B, C, H, W) or (B, H, W, C) with ``channels_last``; attention (B, 1, S, S); persona (B, P).
    """

    def __init__(self, channels: int, hidden: int, persona_dim: int = 0):
        super().__init__()
        self.trunk = nn.Sequential(nn.Conv2d(1, hidden, 3, padding=1), nn.ReLU())
        self.out = nn.Conv2d(hidden, 2 * channels, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)
        self.persona = nn.Linear(persona_dim, 2 * channels) if persona_dim > 0 else None
        if self.persona is not None:
            nn.init.zeros_(self.persona.weight)
            nn.init.zeros_(self.persona.bias)

    def forward(self, h: torch.Tensor, attention: torch.Tensor, channels_last: bool,
                persona: torch.Tensor | None = None) -> torch.Tensor:
        grid = h.shape[1:3] if channels_last else h.shape[2:4]
        a = F.adaptive_avg_pool2d(attention, (int(grid[0]), int(grid[1])))
        film = self.out(self.trunk(a))  # (B, 2C, H, W)
        if self.persona is not None and persona is not None:
            film = film + self.persona(persona)[:, :, None, None]
        gamma, beta = film.chunk(2, dim=1)  # (B, C, H, W) each
        if channels_last:
            gamma, beta = gamma.permute(0, 2, 3, 1), beta.permute(0, 2, 3, 1)
        return (1.0 + gamma) * h + beta


def _blocks(backbone: nn.Module, name: str) -> list[tuple[nn.Module, list[nn.Module], bool]]:
    """(stage, its blocks, channels_last) per stage, in order."""
    if name == "efficientnet_lite0":
        return [(stage, list(stage), False) for stage in backbone.blocks]
    return [(stage, list(stage.blocks), i > 0) for i, stage in enumerate(backbone.stages)]


def trunk_map(backbone: nn.Module, name: str, x: torch.Tensor) -> torch.Tensor:
    """The backbone's last feature map (B, C, h, w) with no FiLM (a frozen backbone's whole forward)."""
    if name == "mobilenet_v2":
        return backbone.features(x)
    return backbone.forward_features(x)


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
    if name == "mobilenet_v2":
        return int(backbone.features[0][0].in_channels)
    conv = backbone.conv_stem if name == "efficientnet_lite0" else backbone.patch_embed.conv1.conv
    return int(conv.in_channels)


class ImpactPredictor(nn.Module):
    """s(I) from (rgb, attention, persona): the two fusions of A(I), FiLM conditioned on π(I), a 3-layer MLP.

    Fine-tuned backbone (``config.frozen`` False): early fusion (A(I) a 4th input channel), FiLM after
    every block, the pooled last map → MLP. Frozen backbone (a pretrained network used as a feature
    extractor): the backbone sees RGB alone and its last map F (B, C, h, w) does not depend on A(I), so
    it can be computed once per image; A(I) enters after it — *early* as an A(I)-weighted pooling of F
    (Σ A·F / Σ A, the head reads [mean F, A-pooled F]) and *mid* as one FiLM on F (from A(I) and π(I)).

    ``forward(rgb (B,3,S,S) normalised, attention (B,1,S,S) in [0,1], persona (B,P) | None) -> (B,)``;
    :meth:`forward_with_features` also returns the map the head pools (B, C, h, w), for Grad-CAM.
    ``persona`` is ignored when ``config.persona_dim`` is 0 (the spec-literal FiLM on A(I) alone) and
    by the ``none`` fusion (RGB only); None stands for zeros.
    """

    def __init__(self, config: PredictorConfig, backbone: nn.Module, _torch: Any = None):
        super().__init__()
        self.config = config
        self.backbone = backbone
        width = int(backbone.num_features)
        pdim = config.persona_dim
        if config.frozen:
            backbone.requires_grad_(False)
            backbone.eval()
            rows = [[width]]
        else:
            rows = _block_channels(backbone, config.backbone, config.image_size)
        self.films = nn.ModuleList(
            nn.ModuleList(FiLM(c, config.film_hidden, pdim) for c in row) if config.mid else nn.ModuleList() for row in rows
        )
        head_in = width * (2 if config.frozen and config.early else 1)
        self.head = nn.Sequential(
            nn.Linear(head_in, config.head_hidden), nn.ReLU(), nn.Dropout(config.dropout),
            nn.Linear(config.head_hidden, config.head_hidden), nn.ReLU(), nn.Dropout(config.dropout),
            nn.Linear(config.head_hidden, 1),
        )

    def train(self, mode: bool = True) -> ImpactPredictor:
        """A frozen backbone stays in eval mode (its batch-norm statistics are ImageNet's)."""
        super().train(mode)
        if self.config.frozen:
            self.backbone.eval()
        return self

    def _film(self, i: int, j: int, x: torch.Tensor, a: torch.Tensor, channels_last: bool,
              persona: torch.Tensor | None) -> torch.Tensor:
        return self.films[i][j](x, a, channels_last, persona) if self.config.mid else x

    def trunk(self, rgb: torch.Tensor) -> torch.Tensor:
        """Frozen backbone only: its last map of RGB (B, C, h, w), no gradient — cacheable per image.

        The convolutions run channels-last (NHWC): oneDNN's depthwise kernels are about 1.8× faster so
        on a CPU (EfficientNet-Lite0, 2 threads, `benchmarks/bench_train.py trunk`); the map comes back
        in the usual (B, C, h, w) layout."""
        with torch.no_grad():
            self.backbone.to(memory_format=torch.channels_last)  # a no-op once the weights are NHWC
            nhwc = rgb.contiguous(memory_format=torch.channels_last)
            return trunk_map(self.backbone, self.config.backbone, nhwc).contiguous()

    def from_trunk(self, trunk: torch.Tensor, attention: torch.Tensor, persona: torch.Tensor | None) -> torch.Tensor:
        """Frozen backbone only: the map the head pools, FiLM applied to :meth:`trunk`'s output."""
        return self._film(0, 0, trunk, attention, False, persona)

    def features(self, rgb: torch.Tensor, attention: torch.Tensor, persona: torch.Tensor | None = None) -> torch.Tensor:
        """The map the head pools (B, C, h, w): the last feature map after FiLM (before norm and pooling)."""
        bb, cfg = self.backbone, self.config
        if cfg.frozen:
            return self.from_trunk(self.trunk(rgb), attention, persona)
        x = torch.cat([rgb, (attention - ATTENTION_MEAN) / ATTENTION_STD], dim=1) if cfg.early else rgb
        if cfg.backbone == "efficientnet_lite0":
            x = bb.bn1(bb.conv_stem(x))
            for i, stage in enumerate(bb.blocks):
                for j, block in enumerate(stage):
                    x = self._film(i, j, block(x), attention, False, persona)
            return bb.bn2(bb.conv_head(x))
        x = bb.patch_embed(x)
        for i, stage in enumerate(bb.stages):
            if i == 0:
                for j, block in enumerate(stage.blocks):
                    x = self._film(i, j, block(x), attention, False, persona)
            else:
                x = stage.downsample(x).permute(0, 2, 3, 1)  # NCHW → NHWC
                for j, block in enumerate(stage.blocks):
                    x = self._film(i, j, block(x), attention, True, persona)
                x = x.permute(0, 3, 1, 2)  # NHWC → NCHW
        return x

    def pooled(self, features: torch.Tensor, attention: torch.Tensor | None = None) -> torch.Tensor:
        """(B, C, h, w) → the head's input: the backbone's own pre-logits (norm + average pool for TinyViT,
        average pool otherwise); a frozen backbone with early fusion adds the A(I)-weighted pool (B, 2C)."""
        if self.config.backbone == "tiny_vit_5m_224" and not self.config.frozen:
            x = features.mean(dim=(2, 3), keepdim=True)
            return self.backbone.head.norm(x).flatten(1)
        mean = features.mean(dim=(2, 3))
        if not (self.config.frozen and self.config.early):
            return mean
        if attention is None:
            raise ValueError("a frozen backbone with early fusion pools with A(I): pass the attention map")
        a = F.adaptive_avg_pool2d(attention, (int(features.shape[-2]), int(features.shape[-1])))  # (B, 1, h, w)
        weighted = (features * a).sum(dim=(2, 3)) / a.sum(dim=(2, 3)).clamp_min(1e-6)
        return torch.cat([mean, weighted], dim=1)

    def readout(self, features: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
        """s(I) (B,) from the map :meth:`features` returns."""
        return self.head(self.pooled(features, attention)).squeeze(-1)

    def forward_with_features(self, rgb: torch.Tensor, attention: torch.Tensor,
                              persona: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        feats = self.features(rgb, attention, persona)
        return self.readout(feats, attention), feats

    def forward(self, rgb: torch.Tensor, attention: torch.Tensor, persona: torch.Tensor | None = None) -> torch.Tensor:
        return self.forward_with_features(rgb, attention, persona)[0]


def normalise_rgb(rgb_u8: torch.Tensor) -> torch.Tensor:
    """(B, S, S, 3) uint8 → (B, 3, S, S) float32, ImageNet mean/std (S1.4.1)."""
    x = rgb_u8.permute(0, 3, 1, 2).float() / 255.0
    mean = torch.tensor(IMAGENET_MEAN, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=x.device).view(1, 3, 1, 1)
    return (x - mean) / std
