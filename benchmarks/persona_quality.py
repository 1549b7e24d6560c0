"""How well the persona recovers hidden preferences, per archetype (issue: PERSONA-GAT quality).

    .venv/bin/python benchmarks/persona_quality.py [--users 12] [--workspace DIR] [--compare-autograd]

Synthesises a gallery (small images: pixels do not matter here), runs `graph` and `persona`, then,
reading the hidden truth as `eval` may, computes per user the Spearman correlation between each
tag's score and the user's hidden affinity for it (people: per person; events: per event type;
places: per place kind), over all tags and per tag type, for three scorers in the same run:
α (PERSONA-GAT), IPS⁰ (the prior alone) and frequency alone. Prints means per archetype.

``--compare-autograd`` adds a fourth scorer, ``alpha_ag``: each user's α retrained in this process
on the autograd path (``PersonaConfig(dense_max=0)``, the training loop before the dense step of
persona/dense.py, bit for bit) with the stage's seed, so the two trainings can be compared on the same
graphs and seeds; it also prints how far the two α's are apart per user.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from memoire_cli.workspace import Workspace

SCORERS = ("alpha", "ips0", "frequency")


def run(*args: str) -> None:
    memoire = str(Path(sys.executable).parent / "memoire")
    subprocess.run([memoire, *args], check=True, stdout=subprocess.DEVNULL)


def affinities(ws: Workspace, user_id: str) -> dict[int, float]:
    """tag_id → hidden affinity (eval-side read of truth.users)."""
    prefs = json.loads(ws.query("SELECT preferences FROM truth.users WHERE user_id = ?", [user_id])[0][0])
    out: dict[int, float] = {}
    for tag_id, kind, name in ws.query("SELECT tag_id, type, name FROM tags WHERE user_id = ?", [user_id]):
        if kind == "P":
            out[tag_id] = prefs["person"][str(tag_id)]
        elif kind == "E":
            out[tag_id] = prefs["event"][name]
    for tag_id, kind in ws.query("SELECT tag_id, kind FROM locations WHERE user_id = ?", [user_id]):
        out[tag_id] = prefs["place"][kind]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workspace", type=Path, default=None, help="reuse or keep a workspace here")
    parser.add_argument("--compare-autograd", action="store_true", help="also score α trained on the autograd path")
    args = parser.parse_args()
    scorers = SCORERS + (("alpha_ag",) if args.compare_autograd else ())
    root = args.workspace or Path(tempfile.mkdtemp()) / "w"
    run("synth", "-w", str(root), "--user-count", str(args.users), "--seed", str(args.seed), "--image-size", "128",
        "--frames-per-clip", "1", "--anchors", "1")
    run("graph", "-w", str(root))
    run("persona", "-w", str(root))
    ws = Workspace.open(root, "eval")
    archetype = dict(ws.query("SELECT user_id, archetype FROM truth.users"))
    results: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    agreement = []
    for user_id in sorted(archetype):
        truth = affinities(ws, user_id)
        rows = ws.query(
            "SELECT n.tag_id, n.type, p.alpha, n.ips0, n.f FROM graph_nodes n JOIN persona p USING (user_id, tag_id) "
            "WHERE n.user_id = ? AND n.count > 0 AND (n.type != 'P' OR n.relation != 'unknown')", [user_id])
        if args.compare_autograd:
            alpha_ag, stats = autograd_alpha(ws, user_id)
            agreement.append(stats)
            rows = [(*r, alpha_ag[r[0]]) for r in rows]
        for subset in ("all", "P", "E", "L"):
            sel = [r for r in rows if subset == "all" or r[1] == subset]
            if len(sel) < 3:
                continue
            target = np.array([truth[r[0]] for r in sel])
            for k, name in enumerate(scorers):
                rho = spearmanr(np.array([r[2 + k] for r in sel]), target).statistic
                if np.isfinite(rho):
                    results[(archetype[user_id], subset, name)].append(float(rho))
    print(f"{args.users} users, seed {args.seed}: mean Spearman(score, hidden affinity) over tags seen in the gallery")
    print(f"{'archetype':16} {'tags':5} " + " ".join(f"{s:>10}" for s in scorers) + "   users")
    for arch in ("family-centric", "travel-centric", "mixed"):
        for subset in ("all", "P", "E", "L"):
            vals = [results.get((arch, subset, s), []) for s in scorers]
            if not vals[0]:
                continue
            print(f"{arch:16} {subset:5} " + " ".join(f"{np.mean(v):10.3f}" for v in vals) + f"   {len(vals[0])}")
    for subset in ("all", "P", "E", "L"):
        vals = [[x for arch in ("family-centric", "travel-centric", "mixed") for x in results.get((arch, subset, s), [])] for s in scorers]
        if vals[0]:
            print(f"{'every user':16} {subset:5} " + " ".join(f"{np.mean(v):10.3f}" for v in vals) + f"   {len(vals[0])}")
    if agreement:
        rel, rho, top = (np.array([a[k] for a in agreement]) for k in range(3))
        print(f"alpha (stage, dense step) vs alpha_ag (autograd path), same graphs and seeds, {len(agreement)} users: "
              f"max |Δα|/α median {np.median(rel):.1e}, max {rel.max():.1e}; Spearman(α, α_ag) min {rho.min():.4f}; "
              f"same top-5 tags for {int(top.sum())} of {len(top)} users")


def autograd_alpha(ws: Workspace, user_id: str) -> tuple[dict[int, float], tuple[float, float, bool]]:
    """α of the user retrained on the autograd path (the stage's configuration and seed, ``dense_max=0``):
    tag_id → α, and (max |Δα|/α, Spearman, same top-5) against the stage's α."""
    from memoire_cli.persona.stage import read_graph
    from memoire_cli.persona.train import PersonaConfig, train_persona, user_seed
    from memoire_cli.threads import pin_torch_threads

    pin_torch_threads()  # the thread count of the stage: only the training path differs
    graph = read_graph(ws, user_id)
    ag = train_persona(graph, PersonaConfig(dense_max=0), "cpu", seed=user_seed(0, user_id)).alpha
    mine = np.array([a for (a,) in ws.query("SELECT alpha FROM persona WHERE user_id = ? ORDER BY node", [user_id])])
    stats = (float(np.max(np.abs(mine - ag) / ag)), float(spearmanr(mine, ag).statistic),
             bool(np.array_equal(np.argsort(-mine)[:5], np.argsort(-ag)[:5])))
    return {int(t): float(a) for t, a in zip(graph.tag_id, ag)}, stats


if __name__ == "__main__":
    main()
