"""`memoire export` on an ingested folder: album, gallery, sidecars, and the round trip through ingest."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from conftest import rows
from test_export_xmp import RICH, semantic_view
from test_ingest import bag, ingest, save_jpeg, xmp

DARKTABLE = """<?xml version="1.0" encoding="UTF-8"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="XMP Core 4.4.0-Exiv2">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:darktable="http://darktable.sf.net/"
    xmp:Rating="1"
    darktable:xmp_version="5"
    darktable:history_end="1">
   <darktable:history>
    <rdf:Seq>
     <rdf:li darktable:num="0" darktable:operation="exposure" darktable:enabled="1" darktable:params="0000"/>
    </rdf:Seq>
   </darktable:history>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
"""


def photo(path: Path, seed: int, day: int) -> None:
    rng = np.random.default_rng(seed)
    save_jpeg(Image.fromarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)), path, date=f"2024:05:{day:02d} 10:00:00")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Five photos: two named IMG_1.jpg in different folders, sidecars of both naming styles (a rich
    hand-written one, a darktable one, a digiKam-style one with keywords), one without any."""
    root = tmp_path / "photos"
    photo(root / "trip" / "IMG_1.jpg", 0, 1)
    (root / "trip" / "IMG_1.jpg.xmp").write_text(RICH.replace("<xmp:Label>Red</xmp:Label>", ""))
    photo(root / "home" / "IMG_1.jpg", 1, 2)
    (root / "home" / "IMG_1.xmp").write_text(xmp(bag("dc:subject", ["Home"]), 'photoshop:City="Nice"'))
    photo(root / "home" / "IMG_2.jpg", 2, 3)  # no sidecar; the folder's style (stem) is used for the new one
    photo(root / "dt.jpg", 3, 4)
    (root / "dt.jpg.xmp").write_text(DARKTABLE.replace('xmp:Rating="1"', 'xmp:Rating="0"'))  # darktable: unrated
    photo(root / "plain.jpg", 4, 5)  # not picked
    return root


def add_ranking(ws: Path, order: list[str], session: str = "all") -> dict[str, str]:
    """A `memoire rank` result written directly: the files of ``order`` picked in that order (the others
    ranked after them, unpicked). Returns path → image id."""
    ids = {p: json.loads(i)[0] for p, i in rows(ws, "SELECT path, image_ids FROM ingest_files WHERE status = 'ingested'")}
    write_ranking(ws, [ids[p] for p in order], [ids[p] for p in sorted(set(ids) - set(order))], session)
    return ids


def write_ranking(ws: Path, picked: list[str], others: list[str], session: str = "all") -> None:
    """Rows of `sessions` and `rankings` as `memoire rank` writes them: ``picked`` image ids in pick order, then ``others``."""
    import duckdb

    con = duckdb.connect(str(ws / "memoire.duckdb"))
    try:
        con.execute("DELETE FROM rankings WHERE user_id = 'me'")
        con.execute("DELETE FROM sessions WHERE user_id = 'me'")
        con.execute("INSERT INTO sessions (user_id, session, n_images, k, n_selected, lam) VALUES ('me', ?, ?, ?, ?, 0.4)",
                    [session, len(picked) + len(others), len(picked), len(picked)])
        reason = json.dumps([{"tag_id": 0, "type": "E", "name": "Birthday <b>", "relation": None, "alpha_star": 0.25, "share": 0.6}])
        for k, image_id in enumerate([*picked, *others]):
            chosen = k < len(picked)
            con.execute("INSERT INTO rankings (user_id, image_id, session, position, score, impact, relevance, pick, mmr, reasons) "
                        "VALUES ('me', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [image_id, session, k, 1.0 - k / 10, 90.0 - k, 1.0 - k / 10, k if chosen else None,
                         0.5 if chosen else None, reason if chosen else None])
    finally:
        con.close()


@pytest.fixture
def ranked(cli, folder: Path, tmp_path: Path) -> tuple[Path, Path]:
    ws = tmp_path / "w"
    result = ingest(cli, folder, ws)
    assert result.exit_code == 0, result.output
    add_ranking(ws, ["trip/IMG_1.jpg", "home/IMG_1.jpg", "home/IMG_2.jpg", "dt.jpg"])
    return folder, ws


def snapshot(*roots: Path) -> dict[str, tuple[bytes | str, int]]:
    out = {}
    for root in roots:
        for dirpath, dirs, files in os.walk(root):
            for name in dirs + files:
                p = Path(dirpath) / name
                if p.is_symlink():
                    out[str(p)] = (os.readlink(p), 0)
                elif p.is_file():
                    out[str(p)] = (p.read_bytes(), p.stat().st_mtime_ns)
    return out


