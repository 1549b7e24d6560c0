"""`memoire persona update`: streaming maintenance of a user's graph and persona (S1.2.11).

Between two full runs (``memoire graph`` → ``memoire persona``), images appended to a gallery are
folded into the committed graph and persona at a cost bounded by the ego graph of the tags they
touch, not by the gallery.

**Which images are new.** First the update checks, by content, that the gallery is the one the
graph accounts for, and if not, how it changed (:mod:`.follow`: the gallery digest against the
graph's fingerprint or the last update's record, then ``ingest_changes``). Photos added by a
re-ingest are appended rows, and so are images appended by any other writer: with
``graph_users.n_images`` as the watermark (the graph accounts for the images with ``images.idx <
n_images``; ``idx`` is the row in the user's image array, 0…N−1), an update folds in the images
with ``idx ≥ n_images`` and raises ``n_images``. A removed, edited or retagged photo cannot be
folded in (its old tags are gone from the gallery): the update names it in one line and fails, or
with ``--full`` rebuilds the user's graph and persona with the parameters of their last full runs.
If fewer than ``n_images`` old images remain without such a change on record, it refuses too.

Per user, in order (all numpy except the one forward of step 4):

1. **Tag statistics** of every tag t in the new images: c_t += #new images with t, last-seen,
   v_t and q_t as running means (the images counted before are assumed to have known usage, as
   synth's all have). f_t = c_t/|I| is rescaled for every node (its z-score is scale-free);
   ``now`` advances to the latest new capture time if later. r, v, q, g and their z-scores are
   recomputed only for *refreshed* nodes (touched tags and the ends of changed edges), with the
   mean/std of each feature over the current nodes.
2. **Co-occurrence**: c_uv += 1 for each pair of a new image (a pair absent from ``graph_edges``
   starts from 0), cooc (1) and w (3) recomputed for every edge at a touched node with the λ_c, λ_s
   of ``graph_users`` (the mix (4) is recomputed by the next full ``memoire graph``), threshold τ_e
   and k-NN re-sparsification with the graph run's parameters; self-loops stay implicit (w = 1).
3. **Cold start** of a tag not among the nodes: type and relation from ``tags``, f = c/|I| (1/(|I|+1)
   for one image), r from its capture time (1 when it is the newest image), v = q = 0, g from its
   new edges, IPS⁰ by (7) with the graph's λ weights, h⁽⁰⁾ = MLP₀([x̃ ‖ IPS⁰]) in the forward below.
4. **Local refresh**: one forward (dropout off) of the trained PERSONA-GAT (``persona/{user_id}/
   weights``) on the subgraph induced by the K-hop (K = 1) ego graph of the touched and refreshed
   nodes; their z_t and s_t are replaced, s̄_t ← β s̄_t + (1 − β) s_t (β = 0.9; a new node starts at
   s̄ = s); every other node keeps z, s and s̄. Then α = softmax(s̄) over all nodes.
5. **Cold-start blending** of each new tag with n observations: log α_new ← (1 − ρ) mean(log α of
   its type) + ρ IPS⁰_new, ρ = max(ρ₀, 1 − exp(−n/S₀)), ρ₀ = 0.25 (S1.2.8's default), S₀ = 10; α is
   renormalised and s̄_new set so that α = softmax(s̄) still holds.
6. **Aging and pruning** (before step 4, so the refresh sees the final graph), only when a type
   exceeds its quota (K_P, K_L, K_E of the graph run) or the graph exceeds 500 nodes: first tags with
   c_t < τ_f = 2 whose last sighting is older than T_stale = 365 days (stalest first), then the
   lowest counts (ties: older last-seen, then higher tag id). Neighbours of a dropped node are
   refreshed.

Nodes stay in tag-id order (as ``memoire graph`` writes them); z rows, persona rows and edges are
renumbered accordingly. The update is deterministic (no random draw; fixed orders).

**Bookkeeping.** Per user, the new ``graph_users``/``graph_nodes``/``graph_edges`` and ``persona``
rows and both ``stage_users`` rows are written in one transaction (``persona_curves`` keeps the
training curves); the z array is written just before it (and restored if the commit fails). A run
is recorded with stage ``persona`` and params ``{"update": true, …}``; its ``from[user_id]`` names the
full runs the user's graph and persona come from and the gallery (``"{stage}:{digest}"``) they now
account for. The graph keeps the
fingerprint of its last full build (so a changed gallery still triggers a full ``memoire graph``);
the persona's fingerprint is recomputed over the updated graph's digest, so a later plain
``memoire persona`` with the same parameters is cached rather than retraining: a full rerun
(``memoire graph`` after the gallery stage, or ``--force``) recomputes everything from scratch.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from memoire_cli import __version__
from memoire_cli.errors import MemoireError, UsageError
from memoire_cli.graph import cooccurrence as co
from memoire_cli.graph import features as ft
from memoire_cli.graph.config import GraphConfig
from memoire_cli.graph.prior import ips0 as ips0_of
from memoire_cli.graph.social import relation_index, social_boost
from memoire_cli.persona.features import node_features
from memoire_cli.persona.follow import GalleryDelta, gallery_delta
from memoire_cli.stage import Selection, canonical_json, fingerprint, inputs_digest, new_run, record_failure, record_run
from memoire_cli.workspace import Workspace, digest_columns, utcnow

RAW = ("f", "r", "v", "q", "g")
GRAPH_TABLES = ("graph_users", "graph_nodes", "graph_edges")


@dataclass(frozen=True)
class UpdateConfig:
    """Constants of S1.2.11 (spec defaults where it gives them; ours documented in the module)."""

    beta: float = 0.9  # EMA of s̄ (4)
    hops: int = 1  # K of the ego graph (4)
    rho0: float = 0.25  # ρ₀ of (5): S1.2.8's default
    s0: float = 10.0  # S₀ of ρ(n) (5)
    min_count: int = 2  # τ_f of (6): tags seen fewer times may age out
    stale_days: float = 365.0  # T_stale of (6)
    max_nodes: int = 500  # |V| budget of (6)

    def check(self) -> None:
        if not 0 <= self.beta < 1 or not 0 <= self.rho0 <= 1 or self.s0 <= 0 or self.hops < 0 or self.max_nodes < 1:
            raise UsageError("update constants: need 0 <= beta < 1, 0 <= rho0 <= 1, s0 > 0, hops >= 0, max_nodes >= 1")

    def as_params(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class UserState:
    """One user's graph and persona in memory (n nodes, m edges)."""

    tag_id: np.ndarray  # (n,) int64
    type: np.ndarray  # (n,) object
    relation: np.ndarray  # (n,) object
    count: np.ndarray  # (n,) int64
    last: np.ndarray  # (n,) int64 µs, ft.NO_TIME if undated
    raw: dict[str, np.ndarray]  # f, r, v, q, g: (n,) float64
    z: dict[str, np.ndarray]  # f, r, v, q, g: (n,) float64 z-scores
    ips0: np.ndarray  # (n,)
    score: np.ndarray  # (n,) s_t
    ema: np.ndarray  # (n,) s̄_t
    alpha: np.ndarray  # (n,)
    emb: np.ndarray  # (n, d) float32 z_t
    src: np.ndarray  # (m,) int64, src < dst
    dst: np.ndarray
    c_uv: np.ndarray  # (m,) int64
    cooc: np.ndarray
    social: np.ndarray
    weight: np.ndarray
    n_images: int = 0
    now_us: int | None = None
    users_row: dict[str, Any] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.tag_id)


