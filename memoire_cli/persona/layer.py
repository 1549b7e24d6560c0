"""The PERSONA-GAT attention layer: relation-aware graph attention with edge features (S1.2.5, eqs. 9–12)."""

from __future__ import annotations

import shutil
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn import Parameter

with warnings.catch_warnings():  # torch-geometric 2.8 scripts a helper on import; torch 2.14 warns about it
    warnings.filterwarnings("ignore", message=r".*torch\.jit\.script.*", category=FutureWarning)
    from torch_geometric.nn.conv import MessagePassing
    from torch_geometric.nn.dense.linear import Linear
    from torch_geometric.nn.inits import glorot
    from torch_geometric.utils import scatter, softmax


@contextmanager
def private_tempdir() -> Iterator[None]:
    """Point :mod:`tempfile` at a private folder for the block, then delete the folder.

    ``MessagePassing.__init__`` renders each subclass's ``propagate``/``edge_updater`` from a jinja
    template into ``<tempdir>/<module>_XXXX.py`` with ``delete=False`` and imports it (once per
    process: the module is cached in ``sys.modules``); without this every ``memoire persona`` left
    two such files in the system's temporary folder. The module needs no file once imported.
    """
    folder = tempfile.mkdtemp(prefix="memoire-pyg-")
    previous = tempfile.tempdir
    tempfile.tempdir = folder
    try:
        yield
    finally:
        tempfile.tempdir = previous
        shutil.rmtree(folder, ignore_errors=True)


