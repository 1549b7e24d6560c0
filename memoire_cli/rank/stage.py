"""`memoire rank` as a stage: per user, rank a session with the trained predictor and keep the top k.

Per user: image embeddings of the whole gallery (stored for eval's Redundancy@k), the session's
:class:`~memoire_cli.rank.context.UserContext`, :func:`~memoire_cli.rank.ranker.rank_user`, and the
rows of ``rankings``, ``sessions`` and ``session_alpha``. The fingerprint covers the options, the
session, the embedder and the model (its whole ``models`` row: a retrained model re-ranks).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from memoire_cli.errors import MemoireError
from memoire_cli.rank.ranker import Ranking, RankOptions, rank_user
from memoire_cli.session.selection import Session
from memoire_cli.stage import Stage, UserOutput, canonical_json, sha16
from memoire_cli.workspace import GALLERY_STAGES, Workspace

EMBED_SIZE = 224  # images are squared to this before embedding (S2.3's 224×224 resize + centre crop)


def _obj(values: list) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def model_row(ws: Workspace, name: str) -> dict[str, Any]:
    """The ``models`` row of model ``name``; a clear error when there is none (run `memoire train`)."""
    try:
        with ws.connect(read_only=True) as con:
            cur = con.execute("SELECT * FROM models WHERE name = ?", [name])
            cols = [d[0] for d in cur.description]
            rows = cur.fetchall()
    except MemoireError:
        raise
    except Exception:  # noqa: BLE001 - no models table: nothing was trained in this workspace
        rows, cols = [], []
    if not rows:
        hint = "" if name == "default" else f" --name {name}"
        raise MemoireError(f"no trained model {name!r} in {ws.root}: run `memoire train{hint}`")
    return dict(zip(cols, rows[0]))


def gallery_digest(ws: Workspace, user_id: str) -> str | None:
    """The digest of the user's committed gallery (synth or ingest) outputs."""
    marks = ", ".join("?" * len(GALLERY_STAGES))
    found = ws.query(f"SELECT stage, digest FROM stage_users WHERE user_id = ? AND stage IN ({marks})", [user_id, *GALLERY_STAGES])
    return f"{found[0][0]}:{found[0][1]}" if found else None


