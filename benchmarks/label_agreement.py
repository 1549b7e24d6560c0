"""Eval-side check of the offline judge (S1.1.10): agreement of its labels with the hidden truth PIS.

    .venv/bin/python benchmarks/label_agreement.py WORKSPACE

Reads the `labels` table of a synthetic workspace (run `memoire label` first) and, as `eval` may,
the hidden `truth.scores` / `truth.users`. For every agreed label: correct when the winner's true
PIS is higher than the loser's (pairs with equal PIS are left out). Prints per archetype and per
stratum: agreed labels, accuracy against truth, and the share of pairs the two variants agreed on.
"""

from __future__ import annotations

import sys
from pathlib import Path


def main(root: Path) -> None:
    from memoire_cli.workspace import Workspace

    ws = Workspace.open(root, "eval")
    sql = """SELECT u.archetype, l.stratum, l.agreed,
                    CASE WHEN NOT l.agreed OR sa.pis = sb.pis THEN NULL
                         ELSE (l.winner = l.image_a) = (sa.pis > sb.pis) END AS correct
             FROM labels l JOIN truth.users u USING (user_id)
             JOIN truth.scores sa ON sa.image_id = l.image_a JOIN truth.scores sb ON sb.image_id = l.image_b"""
    got = ws.query(sql)
    if not got:
        raise SystemExit(f"no labels in {root}: run `memoire label` first")

    def report(key: int, title: str) -> None:
        print(f"{title:<40} {'pairs':>7} {'agreed':>8} {'judged':>7} {'accuracy':>9}")
        groups = sorted({r[key] for r in got}) + ["all"]
        for g in groups:
            sel = [r for r in got if g == "all" or r[key] == g]
            judged = [r[3] for r in sel if r[3] is not None]
            acc = f"{sum(judged) / len(judged):.1%}" if judged else "–"
            print(f"{g:<40} {len(sel):>7} {sum(r[2] for r in sel) / len(sel):>8.1%} {len(judged):>7} {acc:>9}")
        print()

    report(0, "archetype")
    report(1, "stratum")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    main(Path(sys.argv[1]))
