"""How well the persona recovers hidden preferences, per archetype (issue: PERSONA-GAT quality).

    .venv/bin/python benchmarks/persona_quality.py [--users 12] [--workspace DIR]

Synthesises a gallery (small images: pixels do not matter here), runs `graph` and `persona`, then,
reading the hidden truth as `eval` may, computes per user the Spearman correlation between each
tag's score and the user's hidden affinity for it (people: per person; events: per event type;
places: per place kind), over all tags and per tag type, for three scorers in the same run:
α (PERSONA-GAT), IPS⁰ (the prior alone) and frequency alone. Prints means per archetype.
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
    args = parser.parse_args()
    root = args.workspace or Path(tempfile.mkdtemp()) / "w"
    run("synth", "-w", str(root), "--users", str(args.users), "--seed", str(args.seed), "--image-size", "128",
        "--frames-per-clip", "1", "--anchors", "1")
    run("graph", "-w", str(root))
    run("persona", "-w", str(root))
    ws = Workspace.open(root, "eval")
    archetype = dict(ws.query("SELECT user_id, archetype FROM truth.users"))
    results: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    for user_id in sorted(archetype):
        truth = affinities(ws, user_id)
        rows = ws.query(
            "SELECT n.tag_id, n.type, p.alpha, n.ips0, n.f FROM graph_nodes n JOIN persona p USING (user_id, tag_id) "
            "WHERE n.user_id = ? AND n.count > 0 AND (n.type != 'P' OR n.relation != 'unknown')", [user_id])
        for subset in ("all", "P", "E", "L"):
            sel = [r for r in rows if subset == "all" or r[1] == subset]
            if len(sel) < 3:
                continue
            target = np.array([truth[r[0]] for r in sel])
            for k, name in enumerate(SCORERS):
                rho = spearmanr(np.array([r[2 + k] for r in sel]), target).statistic
                if np.isfinite(rho):
                    results[(archetype[user_id], subset, name)].append(float(rho))
    print(f"{args.users} users, seed {args.seed}: mean Spearman(score, hidden affinity) over tags seen in the gallery")
    print(f"{'archetype':16} {'tags':5} " + " ".join(f"{s:>10}" for s in SCORERS) + "   users")
    for arch in ("family-centric", "travel-centric", "mixed"):
        for subset in ("all", "P", "E", "L"):
            vals = [results.get((arch, subset, s), []) for s in SCORERS]
            if not vals[0]:
                continue
            print(f"{arch:16} {subset:5} " + " ".join(f"{np.mean(v):10.3f}" for v in vals) + f"   {len(vals[0])}")


if __name__ == "__main__":
    main()
