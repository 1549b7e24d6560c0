"""PERSONA-GAT's constants (S1.2.5–S1.2.6), the per-user seed and the device choice.

Torch-free at import (torch is imported by :func:`resolve_device` only), so that a command can
check its options, plan a run and start ``--jobs`` workers without importing torch-geometric; the
model and its training live in :mod:`~memoire_cli.persona.train`, which re-exports these names.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from typing import Any

from memoire_cli.errors import UsageError
from memoire_cli.recorded import FromParams


@dataclass(frozen=True)
class PersonaConfig(FromParams):
    """Every constant of S1.2.5–S1.2.6 (defaults are the spec's); all enter the stage's fingerprint."""

    # Model (S1.2.5)
    hidden: int = 128
    heads: int = 4
    layers: int = 2
    dropout: float = 0.1
    negative_slope: float = 0.2
    # Context loss (NCE)
    n_neg: int = 20
    neg_power: float = 0.75
    p_hard: float = 0.3
    # Weak ordinal loss
    margin: float = 1.0
    delta: float = 0.2
    ord_pairs_per_node: float = 20.0  # candidate pairs per node and step (not in the spec; = N_neg)
    # EMA smoothing and the curriculum of (14)
    beta: float = 0.9
    lambda_ord_start: float = 0.1
    lambda_ord_end: float = 0.5
    warmup_epochs: int = 5
    lambda_sm: float = 0.1
    # Optimisation
    lr: float = 3e-4
    weight_decay: float = 1e-4
    clip: float = 5.0
    max_epochs: int = 50
    patience: int = 5
    kl_tol: float = 1e-3
    loss_tol: float = 1e-3  # relative improvement of the moving-average loss (not in the spec)
    # Mini-batching
    full_batch_max: int = 500
    neighbours: int = 15
    batch_nodes: int = 256
    steps_per_epoch: int = 0  # full batch: optimisation steps per epoch; 0 = from the message budget below
    epoch_messages: int = 48_000
    max_steps_per_epoch: int = 20
    final_relu: bool = False  # ReLU after the last layer's residual too (the literal (12)); see model.py
    dense_max: int = 256  # full batch up to this many nodes: the dense step of dense.py; 0 = always autograd
    seed: int = 0

    def __post_init__(self) -> None:
        self.check()

    def check(self) -> None:
        """Raise :class:`UsageError` on impossible values (run on construction)."""
        problems = []
        if self.hidden < 1 or self.heads < 1 or self.hidden % self.heads:
            problems.append(f"heads ({self.heads}) must divide hidden ({self.hidden})")
        if self.layers < 1:
            problems.append("layers must be at least 1")
        if self.max_epochs < 1:
            problems.append(f"--epochs must be at least 1, got {self.max_epochs}")
        if self.steps_per_epoch < 0:
            problems.append(f"--steps-per-epoch must be 0 (auto) or more, got {self.steps_per_epoch}")
        if not self.lr > 0 or self.lr == float("inf"):
            problems.append(f"--lr must be positive and finite, got {self.lr:g}")
        if self.patience < 1:
            problems.append(f"--patience must be at least 1, got {self.patience}")
        if not 0 <= self.dropout < 1 or not 0 <= self.beta < 1 or not 0 <= self.p_hard <= 1:
            problems.append("dropout and beta must lie in [0, 1), p_hard in [0, 1]")
        if self.n_neg < 1 or self.neighbours < 1 or self.batch_nodes < 1 or self.full_batch_max < 1:
            problems.append("n_neg, neighbours, batch_nodes and full_batch_max must be at least 1")
        if self.dense_max < 0:
            problems.append(f"dense_max must be 0 (never) or more, got {self.dense_max}")
        if self.delta <= 0 or self.clip <= 0:
            problems.append("delta and clip must be positive")
        if problems:
            raise UsageError("; ".join(problems))

    def full_batch_steps(self, n_messages: int) -> int:
        """Optimisation steps per full-batch epoch: ``steps_per_epoch`` if set, else as many steps as
        fit ``epoch_messages`` messages (directed edges with self-loops, per step), between 1 and
        ``max_steps_per_epoch``."""
        if self.steps_per_epoch > 0:
            return self.steps_per_epoch
        return int(min(self.max_steps_per_epoch, max(1, self.epoch_messages // max(n_messages, 1))))

    def lambda_ord(self, epoch: int) -> float:
        """λ_ord at an epoch: linear from ``lambda_ord_start`` to ``lambda_ord_end`` over the first
        ``warmup_epochs`` epochs (reached at epoch warmup − 1), then constant."""
        if self.warmup_epochs <= 1:
            return self.lambda_ord_end
        t = min(epoch / (self.warmup_epochs - 1), 1.0)
        return self.lambda_ord_start + t * (self.lambda_ord_end - self.lambda_ord_start)

    def as_params(self) -> dict[str, Any]:
        return asdict(self)


def user_seed(seed: int, user_id: str) -> int:
    """A per-user seed from the run seed and the user id (stable across processes and machines)."""
    return int(hashlib.sha256(f"{seed}:{user_id}".encode()).hexdigest()[:8], 16)


def resolve_device(name: str) -> Any:
    """``auto`` → ``cuda`` when available, else ``cpu``; ``cpu``, ``cuda``, ``cuda:i`` are checked.

    Raises:
        UsageError: an unknown device, or CUDA asked for and not available.
    """
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except (RuntimeError, ValueError):
        raise UsageError(f"--device {name!r}: not a torch device (use auto, cpu, cuda or cuda:i)") from None
    if dev.type == "cpu":
        return dev
    if dev.type != "cuda":
        raise UsageError(f"--device {name!r}: only cpu and cuda are supported")
    if not torch.cuda.is_available():
        raise UsageError(f"--device {name}: CUDA is not available on this machine (use --device cpu)")
    if dev.index is not None and dev.index >= torch.cuda.device_count():
        raise UsageError(f"--device {name}: only {torch.cuda.device_count()} CUDA device(s) here")
    return dev