def test_round_trip_album_gallery_and_sidecars(cli, ranked: tuple[Path, Path], tmp_path: Path) -> None:
    folder, ws = ranked
    sidecars = {"trip/IMG_1.jpg": "trip/IMG_1.jpg.xmp", "home/IMG_1.jpg": "home/IMG_1.xmp", "dt.jpg": "dt.jpg.xmp"}
    before = {p: (folder / s).read_bytes() for p, s in sidecars.items()}
    out = tmp_path / "out"
    # Piped after rank: the workspace comes from the manifest line on stdin.
    result = cli("export", "--write-xmp", "--to", out, "--album", "best", input=json.dumps({"stage": "rank", "workspace": str(ws)}) + "\n")
    assert result.exit_code == 0, result.output
    m = json.loads(result.stdout)
    assert (m["stage"], m["picks"], m["files"], m["album"]) == ("export", 4, 4, str(out / "best"))
    assert m["sidecars"] == {"created": 1, "updated": 3, "unchanged": 0, "failed": 0}
    assert (folder / "home" / "IMG_2.xmp").is_file()  # the folder's other sidecar there uses the stem

    # Stars by pick order (4 picks: thirds of 2 → 5, 5, 4, 4), Green, accepted; everything else as it was.
    from memoire_cli.ingest.xmp import parse_xmp

    stars = {"trip/IMG_1.jpg": 5, "home/IMG_1.jpg": 5, "home/IMG_2.jpg": 4, "dt.jpg": 4}
    for path, side in {**sidecars, "home/IMG_2.jpg": "home/IMG_2.xmp"}.items():
        data = (folder / side).read_bytes()
        read = parse_xmp(data)
        assert (read.rating, read.label, read.pick) == (stars[path], "Green", True), path
        if path in before:
            assert semantic_view(data) == semantic_view(before[path]), path
            backup = next(ws.glob(f"backups/export-*/{side}"))
            assert backup.read_bytes() == before[path]
    assert "darktable:history" in (folder / "dt.jpg.xmp").read_text()

    # The album: pick order, links to the originals (the two IMG_1.jpg apart), sidecars beside them.
    album = out / "best"
    names = sorted(n for n in os.listdir(album) if not n.startswith("."))
    assert names == ["001_IMG_1.jpg", "001_IMG_1.jpg.xmp", "002_IMG_1.jpg", "002_IMG_1.jpg.xmp", "003_IMG_2.jpg",
                     "003_IMG_2.jpg.xmp", "004_dt.jpg", "004_dt.jpg.xmp", "index.html"]
    assert (album / "001_IMG_1.jpg").resolve() == (folder / "trip" / "IMG_1.jpg").resolve()
    assert (album / "002_IMG_1.jpg").resolve() == (folder / "home" / "IMG_1.jpg").resolve()
    assert (album / "002_IMG_1.jpg.xmp").resolve() == (folder / "home" / "IMG_1.xmp").resolve()
    page = (album / "index.html").read_text()
    assert page.count("data:image/jpeg;base64,") == 4 and "http://" not in page.replace("http-equiv", "") and "https://" not in page
    assert "Birthday &lt;b&gt;" in page and "trip/IMG_1.jpg" in page and "★★★★☆" in page

    # Re-ingest: the same stars and labels come back; nothing else in the sidecars changed.
    again = ingest(cli, folder, ws)
    assert again.exit_code == 0, again.output
    by_path = {p: json.loads(i)[0] for p, i in rows(ws, "SELECT path, image_ids FROM ingest_files WHERE status = 'ingested'")}
    ratings = {i: (r, s) for i, r, s in rows(ws, "SELECT image_id, rating, source FROM ratings")}
    assert {p: ratings[by_path[p]] for p in stars} == {p: (float(s), "xmp:Rating") for p, s in stars.items()}
    assert by_path["plain.jpg"] not in ratings
    labels = {p: json.loads(meta)["label"] for p, meta in rows(ws, "SELECT path, metadata FROM ingest_files WHERE status = 'ingested'")}
    assert labels == {**{p: "Green" for p in stars}, "plain.jpg": None}
    favourites = dict(rows(ws, "SELECT image_id, favourite FROM usage"))
    assert {p for p, i in by_path.items() if favourites[i]} == set(stars)  # the pick flags
    assert rows(ws, "SELECT DISTINCT change FROM ingest_changes") == [("retagged",)]

    # A second export changes nothing in the sidecars; the album is refused, then replaced with --force.
    second = cli("export", "-w", ws, "--write-xmp", "--to", out, "--album", "best")
    assert second.exit_code == 1 and "exists" in second.stderr and len(second.stderr.strip().splitlines()) == 1
    third = cli("export", "-w", ws, "--write-xmp", "--to", out, "--album", "best", "--force", "--copy")
    assert third.exit_code == 0, third.output
    assert json.loads(third.stdout)["sidecars"]["unchanged"] == 4
    assert not (album / "001_IMG_1.jpg").is_symlink() and (album / "001_IMG_1.jpg").read_bytes() == (folder / "trip" / "IMG_1.jpg").read_bytes()
    assert (album / "003_IMG_2.jpg.xmp").read_bytes() == (folder / "home" / "IMG_2.xmp").read_bytes()
    (album / "mine.txt").write_text("the owner's note")
    fourth = cli("export", "-w", ws, "--to", out, "--album", "best", "--force")
    assert fourth.exit_code == 1 and "mine.txt" in fourth.stderr and (album / "mine.txt").is_file()

    if shutil.which("exiftool"):  # an independent reader, when installed
        files = {p: str(folder / s) for p, s in {**sidecars, "home/IMG_2.jpg": "home/IMG_2.xmp"}.items()}
        got = json.loads(subprocess.run(["exiftool", "-j", "-XMP:Rating", "-XMP:Label", "-XMP-digiKam:PickLabel",
                                         "-XMP-digiKam:ColorLabel", "-XMP-photoshop:City", *files.values()],
                                        capture_output=True, text=True, check=True).stdout)
        by_file = {g["SourceFile"]: g for g in got}
        for path, side in files.items():
            g = by_file[side]
            assert (g["Rating"], g["Label"], int(g["PickLabel"]), int(g["ColorLabel"])) == (stars[path], "Green", 3, 4), (path, g)
        assert by_file[files["trip/IMG_1.jpg"]]["City"] == "Lyon" and by_file[files["home/IMG_1.jpg"]]["City"] == "Nice"


