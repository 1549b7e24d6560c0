"""`memoire graph`: Build each user's tag graph, tag features and the importance prior IPS^0 (S1.2.1–1.2.4)."""

from __future__ import annotations

from typing import Annotated

import typer

from memoire_cli.cli import ForceOpt, JobsOpt, ShardOpt, UsersOpt, WorkspaceOpt, run
from memoire_cli.graph.config import GraphConfig  # light: dataclasses only, the defaults' one source

HELP = """Build each user's tag graph, tag features and the importance prior IPS^0 (S1.2.1–1.2.4).

Per user: normalised co-occurrence (1), social boost for person–person edges (2), edge weights
(3)–(4), self-loops, k-NN sparsification, pruning to ≤ 500 nodes by type quotas (S1.2.10),
z-scored tag features (5), regime weights (6) and IPS^0 (7). Reads the gallery of synth or ingest.
"""

_SOCIAL = "Social boost (2) for "
_D = GraphConfig()


def command(
    workspace: WorkspaceOpt = None,
    users: UsersOpt = None,
    knn: Annotated[int, typer.Option("--knn", help="Keep each node's k strongest edges (union over both ends); 0 keeps all.")] = _D.knn,
    edge_threshold: Annotated[float, typer.Option("--edge-threshold", help="τ_e: drop edges with w < τ_e (before k-NN); 0 keeps all.")] = _D.edge_threshold,
    omega_kin: Annotated[float, typer.Option("--omega-kin", help=_SOCIAL + "close kin (self–parent, parent–child, household).")] = _D.omega_kin,
    omega_friend: Annotated[float, typer.Option("--omega-friend", help=_SOCIAL + "friend/sibling and extended family.")] = _D.omega_friend,
    omega_work: Annotated[float, typer.Option("--omega-work", help=_SOCIAL + "colleagues.")] = _D.omega_work,
    omega_unk: Annotated[float, typer.Option("--omega-unk", help=_SOCIAL + "weak/unknown ties.")] = _D.omega_unk,
    mu: Annotated[float, typer.Option("--mu", help="μ: midpoint of λ_s = σ(κ(p_PP − μ)) (4).")] = _D.mu,
    kappa: Annotated[float, typer.Option("--kappa", help="κ: slope of λ_s (4).")] = _D.kappa,
    max_people: Annotated[int, typer.Option("--max-people", help="K_P: person tags kept, most frequent first.")] = _D.max_people,
    max_locations: Annotated[int, typer.Option("--max-locations", help="K_L: location tags kept.")] = _D.max_locations,
    max_events: Annotated[int, typer.Option("--max-events", help="K_E: event tags kept.")] = _D.max_events,
    tau_r: Annotated[float, typer.Option("--tau-r", help="τ_r: recency time constant (5), days.")] = _D.tau_r,
    tau_b: Annotated[float, typer.Option("--tau-b", help="τ_b: burstiness window (6), days.")] = _D.tau_b,
    tau_l: Annotated[float, typer.Option("--tau-l", help="τ_ℓ: longevity age (6), days.")] = _D.tau_l,
    alpha: Annotated[float, typer.Option("--alpha", help="α: weight of longevity in (6).")] = _D.alpha,
    beta: Annotated[float, typer.Option("--beta", help="β: weight of burstiness in (6).")] = _D.beta,
    gamma: Annotated[float, typer.Option("--gamma", help="γ: weight of social density in (6).")] = _D.gamma,
    eta_v: Annotated[float, typer.Option("--eta-v", help="η_v: weight of views in IPS^0 (7).")] = _D.eta_v,
    eta_q: Annotated[float, typer.Option("--eta-q", help="η_q: weight of favourites in IPS^0 (7).")] = _D.eta_q,
    bias_self: Annotated[float, typer.Option("--bias-self", help="b (7) on the user's own tag.")] = _D.bias_self,
    bias_kin: Annotated[float, typer.Option("--bias-kin", help="b (7) on close kin (father, mother, spouse, son, daughter).")] = _D.bias_kin,
    shard: ShardOpt = None,
    jobs: JobsOpt = "1",
    force: ForceOpt = False,
) -> None:
    from memoire_cli.graph.stage import GraphStage

    cfg = GraphConfig(
        omega_kin=omega_kin, omega_friend=omega_friend, omega_work=omega_work, omega_unk=omega_unk, mu=mu, kappa=kappa,
        knn=knn, edge_threshold=edge_threshold, max_people=max_people, max_locations=max_locations, max_events=max_events,
        tau_r=tau_r, tau_b=tau_b, tau_l=tau_l, alpha=alpha, beta=beta, gamma=gamma, eta_v=eta_v, eta_q=eta_q,
        bias_self=bias_self, bias_kin=bias_kin,
    )
    run(lambda: GraphStage(cfg), workspace, users=users, shard=shard, force=force, jobs=jobs)