class RankStage(Stage):
    name = "rank"
    # 2: the persona vector π(I) fed to the predictor; rejected photos last, never picked;
    # 3: the cpu preset's frozen backbone is the embedder (PredictorEmbedder); 4: its trunk runs NHWC
    code_version = "5"  # 5: dates: sessions in each photo's local time (an ingested photo's stated UTC offset)
    inputs = ("gallery", "graph", "persona", "pat")

    def __init__(self, session: Session, options: RankOptions, embedder: str = "auto", clip: str | None = None,
                 device: str = "cpu"):
        from memoire_cli.embed import resolve_kind

        self.session, self.options, self.device = session, options, device
        self.embed_kind, self.clip_folder = resolve_kind(embedder, clip)
        self.predictor: Any = None
        self.embedder: Any = None
        self.console: Any = None
        self.rankings: dict[str, Ranking] = {}
        self.gallery: dict[str, str | None] = {}  # user → gallery digest its embeddings come from

    def params(self) -> dict[str, Any]:
        clip = self.clip_folder.rstrip("/").rsplit("/", 1)[-1] if self.clip_folder else None
        return {**self.options.params(), "session": self.session.text, "embedder": self.embed_kind, "clip": clip}

    def input_digests(self, ws: Workspace, users: list[str]) -> dict[str, str]:
        model = sha16(canonical_json(model_row(ws, self.options.model)))
        return {u: sha16(f"{d}|model:{model}") for u, d in super().input_digests(ws, users).items()}

    def prepare(self, ws: Workspace, console: Any) -> None:
        from memoire_cli.embed import load_embedder
        from memoire_cli.rank.context import PredictorEmbedder
        from memoire_cli.threads import pin_torch_threads
        from memoire_cli.train.predictor import load_predictor

        pin_torch_threads(default=2)  # the predictor and the embedder: the same scores on any machine
        self.console = console
        self.predictor = load_predictor(ws, self.options.model, runtime=self.options.runtime, device=self.device)
        if self.session.kind == "all" and PredictorEmbedder.fits(self.predictor, self.embed_kind, self.clip_folder):
            self.embedder = PredictorEmbedder(self.predictor)  # one backbone pass per image, not two
        else:
            self.embedder = load_embedder(self.embed_kind, self.clip_folder, device=self.device)
        p = self.predictor
        console.print(f"rank: model {p.name} ({p.fusion} fusion, {p.image_size} px, {p.runtime}); "
                      f"embedder {self.embedder.name}; session {self.session.text}; k = {self.options.k}, "
                      f"λ = {self.options.lam}, ρ = {'eq. (17)' if self.options.rho is None else self.options.rho}, "
                      f"α {self.options.alpha}, masks {''.join(self.options.tag_types)}")

    def stored_embeddings(self, ws: Workspace, user_id: str, gallery: str | None) -> np.ndarray | None:
        """The previous rank run's embeddings of every image of the user (rows by images.idx) when the
        gallery digest and the embedder are the same; else None."""
        n = len(ws.query("SELECT idx FROM images WHERE user_id = ?", [user_id]))
        before = ws.query("SELECT embedder, gallery_digest FROM sessions WHERE user_id = ?", [user_id])
        if before and before[0] == (self.embedder.name, gallery):
            try:
                stored = np.asarray(ws.read_array("rank_embeddings", user_id)[...], np.float32)
            except MemoireError:
                return None
            if stored.shape[0] == n:
                return stored
        return None

    def embeddings(self, ws: Workspace, user_id: str, gallery: str | None) -> np.ndarray:
        """(n_images, D) embeddings of every image of the user, row images.idx; reused from the previous
        rank run when the gallery digest and the embedder are the same."""
        from memoire_cli.embed.resize import square

        stored = self.stored_embeddings(ws, user_id, gallery)
        if stored is not None:
            return stored
        rows = ws.query("SELECT idx, width, height FROM images WHERE user_id = ? ORDER BY idx", [user_id])
        pixels = ws.read_array("images", user_id)
        out: list[np.ndarray] = []
        for start in range(0, len(rows), 32):
            batch = np.stack([square(np.asarray(pixels[idx])[:h, :w], EMBED_SIZE) for idx, w, h in rows[start:start + 32]])
            out.append(self.embedder.embed(batch))
        return np.concatenate(out) if out else np.zeros((0, 1), np.float32)

    def compute(self, ws: Workspace, user_id: str) -> UserOutput:
        from memoire_cli.rank.context import PredictorEmbedder, UserContext

        gallery = gallery_digest(ws, user_id)
        if isinstance(self.embedder, PredictorEmbedder):  # the whole gallery: its embeddings come with the scoring
            emb = self.stored_embeddings(ws, user_id, gallery)
            ctx = UserContext.load(ws, user_id, self.session, image_size=self.predictor.image_size, embeddings=emb,
                                   embedder=self.embedder)
            emb = ctx.embeddings  # (N, D): the session is every image, by idx
        else:
            emb = self.embeddings(ws, user_id, gallery)
            ctx = UserContext.load(ws, user_id, self.session, image_size=self.predictor.image_size, embeddings=emb,
                                   embedder=self.embedder)
        ranking = rank_user(ctx, self.predictor, self.options)
        self.rankings[user_id] = ranking
        self.gallery[user_id] = gallery
        if self.console is not None:
            if not len(ctx):
                self.console.print(f"rank: {user_id}: the session {self.session.text} has none of this user's images")
            elif len(ctx) < self.options.k:
                self.console.print(f"rank: {user_id}: the session has {len(ctx)} images, fewer than k = {self.options.k}: all are returned")
        return UserOutput(tables=self.tables(user_id, ctx, ranking), arrays={"rank_embeddings": emb.astype(np.float32)})

    def tables(self, user_id: str, ctx: Any, r: Ranking) -> dict[str, dict[str, np.ndarray]]:
        from memoire_cli.rank.mmr import relevance

        n = len(r.image_ids)
        pick = {iid: k for k, iid in enumerate(r.selected)}
        rel = relevance(r.scores)
        p = self.predictor
        rho_source = "none" if self.options.alpha == "uniform" else ("eq17" if self.options.rho is None else "given")
        present = ctx.membership.any(axis=0) if ctx.membership.size else np.zeros(len(ctx.node_tags), bool)
        return {
            "rankings": {
                "user_id": _obj([user_id] * n), "image_id": _obj(r.image_ids), "session": _obj([self.session.text] * n),
                "position": np.arange(n, dtype=np.int32), "score": r.scores.astype(np.float64),
                "impact": r.impact.astype(np.float64), "relevance": rel.astype(np.float64),
                "pick": _obj([pick.get(i) for i in r.image_ids]),
                "mmr": _obj([float(r.mmr_scores[pick[i]]) if i in pick else None for i in r.image_ids]),
                "reasons": _obj([json.dumps(r.reasons[i], ensure_ascii=False) if i in pick else None for i in r.image_ids]),
            },
            "sessions": {
                "user_id": _obj([user_id]), "session": _obj([self.session.text]), "n_images": np.array([n], np.int32),
                "k": np.array([self.options.k], np.int32), "n_selected": np.array([len(r.selected)], np.int32),
                "lam": np.array([self.options.lam]), "rho": np.array([r.rho]), "rho_source": _obj([rho_source]),
                "c_s": np.array([r.c_s]), "alpha_mode": _obj([self.options.alpha]),
                "tag_types": _obj(["".join(self.options.tag_types)]), "model": _obj([p.name]), "model_id": _obj([str(p.model_id)]),
                "runtime": _obj([p.runtime]), "model_sha256": _obj([p.sha256]), "embedder": _obj([self.embedder.name]),
                "gallery_digest": _obj([self.gallery.get(user_id)]),
            },
            "session_alpha": {
                "user_id": _obj([user_id] * len(ctx.node_tags)), "tag_id": ctx.node_tags.astype(np.int32),
                "alpha": ctx.alpha.astype(np.float64),
                "alpha_star": np.array([r.alpha_star[int(t)] for t in ctx.node_tags], np.float64),
                "present": present.astype(bool),
            },
        }