def test_a_rating_inside_the_photo_is_the_owners(cli, ranked: tuple[Path, Path], tmp_path: Path) -> None:
    """A photo without a sidecar whose own XMP holds a rating and label (as Lightroom writes into JPEGs)."""
    from memoire_cli.ingest.xmp import parse_xmp

    folder, ws = ranked
    rng = np.random.default_rng(7)
    save_jpeg(Image.fromarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)), folder / "lr.jpg",
              embedded=xmp("", 'xmp:Rating="2" xmp:Label="Red"'))
    assert ingest(cli, folder, ws).exit_code == 0
    add_ranking(ws, ["lr.jpg", "dt.jpg"])
    result = cli("export", "-w", ws, "--write-xmp")
    assert result.exit_code == 0, result.output
    created = parse_xmp((folder / "lr.jpg.xmp").read_bytes())
    assert (created.rating, created.label, created.pick) == (None, None, True)  # only the pick flag is new
    assert "xmp:Rating kept '2'" in result.stderr
    assert ingest(cli, folder, ws).exit_code == 0
    lr = json.loads(rows(ws, "SELECT metadata FROM ingest_files WHERE path = 'lr.jpg'")[0][0])
    assert (lr["rating"], lr["label"], lr["pick"]) == (2.0, "Red", True)
    forced = cli("export", "-w", ws, "--write-xmp", "--overwrite")
    assert forced.exit_code == 0, forced.output
    assert parse_xmp((folder / "lr.jpg.xmp").read_bytes()).rating == 5


def test_dry_run_writes_nothing(cli, ranked: tuple[Path, Path], tmp_path: Path) -> None:
    folder, ws = ranked
    before = snapshot(folder, ws)
    result = cli("export", "-w", ws, "--write-xmp", "--to", tmp_path / "out", "--dry-run")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["dry_run"] is True
    assert "would create home/IMG_2.xmp" in result.stderr and "xmp:Rating unset → '5'" in result.stderr
    assert "001_IMG_1.jpg ← trip/IMG_1.jpg (5★)" in result.stderr
    assert snapshot(folder, ws) == before and not (tmp_path / "out").exists()


