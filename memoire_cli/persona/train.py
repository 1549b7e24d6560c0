"""Per-user PERSONA-GAT training without labels (S1.2.6): NCE context + weak ordinal + EMA smoothing.

One *epoch* (a "pass k over the user" of S1.2.6) is:

* **full batch** (|V| ≤ ``full_batch_max`` = 500): a few optimisation steps, each on the whole
  graph with fresh positives, negatives and ordinal pairs. How many is not in the spec: as many as
  fit a budget of 48 000 messages (directed edges with self-loops) per epoch, at most 20 — 20 for
  a synthetic user (≈ 30 tags, ≈ 200 edges), 2 for the worst case of 500 tags and 10 000 edges
  (which keeps its training under 10 s on one core).
  One step per epoch (the literal reading) moves each weight by at most 50 × lr = 0.015 with
  AdamW at lr 3e-4: α stays within ±4 % of uniform. ``--steps-per-epoch`` fixes the number.
* **neighbour sampling** (|V| > 500): the nodes, shuffled, are split into seed batches of
  ``batch_nodes``; each batch induces the subgraph of its seeds plus, per GAT layer, the K = 15
  heaviest neighbours of every node reached, and takes one step whose losses cover its seeds
  (positives, negatives and ordinal pairs are drawn inside the subgraph).

Each step: forward (dropout on) → 𝓛 of (14) with λ_ord(k) → AdamW (lr 3e-4, weight decay 1e-4)
after clipping the gradient norm to 5.0. The EMA is per pass, as S1.2.6 defines it: a step's
smoothing target is s̄^(k) = β s̄^(k−1) + (1 − β) s^(k) (β = 0.9, detached) from the previous
epoch's s̄^(k−1) and the step's scores; the epoch's last target of each node becomes s̄^(k). A node's
s̄ starts at the first scores it gets (so 𝓛_smooth = 0 in epoch 0).
After the epoch a deterministic forward (dropout off) on the full graph gives α^(k), and the
curves record the epoch's losses (full batch: the mean over its steps, each (14) over the whole
graph; sampled: the sum over its seed batches), λ_ord and KL(α^(k) ‖ α^(k−1)).

Ordinal pairs: the spec does not say how many. Each step draws 20 candidate pairs per node (as
many as the N_neg = 20 noise samples each target gets in the NCE term), keeps each with the
probability π of S1.2.6. With one candidate per node the hinge term is ~40× lighter than the NCE
term and α orders the top tags almost at random; with 20 the prior's order is kept while NCE
still shapes the embeddings (measured on toy galleries; see the tests and the benchmark).

Curriculum: λ_ord rises linearly from 0.1 (epoch 0) to 0.5 (epoch 4, the 5th) and stays; λ_sm = 0.1.

Early stop (patience 5), how the two criteria combine: the *moving average* of 𝓛 is the mean of
the last 5 epochs' losses. It is compared only once its window lies after the curriculum (from
epoch 8: λ_ord changes the loss's scale before), and an epoch *improves* when it is below the best
moving average so far by more than 0.1 % (relative). Training stops at the first epoch where
**both** hold: no improvement for 5 consecutive epochs **and** KL(α^(k) ‖ α^(k−1)) < 1e-3 — a
plateaued loss with a still-moving α continues, and so does a stable α with a loss still falling.
Otherwise it runs the maximum of 50 epochs.

Determinism: every random draw comes from a seed — numpy's generator for the samplers, torch's
(forked, so the caller's global RNG is untouched) for initialisation and dropout. The model is
initialised on the CPU and moved to the device, sampling happens on the CPU, so two CPU runs give
bit-identical α. On CUDA the result is reproducible only up to the non-deterministic order of
atomic scatter-adds (ordinary float rounding).

Degenerate graphs (documented, tested): no nodes → empty result; one node → no training, α = 1;
no edges → no context loss (there is no co-occurrence to predict), so α is trained by the
ordinal and smoothing losses alone and follows the prior IPS⁰.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from memoire_cli.persona import losses as L
from memoire_cli.persona.config import PersonaConfig, resolve_device, user_seed  # noqa: F401 (their home was here)
from memoire_cli.persona.dense import DenseStep, FlatAdamW, StepDraws, clip_grad_norm_, dense_graph
from memoire_cli.persona.features import IN_DIM, PersonaGraph
from memoire_cli.persona.model import PersonaGAT, edge_tensors, flat_parameters, flatten_weights
from memoire_cli.persona.sampling import (
    ContextGraph,
    FullBatchSampler,
    context_graph,
    induced_edges,
    ordinal_pairs,
    sample_negatives,
    sample_positives,
    sample_subgraph,
    top_k_neighbours,
)


@dataclass
class PersonaResult:
    """What training gives for one user (rows follow the graph's nodes).

    Attributes:
        alpha: ``(n,)`` float64 α_t (13), sums to 1.
        score: ``(n,)`` float64 s_t of the final model (dropout off).
        score_ema: ``(n,)`` float64 s̄_t, the EMA of the training scores (β = 0.9).
        z: ``(n, d)`` float32 embeddings z_t.
        weights: ``(P,)`` float32 flattened state_dict (:func:`~memoire_cli.persona.model.flatten_weights`).
        curves: per epoch ``epoch, loss, loss_ctx, loss_ord, loss_smooth, lambda_ord, kl`` (kl ``None`` at 0).
        epochs: epochs run. stop: ``converged``, ``max_epochs``, ``single node`` or ``empty graph``.
        mode: ``full`` or ``sampled``.
    """

    alpha: np.ndarray
    score: np.ndarray
    score_ema: np.ndarray
    z: np.ndarray
    weights: np.ndarray
    curves: dict[str, list] = field(default_factory=dict)
    epochs: int = 0
    stop: str = ""
    mode: str = "full"


CURVE_COLUMNS = ("epoch", "loss", "loss_ctx", "loss_ord", "loss_smooth", "lambda_ord", "kl")


def build_model(cfg: PersonaConfig, in_dim: int = IN_DIM) -> PersonaGAT:
    """The PERSONA-GAT a configuration describes (initialised from torch's current RNG); with
    :func:`~memoire_cli.persona.model.load_flat_weights` it restores a stored ``persona/{user_id}/weights``."""
    return PersonaGAT(in_dim, cfg.hidden, cfg.heads, cfg.layers, cfg.dropout, cfg.negative_slope, cfg.final_relu)


def _empty_curves() -> dict[str, list]:
    return {c: [] for c in CURVE_COLUMNS}


class _Trainer:
    """State of one user's training: model, optimiser, samplers, EMA, curves."""

    def __init__(self, graph: PersonaGraph, cfg: PersonaConfig, device: torch.device, seed: int):
        self.g, self.cfg, self.device = graph, cfg, device
        self.n = graph.n_nodes
        self.rng = np.random.default_rng(seed)
        self.model = build_model(cfg, graph.x.shape[1]).to(device)
        self.x = torch.from_numpy(graph.x).to(device)
        self.edge_index, self.edge_attr = edge_tensors(self.n, graph.src, graph.dst, graph.weight, device)
        self.ctx = context_graph(self.n, graph.src, graph.dst, graph.weight, power=cfg.neg_power)
        self.sampled = self.n > cfg.full_batch_max
        self.topk = top_k_neighbours(self.ctx, cfg.neighbours) if self.sampled else None
        self.dense: DenseStep | None = None
        if not self.sampled and 1 < self.n <= cfg.dense_max:
            # One flat buffer for the parameters (the model's tensors become views of it) and one
            # for their gradients: AdamW and the clipping then run a handful of ops per step.
            self.flat, self.flat_grad, _ = flat_parameters(self.model)
            self.opt = FlatAdamW(self.flat, self.flat_grad, lr=cfg.lr, weight_decay=cfg.weight_decay)
            self.dense = DenseStep(self.model, dense_graph(self.n, self.edge_index, self.edge_attr), self.flat, self.flat_grad)
            self.sampler = FullBatchSampler(self.ctx, graph.ips0, cfg.n_neg, cfg.p_hard,
                                            max(1, round(cfg.ord_pairs_per_node * self.n)), cfg.delta)
        else:
            self.opt = torch.optim.AdamW(self.model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, foreach=True)
        # s̄^(k−1), committed once per epoch (pass), and s̄^(k) as this epoch's steps compute it.
        self.ema = torch.full((self.n,), float("nan"), dtype=torch.float32, device=device)
        self.ema_next = self.ema.clone()
        self.curves = _empty_curves()

    # ------------------------------------------------------------------ one step, dense path
    def _draw_full(self) -> StepDraws:
        """The samplers' draws for one full-batch step: those :meth:`_step` makes, in its order."""
        return self.dense.as_draws(*self.sampler.draw(self.rng))

    def _dense_epoch(self, lambda_ord: float, steps: int) -> list[tuple[float, float, float]]:
        """An epoch of full-batch steps with :class:`~memoire_cli.persona.dense.DenseStep` (the
        losses, gradients and draws of :meth:`_step`), gradient clipping and AdamW on the flat buffers."""
        cfg = self.cfg
        # β s̄^(k−1), fixed for the epoch; before the first epoch has ended no node has an EMA yet.
        ema_scaled = None if bool(torch.isnan(self.ema).any()) else self.ema * cfg.beta
        losses = []
        with torch.no_grad():
            for _ in range(steps):
                terms, target = self.dense.step(self.x, ema_scaled, cfg.beta, lambda_ord, cfg.lambda_sm, cfg.margin, self._draw_full)
                clip_grad_norm_(self.flat_grad, cfg.clip)
                self.opt.step()
                self.ema_next = target
                losses.append(torch.stack(terms))
        return [tuple(row) for row in torch.stack(losses).tolist()]

    # ---------------------------------------------------------------------------- one step
    def _step(self, x: torch.Tensor, edge_index: torch.Tensor, edge_attr: torch.Tensor, ctx: ContextGraph,
              seeds: np.ndarray, nodes: np.ndarray, lambda_ord: float) -> tuple[float, float, float]:
        """One optimisation step on a (sub)graph; ``seeds`` are local rows, ``nodes`` their global ids."""
        cfg, dev = self.cfg, self.device
        z, s = self.model(x, edge_index, edge_attr)
        targets = seeds[ctx.degree[seeds] > 0]
        if targets.size:
            pos = sample_positives(ctx, targets, self.rng)
            neg = sample_negatives(ctx, targets, cfg.n_neg, cfg.p_hard, self.rng)
        else:
            pos, neg = targets, np.zeros((0, cfg.n_neg), np.int64)
        as_t = lambda a: torch.from_numpy(np.ascontiguousarray(a)).to(dev)  # noqa: E731
        l_ctx = L.context_loss(z, as_t(targets), as_t(pos), as_t(neg))
        n_pairs = max(1, round(cfg.ord_pairs_per_node * seeds.size))
        hi, lo = ordinal_pairs(self.g.ips0[nodes], seeds, n_pairs, cfg.delta, self.rng)
        l_ord = L.ordinal_loss(s, as_t(hi), as_t(lo), cfg.margin)
        rows = as_t(nodes[seeds])
        s_seed = s[as_t(seeds)]
        prev = self.ema[rows]
        current = s_seed.detach()
        target = torch.where(torch.isnan(prev), current, cfg.beta * prev + (1 - cfg.beta) * current)
        l_sm = L.smoothing_loss(s_seed, target)
        loss = L.total_loss(l_ctx, l_ord, l_sm, lambda_ord, cfg.lambda_sm)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.clip)
        self.opt.step()
        self.ema_next[rows] = target
        return float(l_ctx.detach()), float(l_ord.detach()), float(l_sm.detach())

    def epoch(self, k: int) -> tuple[float, float, float, float]:
        lam = self.cfg.lambda_ord(k)
        self.model.train()
        if self.dense is not None:
            parts = self._dense_epoch(lam, self.cfg.full_batch_steps(self.edge_index.shape[1]))
        elif not self.sampled:
            every = np.arange(self.n)
            steps = self.cfg.full_batch_steps(self.edge_index.shape[1])
            parts = [self._step(self.x, self.edge_index, self.edge_attr, self.ctx, every, every, lam) for _ in range(steps)]
        else:
            parts = []
            order = self.rng.permutation(self.n)
            for start in range(0, self.n, self.cfg.batch_nodes):
                seeds = order[start:start + self.cfg.batch_nodes]
                nodes = sample_subgraph(self.topk, seeds, self.cfg.layers)
                ls, ld, lw = induced_edges(nodes, self.g.src, self.g.dst, self.g.weight, self.n)
                ctx = context_graph(nodes.size, ls, ld, lw, degree=self.ctx.degree[nodes], power=self.cfg.neg_power)
                ei, ea = edge_tensors(nodes.size, ls, ld, lw, self.device)
                x = self.x[torch.from_numpy(nodes).to(self.device)]
                parts.append(self._step(x, ei, ea, ctx, np.searchsorted(nodes, seeds), nodes, lam))
        # Full batch: the mean over the epoch's steps (each is (14) over the whole graph); sampled:
        # the sum over the pass's seed batches (together, (14) over the whole graph).
        scale = 1.0 / len(parts) if not self.sampled else 1.0
        c, o, s = (scale * sum(p[i] for p in parts) for i in range(3))
        self.ema = self.ema_next.clone()  # s̄^(k): from the epoch's last scores of each node
        return c, o, s, lam

    @torch.no_grad()
    def evaluate(self) -> tuple[torch.Tensor, torch.Tensor]:
        """z and s of the full graph with dropout off."""
        self.model.eval()
        return self.model(self.x, self.edge_index, self.edge_attr)


class EarlyStop:
    """The early-stop rule of S1.2.6 (module docstring): stop when the moving-average loss has not
    improved for ``patience`` epochs **and** KL(α^(k) ‖ α^(k−1)) < ``kl_tol``.

    The moving average is the mean of the last ``patience`` losses; it is compared from the first
    epoch whose window lies after the curriculum (epoch ``warmup_epochs − 1 + patience − 1``).
    """

    def __init__(self, cfg: PersonaConfig):
        self.cfg = cfg
        self.window = cfg.patience
        self.first_check = max(cfg.warmup_epochs - 1, 0) + self.window - 1
        self.losses: list[float] = []
        self.best = math.inf
        self.stale = 0

    def update(self, epoch: int, loss: float, kl: float | None) -> bool:
        """Record epoch ``epoch``'s loss and KL; ``True`` when training should stop after it."""
        self.losses.append(loss)
        if epoch < self.first_check:
            return False
        moving = float(np.mean(self.losses[-self.window:]))
        if self.best == math.inf or moving < self.best - self.cfg.loss_tol * abs(self.best):
            self.best, self.stale = moving, 0
        else:
            self.stale += 1
        return self.stale >= self.cfg.patience and kl is not None and kl < self.cfg.kl_tol


def train_persona(graph: PersonaGraph, cfg: PersonaConfig | None = None, device: str | torch.device = "cpu",
                  seed: int | None = None, progress: Any = None) -> PersonaResult:
    """Train PERSONA-GAT on one user's graph and return α, s, s̄, z, the weights and the curves.

    Args:
        graph: the user's graph and features (:func:`~memoire_cli.persona.features.build_graph`).
        cfg: constants (default: the spec's).
        device: a torch device (already resolved; see :func:`resolve_device`).
        seed: the seed of every random draw (default ``cfg.seed``); :func:`user_seed` makes one per user.
        progress: a :class:`memoire_cli.progress.StepProgress` over ``cfg.max_epochs`` advanced per epoch (optional).
    """
    cfg = cfg or PersonaConfig()
    cfg.check()
    device = torch.device(device)
    seed = cfg.seed if seed is None else seed
    fork = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=fork):
        torch.manual_seed(seed)
        trainer = _Trainer(graph, cfg, device, seed)
        n = trainer.n
        if n <= 1:
            z, s = trainer.evaluate()
            return PersonaResult(alpha=np.ones(n), score=s.double().cpu().numpy(), score_ema=s.double().cpu().numpy(),
                                 z=z.float().cpu().numpy(), weights=flatten_weights(trainer.model), curves=_empty_curves(),
                                 epochs=0, stop="single node" if n == 1 else "empty graph")
        stopper = EarlyStop(cfg)
        prev_alpha, stop = None, "max_epochs"
        curves = trainer.curves
        for k in range(cfg.max_epochs):
            l_ctx, l_ord, l_sm, lam = trainer.epoch(k)
            total = l_ctx + lam * l_ord + cfg.lambda_sm * l_sm
            _, s_eval = trainer.evaluate()
            a = torch.softmax(s_eval.double(), dim=0)
            kl = None if prev_alpha is None else L.kl_divergence(a, prev_alpha)
            prev_alpha = a
            for name, value in zip(CURVE_COLUMNS, (k, total, l_ctx, l_ord, l_sm, lam, kl)):
                curves[name].append(value)
            if progress is not None:
                progress.advance()
            if stopper.update(k, total, kl):
                stop = "converged"
                break
        z, s = trainer.evaluate()
        s64 = s.double()
        ema = trainer.ema.double()
        ema = torch.where(torch.isnan(ema), s64, ema)
        return PersonaResult(alpha=torch.softmax(s64, dim=0).cpu().numpy(), score=s64.cpu().numpy(), score_ema=ema.cpu().numpy(),
                             z=z.float().cpu().numpy(), weights=flatten_weights(trainer.model), curves=curves,
                             epochs=len(curves["epoch"]), stop=stop, mode="sampled" if trainer.sampled else "full")
