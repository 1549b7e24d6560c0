"""PERSONA-GAT's input: a user's tag graph and node features [x̃_t ‖ IPS⁰_t] (S1.2.3, S1.2.5 eq. 8).

Numpy only (no torch), so the stage can validate its input before loading a model.

Node features, in this order (``IN_DIM`` = 21 columns):

====================  ====  =================================================================
columns               size  meaning
====================  ====  =================================================================
f̃, r̃, ṽ, q̃, g̃          5     z-scored scalar features of (5), ``graph_nodes.{f,r,v,q,g}_z``
type one-hot          3     P, L, E (u_t, first part)
relation one-hot      12    ρ_t for people (``RELATIONS``), all zero for locations and events
IPS⁰_t                1     the data-adaptive prior (7), ``graph_nodes.ips0``
====================  ====  =================================================================

Bad input (documented behaviour, tested):

* Non-finite z-scored features or IPS⁰ (e.g. a feature constant over a user's tags z-scored
  without a guard) are **sanitised** to 0 — the z-score mean, "no information" — and counted in
  :attr:`PersonaGraph.sanitised`, which the stage reports on stderr.
* A person whose relation is not one of the 12 labels is treated as ``unknown`` (S1.2.1: unlabeled
  faces are *unknown*).
* Structural problems cannot be sanitised and raise :class:`GraphInputError` (one line, exit 1):
  node indices not 0…n−1, an unknown tag type, edges out of range, not ``src < dst``, duplicated,
  or with non-finite or negative weights.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from memoire_cli.errors import MemoireError
from memoire_cli.vocabulary import RELATIONS, TAG_TYPES

#: The z-scored scalar features of (5), as columns of ``graph_nodes``.
SCALARS: tuple[str, ...] = ("f_z", "r_z", "v_z", "q_z", "g_z")
#: Width of [x̃_t ‖ IPS⁰_t]: 5 scalars + 3 types + 12 relations + 1 prior.
IN_DIM = len(SCALARS) + len(TAG_TYPES) + len(RELATIONS) + 1


class GraphInputError(MemoireError):
    """A user's graph tables are structurally unusable (rerun ``memoire graph``)."""


@dataclass(frozen=True)
class PersonaGraph:
    """One user's tag graph as PERSONA-GAT sees it.

    Attributes:
        tag_id: ``(n,)`` int64, the tag of each node (row = ``graph_nodes.node``).
        x: ``(n, IN_DIM)`` float32 node features [x̃_t ‖ IPS⁰_t] (8).
        ips0: ``(n,)`` float64 prior IPS⁰_t (7), used by the ordinal loss.
        src, dst: ``(m,)`` int64 undirected edges, once per pair, ``src < dst``; self-loops
            (w = 1, S1.2.2) are implicit and added by the model's edge builder.
        weight: ``(m,)`` float64 edge weights w_uv (3), finite and ≥ 0.
        sanitised: how many non-finite feature values were replaced by 0.
    """

    tag_id: np.ndarray
    x: np.ndarray
    ips0: np.ndarray
    src: np.ndarray
    dst: np.ndarray
    weight: np.ndarray
    sanitised: int = 0

    @property
    def n_nodes(self) -> int:
        return int(self.x.shape[0])

    @property
    def n_edges(self) -> int:
        return int(self.src.shape[0])


def node_features(scalars: np.ndarray, types: Sequence[str], relations: Sequence[str | None],
                  ips0: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """[x̃_t ‖ IPS⁰_t] of (8) for every node.

    Args:
        scalars: ``(n, 5)`` z-scored f, r, v, q, g.
        types: ``n`` tag types, each P, L or E.
        relations: ``n`` relation labels ρ_t (``None`` for non-people; unknown labels → ``unknown``).
        ips0: ``(n,)`` IPS⁰.

    Returns:
        ``(x, ips0, sanitised)``: ``(n, IN_DIM)`` float32 features, the ``(n,)`` float64 prior
        (non-finite values of both replaced by 0), and how many values were replaced.
    """
    scalars = np.asarray(scalars, dtype=np.float64).reshape(-1, len(SCALARS))
    ips0 = np.asarray(ips0, dtype=np.float64).reshape(-1)
    n = scalars.shape[0]
    bad = int((~np.isfinite(scalars)).sum() + (~np.isfinite(ips0)).sum())
    scalars = np.where(np.isfinite(scalars), scalars, 0.0)
    ips0 = np.where(np.isfinite(ips0), ips0, 0.0)
    type_index = {t: i for i, t in enumerate(TAG_TYPES)}
    rel_index = {r: i for i, r in enumerate(RELATIONS)}
    onehot_type = np.zeros((n, len(TAG_TYPES)))
    onehot_rel = np.zeros((n, len(RELATIONS)))
    for k, (t, rel) in enumerate(zip(types, relations)):
        if t not in type_index:
            raise GraphInputError(f"unknown tag type {t!r} (expected one of {', '.join(TAG_TYPES)})")
        onehot_type[k, type_index[t]] = 1.0
        if t == "P":
            onehot_rel[k, rel_index.get(rel if isinstance(rel, str) else "unknown", rel_index["unknown"])] = 1.0
    x = np.concatenate([scalars, onehot_type, onehot_rel, ips0[:, None]], axis=1).astype(np.float32)
    return x, ips0, bad


def build_graph(nodes: Mapping[str, np.ndarray], edges: Mapping[str, np.ndarray]) -> PersonaGraph:
    """Validate a user's ``graph_nodes`` / ``graph_edges`` columns and assemble a :class:`PersonaGraph`.

    Args:
        nodes: columns ``node, tag_id, type, relation, f_z, r_z, v_z, q_z, g_z, ips0``, ordered by node.
        edges: columns ``src, dst, weight``.

    Raises:
        GraphInputError: on the structural problems listed in the module docstring.
    """
    node = np.asarray(nodes["node"], dtype=np.int64)
    n = node.shape[0]
    if not np.array_equal(node, np.arange(n)):
        raise GraphInputError("graph_nodes.node is not 0…n−1 in order")
    scalars = np.stack([np.asarray(nodes[c], dtype=np.float64) for c in SCALARS], axis=1) if n else np.zeros((0, len(SCALARS)))
    x, ips0, bad = node_features(scalars, list(nodes["type"]), list(nodes["relation"]), nodes["ips0"])
    src = np.asarray(edges["src"], dtype=np.int64)
    dst = np.asarray(edges["dst"], dtype=np.int64)
    weight = np.asarray(edges["weight"], dtype=np.float64)
    if src.size:
        if src.min() < 0 or dst.max() >= n:
            raise GraphInputError(f"graph_edges refers to nodes outside 0…{n - 1}")
        if np.any(src >= dst):
            raise GraphInputError("graph_edges must have src < dst (self-loops are implicit)")
        if np.unique(src * n + dst).size != src.size:
            raise GraphInputError("graph_edges has duplicated (src, dst) pairs")
        if not np.all(np.isfinite(weight)) or weight.min() < 0:
            raise GraphInputError("graph_edges has non-finite or negative weights")
    return PersonaGraph(tag_id=np.asarray(nodes["tag_id"], dtype=np.int64), x=x, ips0=ips0, src=src, dst=dst,
                        weight=weight, sanitised=bad)
