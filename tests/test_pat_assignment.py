"""Face-to-person assignment (S1.3.2(2)): Hungarian on 1 − cos, τ_match rejection, one-to-one."""

from __future__ import annotations

import numpy as np

from memoire_cli.pat.assignment import assign_faces


def test_hungarian_beats_greedy_and_rejects_weak_matches() -> None:
    people = np.eye(3, 8)  # three orthogonal identities
    faces = np.array([
        0.9 * people[0] + 0.5 * people[1],  # greedy would give this face person 0 ...
        0.8 * people[0] + 0.1 * people[2],  # ... and leave this one worse off
        0.1 * people[2] + 0.99 * np.eye(1, 8, 7)[0],  # a stranger: cos with person 2 ≈ 0.1
    ])
    matches = assign_faces(faces, people)
    assert [(j, p) for j, p, _ in matches] == [(0, 1), (1, 0)]
    assert all(c >= 0.35 for *_, c in matches)


def test_each_person_at_most_once_and_empty_inputs() -> None:
    people = np.eye(2, 4)
    faces = np.stack([people[0], people[0] * 2, people[1]])
    matches = assign_faces(faces, people)
    assert sorted(p for _, p, _ in matches) == [0, 1]
    assert assign_faces(np.zeros((0, 4)), people) == []
    assert assign_faces(faces, np.zeros((0, 4))) == []


def test_threshold_is_a_parameter() -> None:
    people = np.eye(2, 4)
    face = np.array([[0.5, 0.0, 0.0, 1.0]])  # cos ≈ 0.447 with person 0
    assert len(assign_faces(face, people)) == 1
    assert assign_faces(face, people, tau_match=0.5) == []
