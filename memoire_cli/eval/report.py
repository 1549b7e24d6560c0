"""The evaluation report: ``W/reports/<run_id>/`` with ``index.html`` (self-contained: tables,
matplotlib plots and contact sheets as base64 PNG), ``summary.md`` and ``summary.json`` (for CI logs).

Written to a temporary folder beside it and renamed into place, so an interrupted run leaves no
half-written report.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

SECTION_TITLES = {
    "comparison": "Memoire vs offline baselines",
    "A": "Table 9 — module and fusion ablations (A1–A5)",
    "B1": "Table 10 — diversity sweep (λ)",
    "B2": "Table 11 — session blend ρ by archetype (SRCC)",
    "B3": "Table 12 — persona graph size vs latency",
    "B4": "Table 13 — impact loss",
    "B5": "Table 14 — PAT constants",
    "C1": "Table 15 — tag noise",
    "C2": "Table 16 — face-ID errors",
    "C3": "Table 17 — event proxies",
}
COLUMNS = (("srcc", "SRCC ↑"), ("aps", "APS@k ↑"), ("redundancy", "Redundancy@k ↓"), ("coverage", "Coverage@k ↑"),
           ("coverage_events", "Coverage@k (events) ↑"), ("latency_ms", "rank ms (median/user)"))
#: Columns only some sections have: Table 13's saliency agreement (S2.4 B4, :mod:`memoire_cli.eval.saliency`).
SECTION_COLUMNS = {"B4": (("saliency_r", "Saliency↔PAT r ↑"),)}


def fmt(x: Any, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    return f"{x:.{digits}f}" if isinstance(x, float) else str(x)


def row_dict(row: Any) -> dict[str, Any]:
    """A row as stored and shown; a flag (:mod:`memoire_cli.eval.leaks`) leads its note."""
    flag = getattr(row, "flag", "")
    return {"section": row.section, "variant": row.variant, "setting": row.setting, "status": row.status,
            "note": "; ".join(x for x in (flag, row.note) if x), "flag": flag, "n_users": row.n_users,
            **{k: row.summary.get(k) for k in ("srcc", "srcc_lo", "srcc_hi", *[c for c, _ in COLUMNS[1:]])},
            **{c: row.summary.get(c) for c, _ in SECTION_COLUMNS.get(row.section, ())}}


def srcc_cell(r: dict[str, Any]) -> str:
    if r.get("srcc") is None or not math.isfinite(r["srcc"]):
        return "–"
    return f"{r['srcc']:.3f} [{fmt(r['srcc_lo'])}, {fmt(r['srcc_hi'])}]"


def table_rows(summary: dict[str, Any], section: str) -> tuple[list[str], list[list[str]]]:
    """Header and cells of one section's table (text, shared by the Markdown and the HTML)."""
    rows = [r for r in summary["rows"] if r["section"] == section]
    if section == "B2":
        rhos = list(dict.fromkeys(r["setting"] for r in rows))
        arches = list(dict.fromkeys(r["variant"] for r in rows))
        head = ["Archetype \\ ρ", *rhos, "users"]
        body = []
        for a in arches:
            cells = {r["setting"]: r for r in rows if r["variant"] == a}
            n = max((c["n_users"] for c in cells.values()), default=0)
            body.append([a, *[srcc_cell(cells[x]) if cells[x]["status"] == "ok" else cells[x]["status"] for x in rhos], str(n)])
        return head, body
    extra = SECTION_COLUMNS.get(section, ())
    head = ["Variant", "Setting", "SRCC [95% CI] ↑", *[name for _, name in COLUMNS[1:]], *[name for _, name in extra], "users",
            "status / note"]
    body = []
    for r in rows:
        ok = r["status"] == "ok"
        body.append([r["variant"], r["setting"], srcc_cell(r) if ok else "–",
                     *[fmt(r.get(c), 1 if c in ("aps", "latency_ms") else 3) if ok else "–" for c, _ in (*COLUMNS[1:], *extra)],
                     str(r["n_users"]), r["status"] + (f": {r['note']}" if r["note"] else "")])
    return head, body


