"""A self-contained HTML page of the picks: ``index.html`` with every thumbnail embedded as a
``data:`` URI, inline CSS, no script and no external asset (its Content-Security-Policy allows
nothing else), so it opens anywhere, offline, and can be mailed as one file.

Each card: the thumbnail (from the workspace's upright pixels, ``users/{user_id}/images``, so it
exists for video frames too and needs no decoder for the original format), the album file name and
the original's path, the pick's rank, stars and impact, and the reasons `memoire rank` gave (the
tags that carried the attention, from ``rankings.reasons``).
"""

from __future__ import annotations

import base64
import html
import io
from typing import Any

import numpy as np

from memoire_cli.export.picks import Pick, Selection

THUMB = 320  # longest thumbnail side, pixels
QUALITY = 82  # JPEG quality of the thumbnails

_CSS = """
body{font-family:system-ui,sans-serif;margin:1.5rem;background:#fafafa;color:#222}
h1{font-size:1.3rem;margin:0 0 .3rem}p.meta{color:#666;margin:0 0 1rem}
ol{list-style:none;padding:0;display:grid;grid-template-columns:repeat(auto-fill,minmax(240px,1fr));gap:1rem}
li{background:#fff;border:1px solid #ddd;border-radius:6px;padding:.5rem}
img{width:100%;height:200px;object-fit:contain;background:#eee;border-radius:4px}
.name{font-weight:600;word-break:break-all}.orig{color:#777;font-size:.8rem;word-break:break-all}
.stars{color:#d49b00;letter-spacing:.1em}ul.why{margin:.3rem 0 0;padding-left:1.1rem;font-size:.85rem}
"""


def thumbnails(ws: Any, user_id: str, picks: list[Pick]) -> dict[str, str]:
    """image_id → ``data:image/jpeg;base64,…`` of each pick's image."""
    from PIL import Image

    rows = {r[0]: r[1:] for r in ws.query("SELECT image_id, idx, width, height FROM images WHERE user_id = ?", [user_id])}
    pixels = ws.read_array("images", user_id)
    out: dict[str, str] = {}
    for p in picks:
        if p.image_id not in rows:
            continue
        idx, width, height = rows[p.image_id]
        tile = np.asarray(pixels[int(idx)])[: int(height), : int(width)]  # (h, w, 3) uint8, upright
        im = Image.fromarray(np.ascontiguousarray(tile))
        im.thumbnail((THUMB, THUMB))
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=QUALITY)
        out[p.image_id] = "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
    return out


def render(selection: Selection, names: list[str], thumbs: dict[str, str], title: str) -> str:
    """The page (a str of HTML5); ``names``: the album file name of each pick, in order."""
    from memoire_cli.rank.display import describe_reason

    e = html.escape
    cards = []
    for p, name in zip(selection.picks, names):
        src = thumbs.get(p.image_id)
        img = f'<img src="{src}" alt="{e(name)}">' if src else '<div class="noimg">no thumbnail</div>'
        reasons = "".join(f"<li>{e(describe_reason(r))}</li>" for r in p.reasons[:4]) or "<li>no tagged region</li>"
        cards.append(
            f'<li id="pick-{p.order + 1}">{img}<div class="name">#{p.order + 1} {e(name)}</div>'
            f'<div class="orig">{e(p.rel)}{" (video)" if p.media == "video" else ""}</div>'
            f'<div><span class="stars" title="{p.stars} stars">{"★" * p.stars}{"☆" * (5 - p.stars)}</span> '
            f'impact {p.impact:.0f}</div><ul class="why">{reasons}</ul></li>')
    meta = (f"{len(selection.picks)} picks of user {e(selection.user_id)}, session {e(selection.session)} "
            f"({selection.n_images} images ranked), from {e(str(selection.folder))}")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{e(title)}</title><style>{_CSS}</style></head>\n<body><h1>{e(title)}</h1>"
            f"<p class=\"meta\">{meta}</p>\n<ol>\n" + "\n".join(cards) + "\n</ol></body></html>\n")
