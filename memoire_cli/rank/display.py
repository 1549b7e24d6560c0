"""What `memoire rank` shows: the picks with their reasons (a Rich table on stderr), the ranking as
JSON (``--json``), and a contact sheet of the top k with their attention overlays (``--contact-sheet``).

All read the committed ``rankings``, ``sessions`` and ``session_alpha`` rows, so a cached run shows
the same as the run that computed them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from memoire_cli.errors import MemoireError

TILE = 160  # contact-sheet tile side, pixels
CAPTION = 18  # caption strip under each tile, pixels


def read_rankings(ws: Any, users: list[str]) -> list[dict[str, Any]]:
    """Per user (in ``users`` order): its session row, full order and picks with parsed reasons."""
    out = []
    for user_id in users:
        cur = ws.query("SELECT session, n_images, k, n_selected, lam, rho, rho_source, c_s, alpha_mode, tag_types, model, "
                       "runtime, embedder FROM sessions WHERE user_id = ?", [user_id])
        if not cur:
            continue
        keys = ("session", "n_images", "k", "n_selected", "lam", "rho", "rho_source", "c_s", "alpha_mode", "tag_types",
                "model", "runtime", "embedder")
        info = dict(zip(keys, cur[0]))
        rows = ws.query("SELECT image_id, position, score, impact, pick, mmr, reasons FROM rankings WHERE user_id = ? "
                        "ORDER BY position", [user_id])
        order = [{"image_id": i, "score": s, "impact": m} for i, _, s, m, _, _, _ in rows]
        picks = sorted(({"pick": p, "image_id": i, "score": s, "impact": m, "mmr": x, "reasons": json.loads(r or "[]")}
                        for i, _, s, m, p, x, r in rows if p is not None), key=lambda d: d["pick"])
        out.append({"user_id": user_id, **info, "selected": picks, "order": order})
    return out


def describe_reason(reason: dict[str, Any]) -> str:
    who = reason["name"] + (f" ({reason['relation']})" if reason.get("relation") and reason["relation"] != "unknown" else "")
    kind = {"P": "", "L": "at ", "E": ""}.get(reason["type"], "")
    return f"{kind}{who} α*={reason['alpha_star']:.3f} {reason['share']:.0%}"


def print_table(console: Any, ranked: dict[str, Any], show: int = 3) -> None:
    """The picks of one user: position, image, impact, score and the tags that carried the attention."""
    from rich.table import Table

    title = (f"rank: {ranked['user_id']}, session {ranked['session']} ({ranked['n_images']} images), "
             f"ρ = {ranked['rho']:.3f}, λ = {ranked['lam']}, top {ranked['n_selected']}")
    table = Table(title=title, title_justify="left")
    for col, just in (("#", "right"), ("image", "left"), ("impact", "right"), ("score", "right"), ("reasons (tag α* share of A*)", "left")):
        table.add_column(col, justify=just)
    for p in ranked["selected"]:
        reasons = "; ".join(describe_reason(r) for r in p["reasons"][:show]) or "no tagged region"
        table.add_row(str(p["pick"] + 1), p["image_id"], f"{p['impact']:.1f}", f"{p['score']:.3f}", reasons)
    console.print(table)


def ranking_json(manifest: dict[str, Any], ranked: list[dict[str, Any]]) -> dict[str, Any]:
    """``--json``: the run's identity and, per user, the session, the picks with reasons and the full order."""
    keep = ("memoire", "stage", "workspace", "run_id", "skipped", "users", "computed", "cached")
    return {**{k: manifest[k] for k in keep if k in manifest}, "rankings": ranked}


def pick_overlays(ws: Any, user_id: str, image_ids: list[str], tag_types: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """(image, A*(I) uint8) of each image: the valid region, A* re-fused from the stored masks with the session's α*."""
    from memoire_cli.pat.fusion import quantise, refuse

    alpha = dict(ws.query("SELECT tag_id, alpha_star FROM session_alpha WHERE user_id = ?", [user_id]))
    rows = {r[0]: r[1:] for r in ws.query("SELECT image_id, idx, width, height FROM images WHERE user_id = ?", [user_id])}
    pixels = ws.read_array("images", user_id)
    masks = ws.read_array("pat_masks", user_id)
    out = []
    for image_id in image_ids:
        idx, width, height = rows[image_id]
        found = ws.query("SELECT mask_idx, tag_id FROM pat_masks WHERE user_id = ? AND image_id = ? AND type IN "
                         f"({', '.join('?' * len(tag_types))}) ORDER BY mask_idx", [user_id, image_id, *tag_types])
        image = np.asarray(pixels[idx])[:height, :width]
        if found:
            stack = np.stack([np.asarray(masks[m])[:height, :width] for m, _ in found])
            att = refuse(stack, [float(alpha.get(t, 0.0)) for _, t in found])
        else:
            att = np.zeros((height, width), np.float32)
        out.append((image, quantise(att)))
    return out


def heat_tile(image: np.ndarray, attention_u8: np.ndarray, side: int = TILE) -> np.ndarray:
    """(side, side, 3) uint8: the photo with A* as a JET heat map blended at 50% (as pat's overlay), squared."""
    from memoire_cli.embed.resize import square
    from memoire_cli.pat.overlay import overlay_panel

    w = attention_u8.shape[1]
    blended = overlay_panel(image, attention_u8)[:, w:2 * w]  # the middle panel: photo + heat map
    return square(blended, side)


def write_contact_sheet(ws: Any, ranked: list[dict[str, Any]], path: Path) -> None:
    """One row per user: its picks in MMR order, each with A* overlaid and "#rank impact" under it."""
    from PIL import Image, ImageDraw

    rows = [r for r in ranked if r["selected"]]
    if not rows:
        raise MemoireError("no picks to put on a contact sheet (the session matched no image)")
    cols = max(len(r["selected"]) for r in rows)
    label_w = 110
    sheet = Image.new("RGB", (label_w + cols * TILE, len(rows) * (TILE + CAPTION)), "white")
    draw = ImageDraw.Draw(sheet)
    for y, r in enumerate(rows):
        top = y * (TILE + CAPTION)
        draw.text((6, top + TILE // 2), f"{r['user_id']}\n{r['session'][:16]}", fill="black")
        overlays = pick_overlays(ws, r["user_id"], [p["image_id"] for p in r["selected"]], r["tag_types"])
        for x, (p, (image, att)) in enumerate(zip(r["selected"], overlays)):
            left = label_w + x * TILE
            sheet.paste(Image.fromarray(heat_tile(image, att)), (left, top))
            draw.text((left + 4, top + TILE + 3), f"#{p['pick'] + 1}  impact {p['impact']:.0f}", fill="black")
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp{path.suffix}")
        sheet.save(tmp)
        tmp.replace(path)
    except (OSError, ValueError) as exc:
        raise MemoireError(f"cannot write the contact sheet {path}: {exc}") from None
