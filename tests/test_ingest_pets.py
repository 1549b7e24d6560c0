"""MWG Pet regions become person-like tags; regions of other types are counted on stderr, never dropped silently."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from conftest import rows
from test_ingest import save_jpeg, xmp


def region(kind: str, name: str | None, x: float, y: float) -> str:
    return (f'<rdf:li rdf:parseType="Resource"><mwg-rs:Area stArea:x="{x}" stArea:y="{y}" stArea:w="0.2" stArea:h="0.2" '
            f'stArea:unit="normalized"/><mwg-rs:Type>{kind}</mwg-rs:Type>{f"<mwg-rs:Name>{name}</mwg-rs:Name>" if name else ""}</rdf:li>')


def regions(*items: str) -> str:
    return f'<mwg-rs:Regions rdf:parseType="Resource"><mwg-rs:RegionList><rdf:Bag>{"".join(items)}</rdf:Bag></mwg-rs:RegionList></mwg-rs:Regions>'


def test_pet_regions_are_tags_and_other_types_are_counted(cli, tmp_path: Path) -> None:
    root = tmp_path / "photos"
    rng = np.random.default_rng(0)
    for k, body in enumerate([
        regions(region("Pet", "Rex", 0.3, 0.5), region("Face", "Ann", 0.7, 0.3), region("Focus", None, 0.5, 0.5)),
        regions(region("Pet", None, 0.5, 0.5), region("BarCode", None, 0.2, 0.2), region("Focus", None, 0.4, 0.4)),
    ]):
        save_jpeg(Image.fromarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)), root / f"{k}.jpg", date=f"2023:06:1{k} 10:00:00")
        (root / f"{k}.jpg.xmp").write_text(xmp(body))
    ws = tmp_path / "w"
    result = cli("ingest", root, "-w", ws, "--image-size", "64", "--anchor-size", "32")
    assert result.exit_code == 0, result.stderr
    tags = {name: (t, rel) for t, name, rel in rows(ws, "SELECT type, name, relation FROM tags")}
    assert tags["Rex"] == ("P", "unknown") and tags["pet"] == ("P", "unknown") and tags["Ann"][0] == "P"
    per_image = {i: sorted(n for n, in rows(ws, f"SELECT t.name FROM image_tags it JOIN tags t USING (user_id, tag_id) "
                                               f"WHERE it.image_id = '{i}' AND t.type = 'P'"))
                 for i, in rows(ws, "SELECT image_id FROM images")}
    assert sorted(per_image.values()) == [["Ann", "Rex"], ["pet"]]
    lines = [ln for ln in result.stderr.splitlines() if "region(s)" in ln]
    assert len(lines) == 1 and "3 image region(s)" in lines[0] and "BarCode 1, Focus 2" in lines[0]
    portraits = {n for n, in rows(ws, "SELECT t.name FROM anchors a JOIN tags t USING (user_id, tag_id)")}
    assert not portraits & {"Rex", "pet"}  # enrolment portraits are for faces only