@dataclass
class NewImages:
    """The images to fold in: per image its capture time, usage and tags (tag ids)."""

    times_us: np.ndarray  # (k,) int64
    dated: np.ndarray  # (k,) bool
    views: np.ndarray  # (k,) float64, NaN unknown
    favourite: np.ndarray  # (k,) float64, NaN unknown
    tags: list[list[int]]  # per image, its tag ids
    tag_info: dict[int, tuple[str, str | None]]  # tag id → (type, relation) for tags not yet nodes

    @property
    def k(self) -> int:
        return len(self.times_us)


@dataclass
class UpdateReport:
    """What an update changed (node indices of the *final* graph)."""

    touched: np.ndarray
    new: np.ndarray
    ego: np.ndarray
    pruned_tags: list[int]


# ------------------------------------------------------------------------------------------ numpy


def _obj(values: Any) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = list(values)
    return out


def _append_nodes(st: UserState, tags: list[int], info: dict[int, tuple[str, str | None]]) -> None:
    k = len(tags)
    d = st.emb.shape[1]
    st.tag_id = np.concatenate([st.tag_id, np.asarray(tags, np.int64)])
    st.type = _obj([*st.type, *(info[t][0] for t in tags)])
    st.relation = _obj([*st.relation, *((info[t][1] if info[t][0] == "P" else None) for t in tags)])
    st.count = np.concatenate([st.count, np.zeros(k, np.int64)])
    st.last = np.concatenate([st.last, np.full(k, ft.NO_TIME, np.int64)])
    for name in RAW:
        st.raw[name] = np.concatenate([st.raw[name], np.zeros(k)])
        st.z[name] = np.concatenate([st.z[name], np.zeros(k)])
    for name in ("ips0", "score", "ema", "alpha"):
        setattr(st, name, np.concatenate([getattr(st, name), np.full(k, np.nan)]))
    st.emb = np.concatenate([st.emb, np.zeros((k, d), np.float32)])


