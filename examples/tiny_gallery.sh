#!/usr/bin/env bash
# The main job on the embedded default, end to end on the CPU with the offline defaults:
#
#   synth → graph → persona → pat → label → train → rank → eval
#
# a tiny synthetic gallery (12 users, 24 stills each; half train, a quarter validation, a quarter
# test so that evaluation scores users the predictor never saw), its tag graphs and personas,
# attention maps, judged pairs, the impact predictor (the `cpu` preset: the packaged ImageNet
# EfficientNet-Lite0, frozen, with FiLM on A(I) and the persona vector), each user's session-aware,
# diverse top-k, and the evaluation of the test users against the hidden ground truth with every
# offline baseline. Each stage reads the previous one's manifest on stdin; stderr carries progress,
# the top-k of one user with its reasons and the metrics table; the report lands in
# WORKSPACE/reports/<run_id>/index.html.
#
#   bash examples/tiny_gallery.sh [WORKSPACE]        (default: out/tiny; SEED=1 … for another gallery)
#
# Re-running it recomputes nothing whose inputs are unchanged (every stage caches by fingerprint).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
memoire=${MEMOIRE:-$here/.venv/bin/memoire}
ws=${1:-$here/out/tiny}
seed=${SEED:-0}

"$memoire" synth --workspace "$ws" --user-count 12 --split 50/25/25 --seed "$seed" --images-per-user 24 --frames-per-clip 1 --jobs auto \
  | "$memoire" graph \
  | "$memoire" persona --jobs auto \
  | "$memoire" pat --jobs auto \
  | "$memoire" label --jobs auto \
  | "$memoire" train \
  | "$memoire" rank --show 1 \
  | "$memoire" eval >/dev/null

report=$(ls -td "$ws"/reports/*/ 2>/dev/null | head -n 1)
echo "report: ${report}index.html" >&2
