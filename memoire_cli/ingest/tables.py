"""The gallery rows of an ingested user: the tables `synth` writes (minus ground truth) and ingest's own.

Identity and order (so that re-runs are incremental and ``memoire persona update`` can follow):

* ``image_id`` is ``{user_id}/{first 16 hex digits of the file's SHA-256}`` for a still and
  ``…/{hash}.f{k}`` for the k-th kept frame of a video: an image keeps its id while its bytes do
  (a sidecar edit keeps it; an edit of the pixels makes a new image).
* ``idx`` (row of the image array) keeps the previous run's order for images still present
  (compacted over removed ones) and appends new images by capture time (undated last), then path.
  A run that only adds files therefore only appends rows — the watermark ``persona update`` uses.
* ``tag_id``: the first run numbers people (self first, then by relation in the order of
  :data:`~memoire_cli.vocabulary.RELATIONS`, then name; the unnamed-faces tag last), then
  places, then events; later runs keep every surviving tag's id and number new tags after the
  largest id seen.

People: named face regions, ``Iptc4xmpExt:PersonInImage`` and ``People/…`` keywords make person
tags; ρ_t comes from the relations file, else the keyword hierarchy, else ``unknown``. Faces
without a name tag the image with one person tag ``unknown`` (relation unknown). MWG regions of
type Pet are person-like tags too (the ontology's tag types are people, places and events, and a
pet is photographed and loved as a family member is): the region's name, or ``pet`` when it has
none, with relation ``unknown`` (none of the 12 relations is a pet's, so the graph gives it the
unknown class's social weight) and no enrolment portrait (ArcFace knows no animal faces).
Regions of other types (Focus, BarCode, …) make no tag; ingest says how many on stderr. ``people`` has
no physical attributes (NULL) and ``in_graph`` is false only for relation ``unknown``.
``social_edges`` join people photographed together, closeness = Jaccard index of their image sets.

Usage: ``views`` come from Google Takeout's ``imageViews`` where a Takeout JSON sits beside the
photo (``views_norm`` = views / the user's largest count), else NULL (EXIF and XMP hold none).
``favourite`` comes from explicit favourite marks only — a pick/accept flag (``digiKam:PickLabel``
3, ``xmpDM:pick`` 1, ``xmpDM:good`` true) or Google Takeout's ``favorited`` — never from star
ratings: the ratings are ``memoire eval``'s ground truth for an ingested gallery, and ``graph``,
``persona`` and eval's favourites-first baseline read ``favourite``. A marked image is true; every
other image (rejected ones included) is false when the gallery holds at least one such mark, NULL
otherwise (unknown, which ``graph`` skips) — whatever the ratings say. Opt-in
(``favourites_from_rating``, ``--favourites-from-rating STARS``, recorded in the run's params): rated
images of at least that many stars are favourites too, rejected ones (−1) are not, and unmarked
images are false once the owner rated or flagged anything; eval can then tell that ``favourite`` is
derived from its ground truth (:func:`memoire_cli.ingest.config.favourites_from_ratings`).

Ratings: ``ratings`` keeps the stars (1–5) and rejections (−1): an image is rejected when its
rating is −1 or it carries a reject flag (``digiKam:PickLabel`` 1, ``xmpDM:pick`` −1); a reject flag
is stored as −1 with the flag as ``source``, over any stars. ``rank`` and eval's baselines put
rejected images last and never in a top-k.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from memoire_cli import __version__
from memoire_cli.ingest.config import IngestConfig
from memoire_cli.ingest.enrol import choose, portrait
from memoire_cli.ingest.files import FileResult
from memoire_cli.ingest.frames import Frame, scratch_array
from memoire_cli.ingest.media import Metadata
from memoire_cli.ingest.organise import assign_events, assign_places, place_name
from memoire_cli.ingest.relations import Person, interpret_keywords
from memoire_cli.vocabulary import RELATIONS
from memoire_cli.workspace import Columns

UNKNOWN_FACES = "unknown"
#: the person-like tag of a pet region without a name
UNNAMED_PET = "pet"


def _obj(values: list) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def _ts(values: list) -> np.ndarray:
    return np.array(values, dtype="datetime64[us]")


def _i32(values: list) -> np.ndarray:
    return np.array(values, dtype=np.int32)


@dataclass
class Item:
    """One image row: a still, or one kept frame of a video."""

    image_id: str
    result: FileResult
    k: int  # frame number within the file (0 for stills)
    frame: Frame  # (h, w, 3), on disk until assembled
    taken_at: datetime | None

    @property
    def meta(self) -> Metadata:
        assert self.result.meta is not None
        return self.result.meta


def items_of(results: list[FileResult], user_id: str, old_idx: dict[str, int]) -> list[Item]:
    """Every image of the ingested files in row order (module docstring)."""
    items: list[Item] = []
    for r in results:
        if r.status != "ingested" or r.meta is None:
            continue
        fps = float(r.meta.video["fps"]) if r.meta.video else 1.0
        for k, (image_id, frame) in enumerate(zip(r.image_ids(user_id), r.frames)):
            t = r.meta.taken_at
            if t is not None and r.found.media == "video":
                t = t + timedelta(seconds=r.frame_index[k] / fps)
            items.append(Item(image_id, r, k, frame, t))
    old = sorted((it for it in items if it.image_id in old_idx), key=lambda it: old_idx[it.image_id])
    new = sorted((it for it in items if it.image_id not in old_idx),
                 key=lambda it: (it.taken_at is None, it.taken_at or datetime.min, it.result.found.rel, it.k))
    return old + new


def _people(items: list[Item], relations: dict[str, Person]) -> tuple[dict[str, str], list[set[str]], list[bool]]:
    """name → relation; per item the named people; per item whether an unnamed face is there."""
    hints: dict[str, Counter[str]] = {}
    present: list[set[str]] = []
    unnamed: list[bool] = []
    for it in items:
        names = {r[0] for r in it.meta.regions if r[0]}
        names |= set(it.meta.persons)
        names |= {r[0] or UNNAMED_PET for r in it.meta.pets}
        meaning = interpret_keywords(it.meta.paths, it.meta.keywords)
        for name, rel in meaning.people.items():
            names.add(name)
            if rel:
                hints.setdefault(name, Counter())[rel] += 1
        present.append(names)
        unnamed.append(any(r[0] is None for r in it.meta.regions))
    everyone = set().union(*present) if present else set()
    out: dict[str, str] = {}
    for name in sorted(everyone):
        if name in relations:
            out[name] = relations[name].relation
        elif name in hints:
            out[name] = hints[name].most_common(1)[0][0]
        else:
            out[name] = "unknown"
    for name, p in relations.items():  # people of the file with a reference photo but no photo yet
        if name not in out and p.reference is not None:
            out[name] = p.relation
    return out, present, unnamed


def _number_tags(wanted: list[tuple[str, str]], previous: dict[tuple[str, str], int]) -> dict[tuple[str, str], int]:
    """(type, name) → tag id: previous ids kept, new ones after the largest id seen, in ``wanted`` order."""
    out = {key: previous[key] for key in wanted if key in previous}
    nxt = max([*previous.values(), -1]) + 1
    for key in wanted:
        if key not in out:
            out[key] = nxt
            nxt += 1
    return out


def build_tables(user_id: str, cfg: IngestConfig, results: list[FileResult], relations: dict[str, Person],
                 references: dict[str, tuple[np.ndarray, Metadata]], previous_tags: dict[tuple[str, str], int],
                 old_idx: dict[str, int], register: list[dict[str, Any]], changes: list[dict[str, Any]],
                 ) -> tuple[dict[str, Columns], dict[str, np.ndarray]]:
    """Every table's rows and the arrays of one ingested user."""
    items = items_of(results, user_id, old_idx)
    n = len(items)
    relation, present, unnamed = _people(items, relations)
    rel_rank = {r: i for i, r in enumerate(RELATIONS)}
    person_names = sorted(relation, key=lambda nm: (rel_rank.get(relation[nm], len(RELATIONS)), nm))

    # Places and events per item.
    named_places: list[tuple[str, str] | None] = []
    event_keywords: list[tuple[str, ...]] = []
    for it in items:
        meaning = interpret_keywords(it.meta.paths, it.meta.keywords)
        named_places.append(place_name(it.meta.location) or ((meaning.places[-1], "keyword") if meaning.places else None))
        event_keywords.append(meaning.events)
    places = assign_places(named_places, [it.meta.gps for it in items], cfg.place_radius_km)
    events = assign_events([it.taken_at for it in items], event_keywords, cfg.event_gap_h)

    place_kind = {p[0]: p[1] for p in places if p is not None}
    place_names = sorted(place_kind)
    instances: dict[tuple[str, int | None], list[int]] = {}
    for i, e in enumerate(events):
        if e is not None:
            instances.setdefault(e, []).append(i)
    starts = {key: min((items[i].taken_at for i in ids if items[i].taken_at is not None), default=None) for key, ids in instances.items()}
    order = sorted(instances, key=lambda key: (starts[key] is None, starts[key] or datetime.min, key[0]))
    event_names = list(dict.fromkeys(key[0] for key in order))

    wanted = [("P", nm) for nm in person_names] + ([("P", UNKNOWN_FACES)] if any(unnamed) and UNKNOWN_FACES not in relation else [])
    wanted += [("L", nm) for nm in place_names] + [("E", nm) for nm in event_names]
    tag_of = _number_tags(wanted, previous_tags)
    if any(unnamed):
        relation.setdefault(UNKNOWN_FACES, "unknown")
    event_id = {key: k for k, key in enumerate(order)}

    # Per-image tags.
    pairs: list[tuple[str, int]] = []
    for i, it in enumerate(items):
        tags = {tag_of[("P", nm)] for nm in present[i]}
        if unnamed[i]:
            tags.add(tag_of[("P", UNKNOWN_FACES)])
        if places[i] is not None:
            tags.add(tag_of[("L", places[i][0])])
        if events[i] is not None:
            tags.add(tag_of[("E", events[i][0])])
        pairs += [(it.image_id, t) for t in sorted(tags)]

    size = cfg.image_size
    pixels = scratch_array((n, size, size, 3))  # (N, S, S, 3), on disk
    for i, it in enumerate(items):
        pixels[i, :it.frame.height, :it.frame.width] = it.frame.load()
    anchors, anchor_tags = _anchors(items, relation, relations, references, tag_of, cfg.anchor_size)

    uid = lambda k: _obj([user_id] * k)  # a column of the user id
    ids = _obj([it.image_id for it in items])
    taken = [it.taken_at for it in items]
    dated = [t for t in taken if t is not None]
    tables: dict[str, Columns] = {}
    tables["users"] = {"user_id": uid(1), "user_index": _obj([None]), "split": _obj([None]), "seed": _obj([None]),
                       "now": _ts([max(dated) if dated else None]), "n_images": _i32([n]), "image_size": _i32([size])}
    tag_rows = sorted(tag_of.items(), key=lambda kv: kv[1])
    tables["tags"] = {"user_id": uid(len(tag_rows)), "tag_id": _i32([t for _, t in tag_rows]), "type": _obj([k[0] for k, _ in tag_rows]),
                      "name": _obj([k[1] for k, _ in tag_rows]),
                      "relation": _obj([relation[k[1]] if k[0] == "P" else None for k, _ in tag_rows])}
    people = [(t, k[1]) for k, t in tag_rows if k[0] == "P"]
    none = _obj([None] * len(people))
    tables["people"] = {"user_id": uid(len(people)), "tag_id": _i32([t for t, _ in people]), "name": _obj([nm for _, nm in people]),
                        "relation": _obj([relation[nm] for _, nm in people]),
                        "in_graph": np.array([relation[nm] != "unknown" for _, nm in people], bool),
                        "age": none, "age_band": none, "height_cm": none, "weight_kg": none, "body_type": none, "build": none}
    tables["social_edges"] = _social_edges(user_id, pairs, {t for t, nm in people if relation[nm] != "unknown"})
    loc_rows = [(t, k[1]) for k, t in tag_rows if k[0] == "L"]
    tables["locations"] = {"user_id": uid(len(loc_rows)), "tag_id": _i32([t for t, _ in loc_rows]),
                           "kind": _obj([place_kind[nm] for _, nm in loc_rows]),
                           "phrase": _obj([nm for _, nm in loc_rows]), "visual_anchor": _obj([None] * len(loc_rows))}
    ev_loc, ev_end, ev_stills = [], [], []
    for key in order:
        members = instances[key]
        locs = [tag_of[("L", places[i][0])] for i in members if places[i] is not None]
        ev_loc.append(Counter(locs).most_common(1)[0][0] if locs else None)
        ev_end.append(max((items[i].taken_at for i in members if items[i].taken_at is not None), default=None))
        ev_stills.append(sum(items[i].result.found.media == "still" for i in members))
    tables["events"] = {"user_id": uid(len(order)), "event_id": _i32(list(range(len(order)))), "tag_id": _i32([tag_of[("E", k[0])] for k in order]),
                        "event_type": _obj([k[0] for k in order]), "location_tag": _obj(ev_loc), "start_at": _ts([starts[k] for k in order]),
                        "end_at": _ts(ev_end), "n_stills": _i32(ev_stills)}
    clip_of = {id(it.result): f"{user_id}/c{it.result.content_hash[:16]}" for it in items if it.result.found.media == "video"}  # type: ignore[index]
    tables["images"] = {
        "user_id": uid(n), "image_id": ids, "idx": np.arange(n, dtype=np.int32),
        "kind": _obj(["video_frame" if it.result.found.media == "video" else "still" for it in items]),
        "event_id": _obj([event_id[events[i]] if events[i] is not None else None for i in range(n)]),
        "clip_id": _obj([clip_of.get(id(it.result)) for it in items]),
        "frame_index": _obj([it.result.frame_index[it.k] if it.result.found.media == "video" else None for it in items]),
        "taken_at": _ts(taken), "width": _i32([it.frame.width for it in items]), "height": _i32([it.frame.height for it in items]),
        "shot_plan": _obj([None] * n), "lighting": _obj([None] * n), "prompt": _obj([None] * n), "negative_prompt": _obj([None] * n),
        "seed": _obj([None] * n), "renderer": _obj([f"ingest {__version__} ({it.meta.format or 'unknown'})" for it in items]),
        "phash": _obj([f"{it.result.phashes[it.k]:016x}" for it in items]), "attempts": _obj([None] * n),
    }
    tables["image_tags"] = {"user_id": uid(len(pairs)), "image_id": _obj([p[0] for p in pairs]), "tag_id": _i32([p[1] for p in pairs])}
    tables["usage"] = _usage(user_id, items, cfg.favourites_from_rating)
    tables["ratings"] = _ratings(user_id, items)
    clips = {}
    for i, it in enumerate(items):
        if it.result.found.media == "video" and id(it.result) not in clips:
            clips[id(it.result)] = (it.result, i)
    crow = list(clips.values())
    vid = [r.meta.video or {} for r, _ in crow]  # type: ignore[union-attr]
    tables["clips"] = {"user_id": uid(len(crow)), "clip_id": _obj([clip_of[id(r)] for r, _ in crow]),
                       "event_id": _obj([event_id[events[i]] if events[i] is not None else None for _, i in crow]),
                       "start_at": _ts([items[i].taken_at for _, i in crow]), "fps": _i32([round(v.get("fps", 0)) for v in vid]),
                       "duration_s": np.array([float(v.get("duration_s", 0.0)) for v in vid], np.float64),
                       "width": _i32([v.get("width", 0) for v in vid]), "height": _i32([v.get("height", 0) for v in vid]),
                       "n_frames": _i32([v.get("n_frames", 0) for v in vid]), "kept_frames": _i32([len(r.frames) for r, _ in crow]),
                       "prompt": _obj([None] * len(crow))}
    tables["anchors"] = {"user_id": uid(len(anchor_tags)), "idx": np.arange(len(anchor_tags), dtype=np.int32),
                         "tag_id": _i32(anchor_tags), "k": _i32([0] * len(anchor_tags))}
    tables["ingest_files"] = {"user_id": uid(len(register)), **{c: _obj([r[c] for r in register]) for c in
                              ("path", "sidecar", "media", "size", "stat_key", "content_hash", "status", "detail", "image_ids", "metadata")}}
    tables["ingest_files"]["size"] = np.array([r["size"] for r in register], np.int64)
    tables["ingest_changes"] = {"user_id": uid(len(changes)), "seq": np.arange(len(changes), dtype=np.int32),
                                **{c: _obj([ch[c] for ch in changes]) for c in ("path", "change", "image_id", "old_image_id", "detail")}}
    arrays = {"images": pixels, "anchors": anchors}
    return tables, arrays


