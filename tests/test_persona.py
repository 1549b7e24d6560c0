"""PERSONA-GAT as a library (S1.2.5–S1.2.6): the layer's equations, the model, samplers, losses, training."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from memoire_cli.errors import UsageError
from memoire_cli.persona import losses as L
from memoire_cli.persona.features import IN_DIM, SCALARS, GraphInputError, PersonaGraph, build_graph
from memoire_cli.persona.layer import PersonaGATConv
from memoire_cli.persona.model import PersonaGAT, edge_features, edge_tensors, flatten_weights, load_flat_weights
from memoire_cli.persona.sampling import (
    context_graph,
    induced_edges,
    ordinal_pairs,
    sample_negatives,
    sample_positives,
    sample_subgraph,
    top_k_neighbours,
)
from memoire_cli.persona.toy import gallery_graph, random_graph
from memoire_cli.persona.train import EarlyStop, PersonaConfig, build_model, resolve_device, train_persona, user_seed

#: A few epochs of few steps: enough to exercise every mechanism, fast on one core.
QUICK = PersonaConfig(max_epochs=6, steps_per_epoch=2)


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1])


def node_columns(n: int, **override: np.ndarray) -> dict[str, np.ndarray]:
    cols: dict[str, np.ndarray] = {
        "node": np.arange(n), "tag_id": np.arange(n) + 100,
        "type": np.array((["P", "L", "E"] * n)[:n], dtype=object),
        "relation": np.array((["father", None, None] * n)[:n], dtype=object),
        **{c: np.linspace(-1.0, 1.0, n) for c in SCALARS},
        "ips0": np.linspace(1.0, -1.0, n),
    }
    cols.update(override)
    return cols


def edge_columns(src: list[int], dst: list[int], w: list[float]) -> dict[str, np.ndarray]:
    return {"src": np.array(src, dtype=np.int64), "dst": np.array(dst, dtype=np.int64), "weight": np.array(w, dtype=np.float64)}


# ------------------------------------------------------------------------------------------ layer
def test_layer_computes_equations_9_to_12() -> None:
    """The MessagePassing layer equals (9)–(12) written out with loops over targets and heads."""
    torch.manual_seed(0)
    n, d, heads = 5, 8, 2
    src, dst, w = np.array([0, 0, 1, 2]), np.array([1, 2, 3, 4]), np.array([0.5, 1.0, 0.2, 0.9])
    edge_index, edge_attr = edge_tensors(n, src, dst, w)
    layer = PersonaGATConv(d, heads=heads, dropout=0.1).eval()
    h = torch.randn(n, d)
    out, att = layer(h, edge_index, edge_attr, return_attention_weights=True)

    c = d // heads
    W = layer.lin.weight.detach()  # (d, d): rows of head k are k*c … (k+1)*c
    expect = torch.zeros(n, d)
    for v in range(n):
        incoming = [e for e in range(edge_index.shape[1]) if edge_index[1, e] == v]
        for k in range(heads):
            a = torch.cat([layer.att_src[k], layer.att_dst[k], layer.att_edge[k]]).detach()
            logits = torch.stack([torch.nn.functional.leaky_relu(a @ torch.cat([h[edge_index[0, e]], h[v], edge_attr[e]]), 0.2)
                                  for e in incoming])  # (9)
            alpha = torch.softmax(logits, 0)  # (10)
            msg = [W[k * c:(k + 1) * c] @ h[edge_index[0, e]] + edge_attr[e] @ layer.lin_edge[k].detach() for e in incoming]
            expect[v, k * c:(k + 1) * c] = sum(a_e * m for a_e, m in zip(alpha, msg))  # (11)
    expect = torch.relu(expect + h)  # (12)
    assert torch.allclose(out, expect, atol=1e-5)
    sums = torch.zeros(n, heads).index_add_(0, edge_index[1], att)
    assert torch.allclose(sums, torch.ones(n, heads), atol=1e-6)


def test_layer_dropout_only_in_training_and_shapes() -> None:
    torch.manual_seed(1)
    g = random_graph(30, 80, seed=1)
    edge_index, edge_attr = edge_tensors(g.n_nodes, g.src, g.dst, g.weight)
    layer = PersonaGATConv(16, heads=4, dropout=0.5)
    h = torch.randn(30, 16)
    layer.eval()
    assert torch.equal(layer(h, edge_index, edge_attr), layer(h, edge_index, edge_attr))
    layer.train()
    assert not torch.equal(layer(h, edge_index, edge_attr), layer(h, edge_index, edge_attr))
    assert layer(h, edge_index, edge_attr).shape == (30, 16)
    assert "heads=4" in repr(layer)
    with pytest.raises(ValueError, match="must divide"):
        PersonaGATConv(10, heads=4)


def test_edge_tensors_add_both_directions_and_self_loops() -> None:
    edge_index, edge_attr = edge_tensors(3, np.array([0]), np.array([2]), np.array([0.5]))
    pairs = {(int(s), int(t)): tuple(a.tolist()) for s, t, a in zip(edge_index[0], edge_index[1], edge_attr)}
    assert set(pairs) == {(0, 2), (2, 0), (0, 0), (1, 1), (2, 2)}
    assert pairs[(0, 2)] == pytest.approx((0.5, math.log(1.5)))
    assert pairs[(1, 1)] == pytest.approx((1.0, math.log(2.0)))
    assert torch.allclose(edge_features(torch.tensor([0.0, 1.0])), torch.tensor([[0.0, 0.0], [1.0, math.log(2.0)]]))


# ------------------------------------------------------------------------------------------ model
def test_model_outputs_and_weight_roundtrip() -> None:
    g = random_graph(40, 120, seed=2)
    edge_index, edge_attr = edge_tensors(g.n_nodes, g.src, g.dst, g.weight)
    torch.manual_seed(0)
    model = PersonaGAT().eval()
    z, s = model(torch.from_numpy(g.x), edge_index, edge_attr)
    assert z.shape == (40, 128) and s.shape == (40,)
    assert (z < 0).any(), "the last layer has no ReLU (z is signed, see PersonaGAT)"
    flat = flatten_weights(model)
    assert flat.dtype == np.float32 and flat.shape == (sum(p.numel() for p in model.state_dict().values()),)
    other = load_flat_weights(PersonaGAT().eval(), flat)
    z2, s2 = other(torch.from_numpy(g.x), edge_index, edge_attr)
    assert torch.equal(z, z2) and torch.equal(s, s2)
    with pytest.raises(ValueError, match="values"):
        load_flat_weights(PersonaGAT(), flat[:-1])
    literal = PersonaGAT(final_relu=True).eval()
    assert (literal(torch.from_numpy(g.x), edge_index, edge_attr)[0] >= 0).all()


# --------------------------------------------------------------------------------------- features
def test_features_layout_sanitising_and_bad_graphs() -> None:
    nodes = node_columns(4, f_z=np.array([0.5, np.nan, 1.0, np.inf]), relation=np.array(["uncle", None, None, "x"], dtype=object))
    g = build_graph(nodes, edge_columns([0, 1], [1, 3], [0.5, 1.0]))
    assert g.x.shape == (4, IN_DIM) == (4, 21) and g.x.dtype == np.float32
    assert g.sanitised == 2 and np.isfinite(g.x).all()
    assert g.x[1, 0] == 0.0  # NaN → the z-score mean
    assert g.x[0, 5:8].tolist() == [1, 0, 0]  # type one-hot: P
    assert g.x[0, 8 + 11] == 1  # an unknown relation label counts as "unknown" (last of the 12)
    assert g.x[1, 8:20].sum() == 0  # a location has no relation
    assert g.x[:, -1].tolist() == pytest.approx(nodes["ips0"].tolist())
    bad = [
        (node_columns(3), edge_columns([1], [1], [0.5]), "src < dst"),
        (node_columns(3), edge_columns([0], [5], [0.5]), "outside"),
        (node_columns(3), edge_columns([0, 0], [1, 1], [0.5, 0.5]), "duplicated"),
        (node_columns(3), edge_columns([0], [1], [np.nan]), "non-finite"),
        (node_columns(3), edge_columns([0], [1], [-1.0]), "negative"),
        (node_columns(3, node=np.array([0, 2, 3])), edge_columns([], [], []), "0…n−1"),
        (node_columns(3, type=np.array(["P", "X", "E"], dtype=object)), edge_columns([], [], []), "unknown tag type"),
    ]
    for nodes, edges, words in bad:
        with pytest.raises(GraphInputError, match=words):
            build_graph(nodes, edges)


# --------------------------------------------------------------------------------------- sampling
def test_positives_negatives_and_hard_negatives() -> None:
    # path 0–1–2–3 plus a heavy edge 0–4: two-hop of 0 are 2 (via 1) only.
    ctx = context_graph(5, np.array([0, 1, 2, 0]), np.array([1, 2, 3, 4]), np.array([0.1, 1.0, 1.0, 0.9]))
    rng = np.random.default_rng(0)
    pos = sample_positives(ctx, np.zeros(4000, np.int64), rng)
    assert set(pos.tolist()) == {1, 4}
    assert 0.85 < np.mean(pos == 4) < 0.95  # ∝ w: 0.9 / (0.1 + 0.9)
    assert ctx.hop2_indices[ctx.hop2_indptr[0]:ctx.hop2_indptr[1]].tolist() == [2]
    deg = np.array([2, 2, 2, 1, 1], float)
    assert np.allclose(ctx.p_neg, deg ** 0.75 / (deg ** 0.75).sum())
    neg = sample_negatives(ctx, np.zeros(2000, np.int64), 20, 0.3, rng)
    assert neg.shape == (2000, 20)
    expected_2 = 0.3 + 0.7 * ctx.p_neg[2]  # hard negatives of 0 are all node 2
    assert abs(np.mean(neg == 2) - expected_2) < 0.02
    no_hard = sample_negatives(ctx, np.full(2000, 4, np.int64), 20, 1.0, rng)  # two-hop of 4: {1} (via 0)
    assert set(np.unique(no_hard).tolist()) == {1}
    none = context_graph(3, np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))
    assert none.p_neg is None


def test_ordinal_pair_mining_accepts_by_gap() -> None:
    ips = np.array([0.0, 0.01, 2.0])
    rng = np.random.default_rng(0)
    hi, lo = ordinal_pairs(ips, np.arange(3), 30000, 0.2, rng)
    assert np.all(ips[hi] > ips[lo])
    near = np.sum((hi == 1) & (lo == 0)) / 30000
    far = np.sum((hi == 2) & (lo == 0)) / 30000
    # candidates (1,0) and (2,0) are each drawn with probability 2/9; π = 1 − exp(−gap/δ)
    assert near == pytest.approx(2 / 9 * -math.expm1(-0.01 / 0.2), abs=0.005)
    assert far == pytest.approx(2 / 9 * -math.expm1(-2.0 / 0.2), abs=0.01)


def test_neighbour_sampling_keeps_the_heaviest_neighbours() -> None:
    g = random_graph(60, 240, seed=3)
    ctx = context_graph(60, g.src, g.dst, g.weight)
    topk = top_k_neighbours(ctx, 3)
    for v in range(60):
        mine = topk[1][topk[0][v]:topk[0][v + 1]]
        row = ctx.indices[ctx.indptr[v]:ctx.indptr[v + 1]]
        weights = ctx.weights[ctx.indptr[v]:ctx.indptr[v + 1]]
        assert len(mine) == min(3, len(row))
        assert set(mine.tolist()) == set(row[np.argsort(-weights, kind="stable")[:3]].tolist())
    nodes = sample_subgraph(topk, np.array([5, 7]), hops=2)
    one_hop = np.concatenate([topk[1][topk[0][v]:topk[0][v + 1]] for v in (5, 7)])
    assert {5, 7} <= set(nodes.tolist()) and set(one_hop.tolist()) <= set(nodes.tolist())
    s, d, w = induced_edges(nodes, g.src, g.dst, g.weight, 60)
    assert np.all(s < d) and d.max() < len(nodes)


# ----------------------------------------------------------------------------------------- losses
def test_losses_follow_their_definitions() -> None:
    z = torch.tensor([[1.0, 0.0], [0.5, 0.5], [-1.0, 2.0]])
    t, u, n = torch.tensor([0]), torch.tensor([1]), torch.tensor([[2, 0]])  # the second negative is t itself
    want = -math.log(1 / (1 + math.exp(-0.5))) - math.log(1 / (1 + math.exp(-1.0)))
    assert float(L.context_loss(z, t, u, n)) == pytest.approx(want)
    s = torch.tensor([2.0, 1.5, 0.0])
    assert float(L.ordinal_loss(s, torch.tensor([0, 1]), torch.tensor([1, 2]))) == pytest.approx(0.5 + 0.0)
    assert float(L.smoothing_loss(s, torch.tensor([2.0, 1.0, 1.0]))) == pytest.approx(0.25 + 1.0)
    assert float(L.total_loss(torch.tensor(1.0), torch.tensor(2.0), torch.tensor(3.0), 0.5, 0.1)) == pytest.approx(2.3)
    p, q = torch.tensor([0.5, 0.5]), torch.tensor([0.25, 0.75])
    assert L.kl_divergence(p, q) == pytest.approx(0.5 * math.log(2) + 0.5 * math.log(2 / 3))
    assert float(L.context_loss(z, torch.zeros(0, dtype=torch.long), torch.zeros(0, dtype=torch.long), torch.zeros((0, 2), dtype=torch.long))) == 0


def test_curriculum_and_early_stop_rule() -> None:
    cfg = PersonaConfig()
    assert [round(cfg.lambda_ord(k), 6) for k in range(7)] == [0.1, 0.2, 0.3, 0.4, 0.5, 0.5, 0.5]
    assert cfg.full_batch_steps(300) == 20 and cfg.full_batch_steps(20_500) == 2 and cfg.full_batch_steps(10**6) == 1
    assert PersonaConfig(steps_per_epoch=7).full_batch_steps(10**6) == 7
    # a flat loss with a stable α: first compared at epoch 8, stale from 9, stops at 13
    stop = EarlyStop(cfg)
    assert [stop.update(k, 10.0, 1e-5) for k in range(14)] == [False] * 13 + [True]
    # the same loss with α still moving never stops
    moving = EarlyStop(cfg)
    assert not any(moving.update(k, 10.0, 1e-2) for k in range(50))
    # a loss still falling never stops, however stable α is
    falling = EarlyStop(cfg)
    assert not any(falling.update(k, 100.0 - k, 0.0) for k in range(50))
    with pytest.raises(UsageError, match="--epochs"):
        PersonaConfig(max_epochs=0).check()
    with pytest.raises(UsageError, match="divide"):
        PersonaConfig(heads=3).check()


# --------------------------------------------------------------------------------------- training
def test_training_is_deterministic_and_leaves_global_rng_alone() -> None:
    g, _ = gallery_graph(n_images=60, seed=4)
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    a = train_persona(g, QUICK, seed=7)
    assert torch.equal(torch.random.get_rng_state(), before)
    b = train_persona(g, QUICK, seed=7)
    assert np.array_equal(a.alpha, b.alpha) and np.array_equal(a.z, b.z) and np.array_equal(a.weights, b.weights)
    assert a.curves == b.curves
    c = train_persona(g, QUICK, seed=8)
    assert not np.array_equal(a.alpha, c.alpha)
    assert user_seed(0, "u0001") == user_seed(0, "u0001") != user_seed(0, "u0002")


def test_training_learns_context_and_respects_the_prior() -> None:
    g, _ = gallery_graph(n_images=150, seed=5)
    r = train_persona(g, PersonaConfig(max_epochs=12, steps_per_epoch=8))
    c = r.curves
    assert r.epochs == 12 and c["epoch"] == list(range(12)) and r.mode == "full"
    assert c["kl"][0] is None and all(k >= 0 for k in c["kl"][1:])
    assert c["loss_ctx"][-1] < 0.6 * c["loss_ctx"][0]
    assert c["loss_ord"][-1] < c["loss_ord"][1]
    assert c["lambda_ord"][:5] == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.5])
    assert r.alpha.sum() == pytest.approx(1.0) and (r.alpha > 0).all()
    assert spearman(r.alpha, g.ips0) > 0.8
    assert r.z.shape == (g.n_nodes, 128) and r.z.dtype == np.float32
    assert np.isfinite(r.score_ema).all() and np.abs(r.score_ema - r.score).max() < 1.0


def test_degenerate_graphs() -> None:
    empty = train_persona(build_graph(node_columns(0), edge_columns([], [], [])), QUICK)
    assert empty.alpha.shape == (0,) and empty.z.shape == (0, 128) and empty.stop == "empty graph"
    one = train_persona(build_graph(node_columns(1), edge_columns([], [], [])), QUICK)
    assert one.alpha.tolist() == [1.0] and one.epochs == 0 and one.stop == "single node" and one.weights.size > 0
    isolated = build_graph(node_columns(6), edge_columns([], [], []))
    r = train_persona(isolated, QUICK)
    assert r.epochs == QUICK.max_epochs and r.curves["loss_ctx"] == [0.0] * QUICK.max_epochs
    assert spearman(r.alpha, isolated.ips0) > 0.9  # without co-occurrence α follows the prior


def test_neighbour_sampling_mode_above_the_full_batch_limit() -> None:
    g = random_graph(60, 200, seed=6)
    cfg = PersonaConfig(max_epochs=3, full_batch_max=20, batch_nodes=16, neighbours=4)
    a = train_persona(g, cfg)
    assert a.mode == "sampled" and a.epochs == 3 and a.alpha.sum() == pytest.approx(1.0)
    assert np.isfinite(a.score_ema).all()
    assert np.array_equal(a.alpha, train_persona(g, cfg).alpha)


def test_weights_restore_the_trained_model() -> None:
    g, _ = gallery_graph(n_images=40, seed=6)
    r = train_persona(g, QUICK)
    model = load_flat_weights(build_model(QUICK), r.weights).eval()
    edge_index, edge_attr = edge_tensors(g.n_nodes, g.src, g.dst, g.weight)
    with torch.no_grad():
        z, s = model(torch.from_numpy(g.x), edge_index, edge_attr)
    assert np.allclose(z.numpy(), r.z, atol=1e-6) and np.allclose(torch.softmax(s.double(), 0).numpy(), r.alpha, atol=1e-6)


def test_device_resolution() -> None:
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    for bad, words in (("tpu9", "not a torch device"), ("meta", "only cpu and cuda")):
        with pytest.raises(UsageError, match=words):
            resolve_device(bad)
    if not torch.cuda.is_available():
        with pytest.raises(UsageError, match="CUDA is not available"):
            resolve_device("cuda")


def test_graph_container_properties() -> None:
    g = PersonaGraph(tag_id=np.arange(2), x=np.zeros((2, IN_DIM), np.float32), ips0=np.zeros(2),
                     src=np.array([0]), dst=np.array([1]), weight=np.array([1.0]))
    assert (g.n_nodes, g.n_edges) == (2, 1)


# ------------------------------------------------------------------------- the dense training step
def _autograd_step(trainer, lam: float, ema: torch.Tensor) -> tuple[list[float], dict[str, torch.Tensor], torch.Tensor]:  # noqa: ANN001
    """One step's losses and gradients the reference way: the MessagePassing model, autograd and
    persona/losses.py, drawing from the trainer's generators as the dense step does."""
    cfg, every = trainer.cfg, np.arange(trainer.n)
    trainer.model.train()
    for p in trainer.model.parameters():
        p.grad = None
    z, s = trainer.model(trainer.x, trainer.edge_index, trainer.edge_attr)
    t = every[trainer.ctx.degree > 0]
    as_t = torch.from_numpy
    if t.size:
        pos = sample_positives(trainer.ctx, t, trainer.rng)
        neg = sample_negatives(trainer.ctx, t, cfg.n_neg, cfg.p_hard, trainer.rng)
        l_ctx = L.context_loss(z, as_t(t), as_t(pos), as_t(neg))
    else:
        l_ctx = z.sum() * 0.0
    hi, lo = ordinal_pairs(trainer.g.ips0, every, round(cfg.ord_pairs_per_node * trainer.n), cfg.delta, trainer.rng)
    l_ord = L.ordinal_loss(s, as_t(hi), as_t(lo), cfg.margin)
    l_sm = L.smoothing_loss(s, cfg.beta * ema + (1 - cfg.beta) * s.detach())
    L.total_loss(l_ctx, l_ord, l_sm, lam, cfg.lambda_sm).backward()
    grads = {name: p.grad.clone() for name, p in trainer.model.named_parameters()}
    return [t.item() for t in (l_ctx, l_ord, l_sm)], grads, s.detach()


