"""`memoire people`'s pieces without models: matching, contradicted names, clusters, argument checks."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memoire_cli.people.cluster import cluster_id, cluster_labels
from memoire_cli.people.match import MIN_EVIDENCE_PX, TAU_NOTHING, contradictions, match_faces


def unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v, axis=-1, keepdims=True)).astype(np.float32)


@pytest.fixture
def refs() -> dict[int, np.ndarray]:
    """Three enrolled people with orthogonal references (512-d)."""
    eye = np.eye(512, dtype=np.float32)
    return {0: eye[0], 1: eye[1], 2: eye[2]}


def near(ref: np.ndarray, cos: float, seed: int = 0) -> np.ndarray:
    """A unit vector with the given cosine to ``ref`` (orthogonal noise in the last axes)."""
    noise = np.zeros(512, np.float32)
    noise[100 + seed] = 1.0
    return unit(cos * ref + np.sqrt(1 - cos**2) * noise)


def test_match_faces_assigns_each_person_once(refs) -> None:  # noqa: ANN001
    faces = np.stack([near(refs[1], 0.9), near(refs[1], 0.8, 1), near(refs[2], 0.3)])
    tags = sorted(refs)
    matches = match_faces(faces, np.stack([refs[t] for t in tags]), tags, 0.35)
    assert [m[0] for m in matches] == [1, None, None]  # person 1 once (the better face); 0.3 < τ_match
    assert matches[0][1] == pytest.approx(0.9, abs=1e-5)


def test_a_face_of_someone_else_contradicts_the_name(refs) -> None:  # noqa: ANN001
    faces = np.stack([near(refs[1], 0.9)])
    matches = [(1, 0.9)]
    found = contradictions([0], faces, matches, refs, np.array([80.0]))
    assert len(found) == 1 and found[0].tag_id == 0 and found[0].face_tag_id == 1 and found[0].best_cos < 0.1


def test_a_face_like_nobody_contradicts_the_name_only_when_unlike_the_person(refs) -> None:  # noqa: ANN001
    stranger = near(refs[2], 0.0, 3)
    found = contradictions([0], stranger[None], [(None, None)], refs, np.array([80.0]))
    assert [(c.tag_id, c.face_tag_id) for c in found] == [(0, None)] and found[0].best_cos < TAU_NOTHING
    # a face somewhat like the person (cos between TAU_NOTHING and τ_match) is no contradiction
    assert contradictions([0], near(refs[0], 0.25)[None], [(None, None)], refs, np.array([80.0])) == []


def test_missing_faces_small_faces_and_unenrolled_tags_are_no_evidence(refs) -> None:  # noqa: ANN001
    stranger = near(refs[2], 0.0, 3)[None]
    assert contradictions([0], np.zeros((0, 512), np.float32), [], refs) == []  # no faces at all
    assert contradictions([0], stranger, [(None, None)], refs, np.array([MIN_EVIDENCE_PX - 1])) == []  # too small
    assert contradictions([7], stranger, [(None, None)], refs, np.array([80.0])) == []  # 7 is not enrolled
    # two tagged people, one face (the other's, matched): the unmatched one may just have been missed
    faces = np.stack([near(refs[1], 0.9)])
    assert contradictions([0, 1], faces, [(1, 0.9)], refs, np.array([80.0])) == []
    # two tagged, one stranger face: fewer unmatched faces than unmatched people, nothing is flagged
    assert contradictions([0, 1], stranger, [(None, None)], refs, np.array([80.0])) == []


def test_clusters_are_deterministic_and_keep_faces_of_one_photo_apart() -> None:
    rng = np.random.default_rng(0)
    people = unit(rng.normal(size=(3, 512)))
    faces = unit(np.repeat(people, 3, axis=0) + 0.02 * rng.normal(size=(9, 512)))  # 3 faces of each person
    images = [f"i{k % 3}" for k in range(9)]  # each photo shows the three people
    labels = cluster_labels(faces, images)
    assert labels.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert np.array_equal(labels, cluster_labels(faces, images))
    # the same faces, all in one photo: three distinct people can never be one
    same = cluster_labels(faces[:3], ["x"] * 3)
    assert len(set(same.tolist())) == 3
    assert cluster_id("u", "i0", 0) == cluster_id("u", "i0", 0) != cluster_id("u", "i0", 1)
    assert len(cluster_id("u", "i0", 0)) == 9 and cluster_id("u", "i0", 0).startswith("c")


@settings(max_examples=30, deadline=None)
@given(st.integers(2, 14), st.integers(1, 4), st.integers(0, 2**31 - 1), st.floats(0.05, 1.5))
def test_no_cluster_holds_two_faces_of_one_image(n: int, n_images: int, seed: int, distance: float) -> None:
    rng = np.random.default_rng(seed)
    faces = unit(rng.normal(size=(n, 8)))
    images = [f"i{int(k)}" for k in rng.integers(0, n_images, size=n)]
    labels = cluster_labels(faces, images, distance)
    assert len(labels) == n and labels[0] == 0 and labels.max() < n
    seen = {(lab, img) for lab, img in zip(labels.tolist(), images)}
    assert len(seen) == n  # (cluster, image) pairs are all distinct
    assert sorted(set(labels.tolist())) == list(range(labels.max() + 1))  # labelled 0… by first appearance


def _not_a_threshold(text: str) -> bool:
    try:
        return not 0.0 <= float(text) <= 1.0
    except ValueError:
        return True


_CLI: list = []


@settings(max_examples=15, deadline=None)
@given(st.one_of(st.floats(allow_nan=True, allow_infinity=True).map(str), st.text(min_size=1, max_size=6)).filter(_not_a_threshold))
def test_bad_thresholds_are_one_line_errors(value: str) -> None:
    from conftest import Invoker

    if not _CLI:
        _CLI.append(Invoker())
    result = _CLI[0]("people", "-w", "nowhere", "--tau-match", value)
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) >= 1
    assert "--tau-match" in result.stderr


def test_action_and_argument_mistakes_are_one_line_errors(tmp_path) -> None:  # noqa: ANN001
    from conftest import Invoker

    cli = Invoker()
    (tmp_path / "file").write_text("")
    for args, words in ((["people", "rename", "-w", tmp_path], "No such command 'rename'"),
                        (["people", "list", "--crops", tmp_path / "file", "-w", tmp_path], "not a folder"),
                        (["people", "list", "-w", tmp_path], "no workspace at"),
                        (["people", "list", "c123", "-w", tmp_path], "unexpected extra argument(s) (c123)"),
                        (["people", "--crops", tmp_path, "-w", tmp_path], "--crops and --json go with"),
                        (["people", "name", "c123", "-w", tmp_path], "Missing option '--as'"),
                        (["people", "--cluster-distance", "0", "-w", tmp_path], "--cluster-distance must be in (0, 2]"),
                        (["people", "--faces", tmp_path / "none", "-w", tmp_path], "no such folder")):
        result = cli(*args)
        assert result.exit_code != 0 and "Traceback" not in result.output, args
        assert len(result.stderr.strip().splitlines()) == 1 and words in result.stderr, (args, result.stderr)