def runtime_table(summary: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    head = ["Factor", "Setting", "PAT Δ (ms, A*(I) re-fusion)", "PAT p95 (ms)", "ImpactPred (ms, batch 1)", "ImpactPred p95 (ms)"]
    body = [[e["factor"], e["setting"], fmt(e["pat_delta_ms"], 2), fmt(e["pat_p95_ms"], 2), fmt(e["predictor_ms"], 2),
             fmt(e["predictor_p95_ms"], 2)] for e in summary["runtime"]]
    return head, body


def models_text(summary: dict[str, Any]) -> str:
    return ", ".join(f"{n} ({m['fusion']}, {m['runtime']})" for n, m in summary["models"].items())


def honesty_text(summary: dict[str, Any]) -> list[str]:
    """Sentences on what makes this run's numbers optimistic: trained-on users, inputs derived from the truth."""
    out = []
    if summary.get("trained_on"):
        out.append(f"Trained-on users: optimistic — {len(summary['trained_on'])} evaluated user(s) are in the train/val "
                   f"split ({', '.join(summary['trained_on'][:5])}{' …' if len(summary['trained_on']) > 5 else ''}).")
    if summary.get("leaks"):
        out.append("Inputs derived from the ground truth: " + "; ".join(summary["leaks"]) + ". Flagged rows: "
                   + ", ".join(summary.get("flags") or {}) + " (Memoire's flag holds for every Memoire row: they all read "
                   "the persona); flagged baselines are not counted in the goals.")
    return out


def markdown(summary: dict[str, Any]) -> str:
    lines = [f"# memoire eval — run {summary['run_id']}", "",
             (f"Users: {summary['users_note']}. Ground truth: {summary['ground_truth']}. k = {summary['k']}. "
              f"Suite: {summary['suite']}. Embedder (Redundancy@k): {summary['embedder']}. "
              f"Models: {models_text(summary)}."), ""]
    lines += [f"**{t}**\n" for t in honesty_text(summary)]
    sections = [s for s in SECTION_TITLES if any(r["section"] == s for r in summary["rows"])]
    for s in sections:
        head, body = table_rows(summary, s)
        lines += [f"## {SECTION_TITLES[s]}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in body]
        lines.append("")
    if summary["runtime"]:
        head, body = runtime_table(summary)
        lines += ["## Table 18 — runtime scaling (E)", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(row) + " |" for row in body]
        lines.append("")
    lines += ["## Goals", ""] + [f"- {g}" for g in summary["goals"]] + [""]
    return "\n".join(lines)


def _png(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def plots(summary: dict[str, Any]) -> list[tuple[str, str]]:
    """(title, base64 PNG) of the comparison bars, the λ sweep and the noise curve."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = []
    comp = [r for r in summary["rows"] if r["section"] == "comparison" and r["status"] == "ok"]
    if comp:
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.2))
        names = [r["variant"] for r in comp]
        colours = ["#c0392b" if n == "Memoire" else "#7f8c8d" for n in names]
        srcc = [r["srcc"] if r["srcc"] is not None else np.nan for r in comp]
        err = np.array([[max(0.0, s - (r["srcc_lo"] or s)), max(0.0, (r["srcc_hi"] or s) - s)] for s, r in zip(srcc, comp)]).T
        axes[0].bar(names, srcc, color=colours, yerr=err, capsize=3)
        axes[0].set_title("SRCC (mean, bootstrap 95% CI)")
        axes[1].bar(names, [r["aps"] if r["aps"] is not None else np.nan for r in comp], color=colours)
        axes[1].set_title(f"APS@{summary['k']}")
        for ax in axes:
            ax.tick_params(axis="x", rotation=40)
        out.append(("Memoire vs baselines", _png(fig)))
    for section, xlabel in (("B1", "λ"), ("C1", "tag noise")):
        rows = [r for r in summary["rows"] if r["section"] == section and r["status"] == "ok"]
        if not rows:
            continue
        fig, axes = plt.subplots(1, 4, figsize=(12, 2.6))
        for ax, (key, name) in zip(axes, COLUMNS[:4]):
            ax.plot([r["setting"] for r in rows], [r.get(key) if r.get(key) is not None else np.nan for r in rows], "o-")
            ax.set_title(name)
            ax.set_xlabel(xlabel)
        fig.tight_layout()
        out.append((SECTION_TITLES[section], _png(fig)))
    return out


def contact_sheet(tiles: list[tuple[np.ndarray, list[str]]], title: str, cell: int = 96, cols: int = 10) -> str:
    """Square tiles (``cell`` px, :mod:`memoire_cli.tiles`) on a grid with caption lines under each → base64 PNG."""
    from PIL import Image, ImageDraw

    from memoire_cli.tiles import draw_caption, font

    n = max(1, len(tiles))
    cols = min(cols, n)
    rows = (n + cols - 1) // cols
    line_h, title_h = 12, 16
    caption_h = line_h * max((len(c) for _, c in tiles), default=1) + 2
    sheet = Image.new("RGB", (cols * cell, title_h + rows * (cell + caption_h)), "white")
    draw = ImageDraw.Draw(sheet)
    face = font(10)
    draw_caption(draw, (2, 1), [title], cols * cell - 4, font(12), title_h)
    for k, (img, caption) in enumerate(tiles):
        r, c = divmod(k, cols)
        x, y = c * cell, title_h + r * (cell + caption_h)
        thumb = Image.fromarray(np.asarray(img, np.uint8))
        if thumb.size != (cell - 4, cell - 4):
            thumb = thumb.resize((cell - 4, cell - 4))
        sheet.paste(thumb, (x + 2, y))
        draw_caption(draw, (x + 2, y + cell - 3), caption, cell - 4, face, line_h)
    buf = io.BytesIO()
    sheet.save(buf, format="PNG", optimize=True)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def html_table(head: list[str], body: list[list[str]]) -> str:
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    trs = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in body)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{trs}</tbody></table>"


CSS = ("body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px}table{border-collapse:collapse;margin:1em 0;"
       "font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px;text-align:left}th{background:#f4f4f4}"
       "img{max-width:100%}.note{color:#555}")


def write_report(folder: Path, summary: dict[str, Any], sheets: list[tuple[str, str, list[str]]]) -> None:
    """Write index.html, summary.md and summary.json into ``folder`` (atomically, as a whole).
    ``sheets``: (title, base64 PNG, one line per tile: its file, stars, PIS and local capture time)."""
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    md = markdown(summary)
    if sheets:
        md += "\n## Top-k picks\n\n" + "\n".join(f"- {title}: " + "; ".join(lines) for title, _, lines in sheets) + "\n"
    (tmp / "summary.md").write_text(md, encoding="utf-8")
    (tmp / "summary.json").write_text(json.dumps(summary, indent=1, sort_keys=True, default=_json_default) + "\n", encoding="utf-8")
    parts = [(f"<!doctype html><html><head><meta charset='utf-8'><title>memoire eval {html.escape(summary['run_id'])}</title>"
              f"<style>{CSS}</style></head><body><h1>memoire eval</h1>"),
             (f"<p class='note'>Run {html.escape(summary['run_id'])}. Users: {html.escape(summary['users_note'])}. Ground truth: "
              f"{html.escape(summary['ground_truth'])}. k = {summary['k']}; suite {html.escape(summary['suite'])}; "
              f"embedder for Redundancy@k: {html.escape(summary['embedder'])}.</p>"),
             "".join(f"<p><strong>{html.escape(t)}</strong></p>" for t in honesty_text(summary)),
             "<h2>Goals</h2><ul>" + "".join(f"<li>{html.escape(g)}</li>" for g in summary["goals"]) + "</ul>"]
    for title, png in plots(summary):
        parts.append(f"<h2>{html.escape(title)}</h2><img alt='{html.escape(title)}' src='data:image/png;base64,{png}'>")
    for s, title in SECTION_TITLES.items():
        if any(r["section"] == s for r in summary["rows"]):
            parts.append(f"<h2>{html.escape(title)}</h2>" + html_table(*table_rows(summary, s)))
    if summary["runtime"]:
        parts.append("<h2>Table 18 — runtime scaling (E)</h2>" + html_table(*runtime_table(summary)))
    if sheets:
        parts.append("<h2>Top-k contact sheets (caption: the photo's file, its true PIS as stars (an ingested gallery: "
                     "the owner's rating) and the PIS)</h2>")
        for title, png, lines in sheets:
            parts.append(f"<h3>{html.escape(title)}</h3><img alt='{html.escape(title)}' src='data:image/png;base64,{png}'>"
                         "<ol class='note'>" + "".join(f"<li>{html.escape(line)}</li>" for line in lines) + "</ol>")
    parts.append("</body></html>")
    (tmp / "index.html").write_text("\n".join(parts), encoding="utf-8")
    old = folder.with_name(folder.name + ".old")
    if folder.exists():
        os.replace(folder, old)
    os.replace(tmp, folder)
    shutil.rmtree(old, ignore_errors=True)


def _json_default(x: Any) -> Any:
    if isinstance(x, np.generic):
        return x.item()
    return str(x)
