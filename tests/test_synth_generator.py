"""Distribution checks of the gallery generator (S1.1.1–S1.1.3), on plans (no pixels): fast."""

from __future__ import annotations

import collections
from datetime import timedelta

import numpy as np
import pytest

from memoire_cli.synth.calendar import CALENDAR_MONTHS, GALLERY_NOW, allocate
from memoire_cli.synth.gallery import SynthConfig, plan_user
from memoire_cli.synth.ontology import EVENT_TYPES, FAVOURITE_P, GRAPH_RELATIONS
from memoire_cli.vocabulary import RELATIONS

N_USERS = 60


@pytest.fixture(scope="module")
def plans() -> list:
    cfg = SynthConfig(users=N_USERS, seed=11)
    return [plan_user(cfg, i) for i in range(N_USERS)]


def test_splits_are_80_10_10_by_user() -> None:
    cfg = SynthConfig(users=100, seed=3)
    from memoire_cli.synth.gallery import split_of

    counts = collections.Counter(split_of(i, 100, 3) for i in range(100))
    assert counts == {"train": 80, "val": 10, "test": 10}
    assert [split_of(i, 100, 3) for i in range(100)] != [split_of(i, 100, 4) for i in range(100)]
    assert cfg.users == 100


def test_people_and_social_graph(plans: list) -> None:
    for plan in plans:
        graph = [p for p in plan.people if p.in_graph and p.relation != "self"]
        assert plan.people[0].relation == "self" and plan.people[0].tag_id == 0
        assert 8 <= len(graph) <= 12
        assert {p.relation for p in graph} <= set(GRAPH_RELATIONS)
        assert {p.relation for p in plan.people} <= set(RELATIONS)
        for single in ("father", "mother", "spouse"):
            assert sum(p.relation == single for p in graph) <= 1
        faces = [p.face_key for p in plan.people]
        assert len(set(faces)) == len(faces), "identities must not share a face"
        for a, b, closeness in plan.edges:
            assert a < b and 0 < closeness <= 1
    # edges by closeness: self–parent edges are more common than colleague–colleague ones
    rate = collections.defaultdict(list)
    for plan in plans:
        rel = {p.tag_id: p.relation for p in plan.people}
        edges = {(a, b) for a, b, _ in plan.edges}
        members = [p for p in plan.people if p.in_graph]
        for i, a in enumerate(members):
            for b in members[i + 1 :]:
                kind = "self-parent" if {rel[a.tag_id], rel[b.tag_id]} & {"self"} and {rel[a.tag_id], rel[b.tag_id]} & {"father", "mother"} else (
                    "colleagues" if rel[a.tag_id] == rel[b.tag_id] == "colleague" else None)
                if kind:
                    rate[kind].append((a.tag_id, b.tag_id) in edges)
    assert np.mean(rate["self-parent"]) > np.mean(rate["colleagues"])


def test_events_per_user_and_dirichlet_sparsity(plans: list) -> None:
    n_events = [len(p.events) for p in plans]
    assert min(n_events) >= 8 and max(n_events) <= 14
    assert len(set(n_events)) > 3
    for plan in plans:
        for e in plan.events:
            assert 20 <= e.n_stills <= 40
    # Dirichlet(0.4): the most frequent type takes a large share of a user's events
    top_share = [collections.Counter(e.etype.name for e in p.events).most_common(1)[0][1] / len(p.events) for p in plans]
    assert np.mean(top_share) > 0.2
    used = {e.etype.name for p in plans for e in p.events}
    assert len(used) > 25 and used <= {e.name for e in EVENT_TYPES}


def test_calendar_spans_18_months_with_seasonal_holidays(plans: list) -> None:
    earliest = GALLERY_NOW - timedelta(days=int(CALENDAR_MONTHS * 30.44) + 1)
    for plan in plans:
        starts = [e.start for e in plan.events]
        assert starts == sorted(starts)
        for e in plan.events:
            assert earliest <= e.start <= GALLERY_NOW and e.end >= e.start
            if e.etype.name == "Christmas":
                assert e.start.month == 12 and 20 <= e.start.day <= 26
            if e.etype.name == "Halloween":
                assert e.start.month == 10
        times = [i.taken_at for i in plan.images]
        assert times == sorted(times)
    weekend = np.mean([e.start.weekday() >= 5 for p in plans for e in p.events if not e.etype.months])
    assert weekend > 2 / 7 + 0.05, "weekend boost of the event-start process"