def test_name_collisions_never_overwrite(cli, ranked: tuple[Path, Path], tmp_path: Path) -> None:
    folder, ws = ranked
    photo(folder / "other" / "img_1.JPG", 9, 9)  # the same name again, in another case
    assert ingest(cli, folder, ws).exit_code == 0
    add_ranking(ws, ["trip/IMG_1.jpg", "home/IMG_1.jpg", "other/img_1.JPG", "dt.jpg"])
    result = cli("export", "-w", ws, "--to", tmp_path / "out", "--no-prefix", "--no-gallery")
    assert result.exit_code == 0, result.output
    album = tmp_path / "out" / "memoire-picks"
    links = {n: (album / n).resolve() for n in os.listdir(album) if not n.startswith(".") and not n.endswith(".xmp")}
    assert links == {"IMG_1.jpg": (folder / "trip" / "IMG_1.jpg").resolve(), "IMG_1-2.jpg": (folder / "home" / "IMG_1.jpg").resolve(),
                     "img_1-3.JPG": (folder / "other" / "img_1.JPG").resolve(), "dt.jpg": (folder / "dt.jpg").resolve()}


def test_a_sidecar_that_is_not_xml_is_skipped_and_the_rest_goes_on(cli, ranked: tuple[Path, Path], tmp_path: Path) -> None:
    folder, ws = ranked
    bad = folder / "home" / "IMG_1.xmp"
    bad.write_bytes(b"\x89PNG this is not XML")
    result = cli("export", "-w", ws, "--write-xmp")
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if "home/IMG_1.xmp" in line]
    assert len(errors) == 1 and "not well-formed XML" in errors[0] and "skipped" in errors[0]
    assert result.stderr.strip().splitlines()[-1].startswith("memoire export: error: 1 file(s) not exported")
    assert bad.read_bytes() == b"\x89PNG this is not XML" and result.stdout == ""
    from memoire_cli.ingest.xmp import parse_xmp

    assert parse_xmp((folder / "trip" / "IMG_1.jpg.xmp").read_bytes()).rating == 5  # the others were written
    assert parse_xmp((folder / "dt.jpg.xmp").read_bytes()).rating == 4


def test_a_photo_gone_since_ingest_is_reported_and_the_rest_exported(cli, ranked: tuple[Path, Path], tmp_path: Path) -> None:
    folder, ws = ranked
    (folder / "home" / "IMG_2.jpg").unlink()
    result = cli("export", "-w", ws, "--write-xmp", "--to", tmp_path / "out")
    assert result.exit_code == 1 and result.stdout == ""
    lines = [line for line in result.stderr.splitlines() if "home/IMG_2.jpg" in line]
    assert len(lines) == 1 and "gone" in lines[0]
    album = tmp_path / "out" / "memoire-picks"
    assert sorted(n for n in os.listdir(album) if n.endswith(".jpg")) == ["001_IMG_1.jpg", "002_IMG_1.jpg", "004_dt.jpg"]
    assert (album / "index.html").read_text().count("data:image/jpeg") == 3
    assert not (folder / "home" / "IMG_2.xmp").exists()


def test_interrupted_export_leaves_no_half_written_sidecar(cli, ranked: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    from memoire_cli.export import xmp_write
    from memoire_cli.ingest.xmp import parse_xmp

    folder, ws = ranked
    before = {p: p.read_bytes() for p in folder.rglob("*.xmp")}
    real = xmp_write._write_all
    calls = []

    def stop_in_the_second_sidecar(fd: int, data: bytes) -> None:
        if b"memoire:Written" in data:  # a merged sidecar (backups hold the old bytes)
            calls.append(len(data))
            if len(calls) == 2:
                os.write(fd, data[: len(data) // 2])
                raise KeyboardInterrupt
        real(fd, data)

    monkeypatch.setattr(xmp_write, "_write_all", stop_in_the_second_sidecar)
    result = cli("export", "-w", ws, "--write-xmp")
    assert result.exit_code == 130 and "interrupted" in result.stderr
    first = folder / "trip" / "IMG_1.jpg.xmp"
    assert parse_xmp(first.read_bytes()).rating == 5 and semantic_view(first.read_bytes()) == semantic_view(before[first])
    assert (folder / "home" / "IMG_1.xmp").read_bytes() == before[folder / "home" / "IMG_1.xmp"]  # untouched
    assert not any(".tmp" in p.name for p in folder.rglob("*")), sorted(folder.rglob("*"))
    for p in folder.rglob("*.xmp"):  # every sidecar parses: none is half-written
        parse_xmp(p.read_bytes())


def test_unwritable_export_folder_is_one_line_and_exit_1(cli, ranked: tuple[Path, Path], tmp_path: Path) -> None:
    _, ws = ranked
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the folder should be")
    for target, words in ((blocked, "is not a folder"), (blocked / "sub", "cannot create export folder")):
        result = cli("export", "-w", ws, "--to", target)
        assert result.exit_code == 1, result.output
        assert len(result.stderr.strip().splitlines()) == 1 and words in result.stderr, result.stderr
    if os.geteuid() != 0:  # permission bits do not stop root
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        result = cli("export", "-w", ws, "--to", locked)
        assert result.exit_code == 1 and "not writable" in result.stderr and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(("args", "words"), [
    ([], "nothing to do"),
    (["--to", "X", "--album", "../up"], "--album must be a plain folder name"),
    (["--write-xmp", "--label", "Teal"], "--label must be one of"),
    (["--write-xmp", "--user", "nobody"], "user 'nobody' has no ranking"),
])
def test_bad_requests(cli, ranked: tuple[Path, Path], args: list[str], words: str) -> None:
    _, ws = ranked
    result = cli("export", "-w", ws, *args)
    assert result.exit_code == 2 and words in result.stderr and result.stdout == ""


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["a", "b", "a/b", "c/d/e"]), st.sampled_from(["IMG_1.jpg", "img_1.JPG", "IMG_1-2.jpg", "x.png", "IMG_1"])),
                min_size=1, max_size=12, unique=True), st.booleans())
