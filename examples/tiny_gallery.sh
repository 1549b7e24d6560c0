#!/usr/bin/env bash
# The main job on the embedded default: a tiny synthetic gallery, its tag graphs, personas and
# attention maps, then a summary of the workspace and each user's most important tags. Each stage
# reads the previous one's manifest on stdin; stderr carries progress and tables. Later stages join
# this pipe as they are built (label | train | rank | eval).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
memoire=${MEMOIRE:-$here/.venv/bin/memoire}
python=${PYTHON:-$here/.venv/bin/python}
ws=${1:-$here/out/tiny}

"$memoire" synth --workspace "$ws" --users 4 --seed 0 --images-per-user 24 --frames-per-clip 1 \
  | "$memoire" graph \
  | "$memoire" persona \
  | "$memoire" pat \
  | "$memoire" status

"$python" - "$ws" <<'PY'
import sys
import duckdb

con = duckdb.connect(f"{sys.argv[1]}/memoire.duckdb", read_only=True)
rows = con.execute("""
    SELECT p.user_id, t.type, t.name, coalesce(t.relation, ''), p.alpha,
           row_number() OVER (PARTITION BY p.user_id ORDER BY p.alpha DESC, t.tag_id) AS k
    FROM persona p JOIN tags t USING (user_id, tag_id) QUALIFY k <= 5 ORDER BY p.user_id, k""").fetchall()
print("top tags by persona importance α (S1.2.5):", file=sys.stderr)
for user_id, kind, name, relation, alpha, k in rows:
    label = f"{name} ({relation})" if relation else name
    print(f"  {user_id}  {k}. [{kind}] {label:32} α = {alpha:.3f}", file=sys.stderr)
PY
