"""`memoire persona update` follows a re-ingested folder: added, removed and retagged photos are each noticed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from conftest import manifest, rows
from test_ingest import bag, save_jpeg, xmp

FAST = ["--epochs", "2", "--steps-per-epoch", "2", "--device", "cpu"]
USER = "me"

#: (file, capture time, keyword hierarchies): a family day out and a trip.
PHOTOS = [
    ("a.jpg", "2023:06:10 10:00:00", ["People|Family|Mother|Ann", "Events|Picnic", "Places|Park"]),
    ("b.jpg", "2023:06:10 10:20:00", ["People|Family|Mother|Ann", "People|Friends|Bo", "Places|Park"]),
    ("c.jpg", "2023:06:10 11:00:00", ["People|Friends|Bo", "Events|Picnic"]),
    ("d.jpg", "2023:07:02 09:00:00", ["People|Family|Father|Cy", "Events|Trip", "Places|Lake"]),
    ("e.jpg", "2023:07:02 12:00:00", ["People|Family|Father|Cy", "People|Family|Mother|Ann", "Places|Lake"]),
    ("f.jpg", "2023:07:03 09:00:00", ["People|Friends|Bo", "Events|Trip", "Places|Lake"]),
]


def photo(root: Path, name: str, date: str, keywords: list[str], seed: int) -> None:
    """A Pillow-written JPEG (distinct pixels per seed) with an XMP keyword sidecar."""
    rng = np.random.default_rng(seed)
    save_jpeg(Image.fromarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)), root / name, date=date)
    (root / f"{name}.xmp").write_text(xmp(bag("lr:hierarchicalSubject", keywords)))


def folder(tmp_path: Path) -> Path:
    root = tmp_path / "photos"
    for k, (name, date, kw) in enumerate(PHOTOS):
        photo(root, name, date, kw, k)
    return root


def ingest(cli, root: Path, ws: Path):  # noqa: ANN001, ANN201
    result = cli("ingest", root, "-w", ws, "--user", USER, "--image-size", "64", "--anchor-size", "32")
    assert result.exit_code == 0, result.stderr
    return result


def built(cli, tmp_path: Path) -> tuple[Path, Path]:  # noqa: ANN001
    root, ws = folder(tmp_path), tmp_path / "w"
    ingest(cli, root, ws)
    for args in (("graph", "-w", ws), ("persona", "-w", ws, *FAST)):
        result = cli(*args)
        assert result.exit_code == 0, result.stderr
    return root, ws


def counts(ws: Path) -> dict[str, int]:
    return dict(rows(ws, f"SELECT t.name, n.count FROM graph_nodes n JOIN tags t USING (user_id, tag_id) WHERE n.user_id = '{USER}'"))


def test_added_photos_are_folded_in_and_then_nothing_is_new(cli, tmp_path: Path) -> None:
    root, ws = built(cli, tmp_path)
    before = counts(ws)
    photo(root, "g.jpg", "2023:07:03 10:00:00", ["People|Friends|Bo", "People|Friends|Dee", "Places|Lake"], 10)
    ingest(cli, root, ws)  # one more image: the count alone would have shown it, so did the digest
    result = cli("persona", "update", "-w", ws)
    assert result.exit_code == 0, result.stderr
    assert manifest(result)["computed"] == 1 and manifest(result)["full"] == []
    assert "1 added (g.jpg)" in result.stderr and "nothing new" not in result.stderr
    after = counts(ws)
    assert after["Bo"] == before["Bo"] + 1 and after["Dee"] == 1 and after["Ann"] == before["Ann"]
    again = cli("persona", "update", "-w", ws)
    assert again.exit_code == 0 and manifest(again)["skipped"] is True and "nothing new" in again.stderr


def test_added_removed_retagged_are_each_noticed_and_full_rebuilds(cli, tmp_path: Path) -> None:
    """Same image count after the re-ingest (one added, one removed): the old watermark saw nothing."""
    root, ws = built(cli, tmp_path)
    n_before = rows(ws, "SELECT n_images FROM graph_users")[0][0]
    photo(root, "g.jpg", "2023:07:03 10:00:00", ["People|Friends|Bo", "Places|Lake"], 10)  # added
    (root / "c.jpg").unlink()  # removed
    (root / "c.jpg.xmp").unlink()
    (root / "b.jpg.xmp").write_text(xmp(bag("lr:hierarchicalSubject", ["People|Friends|Bo", "Places|Beach"])))  # retagged
    ingest(cli, root, ws)
    assert rows(ws, f"SELECT count(*) FROM images WHERE user_id = '{USER}'")[0][0] == n_before
    assert dict(rows(ws, "SELECT path, change FROM ingest_changes")) == {"g.jpg": "added", "c.jpg": "removed", "b.jpg": "retagged"}

    stale = cli("persona", "update", "-w", ws)
    assert stale.exit_code == 1 and stale.stdout == "" and "Traceback" not in stale.stderr
    last = stale.stderr.strip().splitlines()[-1]
    assert "removed (c.jpg)" in last and "retagged (b.jpg)" in last and "--full" in last and "nothing new" not in stale.stderr
    assert rows(ws, "SELECT status FROM runs WHERE stage = 'persona' ORDER BY started_at DESC LIMIT 1") == [("failed",)]

    full = cli("persona", "update", "-w", ws, "--full")
    assert full.exit_code == 0, full.stderr
    assert manifest(full)["full"] == [USER]
    assert counts(ws).get("Beach") == 1 and counts(ws)["Bo"] == 3  # b (retagged), f, g; c removed
    after = cli("persona", "update", "-w", ws)
    assert after.exit_code == 0 and "nothing new" in after.stderr


def test_two_reingests_between_updates_need_a_full_run(cli, tmp_path: Path) -> None:
    root, ws = built(cli, tmp_path)
    photo(root, "g.jpg", "2023:07:03 10:00:00", ["People|Friends|Bo"], 10)
    ingest(cli, root, ws)
    photo(root, "h.jpg", "2023:07:03 11:00:00", ["People|Friends|Bo"], 11)
    ingest(cli, root, ws)  # ingest_changes now says only "h.jpg added"; g.jpg's addition is not in it
    result = cli("persona", "update", "-w", ws)
    assert result.exit_code == 1 and "ingested 2 times" in result.stderr.strip().splitlines()[-1]


def test_full_only_with_update(cli, tmp_path: Path) -> None:
    result = cli("persona", "-w", tmp_path, "--full")
    assert result.exit_code == 2 and "--full belongs to `memoire persona update`" in result.stderr


def test_a_reingest_that_changed_no_photo_leaves_the_persona_current(cli, tmp_path: Path) -> None:
    import os

    root, ws = built(cli, tmp_path)
    alpha = rows(ws, "SELECT tag_id, alpha FROM persona ORDER BY tag_id")
    st = (root / "a.jpg").stat()
    os.utime(root / "a.jpg", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # touched: a new listing, the same photos
    ingest(cli, root, ws)
    result = cli("persona", "update", "-w", ws)
    assert result.exit_code == 0, result.stderr
    assert "no photo was added, removed or retagged: the persona is current" in result.stderr
    assert rows(ws, "SELECT tag_id, alpha FROM persona ORDER BY tag_id") == alpha
    again = cli("persona", "update", "-w", ws)
    assert again.exit_code == 0 and "nothing new" in again.stderr


def test_a_graph_of_another_code_version_needs_a_full_run(cli, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    from memoire_cli.graph.stage import GraphStage

    _, ws = built(cli, tmp_path)
    monkeypatch.setattr(GraphStage, "code_version", "999")
    result = cli("persona", "update", "-w", ws)
    assert result.exit_code == 1 and "built by `memoire graph`" in result.stderr and "graph.999" in result.stderr