def _keep_nodes(st: UserState, keep: np.ndarray) -> np.ndarray:
    """Keep the nodes ``keep`` (bool (n,)), in order; returns the old → new index map (−1 dropped)."""
    remap = np.full(st.n, -1, np.int64)
    remap[keep] = np.arange(int(keep.sum()))
    for name in ("tag_id", "type", "relation", "count", "last", "ips0", "score", "ema", "alpha", "emb"):
        setattr(st, name, getattr(st, name)[keep])
    for name in RAW:
        st.raw[name] = st.raw[name][keep]
        st.z[name] = st.z[name][keep]
    e = (remap[st.src] >= 0) & (remap[st.dst] >= 0)
    _take_edges(st, e)
    st.src, st.dst = remap[st.src], remap[st.dst]
    return remap


def _take_edges(st: UserState, sel: np.ndarray) -> None:
    for name in ("src", "dst", "c_uv", "cooc", "social", "weight"):
        setattr(st, name, getattr(st, name)[sel])


def _sort_edges(st: UserState) -> None:
    a, b = np.minimum(st.src, st.dst), np.maximum(st.src, st.dst)
    st.src, st.dst = a, b
    _take_edges(st, np.lexsort((st.dst, st.src)))


def _neighbours(n: int, src: np.ndarray, dst: np.ndarray, nodes: np.ndarray) -> np.ndarray:
    """Bool (n,): nodes adjacent to any of ``nodes`` (bool (n,))."""
    out = np.zeros(n, bool)
    out[dst[nodes[src]]] = True
    out[src[nodes[dst]]] = True
    return out


def prune_nodes(st: UserState, protect: np.ndarray, gcfg: GraphConfig, ucfg: UpdateConfig) -> np.ndarray:
    """Step (6): bool (n,) nodes to drop so that each type keeps its quota and |V| ≤ max_nodes.

    Only runs when over budget. Aged tags (c_t < τ_f, last seen more than T_stale before now) go
    first, stalest first; then the lowest counts, older last-seen, higher tag id. ``protect``
    (this update's tags) goes last within each group.
    """
    n = st.n
    drop = np.zeros(n, bool)
    codes = np.array([co.TYPES.index(t) for t in st.type], np.int64) if n else np.zeros(0, np.int64)
    quotas = np.array([gcfg.max_people, gcfg.max_locations, gcfg.max_events], np.int64)
    now = st.now_us
    age = np.where((st.last == ft.NO_TIME) | (now is None), np.inf,
                   (0 if now is None else now) - np.where(st.last == ft.NO_TIME, 0, st.last)) / ft.US_PER_DAY
    aged = (st.count < ucfg.min_count) & (age > ucfg.stale_days)
    last = np.where(st.last == ft.NO_TIME, np.iinfo(np.int64).min, st.last)
    # drop order: aged first (stalest first), then by count asc, last-seen asc, tag id desc
    order = np.lexsort((-st.tag_id, last, st.count, protect, -np.where(aged, age, 0), ~aged))

    def over() -> np.ndarray:
        alive = ~drop
        per_type = np.bincount(codes[alive], minlength=3)
        return per_type > quotas

    for i in order:
        type_over = over()
        if not type_over.any() and int((~drop).sum()) <= ucfg.max_nodes:
            break
        if type_over.any() and not type_over[codes[i]]:
            continue
        drop[i] = True
    return drop


