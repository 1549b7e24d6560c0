"""Merging a rating, a colour label and a pick flag into an XMP sidecar without losing anything else.

What photo managers read (each from its own source code):

* ``xmp:Rating`` (``http://ns.adobe.com/xap/1.0/``): −1 rejected, 0 unrated, 1–5 stars — Lightroom,
  darktable (``src/common/exif.cc`` reads ``Xmp.xmp.Rating``) and digiKam (its default rating
  namespace) all read it.
* ``xmp:Label``: a colour *name*. darktable maps "Red", "Yellow", "Green", "Blue", "Purple" to its
  colour labels 0–4 (``src/common/exif.cc``, and prefers it over ``darktable:colorlabels``);
  Lightroom writes its label set's names ("Green" in the default set); digiKam falls back to it.
* ``digiKam:ColorLabel`` (``http://www.digikam.org/ns/1.0/``): digiKam's colour label, read before
  ``xmp:Label`` (``DMetadata::getImageColorLabel``): 0 none, 1 red, 2 orange, 3 yellow, 4 green,
  5 blue, 6 magenta, 7 gray, 8 black, 9 white. digiKam itself writes it together with ``xmp:Label``
  (``DMetadata::setImageColorLabel``), as done here.
* ``digiKam:PickLabel``: 0 none, 1 rejected, 2 pending, 3 accepted (``DMetadata::getImagePickLabel``).
  Lightroom keeps its pick flags in its catalogue only, so there is no Lightroom flag to write.

The merge edits the parsed tree in place: an existing property (attribute or simple element, in any
top-level ``rdf:Description``, under any prefix) gets its new value where it stands; a missing one
becomes an attribute of the first description whose scope already declares its namespace, else of
one new ``rdf:Description`` (same ``rdf:about``) appended after the others, which declares the
namespaces it needs. Nothing else is touched: other properties, their order, namespace
declarations, comments, the ``<?xpacket?>`` wrapper. (Whitespace between top-level nodes, such as
packet padding, is not kept.)

The owner's own values win: a property that already holds another value, which memoire did not
write, is kept unless ``overwrite`` (and a colour label kept in one of its two fields leaves the
other as it is, so that no two colours are shown). What memoire wrote is recorded in ``memoire:Written``
(namespace :data:`MEMOIRE_NS`), so a later export may replace its own values.

Parsing is hardened (lxml): no network, no entity resolution, no DTD (a packet with a DOCTYPE is
refused), no huge trees, at most :data:`MAX_SIDECAR_BYTES`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
X_NS = "adobe:ns:meta/"
XMP_NS = "http://ns.adobe.com/xap/1.0/"
DIGIKAM_NS = "http://www.digikam.org/ns/1.0/"
MEMOIRE_NS = "urn:memoire:export:1.0:"
RDF = f"{{{RDF_NS}}}"

#: Sidecars larger than this are refused (XMP sidecars are kilobytes; a guard against odd files).
MAX_SIDECAR_BYTES = 16 * 1024 * 1024

#: digiKam's colour label numbers and the names xmp:Label carries for them (DMetadata::setImageColorLabel
#: writes the five Lightroom names; the others are digiKam's own).
DIGIKAM_COLOURS = {1: "Red", 2: "Orange", 3: "Yellow", 4: "Green", 5: "Blue", 6: "Magenta", 7: "Gray", 8: "Black", 9: "White"}
#: Lightroom's and darktable's name of digiKam's magenta label.
LABEL_ALIASES = {"Purple": 6}


@dataclass(frozen=True)
class Prop:
    """A simple XMP property: its namespace, local name and the prefix used when it must be declared."""

    prefix: str
    uri: str
    name: str

    @property
    def key(self) -> str:
        return f"{self.prefix}:{self.name}"

    @property
    def qname(self) -> str:
        return f"{{{self.uri}}}{self.name}"


RATING = Prop("xmp", XMP_NS, "Rating")
LABEL = Prop("xmp", XMP_NS, "Label")
COLOUR_LABEL = Prop("digiKam", DIGIKAM_NS, "ColorLabel")
PICK_LABEL = Prop("digiKam", DIGIKAM_NS, "PickLabel")
WRITTEN = Prop("memoire", MEMOIRE_NS, "Written")
#: The properties export may set, by key.
PROPS = {p.key: p for p in (RATING, LABEL, COLOUR_LABEL, PICK_LABEL)}
#: Properties that say one thing together: when the owner's value of one is kept, the others are left too
#: (a colour label kept in xmp:Label beside a new digiKam:ColorLabel would show two colours).
GROUPS = ((LABEL.key, COLOUR_LABEL.key),)
#: Values that mean "not set" (0 stars, no colour, no pick).
EMPTY_VALUES = frozenset({"", "0"})

_SKELETON = ('<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
             f'<x:xmpmeta xmlns:x="{X_NS}" x:xmptk="memoire">\n'
             f' <rdf:RDF xmlns:rdf="{RDF_NS}">\n'
             f'  <rdf:Description rdf:about="" xmlns:xmp="{XMP_NS}" xmlns:digiKam="{DIGIKAM_NS}"\n'
             f'   xmlns:memoire="{MEMOIRE_NS}"/>\n'
             ' </rdf:RDF>\n'
             '</x:xmpmeta>\n'
             '<?xpacket end="w"?>\n').encode()


class SidecarError(ValueError):
    """A sidecar that cannot be merged into (not XML, not XMP, a DTD, too large): the message is one line."""


@dataclass(frozen=True)
class Change:
    """What happens to one property: ``set`` (old → new), ``unchanged`` or ``kept`` (the owner's value stays)."""

    key: str
    old: str | None
    new: str
    action: str

    def describe(self) -> str:
        old = "unset" if self.old is None else repr(self.old)
        if self.action == "set":
            return f"{self.key} {old} → {self.new!r}"
        if self.action == "kept" and self.old is None:
            return f"{self.key} left unset (the owner's colour label stays)"
        if self.action == "kept":
            return f"{self.key} kept {old} (the owner's; --overwrite replaces it)"
        return f"{self.key} already {self.new!r}"


@dataclass
class Merge:
    """The outcome for one sidecar: the new bytes (None: nothing to write) and the per-property changes."""

    data: bytes | None
    changes: list[Change] = field(default_factory=list)
    created: bool = False

    @property
    def changed(self) -> bool:
        return self.data is not None


def parse_packet(data: bytes) -> Any:
    """The sidecar as an lxml ElementTree, parsed without network, entities, DTDs or huge trees."""
    from lxml import etree

    if len(data) > MAX_SIDECAR_BYTES:
        raise SidecarError(f"{len(data):,} bytes: too large for an XMP sidecar")
    text = data.lstrip(b"\x00 \t\r\n")
    if not text:
        raise SidecarError("empty file, not an XMP packet")
    start = re.search(rb"<[A-Za-z_:]", text)
    if b"<!DOCTYPE" in (text[: start.start()] if start else text):  # refused before the parser sees it
        raise SidecarError("has a DOCTYPE (DTD): refused, XMP packets have none")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False,
                             dtd_validation=False, remove_blank_text=False, remove_comments=False, remove_pis=False,
                             strip_cdata=False, collect_ids=False)
    try:
        root = etree.fromstring(text, parser)
    except etree.XMLSyntaxError as exc:
        raise SidecarError(f"not well-formed XML ({str(exc).splitlines()[0] if str(exc) else 'syntax error'})") from None
    except ValueError as exc:
        raise SidecarError(f"not readable as XML ({exc})") from None
    tree = root.getroottree()
    if tree.docinfo.doctype:
        raise SidecarError("has a DOCTYPE (DTD): refused, XMP packets have none")
    if _rdf(tree) is None:
        raise SidecarError("well-formed XML but not an XMP packet (no rdf:RDF element)")
    return tree