def test_photos_are_bursty(plans: list) -> None:
    gaps = []
    for plan in plans:
        for e in plan.events:
            t = sorted(i.taken_at for i in plan.images if i.event is e and i.kind == "still")
            gaps += [(b - a).total_seconds() for a, b in zip(t, t[1:]) if (b - a).total_seconds() < 36000]
    gaps = np.array(gaps)
    assert np.median(gaps) < 300 and np.percentile(gaps, 95) > 3 * np.median(gaps)


def test_clips_and_frames(plans: list) -> None:
    for plan in plans:
        assert len(plan.clips) == len(plan.events)
        frames = collections.Counter(i.clip_id for i in plan.images if i.kind == "video_frame")
        for clip in plan.clips:
            assert frames[clip.clip_id] == clip.kept_frames == 5
            idx = sorted(i.frame_index for i in plan.images if i.clip_id == clip.clip_id)
            assert idx == [0, 8, 16, 24, 32]  # 1 fps out of 8 fps, at most 5 kept
    small = plan_user(SynthConfig(users=2, max_frames_per_clip=2), 0)
    assert all(c.kept_frames == 2 for c in small.clips)


def test_images_per_user_keeps_structure() -> None:
    plan = plan_user(SynthConfig(users=3, images_per_user=40), 1)
    assert sum(i.kind == "still" for i in plan.images) == 40
    assert all(e.n_stills >= 1 for e in plan.events) and 8 <= len(plan.events) <= 14
    tiny = plan_user(SynthConfig(users=3, images_per_user=5), 1)
    assert sum(i.kind == "still" for i in tiny.images) == 5 and len(tiny.events) == 5
    assert list(allocate(np.array([30.0, 20.0, 10.0]), 12)) == [6, 4, 2]
    assert allocate(np.array([30.0, 20.0, 10.0]), 2).tolist() == [1, 1, 0]


def test_favourite_rates_follow_relations(plans: list) -> None:
    """S1.1.3: 0.7 self/spouse/children > 0.45 parents/siblings > 0.3 friends > 0.2 colleagues."""
    groups = {"close": ("self", "spouse", "son", "daughter"), "parents": ("father", "mother", "sibling"),
              "friends": ("friend",), "colleagues": ("colleague",)}
    rates = {}
    for name, rels in groups.items():
        hits = [f for p in plans for i, f in zip(p.images, p.favourite)
                if [q.relation for q in i.people if q.in_graph] and all(q.relation in rels for q in i.people if q.in_graph)]
        rates[name] = float(np.mean(hits))
        assert abs(rates[name] - FAVOURITE_P[rels[0]]) < 0.15, (name, rates[name])
    assert rates["close"] > rates["parents"] > rates["friends"] > rates["colleagues"]


def test_views_and_truth_ranges(plans: list) -> None:
    for plan in plans:
        assert plan.views.min() >= 0 and plan.views_norm.max() == pytest.approx(1.0)
        assert 0 <= plan.pis.min() and plan.pis.max() <= 100 and plan.pis.max() == pytest.approx(100)
    archetypes = {p.preferences.archetype for p in plans}
    assert archetypes == {"family-centric", "travel-centric", "mixed"}
    # behaviour carries the hidden preferences, noisily
    corr = [np.corrcoef(p.utility, p.views)[0, 1] for p in plans]
    assert 0.2 < np.mean(corr) < 0.95
    kin_views = np.mean([v for p in plans for i, v in zip(p.images, p.views) if any(q.relation in ("son", "daughter") for q in i.people)])
    work_views = np.mean([v for p in plans for i, v in zip(p.images, p.views)
                          if i.event.etype.name == "Office Meeting" and not any(q.relation in ("son", "daughter", "spouse") for q in i.people)])
    assert kin_views > work_views


def test_prompts_follow_the_template(plans: list) -> None:
    img = next(i for i in plans[0].images if i.kind == "still" and len(i.people) >= 2)
    assert img.prompt.startswith(f"A candid {img.event.etype.name.lower()} in ")
    for part in ("Camera:", "framing:", "light:", "mood:", "Visual details:", "no watermark, photorealistic", "STYLE:"):
        assert part in img.prompt
    for person in img.people:
        assert f"[{person.name}]" in img.prompt
    frame = next(i for i in plans[0].images if i.kind == "video_frame")
    assert "left-to-right pan" in frame.prompt


def test_plans_are_deterministic() -> None:
    cfg = SynthConfig(users=4, seed=5)
    a, b = plan_user(cfg, 2), plan_user(cfg, 2)
    assert [i.prompt for i in a.images] == [i.prompt for i in b.images]
    assert np.array_equal(a.pis, b.pis) and np.array_equal(a.views, b.views)
    c = plan_user(SynthConfig(users=4, seed=6), 2)
    assert [i.prompt for i in a.images] != [i.prompt for i in c.images]