def _social_edges(user_id: str, pairs: list[tuple[str, int]], people: set[int]) -> Columns:
    """Person–person edges of people photographed together; closeness = Jaccard index of their image sets."""
    images_of: dict[int, set[str]] = {}
    for image_id, t in pairs:
        if t in people:
            images_of.setdefault(t, set()).add(image_id)
    rows = []
    tags = sorted(images_of)
    for a_i, a in enumerate(tags):
        for b in tags[a_i + 1:]:
            both = len(images_of[a] & images_of[b])
            if both:
                rows.append((a, b, both / len(images_of[a] | images_of[b])))
    return {"user_id": _obj([user_id] * len(rows)), "tag_a": _i32([r[0] for r in rows]), "tag_b": _i32([r[1] for r in rows]),
            "closeness": np.array([r[2] for r in rows], np.float64)}


def rejected(meta: Metadata) -> bool:
    """A rating of −1 or a reject flag."""
    return meta.pick is False or meta.rating == -1


def _usage(user_id: str, items: list[Item], from_rating: float | None = None) -> Columns:
    """Views and favourites (module docstring): favourites from explicit marks, from ratings only on opt-in."""
    if from_rating is None:
        marked = [it.meta.pick is True for it in items]
        known = any(marked)  # never the ratings: they are eval's ground truth
    else:
        marked = [(it.meta.pick is True or (it.meta.rating is not None and it.meta.rating >= from_rating))
                  and not rejected(it.meta) for it in items]
        known = any(it.meta.rating not in (None, 0) or it.meta.pick is not None for it in items)
    fav: list[bool | None] = [True if m else (False if known else None) for m in marked]
    n = len(items)
    views = [it.meta.views for it in items]
    top = max([v for v in views if v is not None], default=0)
    norm = [None if v is None else (v / top if top > 0 else 0.0) for v in views]
    return {"user_id": _obj([user_id] * n), "image_id": _obj([it.image_id for it in items]), "views": _obj(views),
            "views_norm": _obj(norm), "favourite": _obj(fav)}


