#!/usr/bin/env bash
# The main job on the embedded default: a tiny synthetic gallery, then a summary of the workspace.
# Each stage reads the previous one's manifest on stdin; stderr carries progress and tables.
# Later stages join this pipe as they are built (graph | persona | pat | label | train | rank | eval).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
memoire=${MEMOIRE:-$here/.venv/bin/memoire}
ws=${1:-$here/out/tiny}

"$memoire" synth --workspace "$ws" --users 4 --seed 0 --images-per-user 24 --frames-per-clip 1 \
  | "$memoire" status
