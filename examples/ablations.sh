#!/usr/bin/env bash
# After the main job: train the ablation variants of the impact predictor with the same preset —
# S2.4 A2 No-PAT (rgb-only), A5 early-only and mid-only fusion, B4 hinge loss, and the spec-literal
# model (S1.4.1's FiLM on A(I) alone, no persona vector) — then run the full evaluation suite (adds
# the ρ sweep by archetype, tag noise, graph size, face-ID errors and runtime scaling).
#
#   bash examples/ablations.sh [WORKSPACE]        (default: out/tiny, made by examples/tiny_gallery.sh)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
memoire=${MEMOIRE:-$here/.venv/bin/memoire}
ws=${1:-$here/out/tiny}

for name in rgb-only early-only mid-only hinge spec-literal; do
  "$memoire" train --workspace "$ws" --name "$name" >/dev/null
done
"$memoire" eval --workspace "$ws" --suite full >/dev/null
