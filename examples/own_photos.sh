#!/usr/bin/env bash
# Curate your own photos, end to end on the CPU with the offline defaults:
#
#   ingest → people → graph → persona → pat → label → train → rank → export
#
# reads a photo folder where it is (EXIF, XMP sidecars, a relations file; nothing leaves the
# machine), finds the people you named once in every other photo by face, learns what matters to
# you from the folder, and writes the top k as an album of links with a self-contained gallery
# (ALBUM_DIR/best/index.html). Your sidecars are only written with WRITE_XMP=1 (stars, a Green
# label and a pick flag, merged into what they hold, with a backup in WORKSPACE/backups/).
#
#   bash examples/own_photos.sh FOLDER [WORKSPACE] [ALBUM_DIR]
#        (defaults: out/own, out/albums; RELATIONS=people.yaml, K=20, WRITE_XMP=1)
#
# Re-running it after adding photos recomputes only what changed (every stage caches by fingerprint).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
memoire=${MEMOIRE:-$here/.venv/bin/memoire}
folder=${1:?usage: bash examples/own_photos.sh FOLDER [WORKSPACE] [ALBUM_DIR]}
ws=${2:-$here/out/own}
albums=${3:-$here/out/albums}
k=${K:-20}
relations=()
if [[ -n "${RELATIONS:-}" ]]; then relations=(--relations "$RELATIONS"); fi

"$memoire" ingest "$folder" --workspace "$ws" "${relations[@]}" \
  | "$memoire" people \
  | "$memoire" graph \
  | "$memoire" persona \
  | "$memoire" pat \
  | "$memoire" label \
  | "$memoire" train \
  | "$memoire" rank -k "$k" --show 1 \
  | "$memoire" export --to "$albums" --album best --force >/dev/null

if [[ "${WRITE_XMP:-0}" == 1 ]]; then
  "$memoire" export --workspace "$ws" --write-xmp
fi
echo "album: $albums/best (gallery: $albums/best/index.html)" >&2
