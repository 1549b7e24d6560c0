"""`memoire pat --session`: session-aware attention maps by re-fusion alone (S1.2.8, S1.3.5).

For a session S of a user's images (``all``, ``event:ID``, ``dates:A..B``, ``ids:…``, ``folder:…``; see
:mod:`memoire_cli.session.selection`), the global persona α is blended with the session prior into α*
(S1.2.8 (15)–(17), or a fixed ρ) and every image of S gets

    A*(I) = post-process( Σ_t α*_t M_t )

from its stored per-tag masks M_t (``pat_masks``) with :func:`memoire_cli.session.refusion.refuse`: no detector,
segmenter or grounder runs, so a session costs a few milliseconds per image. The maps are stored at the
image's resolution, quantised like A(I) (``pat/{user_id}/session``, table ``pat_sessions``); a new session
for a user replaces the previous one, and a re-run of ``memoire pat`` drops both (they derive from its
masks). ``memoire rank`` computes the same α* and A*(I) in memory at the predictor's input size.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from memoire_cli.errors import MemoireError
from memoire_cli.stage import Selection, input_users, manifest_of, new_run, record_failure, record_run
from memoire_cli.workspace import Workspace, utcnow


def session_maps(ws: Workspace, user_id: str, session: Any, rho: float | None) -> tuple[dict[str, np.ndarray], np.ndarray, dict]:
    """One user's session: the rows of ``pat_sessions`` (columns), A*(I) as (N, S, S) uint8, and a summary."""
    from memoire_cli.session.blend import session_alpha
    from memoire_cli.session.context import load_session
    from memoire_cli.session.refusion import quantise, refuse

    ctx = load_session(ws, user_id, session)
    alpha_star, rho_used, c_s = session_alpha(ctx.evidence(), rho)
    alpha_of = {int(t): float(a) for t, a in zip(ctx.node_tags, alpha_star)}
    size = int(ws.read_array("images", user_id).shape[1])
    maps = np.zeros((len(ctx), size, size), np.uint8)  # (N, S, S), zero outside each image's valid region
    for k, (image, m) in enumerate(zip(ctx.images, ctx.masks)):
        h, w = image.shape[:2]
        if len(m.masks):
            maps[k, :h, :w] = quantise(refuse(m.masks, [alpha_of.get(int(t), 0.0) for t in m.tag_ids]))
    n = len(ctx)
    text = session.text
    rows = {
        "user_id": _obj([user_id] * n), "row": np.arange(n, dtype=np.int32), "image_id": _obj(ctx.image_ids),
        "idx": ctx.idxs.astype(np.int32), "session": _obj([text] * n), "rho": np.full(n, rho_used, np.float64),
        "c_s": np.full(n, c_s, np.float64),
    }
    top = sorted(alpha_of.items(), key=lambda kv: -kv[1])[:3]
    summary = {"images": n, "rho": rho_used, "c_s": c_s,
               "top": [(ctx.tags.get(t, ("?", str(t), None))[1], a) for t, a in top]}
    return rows, maps, summary


def run_session(ws: Workspace, selection: Selection, session_text: str, rho: float | None, console: Any) -> dict[str, Any]:
    """``memoire pat --session``: session maps for the selected users; returns the manifest."""
    from memoire_cli.session.selection import check_session, parse_session

    session = parse_session(session_text)
    users = selection.apply(input_users(ws, "pat --session", ("pat",)))
    counts = check_session(ws, users, session)
    params = {"session": session.text, "rho": "auto" if rho is None else rho}
    run = new_run("pat", params, "session.1", selection.shard, len(users))
    record_run(ws, run)
    try:
        for user_id in users:
            if not counts.get(user_id):
                console.print(f"pat --session: {user_id}: no image in {session.text}; previous session maps kept")
                continue
            rows, maps, summary = session_maps(ws, user_id, session, rho)
            ws.write_array("pat_session_attention", user_id, maps)

            def commit(con: Any, user_id: str = user_id, rows: dict = rows) -> None:
                con.execute("DELETE FROM pat_sessions WHERE user_id = ?", [user_id])
                ws.insert(con, ws.schema.tables["pat_sessions"], rows)

            ws.transaction(commit)
            run["computed"] += 1
            top = ", ".join(f"{name} {a:.3f}" for name, a in summary["top"])
            console.print(f"pat --session: {user_id}: {summary['images']} image(s) of {session.text}, "
                          f"ρ = {summary['rho']:.3f} (c_S = {summary['c_s']:.3f}); top α*: {top}")
    except BaseException as exc:
        record_failure(ws, run, exc)
        raise
    skipped = run["computed"] == 0
    run.update(status="skipped" if skipped else "done", ended_at=utcnow())
    record_run(ws, run)
    manifest = manifest_of(ws, "pat", run, skipped)
    manifest.update(action="session", session=session.text,
                    wrote={"tables": ["pat_sessions"], "arrays": [ws.schema.arrays["pat_session_attention"].path]})
    return manifest


def _obj(values: list) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def write_session_overlay(ws: Workspace, image: str, path: Any) -> None:
    """The photo | heat map | A*(I) panel of an image (an id or a file path) of the stored session (as ``--overlay`` for A(I))."""
    from PIL import Image

    from memoire_cli.image_names import image_name
    from memoire_cli.pat.overlay import check_image
    from memoire_cli.tiles import overlay_panel

    image_id, user_id, idx, width, height = check_image(ws, image)
    found = ws.query("SELECT row FROM pat_sessions WHERE image_id = ?", [image_id])
    if not found:
        raise MemoireError(f"{image_name(ws, image_id).label} is not in the stored session of {user_id}")
    image = np.asarray(ws.read_array("images", user_id)[idx])[:height, :width]
    attention = np.asarray(ws.read_array("pat_session_attention", user_id)[found[0][0]])[:height, :width]
    try:
        Image.fromarray(overlay_panel(image, attention)).save(path)
    except (OSError, ValueError) as exc:
        raise MemoireError(f"cannot write {path}: {exc}") from None
