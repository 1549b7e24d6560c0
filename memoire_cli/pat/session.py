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
from memoire_cli.stage import Plan, Selection, Stage, UserOutput, input_users
from memoire_cli.workspace import Workspace


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


class SessionStage(Stage):
    """``memoire pat --session`` as a stage of the runner: per selected user with images in the session,
    the rows of ``pat_sessions`` and the maps ``pat/{user_id}/session`` replace the previous session's.

    Not cached (no ``stage_users`` row: the maps derive from ``pat``'s, whose re-run drops them); a
    user without an image in the session keeps its previous session maps.
    """

    name = "pat"
    replaces = ("pat_sessions",)
    writes_arrays = ("pat_session_attention",)
    commit_every_s = 0.0
    progress_bar = False

    def __init__(self, session_text: str, rho: float | None) -> None:
        self.session_text, self.rho = session_text, rho
        self.session: Any = None
        self.counts: dict[str, int] = {}
        self.console: Any = None

    def params(self) -> dict[str, Any]:
        return {"session": self.session.text, "rho": "auto" if self.rho is None else self.rho}

    def code(self) -> str:
        return "session.1"

    def plan(self, ws: Workspace, selection: Selection, force: bool) -> Plan:
        from memoire_cli.session.selection import check_session, parse_session

        self.session = parse_session(self.session_text)
        users = selection.apply(input_users(ws, "pat --session", ("pat",)))
        self.counts = check_session(ws, users, self.session)
        return Plan(users, self.params(), {}, {}, [(u, "") for u in users])

    def prepare(self, ws: Workspace, console: Any) -> None:
        self.console = console

    def idle(self, users: list[str], console: Any) -> None:
        """No user selected: nothing to say."""

    def compute(self, ws: Workspace, user_id: str) -> UserOutput | None:
        if not self.counts.get(user_id):
            self.console.print(f"pat --session: {user_id}: no image in {self.session.text}; previous session maps kept")
            return None
        rows, maps, summary = session_maps(ws, user_id, self.session, self.rho)
        top = ", ".join(f"{name} {a:.3f}" for name, a in summary["top"])
        note = (f"pat --session: {user_id}: {summary['images']} image(s) of {self.session.text}, "
                f"ρ = {summary['rho']:.3f} (c_S = {summary['c_s']:.3f}); top α*: {top}")
        return UserOutput(tables={"pat_sessions": rows}, arrays={"pat_session_attention": maps}, marks=(), note=note)

    def manifest(self, ws: Workspace, run: dict[str, Any], skipped: bool) -> dict[str, Any]:
        manifest = super().manifest(ws, run, skipped)
        manifest.update(action="session", session=self.session.text,
                        wrote={"tables": self.writes(ws), "arrays": [ws.schema.arrays[a].path for a in self.writes_arrays or ()]})
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
    pixels = np.asarray(ws.read_array("images", user_id)[idx])[:height, :width]
    attention = np.asarray(ws.read_array("pat_session_attention", user_id)[found[0][0]])[:height, :width]
    try:
        Image.fromarray(overlay_panel(pixels, attention)).save(path)
    except (OSError, ValueError) as exc:
        raise MemoireError(f"cannot write {path}: {exc}") from None