class PersonaGATConv(MessagePassing):
    r"""One PERSONA-GAT layer ℓ (S1.2.5): attention over neighbours that sees the edge weight.

    With edge features :math:`\phi(w_{uv}) = [w_{uv}, \log(1 + w_{uv})]`, per head:

    .. math::
        e_{u \to v} = \mathrm{LeakyReLU}\left(\mathbf{a}^\top
        [\mathbf{h}_u \,\|\, \mathbf{h}_v \,\|\, \phi(w_{uv})]\right)
        \qquad (9)

    .. math::
        \alpha_{u \to v} = \frac{\exp(e_{u \to v})}{\sum_{u' \in \mathcal{N}(v)} \exp(e_{u' \to v})}
        \qquad (10)

    .. math::
        \tilde{\mathbf{h}}_v = \sum_{u \in \mathcal{N}(v)} \alpha_{u \to v}
        \left(\mathbf{W} \mathbf{h}_u + \mathbf{U} \phi(w_{uv})\right)
        \qquad (11)

    .. math::
        \mathbf{h}'_v = \mathrm{ReLU}(\tilde{\mathbf{h}}_v + \mathbf{h}_v)
        \qquad (12)

    With :math:`H` heads, head :math:`k` has its own :math:`\mathbf{a}_k \in \mathbb{R}^{2d + D}`,
    :math:`\mathbf{W}_k \in \mathbb{R}^{(d/H) \times d}` and :math:`\mathbf{U}_k \in
    \mathbb{R}^{(d/H) \times D}`; the heads' :math:`\tilde{\mathbf{h}}_v` are concatenated back to
    width :math:`d`, so the residual of (12) needs no projection. Unlike :class:`GATConv`, the
    attention vector acts on :math:`\mathbf{h}` itself, as (9) writes it, split into
    :math:`\mathbf{a} = [\mathbf{a}_{src} \| \mathbf{a}_{dst} \| \mathbf{a}_{edge}]` so that the node
    terms are computed once per node, not per edge.

    Cost. Because :math:`\mathbf{U}` is linear, :math:`\sum_u \alpha_{u \to v} \mathbf{U}\phi(w_{uv}) =
    \mathbf{U} \sum_u \alpha_{u \to v} \phi(w_{uv})`: the α-weighted sum of :math:`\phi` (D numbers
    per head) is scattered beside the messages and :math:`\mathbf{U}` is applied once per node in
    :meth:`update`, instead of projecting every edge's features to width :math:`d` (what
    ``GATConv(edge_dim=D)`` does). A forward pass is
    :math:`O(|\mathcal{V}| d^2 + |\mathcal{E}| d)`.

    Dropout (S1.2.5, :math:`p = 0.1`) is applied to the layer's input features (before (9) and
    (11); the residual of (12) uses the undropped input) and to the attention coefficients
    :math:`\alpha` (10), in training mode only.

    The neighbourhood :math:`\mathcal{N}(v)` is whatever ``edge_index`` lists: the caller includes
    the self-loops :math:`w_{vv} = 1` of S1.2.2 (:func:`memoire_cli.persona.model.edge_tensors`
    does); the layer adds none.

    Args:
        channels (int): width :math:`d` of input and output node features (S1.2.5: 128).
        heads (int, optional): attention heads :math:`H`; must divide ``channels``. (default: 4)
        edge_dim (int, optional): width :math:`D` of :math:`\phi(w)`. (default: 2)
        negative_slope (float, optional): LeakyReLU slope of (9). (default: 0.2)
        dropout (float, optional): dropout on input features and on :math:`\alpha`. (default: 0.1)
        residual (bool, optional): add :math:`\mathbf{h}_v` as in (12). (default: ``True``)
        activation (bool, optional): apply the ReLU of (12); PERSONA-GAT's last layer does not
            (see :class:`~memoire_cli.persona.model.PersonaGAT`). (default: ``True``)

    Shapes:
        - **input:** node features :math:`(|\mathcal{V}|, d)`, edge indices :math:`(2, |\mathcal{E}|)`
          (row 0 source :math:`u`, row 1 target :math:`v`), edge features :math:`(|\mathcal{E}|, D)`
        - **output:** node features :math:`(|\mathcal{V}|, d)`; with ``return_attention_weights``
          also :math:`\alpha` of shape :math:`(|\mathcal{E}|, H)`
    """

    def __init__(self, channels: int, heads: int = 4, edge_dim: int = 2, negative_slope: float = 0.2,
                 dropout: float = 0.1, residual: bool = True, activation: bool = True):
        with private_tempdir():  # torch_geometric renders propagate() into a .py file it never deletes
            super().__init__(aggr="add", node_dim=0)
        if channels % heads:
            raise ValueError(f"heads ({heads}) must divide channels ({channels})")
        self.channels = channels
        self.heads = heads
        self.head_channels = channels // heads
        self.edge_dim = edge_dim
        self.negative_slope = negative_slope
        self.dropout = dropout
        self.residual = residual
        self.activation = activation
        # W of (11), the H heads' (d/H × d) blocks stacked into one d × d map.
        self.lin = Linear(channels, channels, bias=False, weight_initializer="glorot")
        # a of (9), split by the part of [h_u ‖ h_v ‖ φ] it multiplies; one row per head.
        self.att_src = Parameter(torch.empty(heads, channels))
        self.att_dst = Parameter(torch.empty(heads, channels))
        self.att_edge = Parameter(torch.empty(heads, edge_dim))
        # U of (11), per head (D × d/H).
        self.lin_edge = Parameter(torch.empty(heads, edge_dim, self.head_channels))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        super().reset_parameters()
        self.lin.reset_parameters()
        glorot(self.att_src)
        glorot(self.att_dst)
        glorot(self.att_edge)
        glorot(self.lin_edge)

    def forward(self, x: Tensor, edge_index: Tensor, edge_attr: Tensor,
                return_attention_weights: bool = False) -> Tensor | tuple[Tensor, Tensor]:
        """Run (9)–(12).

        Args:
            x: ``(N, d)`` node features h^(ℓ−1).
            edge_index: ``(2, E)`` long, source row 0, target row 1, self-loops included.
            edge_attr: ``(E, D)`` edge features φ(w).
            return_attention_weights: also return α ``(E, H)``.
        """
        H, C = self.heads, self.head_channels
        h = F.dropout(x, p=self.dropout, training=self.training)
        wh = self.lin(h).view(-1, H, C)                      # (N, H, C): W h_u, per head
        a_src = h @ self.att_src.t()                          # (N, H): a_src · h_u
        a_dst = h @ self.att_dst.t()                          # (N, H): a_dst · h_v
        alpha = self.edge_updater(edge_index, a_src=a_src, a_dst=a_dst, edge_attr=edge_attr)  # (E, H)
        # Σ_u α_{u→v} φ(w_uv): (N, H, D), a small scatter beside the main one.
        phi = scatter(alpha.unsqueeze(-1) * edge_attr.unsqueeze(1), edge_index[1], dim=0, dim_size=x.size(0), reduce="sum")
        out = self.propagate(edge_index, x=wh, alpha=alpha, phi=phi)  # (N, H, C)
        out = out.reshape(-1, H * C)
        if self.residual:
            out = out + x
        if self.activation:
            out = F.relu(out)
        if return_attention_weights:
            return out, alpha
        return out

    def edge_update(self, a_src_j: Tensor, a_dst_i: Tensor, edge_attr: Tensor, index: Tensor,
                    ptr: Tensor | None, dim_size: int | None) -> Tensor:
        """(9) and (10): logits per edge and head, softmax over each target's incoming edges, dropout."""
        e = a_src_j + a_dst_i + edge_attr @ self.att_edge.t()   # (E, H)
        e = F.leaky_relu(e, self.negative_slope)
        alpha = softmax(e, index, ptr, dim_size)
        return F.dropout(alpha, p=self.dropout, training=self.training)

    def message(self, x_j: Tensor, alpha: Tensor) -> Tensor:
        """α_{u→v} W h_u: ``(E, H, C)``."""
        return alpha.unsqueeze(-1) * x_j

    def update(self, inputs: Tensor, phi: Tensor) -> Tensor:
        """(11): Σ_u α W h_u + U Σ_u α φ(w_uv), per head: ``(N, H, C)``."""
        return inputs + torch.einsum("nhd,hdc->nhc", phi, self.lin_edge)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.channels}, heads={self.heads}, edge_dim={self.edge_dim})"