def apply_images(st: UserState, new: NewImages, gcfg: GraphConfig, ucfg: UpdateConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[int]]:
    """Steps (1)–(3) and (6) on the state; returns bool masks (touched, new, refreshed) and the pruned tag ids."""
    index = {int(t): i for i, t in enumerate(st.tag_id)}
    fresh = sorted({t for tags in new.tags for t in tags if t not in index})
    n_old = st.n
    if fresh:
        _append_nodes(st, fresh, new.tag_info)
        index.update({t: n_old + j for j, t in enumerate(fresh)})
    n = st.n
    is_new = np.zeros(n, bool)
    is_new[n_old:] = True

    # (1) per-tag statistics
    add = np.zeros(n, np.int64)
    v_sum, v_n, q_sum, q_n = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n)
    pairs: dict[tuple[int, int], int] = {}
    for k, tags in enumerate(new.tags):
        nodes = sorted({index[t] for t in tags})
        for a in nodes:
            add[a] += 1
            if new.dated[k]:
                st.last[a] = max(int(st.last[a]), int(new.times_us[k]))
            if np.isfinite(new.views[k]):
                v_sum[a] += new.views[k]
                v_n[a] += 1
            if np.isfinite(new.favourite[k]):
                q_sum[a] += new.favourite[k]
                q_n[a] += 1
        for i, a in enumerate(nodes):
            for b in nodes[i + 1:]:
                pairs[(a, b)] = pairs.get((a, b), 0) + 1
    touched = add > 0
    old = touched & ~is_new
    prev = st.count.astype(np.float64)
    for name, s, m in (("v", v_sum, v_n), ("q", q_sum, q_n)):
        upd = old & (m > 0)
        st.raw[name][upd] = (st.raw[name][upd] * prev[upd] + s[upd]) / (prev[upd] + m[upd])
    st.count = st.count + add
    st.n_images += new.k
    if new.dated.any():
        latest = int(new.times_us[new.dated].max())
        st.now_us = latest if st.now_us is None else max(st.now_us, latest)
    st.raw["f"] = ft.frequency(st.count, st.n_images)
    st.raw["r"][touched] = ft.recency(st.last[touched], st.now_us, gcfg.tau_r)
    for name in ("v", "q"):  # (3) cold start: no usage yet
        st.raw[name][is_new] = 0.0

    # (2) co-occurrence and edges
    key = {(int(a), int(b)): e for e, (a, b) in enumerate(zip(st.src, st.dst))}
    add_src, add_dst, add_c = [], [], []
    for (a, b), c in sorted(pairs.items()):
        e = key.get((a, b))
        if e is None:
            add_src.append(a)
            add_dst.append(b)
            add_c.append(c)
        else:
            st.c_uv[e] += c
    m_old = len(st.src)
    if add_src:
        st.src = np.concatenate([st.src, np.asarray(add_src, np.int64)])
        st.dst = np.concatenate([st.dst, np.asarray(add_dst, np.int64)])
        st.c_uv = np.concatenate([st.c_uv, np.asarray(add_c, np.int64)])
        z = np.zeros(len(add_src))
        st.cooc, st.social, st.weight = (np.concatenate([x, z]) for x in (st.cooc, st.social, st.weight))
    changed = touched[st.src] | touched[st.dst]
    rel = relation_index(st.relation)
    person = st.type == "P"
    fresh_e = np.arange(len(st.src)) >= m_old
    st.social[fresh_e] = social_boost(rel[st.src[fresh_e]], rel[st.dst[fresh_e]], person[st.src[fresh_e]] & person[st.dst[fresh_e]], gcfg.omegas)
    cu, cv = st.count[st.src[changed]], st.count[st.dst[changed]]
    st.cooc[changed] = co.cooccurrence(st.c_uv[changed], cu, cv)
    lam_s, lam_c = st.users_row["lambda_s"], st.users_row["lambda_c"]
    st.weight[changed] = co.edge_weights(st.cooc[changed], st.social[changed], lam_c, lam_s)
    refreshed = touched.copy()
    refreshed |= _neighbours(n, st.src, st.dst, touched)
    _sort_edges(st)
    keep = co.sparsify(st.src, st.dst, st.weight, gcfg.knn, gcfg.edge_threshold) if len(st.src) else np.zeros(0, bool)
    refreshed[st.src[~keep]] = True
    refreshed[st.dst[~keep]] = True
    _take_edges(st, keep)

    # (6) aging and pruning
    drop = prune_nodes(st, touched, gcfg, ucfg)
    pruned = [int(t) for t in st.tag_id[drop]]
    if drop.any():
        refreshed |= _neighbours(n, st.src, st.dst, drop)
        remap = _keep_nodes(st, ~drop)
        touched, is_new, refreshed = (mask[remap >= 0] for mask in (touched, is_new, refreshed))
    n = st.n

    # g_t and the z-scores of the refreshed nodes; IPS⁰ (7) for them
    g_all = co.graph_relation(st.src, st.dst, st.weight, n)
    st.raw["g"][refreshed] = g_all[refreshed]
    for name in RAW:
        x = st.raw[name]
        mean, std = float(x.mean()) if n else 0.0, float(x.std()) if n else 0.0
        st.z[name][refreshed] = (x[refreshed] - mean) / std if std > 0 and np.isfinite(std) else 0.0
    from memoire_cli.graph.features import onehot

    u = onehot(st.type[refreshed], st.relation[refreshed])
    weights = (st.users_row["lambda_r"], st.users_row["lambda_rel"], st.users_row["lambda_f"])
    st.ips0[refreshed] = ips0_of({k: v[refreshed] for k, v in st.z.items()}, u, weights, gcfg)
    return touched, is_new, refreshed, pruned


