"""What `memoire rank` shows: the picks with their reasons (a Rich table on stderr), the ranking as
JSON (``--json``), and a contact sheet of the top k with their attention overlays (``--contact-sheet``).

All read the committed ``rankings``, ``sessions`` and ``session_alpha`` rows, so a cached run shows
the same as the run that computed them. Ingested photos are named by their file path and shown with
their local capture time (:mod:`memoire_cli.image_names`); synthetic images by their id.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from memoire_cli.errors import MemoireError

if TYPE_CHECKING:
    from rich.console import JustifyMethod

TILE = 160  # contact-sheet tile side, pixels
LINE = 13  # caption line height, pixels
CAPTION = 3 * LINE + 4  # caption strip under each tile: file name, stars and impact, reasons


def named(name: Any, image_id: str) -> dict[str, Any]:
    """``image_id``, ``path`` (relative to the ingested folder; None for a synthetic image), ``taken`` (ISO
    8601 capture time in the photo's local time: with its offset when stated, ``Z`` for a bare UTC
    instant) and, for a video's frame, ``frame`` (1-based kept frame) of an :class:`ImageName` (or None)."""
    if name is None:
        return {"image_id": image_id, "path": None, "taken": None}
    out = {"image_id": image_id, "path": name.path, "taken": name.taken_iso()}
    if name.frame is not None:
        out["frame"] = name.frame + 1
    return out


def read_rankings(ws: Any, users: list[str]) -> list[dict[str, Any]]:
    """Per user (in ``users`` order): its session row, full order and picks with parsed reasons; every
    image :func:`named` (its file and local capture time)."""
    from memoire_cli.image_names import image_names

    names = image_names(ws, users)
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
        order = [{**named(names.get(i), i), "score": s, "impact": m} for i, _, s, m, _, _, _ in rows]
        picks = sorted(({"pick": p, **named(names.get(i), i), "score": s, "impact": m, "mmr": x, "reasons": json.loads(r or "[]")}
                        for i, _, s, m, p, x, r in rows if p is not None), key=lambda d: d["pick"])
        out.append({"user_id": user_id, **info, "selected": picks, "order": order})
    return out


def shown_name(entry: dict[str, Any], base: bool = False) -> str:
    """A ranked image as people know it: its path (``base``: the file name only; a video's frame with
    its number), else (synthetic) its id."""
    if not entry.get("path"):
        return entry["image_id"]
    path = entry["path"].rsplit("/", 1)[-1] if base else entry["path"]
    return path if "frame" not in entry else f"{path} [frame {entry['frame']}]"


def describe_reason(reason: dict[str, Any]) -> str:
    who = reason["name"] + (f" ({reason['relation']})" if reason.get("relation") and reason["relation"] != "unknown" else "")
    kind = {"P": "", "L": "at ", "E": ""}.get(reason["type"], "")
    return f"{kind}{who} α*={reason['alpha_star']:.3f} {reason['share']:.0%}"


def short_reasons(reasons: list[dict[str, Any]], show: int = 2) -> str:
    """The names of the tags that carried the attention (a contact-sheet caption): "Alice, at Paris"."""
    kind = {"L": "at "}
    return ", ".join(kind.get(r["type"], "") + r["name"] for r in reasons[:show]) or "no tagged region"


def print_table(console: Any, ranked: dict[str, Any], show: int = 3) -> None:
    """The picks of one user: position, photo (file path, or id), when taken (local time), impact, score
    and the tags that carried the attention."""
    from rich.markup import escape
    from rich.table import Table

    from memoire_cli.image_names import taken_text

    title = (f"rank: {ranked['user_id']}, session {ranked['session']} ({ranked['n_images']} images), "
             f"ρ = {ranked['rho']:.3f}, λ = {ranked['lam']}, top {ranked['n_selected']}")
    table = Table(title=escape(title), title_justify="left")
    columns: tuple[tuple[str, JustifyMethod], ...] = (("#", "right"), ("photo", "left"), ("taken", "left"), ("impact", "right"),
                                                      ("score", "right"), ("reasons (tag α* share of A*)", "left"))
    for col, just in columns:
        table.add_column(col, justify=just)
    for p in ranked["selected"]:
        reasons = "; ".join(describe_reason(r) for r in p["reasons"][:show]) or "no tagged region"
        table.add_row(str(p["pick"] + 1), escape(shown_name(p)), taken_text(p.get("taken")), f"{p['impact']:.1f}",
                      f"{p['score']:.3f}", escape(reasons))
    console.print(table)