def _rdf(tree: Any) -> Any:
    root = tree.getroot()
    if root.tag == f"{RDF}RDF":
        return root
    return root.find(f".//{RDF}RDF")


def _descriptions(rdf: Any) -> list[Any]:
    return rdf.findall(f"{RDF}Description")


def read_values(tree: Any, props: list[Prop]) -> dict[str, str | None]:
    """The current simple value of each property (attribute or element text, first description first)."""
    descs = _descriptions(_rdf(tree))
    out: dict[str, str | None] = {}
    for prop in props:
        out[prop.key] = None
        for d in descs:
            if prop.qname in d.attrib:
                out[prop.key] = d.get(prop.qname).strip()
                break
            el = d.find(prop.qname)
            if el is not None:
                out[prop.key] = (el.text or "").strip()
                break
    return out


def parse_written(text: str | None) -> dict[str, str]:
    """``memoire:Written`` ("xmp:Rating=5;xmp:Label=Green") → {key: value}."""
    out: dict[str, str] = {}
    for part in (text or "").split(";"):
        key, sep, value = part.partition("=")
        if sep and key.strip():
            out[key.strip()] = value.strip()
    return out


def _set(rdf: Any, prop: Prop, value: str, pending: list[tuple[Prop, str]]) -> None:
    """Give ``prop`` the simple value ``value`` where it stands, or add it (see the module docstring)."""
    from lxml import etree

    descs = _descriptions(rdf)
    for d in descs:
        if prop.qname in d.attrib:
            d.set(prop.qname, value)
            return
    for d in descs:
        el = d.find(prop.qname)
        if el is None:
            continue
        if len(el) == 0:
            el.text = value
        else:  # a structured value where a simple one belongs: replaced by the simple value, in place
            simple = etree.Element(prop.qname)
            simple.text, simple.tail = value, el.tail
            d.replace(el, simple)
        return
    for d in descs:
        if prop.uri in d.nsmap.values():
            d.set(prop.qname, value)
            return
    pending.append((prop, value))