def ego_nodes(st: UserState, seeds: np.ndarray, hops: int) -> np.ndarray:
    """Bool (n,): the ``hops``-hop ego graph of ``seeds`` (bool (n,))."""
    ego = seeds.copy()
    for _ in range(hops):
        ego |= _neighbours(st.n, st.src, st.dst, ego)
    return ego


def refresh(st: UserState, model: Any, ego: np.ndarray, is_new: np.ndarray, ucfg: UpdateConfig) -> None:
    """Step (4): one forward on the subgraph induced by ``ego``, EMA of s̄, α = softmax(s̄); then (5)."""
    import torch

    from memoire_cli.persona.model import edge_tensors

    idx = np.flatnonzero(ego)
    if len(idx):
        local = np.full(st.n, -1, np.int64)
        local[idx] = np.arange(len(idx))
        inside = ego[st.src] & ego[st.dst]
        scalars = np.stack([st.z[name][idx] for name in RAW], axis=1)
        x, _, _ = node_features(scalars, list(st.type[idx]), list(st.relation[idx]), st.ips0[idx])
        ei, ea = edge_tensors(len(idx), local[st.src[inside]], local[st.dst[inside]], st.weight[inside])
        model.eval()
        with torch.no_grad():
            z, s = model(torch.from_numpy(x), ei, ea)
        s = s.double().numpy()
        st.emb[idx] = z.float().numpy()
        st.score[idx] = s
        prev = st.ema[idx]
        st.ema[idx] = np.where(np.isfinite(prev), ucfg.beta * prev + (1 - ucfg.beta) * s, s)
    if not st.n:
        st.alpha = np.zeros(0)
        return
    log_a = st.ema - _lse(st.ema)
    new = np.flatnonzero(is_new)
    if len(new):  # (5) cold-start blending in log space
        old = ~is_new
        for i in new:
            same = old & (st.type == st.type[i])
            pool = same if same.any() else old
            prior_log = float(log_a[pool].mean()) if pool.any() else float(log_a[i])
            rho = max(ucfg.rho0, 1.0 - math.exp(-float(st.count[i]) / ucfg.s0))
            log_a[i] = (1 - rho) * prior_log + rho * float(st.ips0[i])
        log_a = log_a - _lse(log_a)
        # keep α = softmax(s̄): shift the new nodes' s̄ by the old nodes' offset s̄ − log α
        offset = float((st.ema[old] - log_a[old])[0]) if old.any() else 0.0
        st.ema[new] = log_a[new] + offset
    st.alpha = np.exp(log_a)
    st.alpha /= st.alpha.sum()


def _lse(x: np.ndarray) -> float:
    top = float(np.max(x))
    return top + math.log(float(np.exp(x - top).sum()))


