"""Merging stars, a colour label and a pick flag into XMP sidecars: nothing else may change."""

from __future__ import annotations

import os
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memoire_cli.export.xmp_write import PROPS, WRITTEN, SidecarError, merge, parse_packet, read_values, write_atomic
from memoire_cli.ingest.xmp import parse_xmp

RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
PICK = {"xmp:Rating": "5", "xmp:Label": "Green", "digiKam:ColorLabel": "4", "digiKam:PickLabel": "3"}
#: The properties export sets (removed before comparing a sidecar with what it was).
OURS = frozenset({p.qname for p in PROPS.values()} | {WRITTEN.qname})

RICH = """<?xml version="1.0" encoding="UTF-8"?>
<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<!-- written by hand -->
<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="XMP Core 6.0.0">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:lr="http://ns.adobe.com/lightroom/1.0/"
    xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/"
    xmlns:acme="http://example.org/acme/2.0/"
    photoshop:City="Lyon" acme:Flavour="plum">
   <dc:subject><rdf:Bag><rdf:li>Carol</rdf:li><rdf:li>Birthday</rdf:li></rdf:Bag></dc:subject>
   <lr:hierarchicalSubject><rdf:Bag><rdf:li>People|Family|Mother|Carol</rdf:li></rdf:Bag></lr:hierarchicalSubject>
   <acme:Struct rdf:parseType="Resource"><acme:Depth>3</acme:Depth><acme:Note xml:lang="fr">très bien</acme:Note></acme:Struct>
  </rdf:Description>
  <rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:CreatorTool="Camera 1.0">
   <xmp:Label>Red</xmp:Label>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>
"""


def semantic_view(data: bytes) -> tuple:
    """A sidecar as nested tuples — tags, attributes in order, namespace declarations, text, tails,
    children, and the top-level instructions and comments — minus the properties export sets (and
    descriptions that hold nothing else)."""
    tree = parse_packet(data)
    root = tree.getroot()

    def node(el) -> tuple | None:  # noqa: ANN001
        if not isinstance(el.tag, str):  # comment or processing instruction
            return ("#", el.text, el.tail)
        if el.tag in OURS:
            return None
        attrs = tuple((k, v) for k, v in el.attrib.items() if k not in OURS)
        kids = tuple(k for k in (node(c) for c in el) if k is not None)
        if el.tag == f"{{{RDF_NS}}}Description" and not kids and all(k == f"{{{RDF_NS}}}about" for k, _ in attrs):
            return None  # a description with nothing else (export may add one for its own properties)
        return (el.tag, attrs, tuple(sorted(el.nsmap.items(), key=lambda kv: (kv[0] or "", kv[1]))), el.text, el.tail, kids)

    def siblings(step: str) -> tuple:
        out, el = [], getattr(root, step)()
        while el is not None:
            out.append((el.tag if isinstance(el.tag, str) else "#", el.text))
            el = getattr(el, step)()
        return tuple(out)

    return siblings("getprevious"), node(root), siblings("getnext")


def test_merge_sets_the_values_and_keeps_everything_else() -> None:
    before = RICH.encode()
    out = merge(before, PICK)
    assert out.changed and not out.created
    values = read_values(parse_packet(out.data), list(PROPS.values()))
    # xmp:Label was the owner's "Red": kept, and digiKam:ColorLabel left unset with it (no second colour); the rest is set.
    assert values == {"xmp:Rating": "5", "xmp:Label": "Red", "digiKam:ColorLabel": None, "digiKam:PickLabel": "3"}
    assert {c.key: c.action for c in out.changes} == {"xmp:Rating": "set", "xmp:Label": "kept", "digiKam:ColorLabel": "kept",
                                                      "digiKam:PickLabel": "set"}
    assert semantic_view(out.data) == semantic_view(before)
    text = out.data.decode()
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<?xpacket begin=') and text.rstrip().endswith('<?xpacket end="w"?>')
    assert "<!-- written by hand -->" in text and 'xmp:CreatorTool="Camera 1.0" xmp:Rating="5"' in text  # in place, same prefix
    read = parse_xmp(out.data)  # what `memoire ingest` reads
    assert (read.rating, read.pick, read.label, read.keywords) == (5.0, True, "Red", ("Carol", "Birthday"))

    forced = merge(before, PICK, overwrite=True)
    assert read_values(parse_packet(forced.data), [PROPS["xmp:Label"]]) == {"xmp:Label": "Green"}
    assert "<xmp:Label>Green</xmp:Label>" in forced.data.decode()  # the element, where it stood
    assert semantic_view(forced.data) == semantic_view(before)


