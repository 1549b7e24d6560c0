#!/usr/bin/env bash
# After the main job: train the ablation variants of the impact predictor (S2.4 A2 No-PAT, A5
# early-only and mid-only fusion, B4 hinge loss) with the same small preset, then run the full
# evaluation suite (adds the ρ sweep by archetype, tag noise, graph size, face-ID errors and runtime
# scaling). About 13 minutes on 2 cores for the tiny gallery (four smoke trainings, then the full
# suite at about a minute per user).
#
#   bash examples/ablations.sh [WORKSPACE]        (default: out/tiny, made by examples/tiny_gallery.sh)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
memoire=${MEMOIRE:-$here/.venv/bin/memoire}
ws=${1:-$here/out/tiny}

for name in rgb-only early-only mid-only hinge; do
  "$memoire" train --workspace "$ws" --preset smoke --name "$name" >/dev/null
done
"$memoire" eval --workspace "$ws" --suite full >/dev/null