def update_state(st: UserState, new: NewImages, model: Any, gcfg: GraphConfig, ucfg: UpdateConfig) -> UpdateReport:
    """Steps (1)–(6) on one user's state, then nodes back in tag-id order."""
    touched, is_new, refreshed, pruned = apply_images(st, new, gcfg, ucfg)
    ego = ego_nodes(st, touched, ucfg.hops) | refreshed
    refresh(st, model, ego, is_new, ucfg)
    order = np.argsort(st.tag_id, kind="stable")
    if not np.array_equal(order, np.arange(st.n)):
        inverse = np.empty_like(order)
        inverse[order] = np.arange(st.n)
        for name in ("tag_id", "type", "relation", "count", "last", "ips0", "score", "ema", "alpha", "emb"):
            setattr(st, name, getattr(st, name)[order])
        for name in RAW:
            st.raw[name], st.z[name] = st.raw[name][order], st.z[name][order]
        st.src, st.dst = inverse[st.src], inverse[st.dst]
        touched, is_new, ego = touched[order], is_new[order], ego[order]
        _sort_edges(st)
    return UpdateReport(np.flatnonzero(touched), np.flatnonzero(is_new), np.flatnonzero(ego), pruned)


# -------------------------------------------------------------------------------------- workspace


def _params_of(con: Any, run_id: str, key: str, user_id: str) -> tuple[dict[str, Any], str]:
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
        return c.astype(object).filled(fill) if fill is None else c.filled(fill)
    return np.asarray(c)


def persona_code() -> str:
    from memoire_cli.persona.stage import PersonaStage

    return f"{__version__}+{PersonaStage.name}.{PersonaStage.code_version}"


def read_state(ws: Workspace, user_id: str) -> tuple[UserState, NewImages, dict[str, Any], dict[str, Any], GalleryDelta]:
    """The committed graph and persona of a user, its images beyond the watermark, and how its
    gallery differs from the one the graph accounts for (:mod:`.follow`); the state and images are
    ``None`` when the delta says only a full run can follow."""
    with ws.connect(read_only=True) as con:  # one snapshot, one connection
        marks = dict(((stage, (fp, digest, run_id)) for stage, fp, digest, run_id in con.execute(
            "SELECT stage, fingerprint, digest, run_id FROM stage_users WHERE stage IN ('graph', 'persona') AND user_id = ?", [user_id]).fetchall()))
        if set(marks) != {"graph", "persona"}:
            raise MemoireError(f"user {user_id} has no persona yet: run `memoire persona` first")
        (gparams, g_origin), (pparams, p_origin) = (_params_of(con, marks[k][2], k, user_id) for k in ("graph", "persona"))
        if fingerprint(pparams, persona_code(), inputs_digest([f"graph:{marks['graph'][1]}"])) != marks["persona"][0]:
            raise MemoireError(f"user {user_id}: the persona is older than its graph: run `memoire persona` first")
        delta = gallery_delta(con, user_id, marks["graph"], gparams)
        if delta.full_reason is not None:  # nothing to read: only a full run can follow
            return None, None, gparams, pparams, delta  # type: ignore[return-value]
        urow = con.execute("SELECT n_images, epoch_us(now), lambda_s, lambda_c, lambda_r, lambda_rel, lambda_f FROM graph_users WHERE user_id = ?", [user_id]).fetchall()
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
        tag_id=np.asarray(nodes["tag_id"], np.int64), type=_obj(_col(nodes, "type", None)), relation=_obj(_col(nodes, "relation", None)),
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
        return _obj([user_id] * k)

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
        "type": _obj(st.type), "relation": _obj(st.relation), "count": st.count.astype(np.int32),
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


@dataclass
class UserUpdate:
    """What ``persona update`` did or found for one user."""

    delta: GalleryDelta
    report: UpdateReport | None = None  # the fold, when new images were folded in
    committed: bool = False  # rows (re)written, recording the gallery they account for


