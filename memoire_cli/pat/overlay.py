"""A picture of what PAT did for one image (as Fig. 6): the photo, A(I) as a heat map over it, and A(I).

The panel is drawn by :func:`memoire_cli.tiles.overlay_panel` (shared with rank's contact sheet): the
heat map is OpenCV's JET colour map of A(I), blended at 50% with the photo where A(I) > 0.
"""

from __future__ import annotations

import numpy as np


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
    from memoire_cli.tiles import overlay_panel

    image_id, user_id, idx, width, height = check_image(ws, image)
    if not ws.query("SELECT 1 FROM pat_images WHERE image_id = ?", [image_id]):
        raise MemoireError(f"{image_name(ws, image_id).label} has no attention map yet: run `memoire pat` for {user_id}")
    pixels = np.asarray(ws.read_array("images", user_id)[idx])[:height, :width]
    attention = np.asarray(ws.read_array("pat_attention", user_id)[idx])[:height, :width]
    try:
        Image.fromarray(overlay_panel(pixels, attention)).save(path)
    except (OSError, ValueError) as exc:
        raise MemoireError(f"cannot write {path}: {exc}") from None
