"""Scoring with a trained impact predictor: the public API that ``rank`` and ``eval`` build on.

* :func:`preprocess` — S1.4.1 preprocessing of one image and its A(I).
* :func:`load_user_inputs` — a user's images and attention maps, preprocessed.
* :func:`load_predictor` — a trained model of the workspace (``W/models/<name>/best.pt``, or its
  ``model.onnx`` with ``runtime="onnx"``), checked against the ``models`` table.
* :class:`Predictor` — ``score`` (raw s(I)), ``impact`` (calibrated 0–100) and ``saliency`` /
  ``score_and_saliency`` (Grad-CAM of s(I) at the input size, S1.4.2 / Table 13; torch runtime only).

Impact calibration: at the end of training, s(I) is computed on every training image and 101
quantiles are stored (``models.calibration``); ``impact(s)`` is 100 × the interpolated empirical CDF,
i.e. the share of the training photos this one outranks (monotone in s, so orders agree).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from memoire_cli.errors import MemoireError

MODELS_DIR = "models"
BEST = "best.pt"
LAST = "last.pt"
ONNX = "model.onnx"
CHECKPOINT_FORMAT = "memoire-impact-predictor"
CHECKPOINT_VERSION = 1


def model_dir(ws: Any, name: str) -> Path:
    """``W/models/<name>/``."""
    return Path(ws.root) / MODELS_DIR / name


# ------------------------------------------------------------------------------------ preprocessing
def preprocess(image: np.ndarray, attention: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """S1.4.1: image (h, w, 3) uint8 and A(I) (h, w) float32 in [0, 1] (or uint8 0–255) of the same h×w
    → rgb (size, size, 3) uint8 and attention (size, size) float32 in [0, 1].

    Shortest side scaled to ``size`` (bilinear, antialiased), then a centre crop; A(I) is resized the
    same way (bilinear) and min–max normalised (a constant map becomes all zeros).
    """
    from PIL import Image

    image = np.asarray(image)
    attention = np.asarray(attention)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"image must be (h, w, 3) uint8, got {image.shape} {image.dtype}")
    if attention.shape != image.shape[:2]:
        raise ValueError(f"attention {attention.shape} and image {image.shape[:2]} differ in size")
    h, w = image.shape[:2]
    if h < 1 or w < 1:
        raise ValueError("empty image")
    a = attention.astype(np.float32) / (255.0 if attention.dtype == np.uint8 else 1.0)
    scale = size / min(h, w)
    nh, nw = max(size, round(h * scale)), max(size, round(w * scale))
    top, left = (nh - size) // 2, (nw - size) // 2
    box = (left, top, left + size, top + size)
    rgb = np.asarray(Image.fromarray(image).resize((nw, nh), Image.Resampling.BILINEAR).crop(box), np.uint8)
    att = np.asarray(Image.fromarray(a, mode="F").resize((nw, nh), Image.Resampling.BILINEAR).crop(box), np.float32)
    lo, hi = float(att.min()), float(att.max())
    att = (att - lo) / (hi - lo) if hi - lo > 1e-6 else np.zeros_like(att)
    return rgb, np.clip(att, 0.0, 1.0).astype(np.float32)


def load_user_inputs(ws: Any, user_id: str, idxs: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(N, size, size, 3) uint8 and (N, size, size) float32 for the user's images at rows ``idxs``
    (the valid region of the image buffer; A(I) from ``pat_attention``)."""
    idxs = np.asarray(idxs, np.int64).reshape(-1)
    dims = {int(i): (int(w), int(h)) for i, w, h in ws.query(
        "SELECT idx, width, height FROM images WHERE user_id = ?", [user_id])}
    missing = [int(i) for i in idxs if int(i) not in dims]
    if missing:
        raise MemoireError(f"user {user_id} has no image rows {missing[:5]}")
    if not ws.query("SELECT 1 FROM stage_users WHERE stage = 'pat' AND user_id = ?", [user_id]):
        raise MemoireError(f"user {user_id} has no attention maps: run `memoire pat`")
    pixels = ws.read_array("images", user_id)
    maps = ws.read_array("pat_attention", user_id)
    rgb = np.zeros((len(idxs), size, size, 3), np.uint8)
    att = np.zeros((len(idxs), size, size), np.float32)
    for k, i in enumerate(idxs):
        w, h = dims[int(i)]
        rgb[k], att[k] = preprocess(np.asarray(pixels[int(i)])[:h, :w], np.asarray(maps[int(i)])[:h, :w], size)
    return rgb, att