def ranking_json(manifest: dict[str, Any], ranked: list[dict[str, Any]]) -> dict[str, Any]:
    """``--json``: the run's identity and, per user, the session, the picks with reasons and the full order."""
    keep = ("memoire", "stage", "workspace", "run_id", "skipped", "users", "computed", "cached")
    return {**{k: manifest[k] for k in keep if k in manifest}, "rankings": ranked}


def pick_overlays(ws: Any, user_id: str, image_ids: list[str], tag_types: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """(image, A*(I) uint8) of each image: the valid region, A* re-fused from the stored masks with the session's α*."""
    from memoire_cli.session.refusion import quantise, refuse

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


def heat_tile(image: np.ndarray, attention_u8: np.ndarray, faces: list[tuple[float, float, float, float]] | None = None,
              side: int = TILE) -> np.ndarray:
    """(side, side, 3) uint8: the photo with A* as a JET heat map blended at 50% (as pat's overlay), cropped
    around its faces, else around A*'s mass (:func:`memoire_cli.tiles.focus_crop`), never a blind centre crop."""
    from memoire_cli.tiles import focus_crop, overlay_panel, tile

    h, w = attention_u8.shape
    blended = overlay_panel(image, attention_u8)[:, w:2 * w]  # the middle panel: photo + heat map
    return tile(blended, focus_crop(w, h, faces or [], attention_u8), side)


def pick_captions(ws: Any, user_id: str, picks: list[dict[str, Any]]) -> list[list[str]]:
    """Per pick: its file name (or id), its stars (the owner's rating, else the impact out of 5) with the
    impact, and the short reasons."""
    from memoire_cli.tiles import stars

    ratings = dict(ws.query("SELECT image_id, rating FROM ratings WHERE user_id = ?", [user_id]))
    out = []
    for p in picks:
        out.append([f"#{p['pick'] + 1} {shown_name(p, base=True)}", f"{stars(ratings.get(p['image_id']), p['impact'])}  impact {p['impact']:.0f}",
                    short_reasons(p["reasons"])])
    return out


def write_contact_sheet(ws: Any, ranked: list[dict[str, Any]], path: Path) -> None:
    """One row per user: its picks in MMR order, each cropped around its faces (else its attention) with
    A* overlaid, captioned with file name, stars and reasons."""
    from PIL import Image, ImageDraw

    from memoire_cli.tiles import draw_caption, face_boxes, font

    rows = [r for r in ranked if r["selected"]]
    if not rows:
        raise MemoireError("no picks to put on a contact sheet (the session matched no image)")
    cols = max(len(r["selected"]) for r in rows)
    label_w = 110
    sheet = Image.new("RGB", (label_w + cols * TILE, len(rows) * (TILE + CAPTION)), "white")
    draw = ImageDraw.Draw(sheet)
    face = font(11)
    for y, r in enumerate(rows):
        top = y * (TILE + CAPTION)
        draw_caption(draw, (6, top + TILE // 2), [r["user_id"], r["session"]], label_w - 10, face, LINE)
        ids = [p["image_id"] for p in r["selected"]]
        overlays = pick_overlays(ws, r["user_id"], ids, r["tag_types"])
        faces = face_boxes(ws, r["user_id"], {i: (a.shape[1], a.shape[0]) for i, (_, a) in zip(ids, overlays)})
        captions = pick_captions(ws, r["user_id"], r["selected"])
        for x, (p, (image, att), caption) in enumerate(zip(r["selected"], overlays, captions)):
            left = label_w + x * TILE
            sheet.paste(Image.fromarray(heat_tile(image, att, faces[p["image_id"]])), (left, top))
            draw_caption(draw, (left + 3, top + TILE + 2), caption, TILE - 6, face, LINE)
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp{path.suffix}")
        sheet.save(tmp)
        tmp.replace(path)
    except (OSError, ValueError) as exc:
        raise MemoireError(f"cannot write the contact sheet {path}: {exc}") from None
