"""S1.1.6 quality control of generated images: decisions on real face photos, and the stage's re-render loop."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import rows


@pytest.fixture(scope="module")
def bank(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    from memoire_cli.faces.bank import FaceBank

    return FaceBank.load(tmp_path_factory.mktemp("bank"))


@pytest.fixture(scope="module")
def qc():  # noqa: ANN201
    from memoire_cli.synth.render.diffusion.qc import QualityControl

    return QualityControl()


def _person(tag: int, key: int, relation: str = "friend"):  # noqa: ANN202
    from memoire_cli.synth.render.base import PersonSpec

    return PersonSpec(tag_id=tag, face_key=key, relation=relation, age=30, height_cm=170.0, build="medium", clothing_rgb=(0, 0, 0))


def _shot(people: tuple, plan: str = "medium group"):  # noqa: ANN001, ANN202
    from memoire_cli.synth.render.base import ShotSpec

    return ShotSpec(seed=1, width=448, height=224, event_type="Birthday", event_tag=9, location_kind="home", location_tag=8,
                    location_name="home", people=people, shot_plan=plan, lighting="daylight")


def _side_by_side(bank, keys: list[int]) -> np.ndarray:  # noqa: ANN001
    return np.concatenate([np.asarray(bank.crop(k)) for k in keys], axis=1)


def test_identity_verification_matches_people_to_faces(bank, qc) -> None:  # noqa: ANN001
    enrolled = {t: qc.enrol([qc.check_anchor(np.asarray(bank.crop(k)))[1]]) for t, k in ((1, 0), (2, 1), (3, 2))}
    assert all(e.embedding is not None for e in enrolled.values())
    image = _side_by_side(bank, [1, 0])  # B left, A right
    ok = qc.check(_shot((_person(1, 0), _person(2, 1))), image, enrolled)
    assert [f.check for f in ok.failures] == [] and ok.faces == 2
    boxes = {r.tag_id: r.face_box for r in ok.regions}
    assert boxes[1][0] >= 224 > boxes[2][2]  # A matched to the right face, B to the left one
    bad = qc.check(_shot((_person(1, 0), _person(3, 2))), image, enrolled)  # C planned, B drawn
    assert [f.check for f in bad.failures] == ["face_identity"] and bad.retry
    assert "tag 3" in bad.failures[0].detail and "< 0.35" in bad.failures[0].detail
    missing = qc.check(_shot((_person(1, 0), _person(2, 1), _person(3, 2))), image, enrolled)
    assert any("no face found" in f.detail for f in missing.failures)
    unknown = qc.check(_shot((_person(1, 0), _person(4, 5))), image, {**enrolled, 4: qc.enrol([None])})
    assert [(f.check, f.retry) for f in unknown.failures] == [("face_identity", False)]  # not verifiable: no re-render
    close = qc.check(_shot((_person(1, 0),), plan="detail close-up"), image, enrolled)
    assert [f.check for f in close.failures] == ["crowd_sanity"]  # no identity check on hands; 2 faces > 1 planned


def test_crowd_exposure_blur_and_anchor_checks(bank, qc) -> None:  # noqa: ANN001
    from memoire_cli.synth.render.diffusion import qc as qcmod

    enrolled = {1: qc.enrol([qc.check_anchor(np.asarray(bank.crop(0)))[1]])}
    portrait = qc.check(_shot((_person(1, 0),), plan="intimate portrait"), _side_by_side(bank, [0, 3]), enrolled)
    assert [f.check for f in portrait.failures] == ["crowd_sanity"] and "2 faces in a intimate portrait, 1 planned" in portrait.failures[0].detail
    assert qcmod.exposure_failure(np.zeros((64, 64, 3), np.uint8)).check == "exposure"
    assert qcmod.exposure_failure(np.full((64, 64, 3), 250, np.uint8)) is not None
    assert qcmod.exposure_failure(np.asarray(bank.crop(0))) is None
    assert qcmod.blur_failure(np.full((64, 64, 3), 128, np.uint8)).check == "blur"
    assert qcmod.blur_failure(np.asarray(bank.crop(0))) is None
    assert qc.check_anchor(np.asarray(bank.crop(0)))[0] is None
    assert qc.check_anchor(np.full((128, 128, 3), 90, np.uint8))[0].detail == "0 faces in the enrolment portrait, expected 1"
    assert qc.check_anchor(_side_by_side(bank, [0, 1]))[0] is not None


class FaceRenderer:
    """A generative stand-in drawing real faces: the first person gets a wrong face on the first render."""

    name, version, generative = "sd3", "stand-in", True

    def __init__(self, bank) -> None:  # noqa: ANN001
        self.bank = bank

    def describe(self) -> str:
        return "renderer: face stand-in"

    def render_anchor(self, person, k, seed, size):  # noqa: ANN001, ANN201
        from PIL import Image

        return np.asarray(Image.fromarray(np.asarray(self.bank.crop(person.face_key))).resize((size, size)))

    def render(self, shot):  # noqa: ANN001, ANN201
        from PIL import Image

        from memoire_cli.synth.render.base import Rendered

        keys = [p.face_key for p in shot.people] or [len(self.bank) - 1]
        if shot.qc_level == 0 and shot.people:
            keys[0] = (keys[0] + 7) % len(self.bank)
        rng = np.random.default_rng(shot.seed)
        canvas = rng.integers(60, 200, (shot.height, shot.width, 3), dtype=np.uint8)
        cell = shot.width // max(len(keys), 1)
        for i, k in enumerate(keys):
            crop = np.asarray(Image.fromarray(np.asarray(self.bank.crop(k))).resize((cell, cell)))
            canvas[: min(cell, shot.height), i * cell:(i + 1) * cell] = crop[: shot.height]
        return Rendered(canvas, [], canvas)


def test_stage_rerenders_failed_identities_and_records_them(cli, bank, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    import memoire_cli.synth.render.diffusion as diffusion

    monkeypatch.setattr(diffusion, "locate_folders", lambda cfg, stills, video: diffusion.ModelFolders())
    monkeypatch.setattr(diffusion, "make_diffusion_renderer", lambda name, cfg, folders, device, console=None: FaceRenderer(bank))
    ws = tmp_path / "w"
    res = cli("synth", "-w", ws, "--user-count", "1", "--images-per-user", "6", "--frames-per-clip", "0", "--image-size", "256",
              "--anchors", "1", "--renderer", "sd3", "--device", "cpu")
    assert res.exit_code == 0, res.output
    qc_rows = rows(ws, "SELECT i.shot_plan, q.attempt, q.check_name, q.detail FROM qc q JOIN images i USING (image_id) ORDER BY ALL")
    # (some bank crops, cut from group photos, show a neighbour's face too: those anchors fail anchor_face
    # and their people are "not verifiable" — recorded without a re-render)
    identity = [r for r in qc_rows if r[2] == "face_identity" and "< 0.35" in r[3]]
    assert identity and all(r[1] == 1 and r[3].endswith("; re-rendered") for r in identity)
    assert all(r[3].endswith("(a re-render cannot fix it)") for r in qc_rows if r[2] == "face_identity" and "< 0.35" not in r[3]
               and "no face found" not in r[3])
    fixed = rows(ws, """SELECT i.attempts FROM images i WHERE EXISTS (SELECT 1 FROM qc q WHERE q.image_id = i.image_id
                        AND q.check_name = 'face_identity' AND q.detail LIKE '%< 0.35%')""")
    assert fixed and all(a[0] >= 2 for a in fixed) and (2,) in fixed  # the re-render (qc_level 1) draws the right face
    # verified people are recorded as face regions of the right people
    regions = rows(ws, """SELECT count(*) FROM truth.regions r JOIN image_tags t USING (image_id, tag_id) WHERE r.kind = 'P'""")
    assert regions[0][0] > 0 and rows(ws, "SELECT count(*) FROM truth.regions WHERE kind != 'P'") == [(0,)]


def test_nsfw_filter_from_a_local_safety_checker(bank, tmp_path: Path) -> None:  # noqa: ANN001
    from memoire_cli.synth.render.diffusion import tiny
    from memoire_cli.synth.render.diffusion.models import locate_nsfw
    from memoire_cli.synth.render.diffusion.qc import QualityControl

    image = np.asarray(bank.crop(0))
    never = QualityControl(nsfw=locate_nsfw(str(tiny.build_tiny_safety_checker(tmp_path / "never", 1.0))))
    always = QualityControl(nsfw=locate_nsfw(str(tiny.build_tiny_safety_checker(tmp_path / "always", -1.0))))
    assert "NSFW: safety checker" in always.describe()
    assert "nsfw" not in [f.check for f in never.check(_shot(()), image, {}).failures]
    flagged = always.check(_shot(()), image, {})
    assert [(f.check, f.retry) for f in flagged.failures] == [("nsfw", True)]