def _ratings(user_id: str, items: list[Item]) -> Columns:
    """Stars 1–5 and rejections −1; a reject flag is −1 (source: the flag) whatever the stars say."""
    rows = []
    for it in items:
        m = it.meta
        if m.pick is False and m.rating != -1:
            rows.append((it.image_id, -1.0, m.pick_source or "reject flag"))
        elif m.rating not in (None, 0):
            rows.append((it.image_id, float(m.rating), m.rating_source))  # type: ignore[arg-type]
    return {"user_id": _obj([user_id] * len(rows)), "image_id": _obj([r[0] for r in rows]),
            "rating": np.array([r[1] for r in rows], np.float64), "source": _obj([r[2] for r in rows])}


def _anchors(items: list[Item], relation: dict[str, str], relations: dict[str, Person],
             references: dict[str, tuple[np.ndarray, Metadata]], tag_of: dict[tuple[str, str], int],
             size: int) -> tuple[np.ndarray, list[int]]:
    """One enrolment portrait per named person with a face region or a reference (see :mod:`.enrol`)."""
    candidates: dict[str, list[tuple[int, Any]]] = {}
    for i, it in enumerate(items):
        if it.result.found.media == "still" and it.k == 0:
            for cand in it.result.faces:
                candidates.setdefault(cand.name, []).append((i, cand))
    portraits: list[np.ndarray] = []
    tags: list[int] = []
    for name in sorted(relation, key=lambda nm: tag_of.get(("P", nm), 1 << 30)):
        if ("P", name) not in tag_of or name == UNKNOWN_FACES and name not in relations:
            continue
        if name in references:
            ref_pixels, ref_meta = references[name]
            box = next((tuple(r[1:]) for r in ref_meta.regions if r[0] == name), None)
            portraits.append(portrait(ref_pixels, box, size))  # type: ignore[arg-type]
        elif name in candidates:
            cands = candidates[name]
            best = choose([(c.sharpness, c.frontality, c.side, i) for i, c in cands])
            portraits.append(cands[best][1].portrait)
        else:
            continue
        tags.append(tag_of[("P", name)])
    arr = np.stack(portraits) if portraits else np.zeros((0, size, size, 3), dtype=np.uint8)
    return arr, tags