def test_memoire_replaces_its_own_values_but_not_the_owners() -> None:
    first = merge(None, PICK)
    assert first.created and parse_xmp(first.data).rating == 5
    again = merge(first.data, PICK)
    assert not again.changed and {c.action for c in again.changes} == {"unchanged"}
    lower = merge(first.data, {**PICK, "xmp:Rating": "4"})
    assert lower.changed and parse_xmp(lower.data).rating == 4  # memoire's own 5★ may become 4★
    owner = lower.data.replace(b'xmp:Rating="4"', b'xmp:Rating="2"')  # the owner re-rated it in digiKam
    kept = merge(owner, {**PICK, "xmp:Rating": "5"})
    assert not kept.changed and [c.action for c in kept.changes if c.key == "xmp:Rating"] == ["kept"]
    assert parse_xmp(merge(owner, PICK, overwrite=True).data).rating == 5


@pytest.mark.parametrize(("data", "words"), [
    (b"this is not XML", "not well-formed XML"),
    (b"", "empty"),
    (b"<a><b></a>", "not well-formed XML"),
    (b"<root/>", "no rdf:RDF"),
    (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
     b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
     b'<rdf:Description rdf:about="">&b;</rdf:Description></rdf:RDF></x:xmpmeta>', "DOCTYPE"),
    (b'<?xml version="1.0"?><!DOCTYPE x SYSTEM "http://example.org/evil.dtd"><x/>', "DOCTYPE"),
])
def test_what_is_not_an_xmp_packet_is_refused(data: bytes, words: str) -> None:
    with pytest.raises(SidecarError, match=words):
        merge(data, PICK)


def test_a_huge_sidecar_is_refused_unread() -> None:
    from memoire_cli.export.xmp_write import MAX_SIDECAR_BYTES

    huge = RICH.encode().replace(b"<!-- written by hand -->", b"<!--" + b"x" * MAX_SIDECAR_BYTES + b"-->")
    with pytest.raises(SidecarError, match="too large"):
        merge(huge, PICK)


