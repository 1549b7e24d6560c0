"""Session adaptation (S1.2.8–S1.2.9): the session prior (15), the blend (16), ρ (17) and the worked examples."""

from __future__ import annotations

import math

import numpy as np
import pytest

from memoire_cli.session.blend import SessionConfig, adapt_session, blend, session_rho, session_strength
from memoire_cli.session.prior import session_prior

#: A user with |V| = 12 tags (the size at which the spec's "ρ ≈ 0.5" comes out of (17)).
NAMES = ["Self", "Father", "Mother", "Daughter", "Friend", "Colleague", "Beach", "Colosseum", "Home",
         "Birthday", "Vacation", "Office"]
TYPES = np.array(["P"] * 6 + ["L"] * 3 + ["E"] * 3, dtype=object)
RELATIONS = np.array(["self", "father", "mother", "daughter", "friend", "colleague"] + [None] * 6, dtype=object)
T = {name: i for i, name in enumerate(NAMES)}
#: A global persona in which Self dominates and the family is middling.
ALPHA = np.array([0.30, 0.10, 0.09, 0.09, 0.06, 0.05, 0.05, 0.04, 0.08, 0.06, 0.04, 0.04])


def session(groups: list[tuple[int, list[str]]]) -> tuple[np.ndarray, np.ndarray]:
    """(N, 12) membership from (count, tag names) groups, and capture times 10 minutes apart."""
    rows = [[T[n] for n in names] for count, names in groups for _ in range(count)]
    member = np.zeros((len(rows), len(NAMES)), dtype=bool)
    for i, tags in enumerate(rows):
        member[i, tags] = True
    times = np.datetime64("2024-07-01T10:00") + np.arange(len(rows)) * np.timedelta64(10, "m")
    return member, times


def test_worked_example_family_session() -> None:
    """S1.2.8: 12 images, {Father, Mother, Daughter} in 9 and {Beach} in 3."""
    member, times = session([(9, ["Father", "Mother", "Daughter"]), (3, ["Beach"])])
    out = adapt_session(ALPHA, member, TYPES, RELATIONS, taken_at=times)
    assert out.n_images == 12 and out.c_s == pytest.approx(4 / 12)
    # (17): 0.25 + 0.5 · 4/12 + 0.25 · (1 − e^{−12/30}) = 0.4991 — "ρ rises moderately (≈ 0.5)"
    assert out.rho == pytest.approx(0.25 + 0.5 * 4 / 12 + 0.25 * (1 - math.exp(-12 / 30)))
    assert out.rho == pytest.approx(0.499, abs=1e-3)
    ips = out.prior.ips
    for person in ("Father", "Mother", "Daughter"):
        assert out.alpha[T[person]] > ALPHA[T[person]]  # α*_Father > α_Father, etc.
        assert ips[T[person]] > ips[T["Beach"]] > ips[T["Home"]]  # f̃^S_family ≫ f̃^S_Beach
    assert out.prior.z["g"][T["Father"]] > out.prior.z["g"][T["Beach"]]  # g̃^S boosts the kin edges
    assert out.prior.p_pp == 1.0 and out.prior.lambda_s > 0.9  # every session edge is person–person
    # S1.2.9: Self is absent from the session but strong globally: it decays smoothly, not to 0
    assert 0.3 * ALPHA[T["Self"]] < out.alpha[T["Self"]] < ALPHA[T["Self"]]
    assert out.alpha.sum() == pytest.approx(1.0)


def test_worked_example_travel_session() -> None:
    """S1.2.8: a 12-image travel batch around the Colosseum pushes α*_Colosseum up."""
    member, times = session([(10, ["Colosseum", "Vacation"]), (2, ["Colosseum", "Self", "Vacation"])])
    out = adapt_session(ALPHA, member, TYPES, RELATIONS, taken_at=times)
    assert out.alpha[T["Colosseum"]] > ALPHA[T["Colosseum"]]
    assert int(np.argmax(out.alpha - ALPHA)) in (T["Colosseum"], T["Vacation"])
    assert out.alpha[T["Father"]] < ALPHA[T["Father"]]


