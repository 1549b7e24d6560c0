"""The arithmetic of ``memoire persona update`` (S1.2.11): new images folded into one user's graph and
persona in memory, at a cost bounded by the ego graph of the tags they touch.

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
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from memoire_cli.errors import UsageError
from memoire_cli.graph import cooccurrence as co
from memoire_cli.graph import features as ft
from memoire_cli.graph.config import GraphConfig
from memoire_cli.graph.prior import ips0 as ips0_of
from memoire_cli.graph.social import relation_index, social_boost
from memoire_cli.persona.features import node_features

RAW = ("f", "r", "v", "q", "g")

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


def object_array(values: Any) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = list(values)
    return out


def _append_nodes(st: UserState, tags: list[int], info: dict[int, tuple[str, str | None]]) -> None:
    k = len(tags)
    d = st.emb.shape[1]
    st.tag_id = np.concatenate([st.tag_id, np.asarray(tags, np.int64)])
    st.type = object_array([*st.type, *(info[t][0] for t in tags)])
    st.relation = object_array([*st.relation, *((info[t][1] if info[t][0] == "P" else None) for t in tags)])
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
