"""The procedural renderer (S1.1.4–S1.1.7 offline stand-in): real faces, regions, camera effects."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from memoire_cli.faces import insightface_models as fm
from memoire_cli.faces.bank import FaceBank
from memoire_cli.synth.ontology import EVENT_TYPES, LANDMARKS, LOCATION_BY_NAME, LOCATION_KINDS
from memoire_cli.synth.render.base import PersonSpec, ShotSpec
from memoire_cli.synth.render.procedural import (
    LANDMARK_PAINTERS,
    PAN_BACKGROUND,
    PAN_FOREGROUND,
    ProceduralRenderer,
    landmark_index,
    landmark_name,
)

TAU_MATCH = 0.35  # S1.1.6


@pytest.fixture(scope="module")
def bank(tmp_path_factory):
    return FaceBank.load(tmp_path_factory.mktemp("facebank"))


@pytest.fixture(scope="module")
def renderer(bank):
    return ProceduralRenderer(bank)


@pytest.fixture(scope="module")
def models():
    return fm.load_detector(), fm.load_recognizer()


def person(tag: int, key: int, relation: str = "friend", age: int = 34, height: float = 172.0,
           build: str = "medium", rgb=(70, 90, 160)) -> PersonSpec:
    return PersonSpec(tag_id=tag, face_key=key, relation=relation, age=age, height_cm=height, build=build,
                      clothing_rgb=rgb)


FAMILY = (
    person(10, 3, "self", 35, 176.0, "medium", (190, 50, 50)),
    person(11, 8, "mother", 62, 160.0, "slender", (60, 140, 90)),
    person(12, 21, "son", 9, 128.0, "stocky", (240, 190, 40)),
)


def shot(**kw) -> ShotSpec:
    """A shot spec; without ``location_name``, the first gazetteer phrase of the kind (for ``landmark``
    the landmark ``LANDMARKS[location_tag % 8]``)."""
    base = dict(seed=7, width=512, height=512, event_type="Birthday", event_tag=300, location_kind="home",
                location_tag=200, people=FAMILY, shot_plan="medium group", lighting="daylight")
    base.update(kw)
    if "location_name" not in base:
        kind, tag = base["location_kind"], base["location_tag"]
        base["location_name"] = (LANDMARKS[tag % len(LANDMARKS)][0] if kind == "landmark"
                                 else LOCATION_BY_NAME[kind].phrases[0])
    return ShotSpec(**base)


def iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


@pytest.mark.parametrize("people,event,location,seed", [
    (FAMILY, "Birthday", "home", 7),
    (FAMILY[:2], "Travel Landmark", "landmark", 8),
    ((person(20, 0, "self"), person(21, 14, "colleague"), person(22, 23, "friend")), "Office Meeting", "office", 9),
])
def test_real_detector_finds_each_face_and_arcface_matches_its_anchor(renderer, models, people, event, location, seed):
    """S1.1.6 QC on a medium-group still: every drawn face is detected and verifies against its anchor."""
    detector, recognizer = models
    spec = shot(people=people, event_type=event, location_kind=location, seed=seed)
    out = renderer.render(spec)
    faces = fm.detect_and_embed(out.image, detector, recognizer)
    anchors = {}
    for p in people:
        found = fm.detect_and_embed(renderer.render_anchor(p, 0, seed, 256), detector, recognizer)
        assert len(found) == 1
        anchors[p.tag_id] = found[0].embedding
    p_regions = [r for r in out.regions if r.kind == "P"]
    assert len(p_regions) == len(people)
    for region in p_regions:
        assert region.face_box is not None
        ious = [iou(f.box, region.face_box) for f in faces]
        assert ious and max(ious) > 0.3, f"face of tag {region.tag_id} not detected"
        emb = faces[int(np.argmax(ious))].embedding
        sims = {tag: float(emb @ a) for tag, a in anchors.items()}
        assert sims[region.tag_id] >= TAU_MATCH
        assert max(sims, key=sims.get) == region.tag_id
    assert len(faces) == len(people)  # no spurious faces in props or backdrops


def test_same_spec_gives_identical_bytes(bank, renderer):
    spec = shot(blur_sigma=1.2, exposure_ev=-0.4, pan=0.3)
    a = renderer.render(spec)
    b = ProceduralRenderer(bank).render(spec)  # a fresh instance: no state carried between renders
    c = renderer.render(spec)
    assert a.image.tobytes() == b.image.tobytes() == c.image.tobytes()
    for ra, rb in zip(a.regions, b.regions):
        assert (ra.tag_id, ra.kind, ra.box, ra.face_box) == (rb.tag_id, rb.kind, rb.box, rb.face_box)
        assert np.array_equal(ra.mask, rb.mask)


def test_different_seeds_differ(renderer):
    a = renderer.render(shot(seed=1)).image
    b = renderer.render(shot(seed=2)).image
    assert a.shape == b.shape and not np.array_equal(a, b)


@pytest.mark.parametrize("plan", ["wide establishing", "medium group", "intimate portrait", "detail close-up"])
def test_regions_cover_the_tags(renderer, plan):
    people = FAMILY[:2] if plan == "intimate portrait" else FAMILY
    spec = shot(shot_plan=plan, people=people, width=640, height=360)
    out = renderer.render(spec)
    assert out.image.shape == (360, 640, 3) and out.image.dtype == np.uint8
    kinds = [(r.kind, r.tag_id) for r in out.regions]
    assert kinds == [("P", p.tag_id) for p in people] + [("E", spec.event_tag), ("L", spec.location_tag)]
    union = np.zeros((360, 640), np.int32)
    for r in out.regions:
        assert r.mask.shape == (360, 640) and r.mask.dtype == np.bool_
        assert r.mask.any(), f"{r.kind} {r.tag_id} has no visible pixel"
        rows, cols = np.flatnonzero(r.mask.any(1)), np.flatnonzero(r.mask.any(0))
        assert r.box == (cols[0], rows[0], cols[-1] + 1, rows[-1] + 1)
        union += r.mask
    assert (union == 1).all()  # every pixel belongs to exactly one region
    for r in out.regions:
        if r.kind != "P":
            continue
        if plan == "detail close-up":
            assert r.face_box is None  # hands only
        else:
            x0, y0, x1, y1 = r.face_box
            assert 0 <= x0 < x1 <= 640 and 0 <= y0 < y1 <= 360
            assert r.mask[y0:y1, x0:x1].mean() > 0.5


def test_every_event_draws_visible_props(renderer):
    for i, event in enumerate(EVENT_TYPES):
        for plan in ("medium group", "detail close-up"):
            spec = shot(event_type=event.name, location_kind=event.locations[0], shot_plan=plan, seed=i,
                        people=FAMILY[:2])
            ev = next(r for r in renderer.render(spec).regions if r.kind == "E")
            assert ev.mask.sum() > 0.01 * ev.mask.size, f"{event.name} / {plan}: props not visible"


def test_every_location_kind_and_landmark_renders_distinctly(renderer):
    images = []
    for kind in LOCATION_KINDS:
        spec = shot(location_kind=kind.name, people=(), shot_plan="wide establishing", event_type="Park Stroll")
        images.append(renderer.render(spec).image)
    for tag in range(len(LANDMARKS)):
        spec = shot(location_kind="landmark", location_tag=tag, location_name=LANDMARKS[tag][0], people=(),
                    shot_plan="wide establishing", event_type="Vacation")
        images.append(renderer.render(spec).image)
    flat = np.stack([im.reshape(-1).astype(np.int16) for im in images])
    for i in range(len(flat)):
        for j in range(i + 1, len(flat)):
            assert np.abs(flat[i] - flat[j]).mean() > 3.0, (i, j)


def test_landmark_name_lookup():
    """The landmark drawn is the one named by ``location_name``; the tag chooses only for unknown names."""
    for i, (name, _) in enumerate(LANDMARKS):
        assert landmark_index(name, 7 - i) == i and landmark_name(name, 7 - i) == name
    assert landmark_name(" eiffel TOWER ", 0) == "Eiffel Tower"  # case and surrounding spaces ignored
    assert landmark_name("home living room", 3) == LANDMARKS[3][0]  # not a landmark: tag % 8
    assert landmark_name("", 12) == LANDMARKS[12 % len(LANDMARKS)][0]


def test_landmark_silhouette_follows_the_location_name(bank, monkeypatch):
    """Same tag, different names: different silhouettes; same name, different tags: the same silhouette."""
    painted = []
    for name, paint in list(LANDMARK_PAINTERS.items()):
        def spy(*args, _name=name, _paint=paint):
            painted.append(_name)
            return _paint(*args)
        monkeypatch.setitem(LANDMARK_PAINTERS, name, spy)
    renderer = ProceduralRenderer(bank)  # a fresh instance: nothing cached, every backdrop is painted
    common = dict(location_kind="landmark", people=(), shot_plan="wide establishing", event_type="Vacation")
    eiffel = renderer.render(shot(location_tag=5, location_name="Eiffel Tower", **common)).image.astype(np.int16)
    taj = renderer.render(shot(location_tag=5, location_name="Taj Mahal", **common)).image.astype(np.int16)
    eiffel_12 = renderer.render(shot(location_tag=12, location_name="Eiffel Tower", **common)).image.astype(np.int16)
    assert painted == ["Eiffel Tower", "Taj Mahal", "Eiffel Tower"]  # tags 5 and 12 alone would draw others
    different_names = np.abs(eiffel - taj).mean()
    assert different_names > 3.0
    # the tag still varies the backdrop a little (horizon, palette jitter), far less than another silhouette
    same_name = np.abs(eiffel - eiffel_12).mean()
    assert 0 < same_name < 0.6 * different_names


def test_blur_and_exposure_change_pixels(renderer):
    base = renderer.render(shot())
    blurred = renderer.render(shot(blur_sigma=2.5))
    dark = renderer.render(shot(exposure_ev=-1.0))
    bright = renderer.render(shot(exposure_ev=0.7))

    def sharpness(img):
        g = img.astype(np.float32).mean(axis=2)
        return float(np.abs(np.diff(g, axis=1)).mean() + np.abs(np.diff(g, axis=0)).mean())

    assert sharpness(blurred.image) < 0.7 * sharpness(base.image)
    assert dark.image.mean() < 0.7 * base.image.mean()
    assert bright.image.mean() > 1.15 * base.image.mean()
    for other in (blurred, dark, bright):  # camera effects move pixels, not the ground truth
        for ra, rb in zip(base.regions, other.regions):
            assert np.array_equal(ra.mask, rb.mask)


def test_lighting_tints_the_image(renderer):
    day = renderer.render(shot(lighting="daylight")).image.astype(np.float32)
    tungsten = renderer.render(shot(lighting="tungsten indoor")).image.astype(np.float32)
    warmth = lambda im: float(im[..., 0].mean() - im[..., 2].mean())  # noqa: E731
    assert warmth(tungsten) > warmth(day) + 10


def test_pan_shifts_backdrop_and_people(renderer):
    people = (FAMILY[0],)
    common = dict(people=people, width=640, height=360, location_kind="city street", event_type="Anniversary")
    a = renderer.render(shot(pan=0.0, **common))  # Anniversary props are all in front: the top is backdrop
    b = renderer.render(shot(pan=1.0, **common))
    shift = int(round(PAN_BACKGROUND * 640))
    top = slice(0, 30)  # sky and rooftops: backdrop only
    err = [np.abs(a.image[top, s:].astype(int) - b.image[top, : 640 - s].astype(int)).mean() for s in range(0, 200, 4)]
    assert abs(int(np.argmin(err)) * 4 - shift) <= 4
    fa, fb = a.regions[0].face_box, b.regions[0].face_box
    assert abs((fa[0] - fb[0]) - PAN_FOREGROUND * 640) <= 2


def test_detail_close_up_shows_hands_not_faces(renderer, models):
    detector, recognizer = models
    out = renderer.render(shot(shot_plan="detail close-up"))
    assert fm.detect_and_embed(out.image, detector, recognizer) == []
    assert all(r.face_box is None for r in out.regions if r.kind == "P")


def test_anchor_portraits(renderer, models):
    detector, recognizer = models
    p = FAMILY[1]
    anchors = [renderer.render_anchor(p, k, seed=5, size=256) for k in range(3)]
    for a in anchors:
        assert a.shape == (256, 256, 3) and a.dtype == np.uint8
    assert np.array_equal(anchors[0], renderer.render_anchor(p, 0, seed=5, size=256))
    assert not np.array_equal(anchors[0], anchors[1]) and not np.array_equal(anchors[1], anchors[2])
    embs = []
    for a in anchors:
        faces = fm.detect_and_embed(a, detector, recognizer)
        assert len(faces) == 1
        x0, y0, x1, y1 = faces[0].box
        assert (y1 - y0) > 0.25 * 256  # face large in the enrolment portrait
        embs.append(faces[0].embedding)
    assert float(embs[0] @ embs[1]) > 0.6 and float(embs[0] @ embs[2]) > 0.6


def test_crowd_of_strangers_and_many_people(renderer):
    members = tuple(person(100 + i, i, "friend") for i in range(9))
    strangers = tuple(person(200 + i, 12 + i, "unknown") for i in range(5))
    out = renderer.render(shot(people=members + strangers, event_type="Music Concert", location_kind="concert hall"))
    p_regions = {r.tag_id: r for r in out.regions if r.kind == "P"}
    assert set(p_regions) == {p.tag_id for p in members + strangers}
    visible = [r for r in p_regions.values() if r.face_box is not None]
    assert all(p_regions[p.tag_id].face_box is not None for p in members)
    assert len(visible) >= len(members)
    faces_px = [r.face_box[3] - r.face_box[1] for r in visible]
    assert min(faces_px) >= 30


def test_describe_names_the_face_sources(renderer, bank):
    text = renderer.describe()
    assert text.startswith("renderer: procedural (CPU")
    for name in bank.sources:
        assert name in text


def test_unknown_event_uses_a_generic_prop(renderer):
    spec = dataclasses.replace(shot(), event_type="Something New")
    ev = next(r for r in renderer.render(spec).regions if r.kind == "E")
    assert ev.mask.any()