@pytest.mark.parametrize("case", ["gallery", "no edges", "no dropout"])
def test_dense_step_is_the_autograd_step(case: str) -> None:
    """persona/dense.py: the same losses and gradients as autograd through the MessagePassing model,
    given the same dropout masks and samples (float rounding apart)."""
    from memoire_cli.persona.train import _Trainer

    g = build_graph(node_columns(7), edge_columns([], [], [])) if case == "no edges" else gallery_graph(n_images=60, seed=2)[0]
    cfg = PersonaConfig(dropout=0.0 if case == "no dropout" else 0.1)
    torch.manual_seed(3)
    trainer = _Trainer(g, cfg, torch.device("cpu"), seed=11)
    assert trainer.dense is not None
    ema = torch.linspace(-1.0, 1.0, g.n_nodes)
    with torch.random.fork_rng():
        torch.manual_seed(9)
        want, grads, s = _autograd_step(trainer, 0.3, ema)
    trainer.rng = np.random.default_rng(11)
    torch.manual_seed(9)
    with torch.no_grad():
        terms, target = trainer.dense.step(trainer.x, cfg.beta * ema, cfg.beta, 0.3, cfg.lambda_sm, cfg.margin, trainer._draw_full)
    assert [float(v) for v in terms] == pytest.approx(want, rel=1e-5, abs=1e-6)
    for name, p in trainer.model.named_parameters():
        scale = grads[name].abs().max().item() + 1e-12
        assert (p.grad - grads[name]).abs().max().item() <= 1e-4 * scale, name
    assert torch.allclose(target, cfg.beta * ema + (1 - cfg.beta) * s, rtol=1e-5, atol=1e-6)  # s̄^(k) of S1.2.6


