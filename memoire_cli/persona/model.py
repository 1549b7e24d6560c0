"""PERSONA-GAT: MLP₀ initialisation, L attention layers and the score head (S1.2.5, eqs. 8–13)."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from memoire_cli.persona.features import IN_DIM
from memoire_cli.persona.layer import PersonaGATConv


def edge_features(weight: Tensor) -> Tensor:
    """φ(w) = [w, log(1 + w)] (S1.2.5): ``(E,)`` → ``(E, 2)``."""
    return torch.stack([weight, torch.log1p(weight)], dim=-1)


def edge_tensors(n_nodes: int, src: np.ndarray, dst: np.ndarray, weight: np.ndarray,
                 device: torch.device | str = "cpu") -> tuple[Tensor, Tensor]:
    """The message-passing graph of an undirected weighted tag graph (S1.2.2).

    Each undirected edge ``src < dst`` becomes two directed edges, and every node gets its
    self-loop with w_vv = 1, so that 𝒩(v) of (10) contains v itself. Edges are ordered by
    (target, source), which makes the scatter order (and therefore the result) reproducible.

    Args:
        n_nodes: |V|.
        src, dst: ``(m,)`` node indices, ``src < dst``.
        weight: ``(m,)`` w_uv ≥ 0.

    Returns:
        ``edge_index`` ``(2, 2m + n)`` long and ``edge_attr`` = φ(w) ``(2m + n, 2)`` float32.
    """
    loops = np.arange(n_nodes, dtype=np.int64)
    s = np.concatenate([np.asarray(src, np.int64), np.asarray(dst, np.int64), loops])
    t = np.concatenate([np.asarray(dst, np.int64), np.asarray(src, np.int64), loops])
    w = np.concatenate([np.asarray(weight, np.float64), np.asarray(weight, np.float64), np.ones(n_nodes)])
    order = np.lexsort((s, t))
    edge_index = torch.from_numpy(np.stack([s[order], t[order]])).to(device)
    edge_attr = edge_features(torch.from_numpy(w[order].astype(np.float32))).to(device)
    return edge_index, edge_attr


class PersonaGAT(nn.Module):
    r"""The PERSONA-GAT encoder and score head (S1.2.5).

    .. math::
        \mathbf{h}^{(0)}_t = \mathrm{MLP}_0([\tilde{\mathbf{x}}_t \,\|\, \mathrm{IPS}^0_t]) \qquad (8)

    then L :class:`~memoire_cli.persona.layer.PersonaGATConv` layers (9)–(12), and

    .. math::
        \mathbf{z}_t = \mathbf{h}^{(L)}_t, \quad s_t = \mathbf{w}^\top \sigma(\mathbf{z}_t) + b,
        \quad \alpha_t = \frac{\exp(s_t)}{\sum_u \exp(s_u)} \qquad (13)

    MLP₀ is Linear(in, d) → ReLU → Linear(d, d) (the spec names MLP₀ without its depth; two layers
    is the smallest MLP with a non-linearity).

    The last layer's output is *not* passed through the ReLU of (12) (``final_relu=False``, our
    reading): z_t = h̃^(L)_t + h^(L−1)_t. With the ReLU every z_t ≥ 0, so z_t·z_n ≥ 0 and the NCE
    term −log σ(−z_t·z_n) ≥ log 2 for every negative; the only way down is to switch coordinates
    off, and the embeddings collapse (measured on toy galleries with the default training: 90 % of
    the entries of z exactly 0, against none without it, and a higher final NCE loss). A signed
    z_t is what the NCE objective (word2vec-style) and the σ of the score head presuppose.
    ``final_relu=True`` restores the literal (12).

    Args:
        in_dim: width of [x̃ ‖ IPS⁰] (:data:`~memoire_cli.persona.features.IN_DIM`, 21).
        hidden: d (128). heads: H (4). layers: L (2). dropout: p (0.1). negative_slope: of (9).
        final_relu: apply (12)'s ReLU after the last layer too (default ``False``, above).

    Shapes:
        - **input:** features ``(N, in_dim)``, ``edge_index`` ``(2, E)``, ``edge_attr`` ``(E, 2)``
          (from :func:`edge_tensors`)
        - **output:** ``z`` ``(N, d)`` and ``s`` ``(N,)``; :func:`alpha` gives α ``(N,)``
    """

    def __init__(self, in_dim: int = IN_DIM, hidden: int = 128, heads: int = 4, layers: int = 2,
                 dropout: float = 0.1, negative_slope: float = 0.2, final_relu: bool = False):
        super().__init__()
        self.mlp0 = nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden))
        self.convs = nn.ModuleList(
            PersonaGATConv(hidden, heads=heads, edge_dim=2, negative_slope=negative_slope, dropout=dropout,
                           activation=final_relu or i < layers - 1)
            for i in range(layers)
        )
        self.score = nn.Linear(hidden, 1)  # w, b of (13)

    def forward(self, x: Tensor, edge_index: Tensor, edge_attr: Tensor) -> tuple[Tensor, Tensor]:
        """Embeddings z ``(N, d)`` and scores s ``(N,)``."""
        h = self.mlp0(x)
        for conv in self.convs:
            h = conv(h, edge_index, edge_attr)
        return h, self.score(torch.sigmoid(h)).squeeze(-1)


def alpha(scores: Tensor) -> Tensor:
    """α_t = softmax(s)_t over the user's tags (13)."""
    return torch.softmax(scores, dim=0)


def flatten_weights(model: nn.Module) -> np.ndarray:
    """Every tensor of ``model.state_dict()``, flattened and concatenated in its order: float32 ``(P,)``."""
    parts = [t.detach().to("cpu", torch.float32).reshape(-1) for t in model.state_dict().values()]
    return torch.cat(parts).numpy() if parts else np.zeros(0, np.float32)


def flat_parameters(model: nn.Module) -> tuple[Tensor, Tensor, dict[str, Tensor]]:
    """Move every parameter of ``model`` into one contiguous buffer (each becomes a view of it) and
    give each a view of one gradient buffer, so an optimiser and gradient clipping run on one tensor.

    Returns:
        ``(flat, flat_grad, grads)``: the leaf tensor to optimise (its ``.grad`` is ``flat_grad``),
        the gradient buffer, and parameter name → the view of ``flat_grad`` that is its ``.grad``.
        Parameter values, names and ``state_dict`` order are unchanged.
    """
    params = list(model.named_parameters())
    with torch.no_grad():
        flat = torch.cat([p.detach().reshape(-1) for _, p in params]) if params else torch.zeros(0)
    flat.requires_grad_(True)
    flat_grad = torch.zeros_like(flat, requires_grad=False)
    flat.grad = flat_grad
    grads: dict[str, Tensor] = {}
    offset = 0
    for name, p in params:
        k = p.numel()
        p.data = flat.data[offset:offset + k].view_as(p)
        p.grad = grads[name] = flat_grad[offset:offset + k].view_as(p)
        offset += k
    return flat, flat_grad, grads


def load_flat_weights(model: nn.Module, flat: np.ndarray) -> nn.Module:
    """Inverse of :func:`flatten_weights`: fill ``model`` (built with the same configuration)."""
    state = model.state_dict()
    total = sum(t.numel() for t in state.values())
    flat = np.asarray(flat, dtype=np.float32)
    if flat.shape != (total,):
        raise ValueError(f"weights have {flat.size} values, the model needs {total}")
    offset = 0
    new = {}
    for name, t in state.items():
        new[name] = torch.from_numpy(flat[offset:offset + t.numel()].copy()).view_as(t).to(t.dtype)
        offset += t.numel()
    model.load_state_dict(new)
    return model
