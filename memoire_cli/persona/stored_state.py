"""One user's committed graph and persona read for ``memoire persona update``, and its rows written back.

:func:`read_state` reads, in one snapshot, the user's ``graph_users``/``graph_nodes``/``graph_edges``,
``persona`` and z array into a :class:`~memoire_cli.persona.streaming.UserState`, the images beyond the
watermark ``graph_users.n_images`` as :class:`~memoire_cli.persona.streaming.NewImages`, the parameters of
the full runs the graph and persona come from (following update runs' ``params.from``), and how the
gallery differs from the one the graph accounts for (:mod:`.follow`). :func:`output_rows` turns a
state back into the rows of those tables, in the schema's column order.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from memoire_cli import __version__
from memoire_cli.errors import MemoireError
from memoire_cli.graph import cooccurrence as co
from memoire_cli.persona.follow import GalleryDelta, gallery_delta
from memoire_cli.persona.streaming import RAW, NewImages, UserState, object_array
from memoire_cli.stage import fingerprint, inputs_digest
from memoire_cli.workspace import Workspace

GRAPH_TABLES = ("graph_users", "graph_nodes", "graph_edges")


def origin_params(con: Any, run_id: str, key: str, user_id: str) -> tuple[dict[str, Any], str]:
    """Parameters and id of the full run behind a user's committed ``key`` (graph | persona) outputs.

    An update run records, per user, the runs its inputs came from (``params.from``), so the chain
    always leads back to the last full ``memoire graph`` / ``memoire persona`` run.
    """
    for _ in range(64):
        rows = con.execute("SELECT params FROM runs WHERE run_id = ?", [run_id]).fetchall()
        if not rows:
            raise MemoireError(f"user {user_id}: the run {run_id} that wrote its {key} is not in runs: rerun `memoire {key}`")
        params = json.loads(rows[0][0])
        if not params.get("update"):
            return params, run_id
        try:
            run_id = params["from"][user_id][key]
        except (KeyError, TypeError):
            raise MemoireError(f"user {user_id}: the update run {run_id} does not name its {key} run: rerun `memoire {key}`") from None
    raise MemoireError(f"user {user_id}: runs form a loop: rerun `memoire {key}`")


def _col(cols: dict[str, np.ndarray], name: str, fill: Any) -> np.ndarray:
    c = cols[name]
    if np.ma.isMaskedArray(c):
        from memoire_cli.persona.stage import masked_to_none

        return masked_to_none(c) if fill is None else np.ma.filled(c, fill)
    return np.asarray(c)


def persona_code() -> str:
    from memoire_cli.persona.stage import PersonaStage

    return f"{__version__}+{PersonaStage.name}.{PersonaStage.code_version}"


def read_state(ws: Workspace, user_id: str) -> tuple[UserState, NewImages, dict[str, Any], dict[str, Any], GalleryDelta]:
    """The committed graph and persona of a user, its images beyond the watermark, and how its
    gallery differs from the one the graph accounts for (:mod:`.follow`); the state and images are
    ``None`` when the delta says only a full run can follow."""
    with ws.connect(read_only=True) as con:  # one snapshot, one connection
        marks = {stage: (fp, digest, run_id) for stage, fp, digest, run_id in con.execute(
            "SELECT stage, fingerprint, digest, run_id FROM stage_users WHERE stage IN ('graph', 'persona') AND user_id = ?", [user_id]).fetchall()}
        if set(marks) != {"graph", "persona"}:
            raise MemoireError(f"user {user_id} has no persona yet: run `memoire persona` first")
        (gparams, g_origin), (pparams, p_origin) = (origin_params(con, marks[k][2], k, user_id) for k in ("graph", "persona"))
        if fingerprint(pparams, persona_code(), inputs_digest([f"graph:{marks['graph'][1]}"])) != marks["persona"][0]:
            raise MemoireError(f"user {user_id}: the persona is older than its graph: run `memoire persona` first")
        delta = gallery_delta(con, user_id, marks["graph"], gparams)
        if delta.full_reason is not None:  # nothing to read: only a full run can follow
            return None, None, gparams, pparams, delta  # type: ignore[return-value]
        urow = con.execute(
            "SELECT n_images, epoch_us(now), lambda_s, lambda_c, lambda_r, lambda_rel, lambda_f FROM graph_users WHERE user_id = ?", [user_id]
        ).fetchall()
        users_all = con.execute("SELECT * FROM graph_users WHERE user_id = ?", [user_id]).fetchnumpy()
        nodes = con.execute("SELECT * FROM graph_nodes WHERE user_id = ? ORDER BY node", [user_id]).fetchnumpy()
        edges = con.execute("SELECT * FROM graph_edges WHERE user_id = ? ORDER BY src, dst", [user_id]).fetchnumpy()
        persona = con.execute("SELECT node, alpha, score, score_ema FROM persona WHERE user_id = ? ORDER BY node", [user_id]).fetchnumpy()
        if not urow:
            raise MemoireError(f"user {user_id}: no graph_users row: rerun `memoire graph`")
        n_images = int(urow[0][0])
        kept = con.execute("SELECT count(*) FROM images WHERE user_id = ? AND idx < ?", [user_id, n_images]).fetchall()[0][0]
        imgs = con.execute(
            "SELECT i.image_id, i.idx, coalesce(epoch_us(i.taken_at), 0) AS t, i.taken_at IS NOT NULL AS dated, "
            "coalesce(u.views_norm, 'NaN'::DOUBLE) AS views, coalesce(u.favourite::DOUBLE, 'NaN'::DOUBLE) AS fav "
            "FROM images i LEFT JOIN usage u ON u.image_id = i.image_id AND u.user_id = i.user_id "
            "WHERE i.user_id = ? AND i.idx >= ? ORDER BY i.idx", [user_id, n_images]).fetchnumpy()
        pairs = con.execute(
            "SELECT it.image_id, it.tag_id FROM image_tags it JOIN images i ON i.image_id = it.image_id AND i.user_id = it.user_id "
            "WHERE it.user_id = ? AND i.idx >= ? ORDER BY i.idx, it.tag_id", [user_id, n_images]).fetchall()
        tag_rows = con.execute("SELECT tag_id, type, relation FROM tags WHERE user_id = ?", [user_id]).fetchall()
    if kept != n_images:
        raise MemoireError(f"user {user_id}: the graph counted {n_images} images and only {kept} of them remain: "
                           "the gallery was changed, not appended to: rerun `memoire graph`")
    n = len(nodes["node"])
    if len(persona["node"]) != n or not np.array_equal(np.asarray(persona["node"]), np.arange(n)):
        raise MemoireError(f"user {user_id}: persona rows do not match graph_nodes: run `memoire persona` first")
    emb = np.asarray(ws.read_array("persona_embeddings", user_id)[...], dtype=np.float32)
    if emb.shape[0] != n:
        raise MemoireError(f"user {user_id}: persona/{user_id}/z has {emb.shape[0]} rows for {n} nodes: run `memoire persona` first")
    last = _col(nodes, "last_seen", np.datetime64("NaT")) if n else np.zeros(0, "datetime64[us]")
    last_us = np.asarray(last, dtype="datetime64[us]").astype(np.int64)  # NaT → int64 min = NO_TIME
    row = {k: (v[0].item() if hasattr(v[0], "item") else v[0]) for k, v in users_all.items()}
    st = UserState(
        tag_id=np.asarray(nodes["tag_id"], np.int64), type=object_array(_col(nodes, "type", None)),
        relation=object_array(_col(nodes, "relation", None)),
        count=np.asarray(nodes["count"], np.int64), last=last_us,
        raw={k: np.asarray(_col(nodes, k, np.nan), np.float64).copy() for k in RAW},
        z={k: np.asarray(_col(nodes, f"{k}_z", np.nan), np.float64).copy() for k in RAW},
        ips0=np.asarray(_col(nodes, "ips0", np.nan), np.float64).copy(),
        score=np.asarray(persona["score"], np.float64).copy(), ema=np.asarray(persona["score_ema"], np.float64).copy(),
        alpha=np.asarray(persona["alpha"], np.float64).copy(), emb=emb.reshape(n, -1) if n else np.zeros((0, 128), np.float32),
        src=np.asarray(edges["src"], np.int64), dst=np.asarray(edges["dst"], np.int64), c_uv=np.asarray(edges["count"], np.int64),
        cooc=np.asarray(edges["cooc"], np.float64).copy(), social=np.asarray(edges["social"], np.float64).copy(),
        weight=np.asarray(edges["weight"], np.float64).copy(),
        n_images=n_images, now_us=None if urow[0][1] is None else int(urow[0][1]),
        users_row={**row, "lambda_s": float(urow[0][2]), "lambda_c": float(urow[0][3]), "lambda_r": float(urow[0][4]),
                   "lambda_rel": float(urow[0][5]), "lambda_f": float(urow[0][6])},
    )
    by_image: dict[str, list[int]] = {}
    for image_id, tag in pairs:
        by_image.setdefault(image_id, []).append(int(tag))
    known = {int(t): (ty, rel) for t, ty, rel in tag_rows}
    missing = sorted({t for ts in by_image.values() for t in ts if t not in known})
    if missing:
        raise MemoireError(f"user {user_id}: image_tags names tag id(s) {', '.join(map(str, missing[:5]))} missing from tags")
    bad = sorted({known[t][0] for ts in by_image.values() for t in ts} - set(co.TYPES))
    if bad:
        raise MemoireError(f"user {user_id}: tags.type must be P, L or E, found {', '.join(map(repr, bad[:5]))}")
    new = NewImages(
        times_us=np.asarray(imgs["t"], np.int64), dated=np.asarray(imgs["dated"], bool),
        views=np.asarray(imgs["views"], np.float64), favourite=np.asarray(imgs["fav"], np.float64),
        tags=[by_image.get(i, []) for i in imgs["image_id"]], tag_info=known,
    )
    st.users_row["n_tags"] = len(known)
    st.users_row["from"] = {"graph": g_origin, "persona": p_origin}
    st.users_row["graph_fingerprint"] = marks["graph"][0]
    return st, new, gparams, pparams, delta


def output_rows(user_id: str, st: UserState) -> dict[str, dict[str, np.ndarray]]:
    n, m = st.n, len(st.src)

    def uid(k: int) -> np.ndarray:
        return object_array([user_id] * k)

    r = st.users_row
    users = {
        "user_id": uid(1), "n_images": np.array([st.n_images], np.int32), "n_tags": np.array([r["n_tags"]], np.int32),
        "n_nodes": np.array([n], np.int32), "n_edges": np.array([m], np.int32), "p_pp": np.array([r["p_pp"]], float),
        "lambda_s": np.array([r["lambda_s"]]), "lambda_c": np.array([r["lambda_c"]]), "burstiness": np.array([r["burstiness"]], float),
        "social_density": np.array([r["social_density"]], float), "longevity": np.array([r["longevity"]], float),
        "lambda_r": np.array([r["lambda_r"]]), "lambda_rel": np.array([r["lambda_rel"]]), "lambda_f": np.array([r["lambda_f"]]),
        "now": np.array([np.datetime64("NaT") if st.now_us is None else np.datetime64(st.now_us, "us")], dtype="datetime64[us]"),
    }
    nodes = {
        "user_id": uid(n), "node": np.arange(n, dtype=np.int32), "tag_id": st.tag_id.astype(np.int32),
        "type": object_array(st.type), "relation": object_array(st.relation), "count": st.count.astype(np.int32),
        "last_seen": st.last.astype("datetime64[us]"),
        **{k: st.raw[k].astype(np.float64) for k in RAW}, **{f"{k}_z": st.z[k].astype(np.float64) for k in RAW},
        "ips0": st.ips0.astype(np.float64),
    }
    edges = {
        "user_id": uid(m), "src": st.src.astype(np.int32), "dst": st.dst.astype(np.int32), "count": st.c_uv.astype(np.int32),
        "cooc": st.cooc.astype(np.float64), "social": st.social.astype(np.float64), "weight": st.weight.astype(np.float64),
    }
    persona = {
        "user_id": uid(n), "tag_id": st.tag_id.astype(np.int32), "node": np.arange(n, dtype=np.int32),
        "alpha": st.alpha.astype(np.float64), "score": st.score.astype(np.float64), "score_ema": st.ema.astype(np.float64),
    }
    return {"graph_users": users, "graph_nodes": nodes, "graph_edges": edges, "persona": persona}


def load_model(pparams: dict[str, Any], flat: np.ndarray) -> Any:
    from memoire_cli.persona.model import load_flat_weights
    from memoire_cli.persona.train import PersonaConfig, build_model

    fields = set(PersonaConfig.__dataclass_fields__)
    cfg = PersonaConfig(**{k: v for k, v in pparams.items() if k in fields})
    return load_flat_weights(build_model(cfg), flat)
