"""Outputs speak in files (issue 15): an ingested photo is named by its path and shown in its own local
time by rank (table, --json, contact sheet), pat (--image) and the eval report; contact-sheet tiles are
cropped around faces (never cutting a head off a tall photo) or the attention's mass."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from conftest import manifest, rows
from memoire_cli.image_names import ImageName, local_time, taken_text
from memoire_cli.tiles import crop_box, focus_crop, mass_box, stars
from test_ingest import YAOMING_FACE, mwg, save_jpeg, t1, vectron, xmp

# ------------------------------------------------------------------------------------------ crops


def _inside(inner: tuple, outer: tuple) -> bool:
    return outer[0] <= inner[0] and outer[1] <= inner[1] and inner[2] <= outer[2] and inner[3] <= outer[3]


def test_a_tall_photo_keeps_its_head() -> None:
    face = (60.0, 20.0, 140.0, 110.0)  # a head at the top of a 200 × 600 portrait
    crop = focus_crop(200, 600, [face])
    assert _inside(face, crop) and crop == (0, 0, 200, 200)
    centre = crop_box(200, 600)  # what a centre crop would keep: the head is cut off
    assert centre == (0, 200, 200, 400) and not _inside(face, centre)
    low = (10.0, 500.0, 60.0, 560.0)  # a second face near the bottom: the two do not fit in one square
    both = focus_crop(200, 600, [face, low])
    assert _inside(face, both) and _inside(low, both) and both[2] - both[0] == 200


def test_without_faces_the_crop_follows_the_attention() -> None:
    att = np.zeros((600, 200), np.float32)  # (H, W): mass near the bottom
    att[480:560, 40:120] = 1.0
    crop = focus_crop(200, 600, [], att)
    assert _inside(mass_box(att), crop) and crop[3] == 600
    assert focus_crop(200, 600, [], np.zeros((600, 200))) == crop_box(200, 600)  # no mass: centred


sizes = st.integers(1, 3000)


@st.composite
def image_and_box(draw: st.DrawFn) -> tuple[int, int, tuple[float, float, float, float]]:
    w, h = draw(sizes), draw(sizes)
    x0 = draw(st.floats(0, w, allow_nan=False))
    x1 = draw(st.floats(x0, w, allow_nan=False))
    y0 = draw(st.floats(0, h, allow_nan=False))
    y1 = draw(st.floats(y0, h, allow_nan=False))
    return w, h, (x0, y0, x1, y1)


@settings(max_examples=400, deadline=None)
@given(image_and_box())
def test_crop_contains_any_box_and_stays_inside(case: tuple) -> None:
    w, h, box = case
    x0, y0, x1, y1 = crop_box(w, h, box)
    assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h  # within the image, never empty
    assert x0 <= box[0] and box[2] <= x1 and y0 <= box[1] and box[3] <= y1  # contains the box
    side = min(w, h)
    if box[2] - box[0] <= side - 1 and box[3] - box[1] <= side - 1:  # a box that fits (with rounding room): a square
        assert x1 - x0 == side and y1 - y0 == side


@settings(max_examples=200, deadline=None)
@given(image_and_box(), image_and_box())
def test_focus_crop_contains_every_face(a: tuple, b: tuple) -> None:
    w, h, face = a
    scale = (min(w / b[0], 1.0), min(h / b[1], 1.0))  # the second face moved into the first image
    other = (b[2][0] * scale[0], b[2][1] * scale[1], b[2][2] * scale[0], b[2][3] * scale[1])
    faces = [f for f in (face, other) if f[2] > f[0] and f[3] > f[1]]
    crop = focus_crop(w, h, faces)
    assert 0 <= crop[0] < crop[2] <= w and 0 <= crop[1] < crop[3] <= h
    for f in faces:
        assert crop[0] <= f[0] and f[2] <= crop[2] and crop[1] <= f[1] and f[3] <= crop[3]


def test_stars() -> None:
    assert stars(4.0, 10.0) == "★★★★☆"  # the owner's rating wins over the impact
    assert stars(-1.0, 90.0) == "rejected"
    assert stars(None, 73.0) == "★★★★☆" and stars(None, 0.0) == "☆☆☆☆☆" and stars(None, 100.0) == "★★★★★"
    assert stars(None, None) == ""


def test_times_as_the_photo_says() -> None:
    utc = datetime(2023, 6, 10, 12, 0)
    assert local_time(utc, True, 120) == (datetime(2023, 6, 10, 14, 0), False)  # +02:00 stated: its local time
    assert local_time(utc, True, None) == (utc, True)  # a bare UTC instant (Takeout, MP4)
    assert local_time(utc, False, None) == (utc, False)  # wall-clock time, as the camera wrote it
    assert ImageName("u/a", "x.jpg", taken=datetime(2024, 3, 1, 10), tz_minutes=-300).taken_iso() == "2024-03-01T10:00:00-05:00"
    assert ImageName("u/a", "x.jpg", taken=datetime(2024, 3, 1, 10), tz_minutes=330).taken_iso() == "2024-03-01T10:00:00+05:30"
    bare = ImageName("u/a", "x.jpg", taken=utc, utc=True)
    assert bare.taken_iso() == "2023-06-10T12:00:00Z" and bare.taken_text() == "2023-06-10 12:00 UTC"
    assert taken_text("2023-06-10T14:00:00+02:00") == "2023-06-10 14:00" and taken_text(None) == ""
    assert ImageName("u/00003").label == "u/00003"  # a synthetic image keeps its id
    assert ImageName("u/h.f2", "trip/clip.mp4", frame=2).label == "trip/clip.mp4 [frame 3]"


def test_rank_entries_name_files() -> None:
    from memoire_cli.rank.display import named, shown_name

    frame = named(ImageName("u/h.f2", "trip/clip.mp4", frame=2, taken=datetime(2024, 7, 1, 9, 0, 2), tz_minutes=60), "u/h.f2")
    assert frame == {"image_id": "u/h.f2", "path": "trip/clip.mp4", "taken": "2024-07-01T09:00:02+01:00", "frame": 3}
    assert shown_name(frame) == "trip/clip.mp4 [frame 3]" and shown_name(frame, base=True) == "clip.mp4 [frame 3]"
    synthetic = named(ImageName("u/00003", taken=datetime(2024, 7, 1)), "u/00003")
    assert synthetic["path"] is None and shown_name(synthetic) == "u/00003"
    assert named(None, "u/x") == {"image_id": "u/x", "path": None, "taken": None}


def test_ingest_keeps_the_stated_offset(tmp_path: Path) -> None:
    from memoire_cli.ingest.exif import exif_offset_minutes
    from memoire_cli.ingest.media import read_metadata
    from memoire_cli.ingest.xmp import iso_offset_minutes

    assert exif_offset_minutes("+02:00") == 120 and exif_offset_minutes("-05:30") == -330 and exif_offset_minutes("2:00") is None
    assert iso_offset_minutes("2021-12-31T23:30:00-01:00") == -60 and iso_offset_minutes("2021-12-31T23:30:00Z") is None
    assert iso_offset_minutes("2021-12-31") is None
    noise = Image.fromarray(np.random.default_rng(0).integers(0, 255, (20, 30, 3), dtype=np.uint8))
    save_jpeg(noise, tmp_path / "a.jpg", date="2023:06:10 14:00:00", offset="+02:00")
    meta, _ = read_metadata((tmp_path / "a.jpg").read_bytes(), None, 10**8)
    assert (meta.taken_at, meta.taken_offset, meta.taken_tz) == (datetime(2023, 6, 10, 12), True, 120)
    sidecar = xmp("", 'xmp:CreateDate="2020-05-01T10:00:00+05:30"').encode()
    save_jpeg(noise, tmp_path / "b.jpg")
    meta, _ = read_metadata((tmp_path / "b.jpg").read_bytes(), sidecar, 10**8)
    assert (meta.taken_at, meta.taken_tz) == (datetime(2020, 5, 1, 4, 30), 330)


# ------------------------------------------------------------------------------ an ingested folder

#: file → (EXIF date, offset, rating). The tall photo has no offset: its time is the camera's wall clock.
PHOTOS = {
    "2023/t1.jpg": ("2023:06:10 14:00:00", "+02:00", 5),
    "2023/gdp.jpg": ("2023:06:10 15:00:00", "+02:00", 3),
    "2024/tall.jpg": ("2024:01:01 09:00:00", None, 4),
    "2024/players.jpg": ("2024:03:01 10:00:00", "-05:00", 2),
    "misc/n0.jpg": ("2024:05:01 10:00:00", "+01:00", 1),
    "misc/n1.jpg": ("2024:05:02 00:30:00", "+01:00", None),  # 1 May in UTC
}
LOCAL = {"2023/t1.jpg": "2023-06-10T14:00:00+02:00", "2024/tall.jpg": "2024-01-01T09:00:00",
         "2024/players.jpg": "2024-03-01T10:00:00-05:00", "misc/n1.jpg": "2024-05-02T00:30:00+01:00"}
#: The tall photo: a 300 × 900 canvas with a face at the top (box in canvas pixels).
TALL = (300, 900)
TALL_FACE = (33 + (YAOMING_FACE[0] - YAOMING_FACE[2] / 2) * 233, 10 + (YAOMING_FACE[1] - YAOMING_FACE[3] / 2) * 287,
             33 + (YAOMING_FACE[0] + YAOMING_FACE[2] / 2) * 233, 10 + (YAOMING_FACE[1] + YAOMING_FACE[3] / 2) * 287)


def photo_folder(root: Path) -> Path:
    for rel, (date, offset, _) in PHOTOS.items():
        if rel == "2023/t1.jpg":
            src: Image.Image | Path = t1()
        elif rel == "2024/tall.jpg":
            src = Image.new("RGB", TALL, (120, 130, 140))
            src.paste(Image.open(vectron("yaoming.jpg")).convert("RGB"), (33, 10))
        elif rel.startswith("misc/"):
            src = Image.fromarray(np.random.default_rng(len(rel) + int(rel[6])).integers(0, 255, (48, 64, 3), dtype=np.uint8))
        else:
            src = vectron(rel.split("/")[1])
        save_jpeg(src, root / rel, date=date, offset=offset)
    x0, y0, x1, y1 = TALL_FACE
    (root / "2024" / "tall.jpg.xmp").write_text(xmp(mwg([("Alice", (x0 + x1) / 2 / TALL[0], (y0 + y1) / 2 / TALL[1],
                                                          (x1 - x0) / TALL[0], (y1 - y0) / TALL[1])]), 'xmp:Rating="4"'))
    (root / "2023" / "t1.jpg.xmp").write_text(xmp(mwg([("Alice", 0.622, 0.464, 0.08, 0.156), ("Bob", 0.405, 0.385, 0.085, 0.168)]),
                                                  'xmp:Rating="5"'))
    for rel, (_, _, rating) in PHOTOS.items():
        if rating is not None and not (root / f"{rel}.xmp").exists():
            (root / f"{rel}.xmp").write_text(xmp("", f'xmp:Rating="{rating}"'))
    (root / "misc" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a photo")
    return root


@pytest.fixture(scope="module")
def ranked(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:
    """ingest → graph → persona → pat → label → train (smoke) → rank --json --contact-sheet, once."""
    from conftest import Invoker

    cli = Invoker()
    base = tmp_path_factory.mktemp("files")
    root, ws = photo_folder(base / "photos"), base / "w"
    steps = (["ingest", root, "-w", ws, "--image-size", "256", "--anchor-size", "128"], ["graph", "-w", ws],
             ["persona", "-w", ws, "--epochs", "1", "--steps-per-epoch", "1", "--device", "cpu"], ["pat", "-w", ws],
             ["label", "-w", ws, "--max-pairs", "60"], ["train", "-w", ws, "--preset", "smoke", "--epochs", "1", "--max-pairs", "32"])
    for args in steps:
        result = cli(*args)
        assert result.exit_code == 0, (args[0], result.output)
    result = cli("rank", "-w", ws, "--json", "--contact-sheet", base / "sheet.png")
    assert result.exit_code == 0, result.stderr
    return root, ws, {"json": json.loads(result.stdout), "stderr": result.stderr, "sheet": base / "sheet.png"}


def paths_of(ws: Path) -> dict[str, str]:
    return dict(rows(ws, "SELECT json_extract_string(image_ids, '$[0]'), path FROM ingest_files WHERE status = 'ingested'"))


@pytest.mark.slow
def test_rank_names_files_in_local_time(ranked: tuple) -> None:
    _, ws, out = ranked
    path_of = paths_of(ws)
    assert set(path_of.values()) == set(PHOTOS)
    (ranking,) = out["json"]["rankings"]
    assert {o["path"] for o in ranking["order"]} == set(PHOTOS)
    for entry in ranking["order"] + ranking["selected"]:
        assert entry["path"] == path_of[entry["image_id"]]  # the id stays, the path is added
        if entry["path"] in LOCAL:
            assert entry["taken"] == LOCAL[entry["path"]]  # as the EXIF says, not UTC
    table = out["stderr"]
    assert "2023/t1.jpg" in table and "2023-06-10 14:00" in table and "2024-03-01 10:00" in table
    assert not any(i in table for i in path_of)  # no image id in what people read
    with Image.open(out["sheet"]) as im:
        assert im.size[1] > 160 and np.asarray(im.convert("RGB")).std() > 10


@pytest.mark.slow
def test_dates_sessions_are_local_days(ranked: tuple, cli) -> None:
    _, ws, _ = ranked
    result = cli("rank", "-w", ws, "--session", "dates:2024-05-02..2024-05-02", "--json", "--show", "0")
    assert result.exit_code == 0, result.stderr
    (ranking,) = json.loads(result.stdout)["rankings"]
    assert [o["path"] for o in ranking["order"]] == ["misc/n1.jpg"]  # 00:30 on 2 May where it was taken
    result = cli("rank", "-w", ws, "--session", "dates:2023-06-10..2024-01-01", "--json", "--show", "0")
    (ranking,) = json.loads(result.stdout)["rankings"]
    assert {o["path"] for o in ranking["order"]} == {"2023/t1.jpg", "2023/gdp.jpg", "2024/tall.jpg"}


@pytest.mark.slow
def test_contact_sheet_tiles_keep_the_tall_photos_head(ranked: tuple, cli) -> None:
    from memoire_cli.rank.display import pick_captions, read_rankings
    from memoire_cli.tiles import face_boxes
    from memoire_cli.workspace import Workspace

    _, ws, _ = ranked
    workspace = Workspace.open(ws, "rank")
    tall = {p: i for i, p in paths_of(ws).items()}["2024/tall.jpg"]
    (w, h), = rows(ws, f"SELECT width, height FROM images WHERE image_id = '{tall}'")
    assert h > 2 * w  # stored upright, scaled to fit the buffer
    faces = face_boxes(workspace, "me", {tall: (w, h)})[tall]
    scale = h / TALL[1]
    region = tuple(v * scale for v in TALL_FACE)
    assert any(np.allclose(f, region, atol=1.0) for f in faces)  # the photo's own face region
    crop = focus_crop(w, h, faces)
    assert all(_inside(f, crop) for f in faces) and crop[1] == 0  # the head, not the middle of the photo
    assert cli("rank", "-w", ws, "--show", "0").exit_code == 0  # the whole gallery again (other tests rank sessions)
    (ranking,) = read_rankings(workspace, ["me"])
    captions = pick_captions(workspace, "me", ranking["selected"])
    by_name = {c[0].split(" ", 1)[1]: c for c in captions}
    assert set(by_name) == {p.rsplit("/", 1)[1] for p in PHOTOS}
    assert by_name["t1.jpg"][1].startswith("★★★★★") and by_name["tall.jpg"][1].startswith("★★★★☆")  # the owner's ratings
    assert by_name["n1.jpg"][1].count("★") + by_name["n1.jpg"][1].count("☆") == 5  # unrated: the impact as stars


@pytest.mark.slow
def test_image_by_path_or_id(ranked: tuple, cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root, ws, _ = ranked
    tall = {p: i for i, p in paths_of(ws).items()}["2024/tall.jpg"]
    made = {}
    for how, image in (("id", tall), ("relative", "2024/tall.jpg"), ("dotted", "./2024//tall.jpg"),
                       ("absolute", str(root / "2024" / "tall.jpg"))):
        out = tmp_path / f"{how}.png"
        result = cli("pat", "-w", ws, "--overlay", out, "--image", image)
        assert result.exit_code == 0, (how, result.stderr)
        made[how] = out.read_bytes()
    assert len(set(made.values())) == 1  # the same picture whichever way it was named
    monkeypatch.chdir(root.parent)  # a path from here, inside the folder
    result = cli("pat", "-w", ws, "--overlay", tmp_path / "here.png", "--image", "photos/2024/tall.jpg")
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "here.png").read_bytes() == made["id"]
    result = cli("rank", "-w", ws, "--session", "ids:2023/t1.jpg,2024/tall.jpg", "-k", "1", "--json", "--show", "0")
    assert result.exit_code == 0, result.stderr
    (ranking,) = json.loads(result.stdout)["rankings"]
    assert {o["path"] for o in ranking["order"]} == {"2023/t1.jpg", "2024/tall.jpg"}


@pytest.mark.parametrize(("image", "message"), [
    ("2024/missing.jpg", "no image '2024/missing.jpg' in the workspace"),
    ("misc/broken.jpg", "misc/broken.jpg was not ingested (skipped"),
    ("../photos/2023/t1.jpg", "no image '../photos/2023/t1.jpg'"),
    ("/elsewhere/2023/t1.jpg", "no image '/elsewhere/2023/t1.jpg'"),
])
@pytest.mark.slow
def test_a_bad_path_is_one_line(ranked: tuple, cli, tmp_path: Path, image: str, message: str) -> None:
    _, ws, _ = ranked
    result = cli("pat", "-w", ws, "--overlay", tmp_path / "x.png", "--image", image)
    assert result.exit_code == 1 and message in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert not (tmp_path / "x.png").exists()
    result = cli("rank", "-w", ws, "--session", f"ids:{image}")
    assert result.exit_code == 1 and image in result.stderr and "unknown image" in result.stderr


@pytest.mark.slow
def test_eval_report_names_files(ranked: tuple, cli) -> None:
    _, ws, _ = ranked
    result = cli("eval", "-w", ws, "--k", "3", "--sheets", "1")
    assert result.exit_code == 0, result.stderr
    folder = Path(manifest(result)["report"]).parent
    page = (folder / "index.html").read_text()
    md = (folder / "summary.md").read_text()
    picked = [p for p in PHOTOS if p in page]
    assert len(picked) >= 3 and all(p in md for p in picked)  # each sheet's picks by file
    assert "taken 2023-06-10 14:00" in page or "taken 2024-" in page
    assert not any(i in page for i in paths_of(ws))
