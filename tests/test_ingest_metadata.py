"""The readers behind `memoire ingest`: XMP variants, orientation, dates, relations, clustering."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from memoire_cli.errors import UsageError
from memoire_cli.ingest.exif import orient_box, orient_image, parse_exif_datetime
from memoire_cli.ingest.organise import assign_events, assign_places, bursts, gps_clusters, place_name
from memoire_cli.ingest.relations import interpret_keywords, load_relations, relation_of
from memoire_cli.ingest.xmp import XmpError, parse_iso_date, parse_xmp, parse_xmp_coordinate
from test_ingest import NS, XMP_HEAD, XMP_TAIL, bag, mwg, xmp


def test_mwg_regions_as_attributes_or_elements() -> None:
    as_attrs = xmp(mwg([("Ann", 0.5, 0.4, 0.2, 0.3), (None, 0.1, 0.1, 0.1, 0.1)], applied=(100, 50)))
    d = parse_xmp(as_attrs)
    assert [(r.name, r.cx, r.cy, r.w, r.h) for r in d.regions] == [("Ann", 0.5, 0.4, 0.2, 0.3), (None, 0.1, 0.1, 0.1, 0.1)]
    assert d.regions[0].applied == (100.0, 50.0) and d.has_regions
    # digiKam style: nested rdf:Description, every field an attribute, the area a nested Description.
    nested = xmp('<mwg-rs:Regions><rdf:Description><mwg-rs:RegionList><rdf:Bag><rdf:li><rdf:Description mwg-rs:Name="Bo" mwg-rs:Type="Face">'
                 '<mwg-rs:Area><rdf:Description stArea:x="0.25" stArea:y="0.75" stArea:w="0.1" stArea:h="0.2" stArea:unit="normalized"/>'
                 '</mwg-rs:Area></rdf:Description></rdf:li><rdf:li><rdf:Description mwg-rs:Name="Rex" mwg-rs:Type="Pet">'
                 '<mwg-rs:Area stArea:x="0.5" stArea:y="0.5" stArea:w="0.1" stArea:h="0.1" stArea:unit="normalized"/></rdf:Description></rdf:li>'
                 '</rdf:Bag></mwg-rs:RegionList></rdf:Description></mwg-rs:Regions>')
    regions = parse_xmp(nested).regions
    assert [(r.name, r.kind, r.cx, r.cy) for r in regions] == [("Bo", "Face", 0.25, 0.75), ("Rex", "Pet", 0.5, 0.5)]
    # A box sticking out of the image is clipped; pixel units and degenerate boxes are dropped.
    odd = xmp(mwg([("Cy", 0.95, 0.5, 0.2, 0.2), ("Zero", 0.5, 0.5, 0.0, 0.1)]).replace('stArea:unit="normalized"/>', 'stArea:unit="normalized"/>', 1))
    r = parse_xmp(odd).regions
    assert len(r) == 1 and r[0].name == "Cy" and np.isclose(r[0].cx + r[0].w / 2, 1.0) and np.isclose(r[0].w, 0.15)


def test_microsoft_regions_keywords_location_rating_flags() -> None:
    body = ('<MP:RegionInfo><rdf:Description><MPRI:Regions><rdf:Bag><rdf:li><rdf:Description MPReg:Rectangle="0.1, 0.2, 0.3, 0.4" '
            'MPReg:PersonDisplayName="Dee"/></rdf:li></rdf:Bag></MPRI:Regions></rdf:Description></MP:RegionInfo>'
            + bag("dc:subject", ["beach", "Wedding"]) + bag("lr:hierarchicalSubject", ["Places|France|Nice", "People|Friends|Eve"])
            + bag("Iptc4xmpExt:PersonInImage", ["Fay"])
            + '<Iptc4xmpExt:LocationShown><rdf:Bag><rdf:li Iptc4xmpExt:City="Nice" Iptc4xmpExt:CountryName="France"/></rdf:Bag>'
            + '</Iptc4xmpExt:LocationShown>')
    d = parse_xmp(xmp(body, 'MicrosoftPhoto:Rating="75" digiKam:PickLabel="3" xmp:CreateDate="2020-05-01T10:00:00+02:00"'))
    (r,) = d.regions
    assert r.name == "Dee" and r.source == "mp" and np.allclose([r.cx, r.cy, r.w, r.h], [0.25, 0.4, 0.3, 0.4])
    assert d.keywords == ("beach", "Wedding") and ("Places", "France", "Nice") in d.paths and d.persons == ("Fay",)
    assert d.location == (None, "Nice", None, "France")
    assert (d.rating, d.rating_source, d.pick) == (4.0, "MicrosoftPhoto:Rating", True)
    assert d.taken_at == datetime(2020, 5, 1, 8, 0) and d.taken_offset
    meaning = interpret_keywords(d.paths, d.keywords)
    assert meaning.people == {"Eve": "friend"} and meaning.events == ("Wedding",) and meaning.places == ("Nice",)


def test_sidecar_overrides_embedded_field_by_field() -> None:
    embedded = parse_xmp(xmp(mwg([("Ann", 0.5, 0.5, 0.2, 0.2)]), 'xmp:Rating="2" photoshop:City="Oslo"'))
    sidecar = parse_xmp(xmp("", 'xmp:Rating="5"'))
    merged = sidecar.over(embedded)
    assert merged.rating == 5 and merged.location == (None, "Oslo", None, None) and merged.regions == embedded.regions
    cleared = parse_xmp(xmp(mwg([]))).over(embedded)  # an empty region list in the sidecar removes the regions
    assert cleared.regions == ()


@pytest.mark.parametrize("packet", [
    b"<x:xmpmeta><rdf:RDF><unclosed>",
    b"",
    b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'b'>]><x>&a;</x>",
    b'<?xml version="1.0"?><!DOCTYPE x SYSTEM "http://example.invalid/x.dtd"><x/>',
    b"<not-xmp/>",
])
def test_unsafe_or_malformed_xmp_is_refused(packet: bytes) -> None:
    with pytest.raises(XmpError):
        parse_xmp(packet)


def test_dates_and_coordinates() -> None:
    assert parse_exif_datetime("2023:06:10 14:00:00", "5", "+02:00") == (datetime(2023, 6, 10, 12, 0, 0, 500000), True)
    assert parse_exif_datetime("2023:06:10 14:00:00") == (datetime(2023, 6, 10, 14), False)
    assert parse_exif_datetime("0000:00:00 00:00:00") == (None, False)
    assert parse_iso_date("2021-12-31T23:30:00-01:00") == (datetime(2022, 1, 1, 0, 30), True)
    assert parse_iso_date("2021-07") == (datetime(2021, 7, 1), False)
    assert parse_iso_date("yesterday") == (None, False)
    assert np.isclose(parse_xmp_coordinate("48,51.5N"), 48 + 51.5 / 60)
    assert np.isclose(parse_xmp_coordinate("2,17,40W"), -(2 + 17 / 60 + 40 / 3600))


@pytest.mark.parametrize("orientation", range(1, 9))
def test_boxes_turn_with_the_pixels(orientation: int) -> None:
    """A box marked on the stored pixels lands on the same pixels after orient_image."""
    from PIL import Image

    stored = np.zeros((40, 60), np.uint8)
    stored[8:16, 30:54] = 255  # x 0.5–0.9, y 0.2–0.4
    upright = np.asarray(orient_image(Image.fromarray(stored), orientation))
    x0, y0, x1, y1 = orient_box(0.7, 0.3, 0.4, 0.2, orientation)
    h, w = upright.shape
    ys, xs = np.nonzero(upright)
    assert np.allclose([xs.min() / w, ys.min() / h, (xs.max() + 1) / w, (ys.max() + 1) / h], [x0, y0, x1, y1])


def test_relations_files(tmp_path: Path) -> None:
    (tmp_path / "ref.jpg").write_bytes(b"x")
    y = tmp_path / "r.yaml"
    y.write_text("Ann: me\nBo: {relation: Grandma, reference: ref.jpg}\nCy: colleague\n")
    people = load_relations(y, tmp_path)
    assert {n: p.relation for n, p in people.items()} == {"Ann": "self", "Bo": "grandparent", "Cy": "colleague"}
    assert people["Bo"].reference == tmp_path / "ref.jpg"
    c = tmp_path / "r.csv"
    c.write_text("name,relation,reference\nAnn,self,\nDee,sister,\n")
    assert {n: p.relation for n, p in load_relations(c, tmp_path).items()} == {"Ann": "self", "Dee": "sibling"}
    for text, message in (("Ann: self\nBo: self\n", "more than one person is self"), ("- Ann\n", "mapping"),
                          ("Ann: {relation: friend, reference: missing.jpg}\n", "not found"), ("Ann: [1\n", "not valid YAML")):
        y.write_text(text)
        with pytest.raises(UsageError, match=message):
            load_relations(y, tmp_path)
    with pytest.raises(UsageError, match="no such file"):
        load_relations(tmp_path / "none.yaml", tmp_path)
    assert relation_of("Husband") == "spouse" and relation_of("aunt") is None


def test_keyword_hierarchies() -> None:
    m = interpret_keywords((("People", "Family", "Mother", "Ann"), ("People", "Family", "Mother"), ("Family", "Dad"), ("Friends", "Bo"),
                            ("People", "Cy"), ("Events", "Trip to Rome"), ("Animals", "Cat")), ("birthday",))
    assert m.people == {"Ann": "mother", "Mother": "mother", "Dad": "father", "Bo": "friend", "Cy": None}
    assert m.events == ("Trip to Rome", "Birthday") and m.places == ()


def test_events_from_keywords_and_time_gaps() -> None:
    t = [datetime(2024, 1, 1, 10), datetime(2024, 1, 1, 11), datetime(2024, 1, 1, 20), datetime(2024, 1, 1, 20, 30), None, None,
         datetime(2024, 1, 1, 23, 59)]
    assert bursts(t, 3.0) == [0, 0, 1, 1, None, None, 2]
    kw = [("Party",), (), (), (), ("Party",), (), ()]
    assert assign_events(t, kw, 3.0) == [("Party", 0), ("Party", 0), ("event 2024-01-01", 1), ("event 2024-01-01", 1), ("Party", None), None,
                                         ("event 2024-01-01 #2", 2)]


def test_places_from_iptc_and_gps() -> None:
    assert place_name((None, "Paris", None, "France")) == ("Paris, France", "city")
    assert place_name(("Louvre", "Paris", None, None)) == ("Louvre, Paris", "sublocation")
    coords = [(48.8584, 2.2945), (48.8600, 2.2950), (48.8620, 2.2960), (40.0, 116.0), None]
    assert gps_clusters(coords, 0.5) == [0, 0, 0, 1, None]  # single linkage: 0–1 and 1–2 within 0.5 km
    assert gps_clusters(coords, 0.1) == [0, 1, 2, 3, None]
    named = [("Eiffel Tower", "keyword"), None, None, None, None]
    out = assign_places(named, coords, 0.5)
    assert out[:3] == [("Eiffel Tower", "keyword")] * 3 and out[3] == ("place near 40.000, 116.000", "gps cluster") and out[4] is None


def test_mp4_creation_time(tmp_path: Path) -> None:
    import struct

    from memoire_cli.ingest.media import mp4_creation_time

    secs = int((datetime(2022, 3, 4, 5, 6, 7) - datetime(1904, 1, 1)).total_seconds())
    mvhd = struct.pack(">I4sB3xII", 8 + 4 + 8, b"mvhd", 0, secs, secs)
    moov = struct.pack(">I4s", 8 + len(mvhd), b"moov") + mvhd
    path = tmp_path / "a.mp4"
    path.write_bytes(struct.pack(">I4s", 16, b"ftyp") + b"isom\x00\x00\x00\x00" + moov)
    assert mp4_creation_time(path) == datetime(2022, 3, 4, 5, 6, 7)
    path.write_bytes(b"\x00\x00\x00\x04junk")
    assert mp4_creation_time(path) is None


def test_xmp_head_helpers_are_well_formed() -> None:
    assert parse_xmp(f'{XMP_HEAD}<rdf:Description rdf:about="" {NS}/>{XMP_TAIL}').regions == ()


def test_pick_flags_and_their_sources() -> None:
    cases = {'digiKam:PickLabel="3"': (True, "digiKam:PickLabel"), 'digiKam:PickLabel="1"': (False, "digiKam:PickLabel"),
             'digiKam:PickLabel="2"': (None, None), 'xmpDM:pick="1"': (True, "xmpDM:pick"),
             'xmpDM:pick="-1"': (False, "xmpDM:pick"), 'xmpDM:good="True"': (True, "xmpDM:good"),
             'xmpDM:good="False"': (None, None), 'xmp:Rating="-1"': (None, None)}
    for attrs, want in cases.items():
        d = parse_xmp(xmp("", attrs))
        assert (d.pick, d.pick_source) == want, attrs
    # A sidecar's flag replaces the embedded one together with its source.
    merged = parse_xmp(xmp("", 'xmpDM:pick="-1"')).over(parse_xmp(xmp("", 'digiKam:PickLabel="3"')))
    assert (merged.pick, merged.pick_source) == (False, "xmpDM:pick")
