"""A picture of what PAT did for one image (as Fig. 6): the photo, A(I) as a heat map over it, and A(I).

The heat map is OpenCV's JET colour map of A(I), blended at 50% with the photo where A(I) > 0.
"""

from __future__ import annotations

import numpy as np


def overlay_panel(image: np.ndarray, attention_u8: np.ndarray) -> np.ndarray:
    """(H, 3W, 3) uint8: photo | photo with the heat map | A(I) in grey. Inputs (H, W, 3) and (H, W) uint8."""
    import cv2

    heat = cv2.applyColorMap(attention_u8, cv2.COLORMAP_JET)[:, :, ::-1]  # BGR → RGB, (H, W, 3)
    weight = (attention_u8.astype(np.float32) / 255.0)[:, :, None] * 0.5
    blended = (image.astype(np.float32) * (1 - weight) + heat.astype(np.float32) * weight).round().astype(np.uint8)
    grey = np.repeat(attention_u8[:, :, None], 3, axis=2)
    return np.concatenate([image, blended, grey], axis=1)


def check_image(ws, image: str) -> tuple:  # noqa: ANN001 - Workspace
    """(image_id, user_id, idx, width, height) of the image ``image`` names: an image id, or an ingested
    file's path (relative to the photo folder, or absolute inside it); a one-line error naming it if none."""
    from memoire_cli.image_names import resolve_image

    image_id = resolve_image(ws, image)
    return (image_id, *ws.query("SELECT user_id, idx, width, height FROM images WHERE image_id = ?", [image_id])[0])


def write_overlay(ws, image: str, path) -> None:  # noqa: ANN001 - Workspace, Path
    """Write the panel of one image of the workspace (an id or a file path) to ``path`` (PNG/JPEG by extension)."""
    from PIL import Image

    from memoire_cli.errors import MemoireError
    from memoire_cli.image_names import image_name

    image_id, user_id, idx, width, height = check_image(ws, image)
    if not ws.query("SELECT 1 FROM pat_images WHERE image_id = ?", [image_id]):
        raise MemoireError(f"{image_name(ws, image_id).label} has no attention map yet: run `memoire pat` for {user_id}")
    image = np.asarray(ws.read_array("images", user_id)[idx])[:height, :width]
    attention = np.asarray(ws.read_array("pat_attention", user_id)[idx])[:height, :width]
    try:
        Image.fromarray(overlay_panel(image, attention)).save(path)
    except (OSError, ValueError) as exc:
        raise MemoireError(f"cannot write {path}: {exc}") from None
