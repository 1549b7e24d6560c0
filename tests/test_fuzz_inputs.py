"""Fuzzing what memoire reads from outside (issue 16): XMP, EXIF, Takeout JSON, image and video bytes,
relations files, session specs and manifests on stdin.

The parsers are called directly (thousands of cases a minute): each may only report a problem in
its documented way (a note in ``Metadata.problems``, :class:`~memoire_cli.ingest.media.MediaError`,
:class:`~memoire_cli.errors.UsageError`), never raise anything else. The manifests go through the
real command (CliRunner), held to the CLI contract of tests/fuzz_support.py.

Run: ``pytest tests/test_fuzz_inputs.py`` (a quarter of the budget); ``MEMOIRE_FUZZ=thorough`` for the whole budget;
``MEMOIRE_FUZZ=nightly`` for 20× as many cases, randomised.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from fuzz_support import assert_contract, fuzz_settings

XMP_HEAD = ('<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
            '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">')
XMP_TAIL = "</rdf:RDF></x:xmpmeta><?xpacket end=\"w\"?>"
NS = ('xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:xmp="http://ns.adobe.com/xap/1.0/" '
      'xmlns:exif="http://ns.adobe.com/exif/1.0/" xmlns:tiff="http://ns.adobe.com/tiff/1.0/" '
      'xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/" xmlns:lr="http://ns.adobe.com/lightroom/1.0/" '
      'xmlns:digiKam="http://www.digikam.org/ns/1.0/" xmlns:xmpDM="http://ns.adobe.com/xmp/1.0/DynamicMedia/" '
      'xmlns:MicrosoftPhoto="http://ns.microsoft.com/photo/1.0/" '
      'xmlns:mwg-rs="http://www.metadataworkinggroup.com/schemas/regions/" xmlns:stArea="http://ns.adobe.com/xmp/sType/Area#" '
      'xmlns:stDim="http://ns.adobe.com/xap/1.0/sType/Dimensions#" xmlns:Iptc4xmpCore="http://iptc.org/std/Iptc4xmpCore/1.0/xmlns/"')

#: Values that break naive parsers: numbers at the edges, malformed dates and coordinates, markup.
ODD = ["", " ", "0", "-1", "5", "6", "99", "1e309", "-1e309", "nan", "inf", "NaN", "1" + "0" * 40, "-0", "0.5", "x",
       "9999-12-31T23:59:59+99:99", "0000-00-00", "2020-13-45T25:61:61", "2020-02-30", "20200101", "2020:01:01 00:00:00",
       "12,34.5N", "91,0N", "181,0W", "0,0", "45,30.5", "abc,def", "1/0", "&amp;", "<![CDATA[x]]>", "\u202e", "é" * 50]


def _xmp_field() -> st.SearchStrategy[str]:
    value = st.one_of(st.sampled_from(ODD), st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="<&"),
                                                        max_size=15))
    attr = st.sampled_from(["xmp:Rating", "MicrosoftPhoto:Rating", "xmp:CreateDate", "photoshop:DateCreated", "exif:DateTimeOriginal",
                            "exif:GPSLatitude", "exif:GPSLongitude", "tiff:Orientation", "digiKam:PickLabel", "xmpDM:pick",
                            "xmpDM:good", "photoshop:City", "Iptc4xmpCore:Location"])
    area = st.tuples(*[st.sampled_from(["0.5", "0", "1", "-3", "nan", "inf", "1e309", "x", ""])] * 4)
    region = st.builds(lambda a, name, kind, dims: (
        f'<rdf:li rdf:parseType="Resource"><mwg-rs:Area stArea:x="{a[0]}" stArea:y="{a[1]}" stArea:w="{a[2]}" stArea:h="{a[3]}" '
        f'stArea:unit="normalized"/><mwg-rs:Type>{kind}</mwg-rs:Type><mwg-rs:Name>{name}</mwg-rs:Name></rdf:li>'), area,
        st.sampled_from(["Ann", "", "é", "x" * 300]), st.sampled_from(["Face", "Pet", "", "face"]), st.just(None))
    regions = st.lists(region, max_size=3).map(
        lambda items: f'<mwg-rs:Regions rdf:parseType="Resource"><mwg-rs:AppliedToDimensions stDim:w="{len(items) * 7 - 1}" stDim:h="0"/>'
                      f'<mwg-rs:RegionList><rdf:Bag>{"".join(items)}</rdf:Bag></mwg-rs:RegionList></mwg-rs:Regions>')
    keywords = st.lists(st.sampled_from(ODD + ["People/Ann", "Places/Rome|Italy", "Events/Wedding", "a|b|c", "||"]), max_size=4).map(
        lambda ks: f'<dc:subject><rdf:Bag>{"".join(f"<rdf:li>{k}</rdf:li>" for k in ks)}</rdf:Bag></dc:subject>'
                   f'<lr:hierarchicalSubject><rdf:Bag>{"".join(f"<rdf:li>{k}</rdf:li>" for k in ks)}</rdf:Bag></lr:hierarchicalSubject>')
    attrs = st.lists(st.tuples(attr, value), max_size=5, unique_by=lambda t: t[0]).map(
        lambda pairs: " ".join(f'{a}="{v}"' for a, v in pairs))
    return st.builds(lambda a, body, kw: f'{XMP_HEAD}<rdf:Description rdf:about="" {NS} {a}>{body}{kw}</rdf:Description>{XMP_TAIL}',
                     attrs, regions, keywords)


def _mutated(data: bytes) -> st.SearchStrategy[bytes]:
    """``data`` truncated, with bytes flipped, or with a slice repeated."""
    n = len(data)

    def flip(spots: list[tuple[int, int]]) -> bytes:
        out = bytearray(data)
        for i, v in spots:
            out[i % n] = v
        return bytes(out)

    return st.one_of(
        st.integers(0, n).map(lambda k: data[:k]),
        st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, 255)), min_size=1, max_size=12).map(flip),
        st.tuples(st.integers(0, n - 1), st.integers(1, 64), st.integers(1, 50))
        .map(lambda t: data[:t[0]] + data[t[0]:t[0] + t[1]] * t[2] + data[t[0]:]),
    )


def _sample_images() -> dict[str, bytes]:
    rng = np.random.default_rng(0)
    im = Image.fromarray(rng.integers(0, 255, (24, 32, 3), dtype=np.uint8))
    ex = Image.Exif()
    ex[0x0112] = 6
    ifd = ex.get_ifd(0x8769)
    ifd[0x9003], ifd[0x9011] = "2023:06:10 14:00:00", "+02:00"
    gps = ex.get_ifd(0x8825)
    gps[1], gps[2], gps[3], gps[4] = "N", (41.0, 54.0, 0.0), "E", (12.0, 30.0, 0.0)
    out = {}
    rated = f'{XMP_HEAD}<rdf:Description rdf:about="" {NS} xmp:Rating="4"/>{XMP_TAIL}'.encode()
    for fmt, kwargs in (("JPEG", {"exif": ex, "quality": 80, "xmp": rated}),
                        ("PNG", {"exif": ex}), ("WEBP", {"exif": ex}), ("TIFF", {})):
        buf = io.BytesIO()
        im.save(buf, fmt, **kwargs)
        out[fmt] = buf.getvalue()
    return out


IMAGES = _sample_images()


@fuzz_settings(150)
@given(packet=st.one_of(_xmp_field(), st.binary(max_size=300),
                        _mutated(f'{XMP_HEAD}<rdf:Description rdf:about="" {NS} xmp:Rating="3"/>{XMP_TAIL}'.encode())))
def test_xmp_packets_only_record_problems(packet: str | bytes) -> None:
    from memoire_cli.ingest.exif import ExifData
    from memoire_cli.ingest.media import Metadata, _merge, _regions
    from memoire_cli.ingest.xmp import Packets

    packets = Packets()
    packets.add(packet, "sidecar XMP")
    meta = Metadata()
    _merge(meta, ExifData(), packets.data)
    _regions(meta, packets.data, (32, 24))
    json.dumps(meta.to_json(), default=str)  # what ingest stores
    for _, x0, y0, x1, y1 in meta.regions:
        assert 0 <= x0 <= x1 <= 1 and 0 <= y0 <= y1 <= 1


JSON = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=10)),
                    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
                    max_leaves=10)
TAKEOUT_VALUES = st.one_of(JSON, st.sampled_from(["99999999999999", "-5", "0", "1" * 30, "1" * 5000, "12", " 7", "1e9", "١٢"]))


@fuzz_settings(150)
@given(doc=st.one_of(
    st.fixed_dictionaries({}, optional={
        "imageViews": TAKEOUT_VALUES, "favorited": TAKEOUT_VALUES,
        "people": st.one_of(JSON, st.lists(st.one_of(st.fixed_dictionaries({"name": TAKEOUT_VALUES}), JSON), max_size=3)),
        "photoTakenTime": st.one_of(JSON, st.fixed_dictionaries({"timestamp": TAKEOUT_VALUES})),
        "geoData": st.one_of(JSON, st.fixed_dictionaries({"latitude": TAKEOUT_VALUES, "longitude": TAKEOUT_VALUES}))}).map(
        lambda d: json.dumps(d).encode()),
    JSON.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=200)))
def test_takeout_json_only_records_problems(doc: bytes) -> None:
    from memoire_cli.ingest.media import Metadata, apply_takeout

    meta = Metadata()
    apply_takeout(meta, doc)
    json.dumps(meta.to_json(), default=str)
    if meta.gps is not None:
        assert -90 <= meta.gps[0] <= 90 and -180 <= meta.gps[1] <= 180


@fuzz_settings(100)
@given(text=st.one_of(st.sampled_from(ODD), st.text(max_size=30), st.binary(max_size=30)),
       subsec=st.one_of(st.none(), st.sampled_from(ODD), st.text(max_size=8)),
       offset=st.one_of(st.none(), st.sampled_from(["+99:99", "-23:59", "+14:00", "+00:00", "-99:00", "+ab:cd", "+1:000"]), st.text(max_size=7)),
       year=st.sampled_from(["0001", "9999", "2023", "0000"]))
def test_exif_dates_never_raise(text: str | bytes, subsec: str | None, offset: str | None, year: str) -> None:
    from memoire_cli.ingest.exif import parse_exif_datetime
    from memoire_cli.ingest.xmp import parse_iso_date, parse_xmp_coordinate

    parse_exif_datetime(text, subsec, offset)
    parse_exif_datetime(f"{year}:01:01 00:00:00", subsec, offset)
    parse_iso_date(text if isinstance(text, str) else None)
    parse_iso_date(f"{year}-01-01T00:30:00{offset or ''}")
    parse_xmp_coordinate(text if isinstance(text, str) else None)


@fuzz_settings(200)
@given(data=st.one_of(*[_mutated(b) for b in IMAGES.values()], st.binary(max_size=400)))
def test_image_bytes_are_read_or_refused_with_a_reason(data: bytes) -> None:
    from memoire_cli.ingest.media import MediaError, decode_still, read_metadata

    try:
        meta, im = read_metadata(data, None, max_pixels=10_000_000)
        pixels = decode_still(im, meta.orientation, 64)
    except MediaError as exc:
        assert str(exc)
        return
    assert pixels.dtype == np.uint8 and pixels.ndim == 3 and pixels.shape[2] == 3 and max(pixels.shape[:2]) <= 64
    json.dumps(meta.to_json(), default=str)


MP4 = (b"\x00\x00\x00\x18ftypisom\x00\x00\x00\x00isomiso2" + b"\x00\x00\x00\x6cmoov" + b"\x00\x00\x00\x64mvhd" + b"\x00" * 4
       + (3_700_000_000).to_bytes(4, "big") + b"\x00" * 88)


@fuzz_settings(80)
@given(data=st.one_of(_mutated(MP4), st.binary(max_size=200)))
def test_clip_headers_never_raise(data: bytes) -> None:
    from memoire_cli.ingest.media import mp4_creation_time

    with tempfile.NamedTemporaryFile(suffix=".mp4") as f:
        f.write(data)
        f.flush()
        mp4_creation_time(Path(f.name))


@fuzz_settings(150)
@given(text=st.one_of(st.text(max_size=40), st.sampled_from(["all", "ids:@", "ids:@/dev/zero", "ids:@/", "event:", "event:1e3",
                                                             "dates:..", "dates:2020-01-01..", "folder: ", "IDS:a", "ids:" + "," * 50])))
def test_session_specs_parse_or_are_usage_errors(text: str) -> None:
    from memoire_cli.errors import UsageError
    from memoire_cli.session.selection import parse_session

    try:
        session = parse_session(text)
    except UsageError:
        return
    assert parse_session(session.text) == session


@fuzz_settings(100)
@given(text=st.one_of(st.text(max_size=120), st.binary(max_size=120)), suffix=st.sampled_from([".csv", ".tsv", ".yaml", ".yml", ""]))
def test_relations_files_load_or_are_usage_errors(text: str | bytes, suffix: str) -> None:
    from memoire_cli.errors import UsageError
    from memoire_cli.ingest.relations import load_relations

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / f"relations{suffix}"
        path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass"))
        try:
            load_relations(path, Path(d))
        except UsageError:
            pass


MANIFEST_VALUES = st.one_of(JSON, st.sampled_from(["", "/", "/dev/null", "\udcff", "x" * 5000, "../nowhere", "."]))


@fuzz_settings(80)
@given(stdin=st.one_of(
    st.fixed_dictionaries({}, optional={k: MANIFEST_VALUES for k in ("memoire", "stage", "workspace", "run_id", "users", "wrote")}).map(json.dumps),
    JSON.map(json.dumps), st.text(max_size=200), st.just("{" * 10_000)),
    command=st.sampled_from(["graph", "persona", "status", "rank", "eval"]))
def test_manifests_on_stdin_give_one_line_and_a_documented_exit_code(stdin: str, command: str) -> None:
    from typer.testing import CliRunner

    from memoire_cli.app import build_app
    from memoire_cli.manifest import workspace_from_manifest

    workspace_from_manifest(stdin)
    os.environ.pop("MEMOIRE_WORKSPACE", None)
    with tempfile.TemporaryDirectory() as d:
        cwd = os.getcwd()
        os.chdir(d)
        started = time.monotonic()
        try:
            result = CliRunner().invoke(build_app(), [command], input=stdin.encode("utf-8", "surrogateescape"))
        finally:
            os.chdir(cwd)
        assert_contract(result, started, f"{command} <<< {stdin[:80]!r}")
        assert os.listdir(d) == []  # nothing made where a manifest pointed


@pytest.fixture(autouse=True)
def _no_workspace_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MEMOIRE_WORKSPACE", raising=False)