def test_album_names_never_collide(files: list[tuple[str, str]], prefix: bool) -> None:
    from memoire_cli.export.album import album_names
    from memoire_cli.export.picks import Pick

    picks = [Pick(k, k, f"me/{k}", f"{d}/{n}", Path("/photos", d, n), "still", 5, 50.0, 0.0) for k, (d, n) in enumerate(files)]
    names = album_names(picks, prefix)
    taken = [n.casefold() for n in names] + [(n + ".xmp").casefold() for n in names]
    assert len(set(taken)) == len(taken)  # no file, nor its sidecar, takes another's name (case-insensitively)
    for pick, name in zip(picks, names):
        stem, ext = os.path.splitext(pick.path.name)
        assert name.endswith(ext) and (name.startswith(f"{pick.order + 1:03d}_") if prefix else name.startswith(stem))


def test_a_clip_with_several_picked_frames_is_one_file(cli, tmp_path: Path) -> None:
    import cv2

    from memoire_cli.ingest.xmp import parse_xmp

    root = tmp_path / "photos"
    root.mkdir()
    writer = cv2.VideoWriter(str(root / "clip.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 4.0, (96, 64))
    for k in range(10):  # 2.5 s at 4 fps → 3 kept frames
        writer.write(np.full((64, 96, 3), 20 * k, np.uint8))
    writer.release()
    photo(root / "still.jpg", 0, 1)
    ws = tmp_path / "w"
    assert ingest(cli, root, ws).exit_code == 0
    frames = [i for (i,) in rows(ws, "SELECT image_id FROM images WHERE kind = 'video_frame' ORDER BY frame_index")]
    (still,) = rows(ws, "SELECT image_id FROM images WHERE kind = 'still'")[0]
    write_ranking(ws, [frames[2], still, frames[0]], [frames[1]])
    result = cli("export", "-w", ws, "--write-xmp", "--to", tmp_path / "out", "--copy")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["files"] == 2
    album = tmp_path / "out" / "memoire-picks"
    assert sorted(os.listdir(album)) == [".memoire-album.json", "001_clip.avi", "001_clip.avi.xmp", "002_still.jpg",
                                         "002_still.jpg.xmp", "index.html"]
    assert (album / "001_clip.avi").read_bytes() == (root / "clip.avi").read_bytes()
    assert parse_xmp((root / "clip.avi.xmp").read_bytes()).rating == 5 and parse_xmp((root / "still.jpg.xmp").read_bytes()).rating == 4
    assert ingest(cli, root, ws).exit_code == 0
    assert rows(ws, "SELECT rating, count(*) FROM ratings GROUP BY 1 ORDER BY 1") == [(4.0, 1), (5.0, 3)]  # the clip's frames carry its stars


def test_a_synthetic_gallery_has_no_files_to_export(cli, box_renderer, tmp_path: Path) -> None:
    from conftest import TINY

    ws = tmp_path / "w"
    assert cli("synth", "-w", ws, *TINY).exit_code == 0
    assert cli("export", "-w", ws, "--write-xmp").exit_code == 1  # no ranking yet
    import duckdb

    con = duckdb.connect(str(ws / "memoire.duckdb"))
    con.execute("INSERT INTO sessions (user_id, session) VALUES ('u0000', 'all')")
    con.close()
    result = cli("export", "-w", ws, "--write-xmp")
    assert result.exit_code == 1 and "not ingested from a photo folder" in result.stderr
