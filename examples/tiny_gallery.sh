#!/usr/bin/env bash
# The main job on the embedded default, end to end on the CPU with the offline defaults:
#
#   synth → graph → persona → pat → label → train → rank → eval
#
# a tiny synthetic gallery (4 users), its tag graphs and personas, attention maps, judged pairs, the
# impact predictor (the small `smoke` preset), each user's session-aware, diverse top-k, and the
# evaluation against the hidden ground truth with every offline baseline. Each stage reads the
# previous one's manifest on stdin; stderr carries progress, the top-k of one user with its reasons
# and the metrics table; the report lands in WORKSPACE/reports/<run_id>/index.html.
#
#   bash examples/tiny_gallery.sh [WORKSPACE]        (default: out/tiny)
#
# Re-running it recomputes nothing whose inputs are unchanged (every stage caches by fingerprint).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
memoire=${MEMOIRE:-$here/.venv/bin/memoire}
ws=${1:-$here/out/tiny}

"$memoire" synth --workspace "$ws" --users 4 --seed 0 --images-per-user 24 --frames-per-clip 1 \
  | "$memoire" graph \
  | "$memoire" persona \
  | "$memoire" pat \
  | "$memoire" label \
  | "$memoire" train --preset smoke \
  | "$memoire" rank --show 1 \
  | "$memoire" eval >/dev/null

report=$(ls -td "$ws"/reports/*/ 2>/dev/null | head -n 1)
echo "report: ${report}index.html" >&2
