"""The CLIP image encoder (the embedding the spec's Redundancy@k uses, S2.2) through transformers.

Loaded with ``CLIPVisionModelWithProjection.from_pretrained`` from a local folder (a full CLIP
checkpoint such as openai/clip-vit-base-patch32 works: its vision tower and projection are read),
found by ``--clip``, ``$MEMOIRE_CLIP`` or the Hugging Face cache; nothing is downloaded.
Preprocessing is CLIP's: shortest side to the model's image size (bicubic), centre crop, OpenAI CLIP
mean/std. The embedding is ``image_embeds`` (the projected pooled output), L2-normalised: (N, projection_dim).
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np

from memoire_cli.embed import check_images, l2_normalise

ENV_VAR = "MEMOIRE_CLIP"
REPOS = ("openai/clip-vit-base-patch32", "openai/clip-vit-base-patch16", "openai/clip-vit-large-patch14")
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def locate_clip(explicit: str | None = None) -> str | None:
    """A local CLIP folder (flag, ``$MEMOIRE_CLIP``, HF cache), else None."""
    from memoire_cli.local_models import locate_local_model

    return locate_local_model(explicit, ENV_VAR, "--clip", REPOS, what="CLIP")


class ClipEmbedder:
    def __init__(self, folder: str, device: str = "cpu"):
        from transformers import AutoConfig, CLIPVisionModelWithProjection
        from transformers.utils import logging as hf_logging

        from memoire_cli.errors import MemoireError

        verbosity = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()  # a full CLIP checkpoint's text tower is "unexpected" here, by design
        try:
            config = AutoConfig.from_pretrained(folder)
            if config.model_type == "clip":  # the vision tower of a full CLIP: its projection size is top-level
                vision = config.vision_config
                vision.projection_dim = config.projection_dim
                config = vision
            # transformers' stubs type .to() as the model's own wrapped method; it takes a device at run time
            self.model = cast(Any, CLIPVisionModelWithProjection.from_pretrained(folder, config=config)).to(device).eval()
        except (OSError, ValueError) as exc:
            raise MemoireError(f"cannot load CLIP from {folder}: {str(exc).splitlines()[0]}") from None
        finally:
            hf_logging.set_verbosity(verbosity)
        self.device = device
        self.size = int(self.model.config.image_size)
        self.name = f"clip:{str(folder).rstrip('/').rsplit('/', 1)[-1]}"

    def embed(self, images: np.ndarray, batch_size: int = 32) -> np.ndarray:
        import torch

        images = check_images(images)
        mean = torch.tensor(CLIP_MEAN).view(1, 3, 1, 1)
        std = torch.tensor(CLIP_STD).view(1, 3, 1, 1)
        out = []
        with torch.inference_mode():
            for start in range(0, len(images), batch_size):
                batch = np.stack([clip_square(im, self.size) for im in images[start:start + batch_size]])
                x = torch.from_numpy(batch).permute(0, 3, 1, 2).float().div(255.0)
                x = ((x - mean) / std).to(self.device)
                out.append(self.model(pixel_values=x).image_embeds.float().cpu().numpy())
        if not out:
            return np.zeros((0, int(self.model.config.projection_dim)), np.float32)
        return l2_normalise(np.concatenate(out))


def clip_square(image: np.ndarray, size: int) -> np.ndarray:
    """CLIP's resize: shortest side to ``size`` with bicubic interpolation, then the centre crop."""
    import cv2

    h, w = image.shape[:2]
    scale = size / min(h, w)
    nh, nw = max(size, round(h * scale)), max(size, round(w * scale))
    resized = cv2.resize(np.ascontiguousarray(image), (nw, nh), interpolation=cv2.INTER_CUBIC)
    y0, x0 = (nh - size) // 2, (nw - size) // 2
    return resized[y0:y0 + size, x0:x0 + size]