def update_user(ws: Workspace, user_id: str, run: dict[str, Any], ucfg: UpdateConfig) -> UserUpdate:
    """Fold a user's new images into its graph and persona and commit.

    Nothing is written when the graph already accounts for the gallery and no image was appended,
    or when only a full run can follow (``delta.full_reason``). A re-ingested gallery with no new
    image (only duplicates or skipped files changed) is committed unchanged, so that the update
    records the gallery it now accounts for. ``run`` is the update's ``runs`` row (a dict): its
    params gain ``from[user_id]`` (the full runs the user's graph and persona come from, and the
    gallery accounted for), written in the same transaction as the user's rows.
    """
    st, new, gparams, pparams, delta = read_state(ws, user_id)
    out = UserUpdate(delta)
    if delta.full_reason is not None or (new.k == 0 and delta.accounted):
        return out
    old_emb = st.emb.copy()
    if new.k:
        fields = set(GraphConfig.__dataclass_fields__)
        gcfg = GraphConfig(**{k: v for k, v in gparams.items() if k in fields})
        model = load_model(pparams, np.asarray(ws.read_array("persona_weights", user_id)[...]))
        out.report = update_state(st, new, model, gcfg, ucfg)
    tables = output_rows(user_id, st)
    graph_digest = digest_columns({k: tables[k] for k in GRAPH_TABLES}, {})
    graph_fp = st.users_row["graph_fingerprint"]  # the last full build's: a changed gallery still rebuilds
    persona_fp = fingerprint(pparams, persona_code(), inputs_digest([f"graph:{graph_digest}"]))
    persona_digest = digest_columns({"persona": tables["persona"]}, {"persona_embeddings": st.emb})
    schema = ws.schema
    params = json.loads(run["params"])
    params.setdefault("from", {})[user_id] = {**st.users_row["from"], "gallery": delta.gallery}
    cols = schema.tables["runs"].column_names

    def commit(con: Any) -> None:
        for name, columns in tables.items():
            con.execute(f"DELETE FROM {name} WHERE user_id = ?", [user_id])
            ws.insert(con, schema.tables[name], columns)
        now = utcnow()
        marks = (("graph", graph_fp, graph_digest, {"gallery": delta.gallery}, {}),
                 ("persona", persona_fp, persona_digest, {"graph": f"graph:{graph_digest}"}, {"persona_embeddings": st.emb.shape}))
        for stage, fp, digest, upstream, shapes in marks:
            contents = {f"table:{spec.name}": len(next(iter(tables[spec.name].values()), ()))
                        for spec in schema.tables_of(stage) if spec.name in tables}
            contents.update({f"array:{name}": list(shape) for name, shape in shapes.items()})
            con.execute("DELETE FROM stage_users WHERE stage = ? AND user_id = ?", [stage, user_id])
            con.execute("INSERT INTO stage_users (stage, user_id, fingerprint, digest, run_id, completed_at, upstream, contents) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        [stage, user_id, fp, digest, run["run_id"], now, json.dumps(upstream), json.dumps(contents, sort_keys=True)])
        row = {**run, "params": canonical_json(params), "computed": run["computed"] + 1}
        con.execute("DELETE FROM runs WHERE run_id = ?", [run["run_id"]])
        con.execute(f"INSERT INTO runs VALUES ({', '.join('?' * len(cols))})", [row[c] for c in cols])

    ws.write_array("persona_embeddings", user_id, np.ascontiguousarray(st.emb, dtype=np.float32))
    try:
        ws.transaction(commit)
    except BaseException:
        ws.write_array("persona_embeddings", user_id, np.ascontiguousarray(old_emb, dtype=np.float32))
        raise
    run["params"] = canonical_json(params)
    run["computed"] += 1
    out.committed = True
    return out


def full_rerun(ws: Workspace, users: list[str], console: Any) -> None:
    """``--full``: rebuild the users' graph and retrain their persona with the parameters of their
    last full runs (``memoire graph`` then ``memoire persona``, each recorded as its own run)."""
    from memoire_cli.graph.stage import GraphStage
    from memoire_cli.persona.config import PersonaConfig, resolve_device
    from memoire_cli.persona.stage import PersonaStage
    from memoire_cli.stage import run_stage

    with ws.connect(read_only=True) as con:
        origins = {}
        for user_id in users:
            runs = dict(con.execute("SELECT stage, run_id FROM stage_users WHERE stage IN ('graph', 'persona') AND user_id = ?", [user_id]).fetchall())
            origins[user_id] = tuple(_params_of(con, runs[k], k, user_id)[0] for k in ("graph", "persona"))
    groups: dict[str, list[str]] = {}
    for user_id, params in origins.items():  # users that share parameters rebuild together
        groups.setdefault(canonical_json(params), []).append(user_id)
    g_fields, p_fields = set(GraphConfig.__dataclass_fields__), set(PersonaConfig.__dataclass_fields__)
    for key, members in sorted(groups.items()):
        gparams, pparams = json.loads(key)
        selection = Selection(tuple(members))
        run_stage(ws, GraphStage(GraphConfig(**{k: v for k, v in gparams.items() if k in g_fields})), selection, False, console)
        device = resolve_device("cpu" if pparams.get("device", "cpu") == "cpu" else "auto")
        cfg = PersonaConfig(**{k: v for k, v in pparams.items() if k in p_fields})
        run_stage(ws, PersonaStage(cfg, device), selection, False, console)


def run_update(ws: Workspace, selection: Selection, ucfg: UpdateConfig, console: Any, full: bool = False) -> dict[str, Any]:
    """``memoire persona update`` over the selected users; returns the manifest.

    Users whose gallery changed in a way an update cannot fold in (:mod:`.follow`) are rebuilt by a
    full ``graph`` + ``persona`` run when ``full``; otherwise, after the others are updated, one
    line names the change and the command fails (exit 1), so that a script notices the stale persona.
    """
    from memoire_cli.threads import pin_torch_threads

    ucfg.check()
    pin_torch_threads()  # the forward of the trained model: the same numbers on every machine
    universe = [u for (u,) in ws.query(
        "SELECT user_id FROM stage_users WHERE stage IN ('graph', 'persona') GROUP BY user_id HAVING count(*) = 2 ORDER BY user_id")]
    if not universe:
        raise MemoireError(f"`memoire persona update` needs the outputs of persona in {ws.root}, and there are none yet: run `memoire persona` first")
    users = selection.apply(universe)
    params = {"update": True, **ucfg.as_params()}
    run = new_run("persona", params, persona_code() + "+update.1", selection.shard, len(users))
    record_run(ws, run)
    stale: list[tuple[str, str]] = []
    try:
        for user_id in users:
            done = update_user(ws, user_id, run, ucfg)
            delta, report = done.delta, done.report
            seen = f" after a re-ingest ({delta.summary()})" if delta.changes.get("added") else ""
            if delta.full_reason is not None:
                stale.append((user_id, delta.full_reason))
            elif report is not None:
                console.print(f"persona update: user {user_id}{seen}: {len(report.touched)} tag(s) touched, "
                              f"{len(report.new)} new, {len(report.ego)} node(s) refreshed"
                              + (f", {len(report.pruned_tags)} pruned" if report.pruned_tags else ""), markup=False)
            elif done.committed:
                kinds = ", ".join(f"{len(v)} {k}" for k, v in sorted(delta.changes.items())) or "no file changed"
                console.print(f"persona update: user {user_id}: the gallery was re-ingested ({kinds}) "
                              "and no photo was added, removed or retagged: the persona is current", markup=False)
        if run["computed"] == 0 and not stale:
            console.print(f"persona update: nothing new: the gallery of {len(users)} user(s) is the one their graph and persona "
                          "account for (same content digest, no appended image)")
    except BaseException as exc:
        record_failure(ws, run, exc)
        raise
    skipped = run["computed"] == 0
    run.update(status="skipped" if skipped else "done", ended_at=utcnow())
    if stale and not full:
        run.update(status="failed", message=f"{len(stale)} user(s) need a full run")
    record_run(ws, run)
    if len(stale) > 1 or (stale and full):
        for user_id, why in stale:
            console.print(f"persona update: user {user_id} needs a full run{' (rebuilding: graph + persona)' if full else ''}: {why}", markup=False)
    if stale and not full:
        first, why = stale[0]
        more = f" (and {len(stale) - 1} other user(s))" if len(stale) > 1 else ""
        raise MemoireError(f"user {first}{more}: {why}; rerun with `memoire persona update --full` "
                           "(or `memoire graph` then `memoire persona`)")
    if stale:
        full_rerun(ws, [u for u, _ in stale], console)
    return {
        "memoire": __version__, "stage": "persona", "action": "update", "workspace": str(ws.root), "run_id": run["run_id"],
        "skipped": skipped and not stale, "shard": selection.shard, "users": len(users), "computed": run["computed"] + len(stale),
        "cached": len(users) - run["computed"] - len(stale), "full": [u for u, _ in stale],
        "wrote": {"tables": [*GRAPH_TABLES, "persona"], "arrays": [ws.schema.arrays["persona_embeddings"].path]},
    }