def test_rho_by_session_size_and_breadth() -> None:
    assert session_rho(0.0, 0) == 0.25
    small = session_rho(session_strength(np.eye(1, 100, dtype=bool)[0]), 3)
    assert 0.25 < small < 0.28  # small, narrow: the global persona dominates
    broad = session_rho(0.5, 200)
    assert broad == pytest.approx(0.25 + 0.25 + 0.25 * (1 - math.exp(-200 / 30)))
    assert session_rho(1.0, 10**6) == 1.0  # clipped
    assert session_rho(0.0, 10, SessionConfig(rho0=-1.0)) == 0.0
    assert session_strength(np.zeros(0, bool)) == 0.0


def test_blend_is_log_space_interpolation() -> None:
    ips = np.array([1.0, 0.0, -1.0])
    assert np.allclose(blend(ALPHA[:3] / ALPHA[:3].sum(), ips, 0.0), ALPHA[:3] / ALPHA[:3].sum())
    full = blend(np.array([0.2, 0.3, 0.5]), ips, 1.0)
    assert np.allclose(full, np.exp(ips) / np.exp(ips).sum())
    half = blend(np.array([0.25, 0.25, 0.5]), ips, 0.5)
    logit = 0.5 * np.log([0.25, 0.25, 0.5]) + 0.5 * ips
    assert np.allclose(half, np.exp(logit) / np.exp(logit).sum())
    with pytest.raises(ValueError, match="same tags"):
        blend(np.ones(3) / 3, np.zeros(4), 0.5)
    with pytest.raises(ValueError, match="finite"):
        blend(np.array([0.5, np.nan, 0.5]), np.zeros(3), 0.5)


def test_empty_session_keeps_the_global_persona() -> None:
    out = adapt_session(ALPHA, np.zeros((0, 12), bool), TYPES, RELATIONS)
    assert out.rho == 0.0 and np.allclose(out.alpha, ALPHA / ALPHA.sum())


def test_session_without_times_or_usage() -> None:
    member, _ = session([(5, ["Friend", "Home"])])
    out = adapt_session(ALPHA, member, TYPES, RELATIONS)
    assert (out.prior.raw["r"] == 0).all() and (out.prior.raw["v"] == 0).all()
    assert out.alpha[T["Friend"]] > ALPHA[T["Friend"]]
    with pytest.raises(ValueError, match="one entry per tag"):
        session_prior(member, TYPES[:5], RELATIONS, taken_at=None)


def test_session_prior_is_the_graph_prior_on_the_same_images() -> None:
    """(15) uses (7)'s template: on the whole gallery it reproduces the graph stage's IPS⁰."""
    from memoire_cli.graph.build import GraphInputs, build_user_graph
    from memoire_cli.graph.config import GraphConfig

    rng = np.random.default_rng(0)
    member = rng.random((40, 12)) < 0.3
    member[np.arange(40), rng.integers(0, 12, 40)] = True
    times = np.datetime64("2023-01-01") + np.sort(rng.integers(0, 500, 40)) * np.timedelta64(1, "D")
    views = rng.random(40)
    favourite = (rng.random(40) < 0.3).astype(float)
    img, tag = np.nonzero(member)
    cfg = GraphConfig(knn=0)
    inputs = GraphInputs(user_id="u", now_us=None, tag_ids=np.arange(12), tag_types=TYPES, relations=RELATIONS,
                         times_us=times.astype("datetime64[us]").astype(np.int64), dated=np.ones(40, bool),
                         views=views, favourite=favourite, pair_image=img.astype(np.int64), pair_tag=tag.astype(np.int64))
    graph = build_user_graph(inputs, cfg)
    prior = session_prior(member, TYPES, RELATIONS, graph_cfg=cfg, taken_at=times, views=views, favourite=favourite)
    assert np.allclose(prior.ips, graph["graph_nodes"]["ips0"])
    for name in ("f", "r", "v", "q", "g"):
        assert np.allclose(prior.z[name], graph["graph_nodes"][f"{name}_z"]), name