def test_dense_training_follows_the_autograd_path() -> None:
    """100 steps: α of the dense path (default) and of the autograd path (``dense_max=0``, the code
    before the dense step) agree to float precision; larger graphs keep the autograd path."""
    g, _ = gallery_graph(n_images=60, seed=4)
    cfg = PersonaConfig(max_epochs=10, steps_per_epoch=10)
    a = train_persona(g, cfg, seed=7)
    b = train_persona(g, PersonaConfig(max_epochs=10, steps_per_epoch=10, dense_max=0), seed=7)
    assert np.max(np.abs(a.alpha - b.alpha) / b.alpha) < 1e-4
    assert np.allclose(a.curves["loss"], b.curves["loss"], rtol=1e-5)
    assert a.curves["lambda_ord"] == b.curves["lambda_ord"] and a.epochs == b.epochs
    with pytest.raises(UsageError, match="dense_max"):
        PersonaConfig(dense_max=-1).check()


def test_flat_adamw_is_torch_adamw() -> None:
    """The optimiser of the dense path: torch.optim.AdamW(fused=True)'s arithmetic, bit for bit."""
    from memoire_cli.persona.dense import FlatAdamW, clip_grad_norm_

    gen = torch.Generator().manual_seed(0)
    a = torch.randn(1000, generator=gen).requires_grad_()
    b = a.detach().clone()
    ref = torch.optim.AdamW([a], lr=3e-4, weight_decay=1e-4, fused=True)
    grad = torch.zeros_like(b)
    mine = FlatAdamW(b, grad, lr=3e-4, weight_decay=1e-4)
    for _ in range(5):
        g = torch.randn(1000, generator=gen) * 10
        a.grad = g.clone()
        torch.nn.utils.clip_grad_norm_([a], 5.0)
        ref.step()
        grad.copy_(g)
        clip_grad_norm_(grad, 5.0)
        mine.step()
        assert torch.equal(a.grad, grad)
        assert torch.equal(a.detach(), b)