def _append_description(rdf: Any, pending: list[tuple[Prop, str]]) -> None:
    """One new top-level rdf:Description holding ``pending``, after the last one (same rdf:about)."""
    from lxml import etree

    descs = _descriptions(rdf)
    nsmap: dict[str, str] = {"rdf": RDF_NS}
    for prop, _ in pending:
        nsmap.setdefault(prop.prefix, prop.uri)
    new = etree.Element(f"{RDF}Description", nsmap=nsmap)
    new.set(f"{RDF}about", descs[0].get(f"{RDF}about", "") if descs else "")
    for prop, value in pending:
        new.set(prop.qname, value)
    if descs:
        at = rdf.index(descs[-1]) + 1
        new.tail = descs[-1].tail
        rdf.insert(at, new)
    else:
        new.tail = rdf.text
        rdf.append(new)


def merge(data: bytes | None, values: dict[str, str], overwrite: bool = False,
          inherited: dict[str, str] | None = None) -> Merge:
    """Merge ``values`` ({"xmp:Rating": "5", …}, keys of :data:`PROPS`) into the sidecar ``data``
    (None: no sidecar yet, a minimal packet is made, and ``inherited`` are the values the photo
    already carries in its own metadata — embedded XMP, EXIF — which count as the owner's). Raises
    :class:`SidecarError` for a sidecar that is not an XMP packet."""
    created = data is None
    tree = parse_packet(_SKELETON if data is None else data)
    rdf = _rdf(tree)
    props = [PROPS[k] for k in values]
    current = read_values(tree, [*props, WRITTEN])
    if created:
        current.update({k: v for k, v in (inherited or {}).items() if k in current})
    before = parse_written(current[WRITTEN.key])
    changes: list[Change] = []
    ours = {k: v for k, v in before.items() if k in PROPS}
    pending: list[tuple[Prop, str]] = []
    decided = {}
    for prop in props:
        new, old = values[prop.key], current[prop.key]
        if old == new:
            decided[prop.key] = "unchanged"
        elif old is None or old in EMPTY_VALUES or before.get(prop.key) == old or overwrite:
            decided[prop.key] = "set"
        else:
            decided[prop.key] = "kept"
    for group in GROUPS:  # the owner's colour label, in either field, keeps both
        if any(decided.get(k) == "kept" for k in group):
            decided.update({k: "kept" for k in group if decided.get(k) == "set"})
    for prop in props:
        new, old, action = values[prop.key], current[prop.key], decided[prop.key]
        changes.append(Change(prop.key, old, new, action))
        if action == "set":
            _set(rdf, prop, new, pending)
            ours[prop.key] = new
        elif action == "kept":
            ours.pop(prop.key, None)
    if not any(c.action == "set" for c in changes):
        return Merge(None, changes)
    written = ";".join(f"{k}={v}" for k, v in ours.items())
    if written != (current[WRITTEN.key] or ""):
        _set(rdf, WRITTEN, written, pending)
    if pending:
        _append_description(rdf, pending)
    return Merge(serialise(tree, _SKELETON if data is None else data), changes, created)


def serialise(tree: Any, original: bytes) -> bytes:
    """The tree as bytes: the original's XML declaration verbatim (if it had one), the top-level nodes
    (``<?xpacket?>`` instructions, comments, the root) one per line, a final newline if it had one.
    (lxml keeps no whitespace between top-level nodes, and setting it there would cut the sibling chain.)"""
    from lxml import etree

    encoding = (tree.docinfo.encoding or "UTF-8").upper()
    if encoding not in ("UTF-8", "UTF8", "ASCII", "US-ASCII"):
        return etree.tostring(tree, encoding=encoding, xml_declaration=True)
    root = tree.getroot()
    before: list[Any] = []
    after: list[Any] = []
    node = root.getprevious()
    while node is not None:
        before.insert(0, node)
        node = node.getprevious()
    node = root.getnext()
    while node is not None:
        after.append(node)
        node = node.getnext()
    parts = [etree.tostring(n, encoding="UTF-8", xml_declaration=False, with_tail=False) for n in (*before, root, *after)]
    head = original.lstrip(b"\x00 \t\r\n")
    bom = b"\xef\xbb\xbf" if head.startswith(b"\xef\xbb\xbf") else b""
    head = head[len(bom):]
    if head.startswith(b"<?xml") and head[5:6].isspace():
        parts.insert(0, head[: head.index(b"?>") + 2])
    body = bom + b"\n".join(parts)
    if original.rstrip(b"\x00 \t").endswith(b"\n"):
        body += b"\n"
    return body


# ----------------------------------------------------------------------------------- writing
def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` by ``data`` all at once: a hidden temporary file beside it, written, fsynced and
    renamed over it (then the folder fsynced), keeping the old file's permission bits. An interruption
    leaves the old file whole and no temporary file behind."""
    folder = path.parent
    tmp = folder / f".{path.name}.memoire-{os.getpid()}.tmp"
    try:
        mode = path.stat().st_mode & 0o7777
    except FileNotFoundError:
        mode = 0o644
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        try:
            _write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(folder)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