def onnx_feeds(session: Any, rgb: np.ndarray, attention: np.ndarray, persona: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The inputs an exported graph declares: ``rgb``, ``attention`` and ``persona``, or fewer (the exporter
    drops an input the graph never reads: ``none`` reads RGB only, the spec-literal model no ``persona``)."""
    names = {i.name for i in session.get_inputs()}
    return {k: v for k, v in (("rgb", rgb), ("attention", attention), ("persona", persona)) if k in names and v is not None}


def to_network_inputs(rgb: np.ndarray, attention: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N,S,S,3) uint8, (N,S,S) float → (N,3,S,S) float32 ImageNet-normalised, (N,1,S,S) float32."""
    from memoire_cli.train.config import IMAGENET_MEAN, IMAGENET_STD

    x = rgb.astype(np.float32).transpose(0, 3, 1, 2) / 255.0
    x = (x - np.array(IMAGENET_MEAN, np.float32).reshape(1, 3, 1, 1)) / np.array(IMAGENET_STD, np.float32).reshape(1, 3, 1, 1)
    return np.ascontiguousarray(x, np.float32), np.ascontiguousarray(attention, np.float32)[:, None]


def persona_input(persona: np.ndarray | None, n: int, dim: int) -> np.ndarray:
    """π(I) (N, P) float32 as a network reading ``dim`` components takes it; None → zeros. A network that
    reads none (``dim`` 0: the spec-literal FiLM on A(I) alone) gets (N, 1) zeros, whatever was given."""
    if persona is None or dim == 0:
        return np.zeros((n, max(1, dim)), np.float32)
    persona = np.ascontiguousarray(persona, np.float32)
    if persona.shape != (n, dim):
        raise ValueError(f"persona vectors must be ({n}, {dim}), got {persona.shape}")
    return persona


def impact_from_calibration(scores: np.ndarray, quantiles: np.ndarray) -> np.ndarray:
    """100 × the empirical CDF of the training scores at ``scores`` (piecewise linear over the quantiles)."""
    q = np.asarray(quantiles, np.float64)
    s = np.asarray(scores, np.float64)
    if q.size < 2 or q[-1] - q[0] < 1e-12:
        return np.full(s.shape, 50.0, np.float32)
    levels = np.linspace(0.0, 100.0, q.size)
    return np.interp(s, q, levels).astype(np.float32)


# ------------------------------------------------------------------------------------- predictor
@dataclass
class Predictor:
    """A trained impact predictor, ready to score preprocessed inputs."""

    name: str
    model_id: str
    fusion: str
    image_size: int
    runtime: str
    sha256: str
    calibration: np.ndarray
    device: str = "cpu"
    persona_dim: int = 0  # length of π(I) the network reads (0: none)
    backbone: str = ""
    init: str = ""  # the backbone's initialisation as `models.init` records it ("random" or FILE@sha)
    frozen: bool = False
    _model: Any = None  # torch module (runtime torch) or onnxruntime session (runtime onnx)
    _trunks: dict[bytes, Any] = field(default_factory=dict)  # frozen backbone: its map per distinct image batch

    def _check_inputs(self, rgb: np.ndarray, attention: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rgb = np.asarray(rgb)
        attention = np.asarray(attention, np.float32)
        n = len(rgb)
        s = self.image_size
        if rgb.ndim != 4 or rgb.shape[1:] != (s, s, 3) or attention.shape != (n, s, s):
            raise ValueError(f"{self.name}: inputs must be ({n}, {s}, {s}, 3) and ({n}, {s}, {s}), "
                             f"got {rgb.shape} and {attention.shape}")
        return rgb, attention

    def score(self, rgb: np.ndarray, attention: np.ndarray, persona: np.ndarray | None = None,
              batch_size: int = 32) -> np.ndarray:
        """(N,S,S,3) uint8, (N,S,S) float32 A(I) and (N,P) float32 π(I) → (N,) float32 raw s(I).

        ``fusion none`` ignores A(I) and π(I), the spec-literal model π(I); None stands for zeros."""
        rgb, attention = self._check_inputs(rgb, attention)
        n = len(rgb)
        persona = persona_input(persona, n, self.persona_dim)
        out = np.zeros(n, np.float32)
        for start in range(0, n, max(1, batch_size)):
            x, a = to_network_inputs(rgb[start:start + batch_size], attention[start:start + batch_size])
            out[start:start + len(x)] = self._score_batch(x, a, persona[start:start + batch_size])
        return out

    def _trunk(self, x: np.ndarray) -> Any:
        """A frozen backbone's map of a batch, remembered by content: ablations and sweeps rank the same
        images many times with other maps, and the frozen part does not depend on them."""
        import hashlib

        import torch

        key = hashlib.blake2b(x.tobytes(), digest_size=16).digest()
        if key not in self._trunks:
            if len(self._trunks) >= 64:
                self._trunks.clear()
            self._trunks[key] = self._model.trunk(torch.from_numpy(x).to(self.device))
        return self._trunks[key]

    def pooled_features(self, rgb: np.ndarray, batch_size: int = 32) -> np.ndarray:
        """A frozen backbone's last map of each image, average-pooled and L2-normalised: (N,S,S,3) uint8 →
        (N, C) float32. The maps are the ones :meth:`score` reads (same batches, remembered by content), so
        an image embedding taken here costs nothing more when the same images are scored (torch only)."""
        import torch

        if self.runtime != "torch" or not self.frozen:
            raise MemoireError(f"model {self.name!r}: pooled features need a frozen backbone and the torch runtime")
        rgb = np.asarray(rgb)
        out = []
        with torch.inference_mode():
            for start in range(0, len(rgb), max(1, batch_size)):
                x, _ = to_network_inputs(rgb[start:start + batch_size], np.zeros(rgb[start:start + batch_size].shape[:3], np.float32))
                out.append(self._trunk(x).mean(dim=(2, 3)).float().cpu().numpy())
        feats = np.concatenate(out) if out else np.zeros((0, 1), np.float32)
        return (feats / np.maximum(np.linalg.norm(feats, axis=1, keepdims=True), 1e-12)).astype(np.float32)

    def _score_batch(self, x: np.ndarray, a: np.ndarray, p: np.ndarray) -> np.ndarray:
        if self.runtime == "onnx":
            return np.asarray(self._model.run(["score"], onnx_feeds(self._model, x, a, p))[0], np.float32).reshape(-1)
        import torch

        with torch.inference_mode():
            at = torch.from_numpy(a).to(self.device)
            pt = torch.from_numpy(p).to(self.device)
            if self._model.config.frozen:
                return self._model.readout(self._model.from_trunk(self._trunk(x), at, pt), at).float().cpu().numpy().reshape(-1)
            xt = torch.from_numpy(x).to(self.device)
            return self._model(xt, at, pt).float().cpu().numpy().reshape(-1)

    def saliency(self, rgb: np.ndarray, attention: np.ndarray, persona: np.ndarray | None = None,
                 batch_size: int = 32) -> np.ndarray:
        """The model's saliency Ŝ(I) (S1.4.2; Table 13's "Saliency ↔ PAT r"): (N,S,S,3) uint8, (N,S,S)
        float32 A(I) and (N,P) π(I) → (N,S,S) float32 in [0, 1]. See :meth:`score_and_saliency`."""
        return self.score_and_saliency(rgb, attention, persona, batch_size)[1]

    def score_and_saliency(self, rgb: np.ndarray, attention: np.ndarray, persona: np.ndarray | None = None,
                           batch_size: int = 32) -> tuple[np.ndarray, np.ndarray]:
        """s(I) (N,) float32, as :meth:`score` gives it, and the saliency Ŝ(I) (N,S,S) float32 in [0, 1]
        from the same forward pass (S1.4.2; Table 13).

        Ŝ(I): Grad-CAM of s(I) over the network's last feature map (the map the head pools, as the
        alignment loss uses it: :func:`memoire_cli.train.losses.gradcam`), upsampled bilinearly to S×S
        and min–max normalised per image (a map with no variance — all channels' weighted sum ≤ 0 — is
        all zeros). The backbone runs without a graph; only the head is differentiated, w.r.t. the
        feature map, so no gradient reaches (or accumulates on) the weights and the extra cost over
        :meth:`score` is the head's backward. The model runs in eval mode (dropout off); its mode is
        restored after. ``fusion none`` ignores A(I) as :meth:`score` does.
        Torch runtime only: an ONNX graph has no gradients (MemoireError).
        """
        if self.runtime != "torch":
            raise MemoireError(f"model {self.name!r}: saliency (Grad-CAM) needs the torch runtime; the {self.runtime} "
                               f"runtime has no gradients (use --runtime torch)")
        import torch
        import torch.nn.functional as F

        from memoire_cli.train.losses import gradcam

        rgb, attention = self._check_inputs(rgb, attention)
        n, s = len(rgb), self.image_size
        persona = persona_input(persona, n, self.persona_dim)
        scores = np.zeros(n, np.float32)
        out = np.zeros((n, s, s), np.float32)
        model = self._model
        was_training = model.training
        model.eval()
        try:
            for start in range(0, n, max(1, batch_size)):
                x, a = to_network_inputs(rgb[start:start + batch_size], attention[start:start + batch_size])
                xt = torch.from_numpy(x).to(self.device)
                at = torch.from_numpy(a).to(self.device)
                pt = torch.from_numpy(persona[start:start + batch_size]).to(self.device)
                with torch.no_grad():
                    feats = model.features(xt, at, pt)  # (B, C, h, w)
                with torch.enable_grad():
                    feats = feats.detach().requires_grad_(True)
                    batch = model.readout(feats, at)  # (B,): forward_with_features' s(I)
                    cam = gradcam(batch, feats, create_graph=False).detach()  # (B, h, w)
                scores[start:start + len(x)] = batch.detach().float().cpu().numpy()
                up = F.interpolate(cam[:, None].float(), size=(s, s), mode="bilinear", align_corners=False)[:, 0]
                lo = up.amin(dim=(1, 2), keepdim=True)
                span = up.amax(dim=(1, 2), keepdim=True) - lo
                norm = torch.where(span > 1e-12, (up - lo) / span.clamp_min(1e-12), torch.zeros_like(up))
                out[start:start + len(x)] = norm.cpu().numpy()
        finally:
            model.train(was_training)
        return scores, out

    def impact(self, scores: np.ndarray) -> np.ndarray:
        """Calibrated 0–100 personal impact score for display (see module docstring)."""
        return impact_from_calibration(scores, self.calibration)


def model_row(ws: Any, name: str) -> dict[str, Any] | None:
    """The ``models`` row of ``name`` as a dict, or None."""
    from memoire_cli.schema import load_schema

    cols = load_schema().tables["models"].column_names
    rows = ws.query(f"SELECT {', '.join(cols)} FROM models WHERE name = ?", [name])
    return dict(zip(cols, rows[0])) if rows else None


def sha256_of(path: Path) -> str:
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_checkpoint(path: Path) -> dict[str, Any]:
    """A checkpoint dict; MemoireError when the file is unreadable or not one of ours."""
    import torch

    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - unpickling fails in many ways; all mean "corrupt"
        raise MemoireError(f"{path} is corrupt or not a checkpoint ({str(exc).splitlines()[0][:120]}): "
                           f"retrain with `memoire train --force`") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise MemoireError(f"{path} is not a memoire impact-predictor checkpoint: retrain with `memoire train --force`")
    if int(ckpt.get("version", 0)) != CHECKPOINT_VERSION:
        raise MemoireError(f"{path} has checkpoint version {ckpt.get('version')}, this memoire reads "
                           f"{CHECKPOINT_VERSION}: retrain with `memoire train --force`")
    return ckpt


def model_from_checkpoint(ckpt: dict[str, Any], path: Path, state_key: str = "model") -> Any:
    """Rebuild the network of a checkpoint and load its weights (MemoireError when incompatible)."""
    from memoire_cli.train.model import PredictorConfig, build_model

    try:
        config = PredictorConfig.from_dict(dict(ckpt["config"]))
        model = build_model(config)
        model.load_state_dict(ckpt[state_key])
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise MemoireError(f"{path} is incompatible with this memoire's predictor "
                           f"({str(exc).splitlines()[0][:160]}): retrain with `memoire train --force`") from None
    return model.eval()


def load_predictor(ws: Any, name: str = "default", *, runtime: str = "torch", device: str = "cpu") -> Predictor:
    """The trained model ``name`` of the workspace (``models`` row + files), checked for integrity.

    ``runtime``: ``torch`` (``best.pt``) or ``onnx`` (``model.onnx`` through onnxruntime, CPU).
    """
    if runtime not in ("torch", "onnx"):
        raise MemoireError(f"runtime must be torch or onnx, got {runtime!r}")
    row = model_row(ws, name)
    if row is None:
        hint = "" if name == "default" else f" --name {name}"
        raise MemoireError(f"no trained model {name!r} in this workspace: run `memoire train{hint}`")
    if row["workspace_id"] != ws.workspace_id:
        raise MemoireError(f"model {name!r} was trained in another workspace ({row['workspace_id']}): "
                           f"retrain it here with `memoire train --force`")
    folder = model_dir(ws, name)
    calibration = np.asarray(json.loads(row["calibration"] or "[]"), np.float64)
    try:
        config = json.loads(row["config"] or "{}")
        persona_dim, frozen = int(config.get("persona_dim", 0)), bool(config.get("frozen", False))
    except (json.JSONDecodeError, AttributeError, TypeError, ValueError):
        persona_dim, frozen = 0, False
    common = {"name": name, "model_id": row["model_id"], "fusion": row["fusion"], "image_size": int(row["image_size"]),
              "runtime": runtime, "calibration": calibration, "device": device, "persona_dim": persona_dim,
              "backbone": row["backbone"] or "", "init": row["init"] or "", "frozen": frozen}
    if runtime == "onnx":
        path = folder / ONNX
        if row["onnx_sha256"] is None or not path.is_file():
            raise MemoireError(f"model {name!r} has no ONNX export: run `memoire train --name {name} --export --force`")
        digest = sha256_of(path)
        if digest != row["onnx_sha256"]:
            raise MemoireError(f"{path} differs from the exported file (SHA-256 {digest[:12]}…): retrain and re-export with "
                               f"`memoire train --name {name} --force`")
        import onnxruntime as ort

        try:
            session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own types
            raise MemoireError(f"{path} is corrupt ({str(exc).splitlines()[0][:120]})") from None
        return Predictor(sha256=digest, _model=session, **common)
    path = folder / BEST
    if not path.is_file():
        raise MemoireError(f"model {name!r}: {path.name} is missing from {folder}: retrain with `memoire train --force`")
    digest = sha256_of(path)
    if digest != row["checkpoint_sha256"]:
        raise MemoireError(f"{path} differs from the checkpoint training recorded (SHA-256 {digest[:12]}…): "
                           f"corrupt or replaced; retrain with `memoire train --force`")
    ckpt = read_checkpoint(path)
    if ckpt.get("workspace_id") != ws.workspace_id:
        raise MemoireError(f"{path} was trained in another workspace: retrain it here with `memoire train --force`")
    model = model_from_checkpoint(ckpt, path).to(device)
    return Predictor(sha256=digest, _model=model, **common)
