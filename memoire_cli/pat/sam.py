"""SAM with a box prompt: the full-body person mask of PAT (S1.3.2(3), Table 4, Table 5).

The spec uses MobileSAM (official checkpoint, Table 4). MobileSAM is not in transformers; this module
wraps transformers' :class:`~transformers.SamModel` + :class:`~transformers.SamProcessor` (the original
SAM architecture, ``facebook/sam-vit-*`` checkpoints). MobileSAM keeps SAM's prompt encoder and mask
decoder and only swaps the image encoder for a TinyViT, so the box-prompt interface and the outputs
(three multimask proposals of low-res logits) are the same. Weights are never downloaded: a local
checkpoint folder is given explicitly or with ``$MEMOIRE_SAM`` (:func:`locate_sam`); without one PAT
uses the spec's Gaussian fallback (S1.3.2(3)).

Per face box, :meth:`SamSegmenter.segment` returns the soft mask σ(logits) of the proposal whose
centroid is closest to the face-box centre (S1.3.2(3), Table 5 "Multiple SAM proposals"): the
low-res logits are upsampled to the image size by ``post_process_masks(binarize=False)``, passed
through a sigmoid and clamped to [0, 1] (Table 5 "Numerical stability").

Heavy imports (torch, transformers) happen inside functions only.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, cast

import numpy as np

SAM_ENV = "MEMOIRE_SAM"
#: A proposal's centroid is taken over its foreground, σ(logit) > 0.5 (logit > 0).
FOREGROUND = 0.5


def locate_sam(explicit: str | os.PathLike | None = None) -> str | None:
    """The local SAM checkpoint folder: ``explicit``, else ``$MEMOIRE_SAM``, else None (never the network)."""
    from memoire_cli.local_models import locate_local_model

    return locate_local_model(explicit, SAM_ENV, "--sam", (), "SAM")


def box_centre(box: tuple[float, float, float, float] | np.ndarray) -> tuple[float, float]:
    """(cx, cy) of a box (x0, y0, x1, y1), in the pixel-corner convention of the detector."""
    x0, y0, x1, y1 = (float(v) for v in box[:4])
    return (x0 + x1) / 2.0, (y0 + y1) / 2.0


def mask_centroid(prob: np.ndarray) -> tuple[float, float] | None:
    """(cx, cy) of a (H, W) soft mask's foreground (prob > 0.5), pixel centres at +0.5; None if empty."""
    ys, xs = np.nonzero(np.asarray(prob) > FOREGROUND)
    if len(xs) == 0:
        return None
    return float(xs.mean(dtype=np.float64) + 0.5), float(ys.mean(dtype=np.float64) + 0.5)


def select_proposal(probs: np.ndarray, box: tuple[float, float, float, float] | np.ndarray) -> int | None:
    """Index of the proposal (K, H, W) whose centroid is closest to the box centre (Table 5).

    Proposals with no foreground are skipped; equal distances go to the lowest index (SAM's order),
    so the choice is deterministic. None when every proposal is empty.
    """
    cx, cy = box_centre(box)
    best, best_d = None, np.inf
    for k in range(len(probs)):
        c = mask_centroid(probs[k])
        if c is None:
            continue
        d = (c[0] - cx) ** 2 + (c[1] - cy) ** 2
        if d < best_d:
            best, best_d = k, d
    return best


class SamSegmenter:
    """transformers ``SamModel`` + ``SamProcessor`` loaded from a local folder, CPU, eval mode.

    Args:
        path: a folder written by ``save_pretrained`` (model + processor), e.g. a local copy of
            ``facebook/sam-vit-base`` (the spec's MobileSAM is not available in transformers).
        device: torch device, "cpu" by default.
    """

    def __init__(self, path: str | os.PathLike, device: str = "cpu") -> None:
        from transformers import SamModel, SamProcessor

        self.path = str(path)
        if not Path(self.path).is_dir():
            raise FileNotFoundError(f"SAM checkpoint folder {self.path} does not exist")
        self.device = device
        # transformers' stubs type .to() as the model's own wrapped method; it takes a device at run time
        self.model = cast(Any, SamModel.from_pretrained(self.path, local_files_only=True)).to(device).eval()
        self.processor = SamProcessor.from_pretrained(self.path, local_files_only=True)

    def describe(self) -> str:
        """One line for stderr."""
        return f"people masks: transformers SamModel (box prompt) from {self.path} (spec: MobileSAM)"

    def proposals(self, image_rgb: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
        """The multimask proposals for one box: (K, H, W) float32 σ(logits) in [0, 1] (K may be 0)."""
        import torch

        img = np.asarray(image_rgb)
        if img.dtype != np.uint8:
            img = np.clip(np.rint(img), 0, 255).astype(np.uint8)
        boxes = [[[float(v) for v in box[:4]]]]
        inputs = self.processor(images=img, input_boxes=boxes, return_tensors="pt")
        with torch.no_grad():
            out = self.model(
                pixel_values=inputs["pixel_values"].to(self.device),
                input_boxes=inputs["input_boxes"].to(self.device),
                multimask_output=True,
            )
        pred = out.pred_masks  # (1, 1, K, h_lr, w_lr) logits
        if pred is None or pred.numel() == 0:
            return np.zeros((0,) + img.shape[:2], np.float32)
        logits = self.processor.image_processor.post_process_masks(
            pred.cpu(), inputs["original_sizes"].cpu(), inputs["reshaped_input_sizes"].cpu(), binarize=False
        )[0][0]  # (K, H, W) logits at the image size
        probs = torch.sigmoid(logits.float()).numpy().astype(np.float32)
        probs = np.nan_to_num(probs, nan=0.0)
        return np.clip(probs, 0.0, 1.0)

    def segment(self, image_rgb: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray | None:
        """(H, W) float32 soft mask in [0, 1] for the face box, or None when SAM returns no mask (S1.3.2(3))."""
        probs = self.proposals(image_rgb, box)
        k = select_proposal(probs, box) if len(probs) else None
        if k is None:
            return None
        return probs[k].astype(np.float32)