def test_atomic_write_leaves_the_old_file_whole_when_interrupted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from memoire_cli.export import xmp_write

    target = tmp_path / "a.jpg.xmp"
    target.write_bytes(b"old bytes")
    os.chmod(target, 0o640)

    def half_then_stop(fd: int, data: bytes) -> None:
        os.write(fd, data[: len(data) // 2])
        raise KeyboardInterrupt

    monkeypatch.setattr(xmp_write, "_write_all", half_then_stop)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(target, b"new bytes, longer than the old ones")
    assert target.read_bytes() == b"old bytes" and os.listdir(tmp_path) == ["a.jpg.xmp"]
    monkeypatch.undo()
    write_atomic(target, b"new")
    assert target.read_bytes() == b"new" and target.stat().st_mode & 0o777 == 0o640


# ------------------------------------------------------------------------------- property-based
_NAME = st.from_regex(r"[A-Za-z][A-Za-z0-9]{0,7}", fullmatch=True)
_TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=12)
_PREFIX = st.from_regex(r"[a-w][a-z0-9]{0,5}", fullmatch=True).filter(lambda p: not p.startswith(("x", "rdf", "xml")))


@st.composite
def sidecars(draw) -> str:  # noqa: ANN001
    """A well-formed XMP sidecar: random namespaces, attribute and element properties (simple,
    bags, structs), several descriptions, comments, with or without the packet wrapper — and maybe
    some of the properties export sets, as attribute or element."""
    prefixes = draw(st.lists(_PREFIX, min_size=1, max_size=4, unique=True))
    uris = {p: f"http://example.org/{p}/{draw(st.integers(1, 9))}.0/" for p in prefixes}
    descriptions = []
    for _ in range(draw(st.integers(1, 3))):
        mine = draw(st.lists(st.sampled_from(prefixes), min_size=1, unique=True))
        decl = " ".join(f'xmlns:{p}="{uris[p]}"' for p in mine)
        attr_names = draw(st.lists(st.tuples(st.sampled_from(mine), _NAME), max_size=4, unique=True))
        attrs = " ".join(f"{p}:{n}={quoteattr(draw(_TEXT))}" for p, n in attr_names)
        body = []
        for _ in range(draw(st.integers(0, 4))):
            p, n = draw(st.sampled_from(mine)), draw(_NAME)
            kind = draw(st.sampled_from(["simple", "bag", "struct", "comment"]))
            if kind == "simple":
                body.append(f"<{p}:{n}>{escape(draw(_TEXT))}</{p}:{n}>")
            elif kind == "bag":
                items = "".join(f"<rdf:li>{escape(t)}</rdf:li>" for t in draw(st.lists(_TEXT, max_size=3)))
                container = draw(st.sampled_from(["Bag", "Seq", "Alt"]))
                body.append(f"<{p}:{n}><rdf:{container}>{items}</rdf:{container}></{p}:{n}>")
            elif kind == "struct":
                inner = draw(_NAME)
                body.append(f'<{p}:{n} rdf:parseType="Resource" {p}:{inner}A={quoteattr(draw(_TEXT))}>'
                            f"<{p}:{inner}>{escape(draw(_TEXT))}</{p}:{inner}></{p}:{n}>")
            else:
                body.append(f"<!-- {draw(st.from_regex(r'[a-z ]{0,10}', fullmatch=True))} -->")
        ours = draw(st.sampled_from(["none", "rating-attr", "label-element", "digikam-attr"]))
        if ours == "rating-attr":
            decl += ' xmlns:xmp="http://ns.adobe.com/xap/1.0/"'
            attrs += f' xmp:Rating="{draw(st.integers(-1, 5))}"'
        elif ours == "label-element":
            decl += ' xmlns:xap="http://ns.adobe.com/xap/1.0/"'
            body.append(f"<xap:Label>{draw(st.sampled_from(['Red', 'Green', '']))}</xap:Label>")
        elif ours == "digikam-attr":
            decl += ' xmlns:digiKam="http://www.digikam.org/ns/1.0/"'
            attrs += f' digiKam:PickLabel="{draw(st.integers(0, 3))}"'
        sep = draw(st.sampled_from(["", "\n   "]))
        descriptions.append(f'<rdf:Description rdf:about="" {decl} {attrs}>{sep}{sep.join(body)}</rdf:Description>')
    rdf = f'<rdf:RDF xmlns:rdf="{RDF_NS}">\n  ' + "\n  ".join(descriptions) + "\n </rdf:RDF>"
    packet = f'<x:xmpmeta xmlns:x="adobe:ns:meta/">\n {rdf}\n</x:xmpmeta>' if draw(st.booleans()) else rdf
    if draw(st.booleans()):
        packet = f'<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n{packet}\n<?xpacket end="w"?>'
    return packet


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sidecars(), st.integers(1, 5), st.sampled_from(["Red", "Yellow", "Green", "Blue", "Purple"]), st.booleans())
def test_merging_preserves_every_other_field(packet: str, stars: int, label: str, overwrite: bool) -> None:
    from memoire_cli.export.sidecars import values_for

    data = packet.encode()
    before = parse_packet(data)
    old = read_values(before, list(PROPS.values()))
    pick = type("P", (), {"stars": stars})()
    values = values_for(pick, label)  # type: ignore[arg-type]
    out = merge(data, values, overwrite=overwrite)
    result = out.data if out.changed else data
    assert semantic_view(result) == semantic_view(data)
    now = read_values(parse_packet(result), list(PROPS.values()))
    def owners(key: str) -> bool:
        return old[key] not in (None, "", "0") and old[key] != values[key]

    colour_kept = not overwrite and any(owners(k) for k in ("xmp:Label", "digiKam:ColorLabel"))
    for key, new in values.items():
        if key in ("xmp:Label", "digiKam:ColorLabel") and colour_kept:
            assert now[key] == old[key], (key, old, now)  # the owner's colour label, in both fields as they were
        else:
            assert now[key] == (old[key] if owners(key) and not overwrite else new), (key, old, now)
    assert parse_xmp(result).rating == float(now["xmp:Rating"])  # what `memoire ingest` reads back


@pytest.mark.parametrize(("attrs", "label"), [
    ('xmp:Label="Purple"', "Purple"),
    ('digiKam:ColorLabel="5"', "Blue"),
    ('xmp:Label="Yellow" digiKam:ColorLabel="4"', "Yellow"),  # Lightroom's and darktable's field first
    ('digiKam:ColorLabel="0"', None),
    ('digiKam:ColorLabel="12"', None),
    ("", None),
])
def test_ingest_reads_colour_labels(attrs: str, label: str | None) -> None:
    from test_ingest import xmp

    assert parse_xmp(xmp("", attrs)).label == label


def test_star_rule() -> None:
    from memoire_cli.export.picks import stars_for

    assert [stars_for(i, 20) for i in range(20)] == [5] * 7 + [4] * 7 + [3] * 6
    assert [stars_for(i, 2) for i in range(2)] == [5, 4] and stars_for(0, 1) == 5
    assert [stars_for(i, 4) for i in range(4)] == [5, 5, 4, 4]


def test_values_written_for_a_pick() -> None:
    from memoire_cli.export.sidecars import values_for

    pick = type("P", (), {"stars": 4})()
    assert values_for(pick, "Purple") == {"xmp:Rating": "4", "xmp:Label": "Purple", "digiKam:ColorLabel": "6",  # type: ignore[arg-type]
                                          "digiKam:PickLabel": "3"}
    assert values_for(pick, None) == {"xmp:Rating": "4", "digiKam:PickLabel": "3"}  # type: ignore[arg-type]  (--label none)
