"""`memoire persona` as a stage: per user, read the tag graph and train PERSONA-GAT (S1.2.5–S1.2.7).

Reads ``graph_nodes`` and ``graph_edges`` (written by ``memoire graph``) in one read-only
snapshot, trains (:func:`~memoire_cli.persona.train.train_persona`) and returns, for the runner to
commit together:

* ``persona`` — per node: tag, α_t (13), s_t, s̄_t (the EMA of S1.2.6, which ``persona update``
  (S1.2.11) continues);
* ``persona_curves`` — per epoch: the losses of (14), λ_ord and KL(α^(k) ‖ α^(k−1));
* ``persona/{user_id}/z`` — the embeddings z_t, float32 (n_nodes, 128);
* ``persona/{user_id}/weights`` — the trained parameters, flattened in state_dict order
  (rebuild the model with :func:`~memoire_cli.persona.train.build_model` from the run's parameters
  and :func:`~memoire_cli.persona.model.load_flat_weights`).

The fingerprint holds every training constant, the seed and the device type (CPU and CUDA round
differently). Each user trains from its own seed (:func:`~memoire_cli.persona.train.user_seed`), so
a user's result does not depend on which other users, shards or processes ran.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from memoire_cli.errors import MemoireError
from memoire_cli.persona.config import PersonaConfig, user_seed
from memoire_cli.persona.features import SCALARS, GraphInputError, PersonaGraph, build_graph
from memoire_cli.stage import Stage, UserOutput
from memoire_cli.workspace import Columns, Workspace

_NODES = f"SELECT node, tag_id, type, relation, {', '.join(SCALARS)}, ips0 FROM graph_nodes WHERE user_id = ? ORDER BY node"
_EDGES = "SELECT src, dst, weight FROM graph_edges WHERE user_id = ? ORDER BY src, dst"


def _plain(col: np.ndarray, fill: Any) -> np.ndarray:
    """A DuckDB column with NULLs (a masked array) as a plain array, NULL → ``fill``."""
    if np.ma.isMaskedArray(col):
        return masked_to_none(col) if fill is None else np.ma.filled(col, fill)
    return col


def masked_to_none(col: np.ma.MaskedArray) -> np.ndarray:
    """An object array of ``col``'s values with ``None`` where it is masked (``np.ma.filled(…, None)``
    would fill numpy's default ``'?'`` instead)."""
    out = np.asarray(col.data, dtype=object).copy()
    out[np.ma.getmaskarray(col)] = None
    return out


def _obj(values: list | np.ndarray) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = list(values)
    return out


def read_graph(ws: Workspace, user_id: str) -> PersonaGraph:
    """One user's graph from ``graph_nodes`` and ``graph_edges`` (one read-only connection).

    Raises:
        MemoireError: the tables are structurally unusable (see :mod:`memoire_cli.persona.features`).
    """
    with ws.connect(read_only=True) as con:
        nodes = con.execute(_NODES, [user_id]).fetchnumpy()
        edges = con.execute(_EDGES, [user_id]).fetchnumpy()
    nodes = {name: _plain(col, None if name in ("type", "relation") else np.nan) for name, col in nodes.items()}
    edges = {name: _plain(col, np.nan if name == "weight" else -1) for name, col in edges.items()}
    try:
        return build_graph(nodes, edges)
    except GraphInputError as exc:
        raise MemoireError(f"user {user_id}: {exc}: rerun `memoire graph`") from None


def output_tables(user_id: str, graph: PersonaGraph, result: Any) -> dict[str, Columns]:
    """The user's rows of ``persona`` and ``persona_curves`` (from a
    :class:`~memoire_cli.persona.train.PersonaResult`) as numpy columns in declared order."""
    n = graph.n_nodes
    curves = result.curves
    k = len(curves["epoch"])
    return {
        "persona": {
            "user_id": _obj([user_id] * n), "tag_id": graph.tag_id.astype(np.int32), "node": np.arange(n, dtype=np.int32),
            "alpha": result.alpha.astype(np.float64), "score": result.score.astype(np.float64),
            "score_ema": result.score_ema.astype(np.float64),
        },
        "persona_curves": {
            "user_id": _obj([user_id] * k), "epoch": np.asarray(curves["epoch"], dtype=np.int32),
            **{c: np.asarray(curves[c], dtype=np.float64).reshape(k) for c in ("loss", "loss_ctx", "loss_ord", "loss_smooth", "lambda_ord")},
            "kl": _obj(curves["kl"]),
        },
    }


class PersonaStage(Stage):
    name = "persona"
    code_version = "3"  # 2: full-batch training runs the dense step (persona/dense.py), α differs by float rounding; 3: fused AdamW there
    inputs = ("graph",)

    def __init__(self, cfg: PersonaConfig | None = None, device: Any = "cpu"):
        import torch

        self.cfg = cfg or PersonaConfig()
        self.cfg.check()
        self.device = torch.device(device)
        self.console: Any = None

    def params(self) -> dict[str, Any]:
        """Every training constant, the seed, and the device type (not its index: cuda:0 ≡ cuda:1)."""
        return {**self.cfg.as_params(), "device": self.device.type}

    def prepare(self, ws: Workspace, console: Any) -> None:
        from memoire_cli.threads import pin_torch_threads

        self.console = console
        threads = pin_torch_threads()  # α must not depend on the machine's core count (issue 14)
        console.print(f"persona: PERSONA-GAT on {self.device}" + (f", {threads} torch threads" if self.device.type == "cpu" else ""))

    def _warn(self, text: str) -> None:
        if self.console is not None:
            self.console.print(f"[yellow]persona: {text}[/yellow]")

    def compute(self, ws: Workspace, user_id: str) -> UserOutput:
        graph = read_graph(ws, user_id)
        if graph.sanitised:
            self._warn(f"user {user_id}: {graph.sanitised} non-finite feature value(s) in graph_nodes replaced by 0 (the z-score mean)")
        if graph.n_nodes <= 1:
            self._warn(f"user {user_id}: {'one tag' if graph.n_nodes else 'no tags'} in the graph: nothing to train "
                       f"({'α = 1' if graph.n_nodes else 'no persona rows'})")
        elif graph.n_edges == 0:
            self._warn(f"user {user_id}: no co-occurring tags: α follows the prior IPS⁰ (no context loss)")
        from memoire_cli.persona.train import train_persona  # torch-geometric: only where a user is trained
        from memoire_cli.progress import StepProgress

        with StepProgress(self.console, f"persona: user {user_id} (epochs, early stop may end sooner)", self.cfg.max_epochs) as progress:
            result = train_persona(graph, self.cfg, self.device, seed=user_seed(self.cfg.seed, user_id), progress=progress)
        return UserOutput(
            tables=output_tables(user_id, graph, result),
            arrays={"persona_embeddings": np.ascontiguousarray(result.z, dtype=np.float32),
                    "persona_weights": np.ascontiguousarray(result.weights, dtype=np.float32)},
        )