def test_flat_parameters_keep_the_model() -> None:
    from memoire_cli.persona.model import flat_parameters

    torch.manual_seed(0)
    model = PersonaGAT()
    before = flatten_weights(model)
    flat, flat_grad, grads = flat_parameters(model)
    assert np.array_equal(flatten_weights(model), before) and np.array_equal(flat.detach().numpy(), before)
    with torch.no_grad():
        flat.add_(1.0)
    assert np.allclose(flatten_weights(model), before + 1.0)  # the parameters are views of the buffer
    assert set(grads) == {n for n, _ in model.named_parameters()}
    assert all(p.grad is grads[n] for n, p in model.named_parameters()) and flat.grad is flat_grad


def test_negative_sampler_draws_what_generator_choice_draws() -> None:
    """sample_negatives keeps the draws of ``rng.choice(n, p=P_neg)`` (it only caches the CDF)."""
    g = random_graph(50, 300, seed=1)
    ctx = context_graph(g.n_nodes, g.src, g.dst, g.weight)
    targets = np.arange(g.n_nodes)[ctx.degree > 0]
    for seed in range(5):
        got = sample_negatives(ctx, targets, 20, 0.0, np.random.default_rng(seed))
        rng = np.random.default_rng(seed)
        want = rng.choice(ctx.n, size=(targets.size, 20), p=ctx.p_neg)
        assert np.array_equal(got, want)


@pytest.mark.parametrize("kind", ["gallery", "random", "zero weights", "no edges"])
def test_full_batch_sampler_draws_what_the_samplers_draw(kind: str) -> None:
    """FullBatchSampler (the dense path's) = sample_positives, sample_negatives, ordinal_pairs (the
    autograd path's) for every node, from the same generator state, for many steps."""
    from memoire_cli.persona.sampling import FullBatchSampler

    if kind == "no edges":
        g = build_graph(node_columns(5), edge_columns([], [], []))
    else:
        g = gallery_graph(n_images=60, seed=3)[0] if kind == "gallery" else random_graph(40, 150, seed=2)
    weight = g.weight.copy()
    if kind == "zero weights":
        weight[::3] = 0.0
    ctx = context_graph(g.n_nodes, g.src, g.dst, weight)
    nodes = np.arange(g.n_nodes)
    targets = nodes[ctx.degree > 0]
    sampler = FullBatchSampler(ctx, g.ips0, 20, 0.3, 20 * g.n_nodes, 0.2)
    mine, ref = np.random.default_rng(5), np.random.default_rng(5)
    for _ in range(30):
        index, sign, keep, ords = sampler.draw(mine)
        if targets.size:
            pos = sample_positives(ctx, targets, ref)
            neg = sample_negatives(ctx, targets, 20, 0.3, ref)
            assert np.array_equal(index, np.concatenate([targets * g.n_nodes + pos, (targets[:, None] * g.n_nodes + neg).ravel()]))
            mask = (neg != targets[:, None]).ravel()
            assert np.array_equal(sign, np.concatenate([-np.ones(targets.size), mask]).astype(np.float32))
            assert np.array_equal(keep, np.abs(sign))
        else:
            assert index.size == sign.size == keep.size == 0
        hi, lo = ordinal_pairs(g.ips0, nodes, 20 * g.n_nodes, 0.2, ref)
        assert np.array_equal(ords, np.concatenate([hi, lo]))
    assert mine.random() == ref.random()  # the generators are in the same state
