"""Location and event grounding of PAT with CLIPSeg (S1.3.3, S1.3.4, Tables 1–4), and its offline default.

Location (S1.3.3): for a location phrase l, CLIPSeg is queried with the three templates of Table 2; the
pixelwise logits are averaged over templates, Z_l, and

    M_l = σ(Z_l / τ)  resampled bilinearly to H×W,  entries < θ_mask zeroed,  clamped to [0, 1].

Event (S1.3.4): for each proxy r ∈ K(e) of Table 3 (``vocab.event_phrases``: K(e) for known events, the
name itself for a photo manager's free-text event, nothing for an unnamed one), M_{e,r} = σ(Z_r / τ) with the
same resampling and zeroing; the proxies are averaged uniformly, M_e = mean_r M_{e,r}, and then
M_e ← 1(M_e ≥ θ_mask) ⊙ M_e.

Constants (Table 1): τ = 6.0, θ_mask = 0.25, float32. The model is the spec's CLIPSeg (Table 4; the
Hugging Face checkpoint ``CIDAS/clipseg-rd64-refined``), loaded only from a local folder or the local
Hugging Face cache (``local_files_only=True``); nothing is ever downloaded. CLIPSegProcessor resizes the
frame to the model's input size itself, so the long-side cap of S1.3.1 has no effect here; the masks are
resampled to the original H×W (S1.3.1). Inference is in eval mode, under no_grad, in float32: the same
input gives a bit-identical mask (S1.3.7).

Offline default (DESIGN.md "Models"): when no CLIPSeg weights are found locally, ``PriorGrounder`` stands
in. It is a content-free, deterministic spatial prior, the same for every image and phrase, and says so
(``PRIOR_NOTICE``):

- location: p(u, v) = ½·(1 − v) + ½·r(u, v), with u, v ∈ [0, 1] the pixel-centre coordinates (v down) and
  r the distance from the frame centre normalised to 1 at the corners, i.e. the upper and outer part of
  the frame, where the background (the place) usually is; entries < θ_mask zeroed;
- event: a centred Gaussian blob, std 0.25 of the width and height, peak 1 (``fusion.gaussian_blob`` over
  the whole frame), entries < θ_mask zeroed: events are usually photographed at the centre.

torch and transformers are imported inside the functions that need them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from memoire_cli.local_models import locate_local_model
from memoire_cli.pat.fusion import gaussian_blob
from memoire_cli.pat.vocab import event_phrases, location_prompts

TAU = 6.0  # Table 1: temperature applied to CLIPSeg logits before σ(·)
THETA_MASK = 0.25  # Table 1: mask keep threshold, values below zeroed
CLIPSEG_REPOS: tuple[str, ...] = ("CIDAS/clipseg-rd64-refined", "CIDAS/clipseg-rd64")  # Table 4; first preferred
ENV_VAR = "MEMOIRE_CLIPSEG"
PRIOR_NOTICE = "CLIPSeg weights not found locally: location/event masks use the spatial prior"


def locate_clipseg(explicit: str | None = None) -> str | None:
    """A local CLIPSeg folder: ``explicit``, else ``$MEMOIRE_CLIPSEG``, else the local Hugging Face cache entry
    of CIDAS/clipseg-rd64-refined (then CIDAS/clipseg-rd64); None when none is local. Never uses the network.
    An explicit or environment path that does not exist is an error (a typo must not silently fall back)."""
    return locate_local_model(explicit, ENV_VAR, "--clipseg", CLIPSEG_REPOS, "CLIPSeg")


def _resample(prob: Any, height: int, width: int) -> Any:
    """Bilinear resampling of (n, h, w) torch float32 maps to (n, H, W) (S1.3.1)."""
    import torch.nn.functional as F

    if prob.shape[-2:] == (height, width):
        return prob
    return F.interpolate(prob[:, None], size=(height, width), mode="bilinear", align_corners=False)[:, 0]


def _keep(mask: Any) -> Any:
    """Zero entries below θ_mask and clamp to [0, 1] (Table 1, Table 5)."""
    return (mask * (mask >= THETA_MASK)).clamp(0.0, 1.0)


def soft_masks(logits: np.ndarray, height: int, width: int) -> np.ndarray:
    """σ(Z/τ) per map, resampled bilinearly to H×W, entries < θ_mask zeroed, clamped: (n, h, w) → (n, H, W)."""
    import torch

    z = torch.from_numpy(np.ascontiguousarray(logits, dtype=np.float32))
    prob = torch.sigmoid(z / TAU)
    return _keep(_resample(prob, height, width)).numpy().astype(np.float32)


class ClipSegGrounder:
    """CLIPSeg (transformers ``CLIPSegForImageSegmentation`` + ``CLIPSegProcessor``) for S1.3.3–S1.3.4."""

    source = "clipseg"

    def __init__(self, model: Any, processor: Any, name: str) -> None:
        self.model = model.eval().float()
        self.processor = processor
        self.name = name

    @classmethod
    def from_pretrained(cls, path_or_name: str) -> ClipSegGrounder:
        """Load from a local folder (or a cached hub name) with ``local_files_only=True``; never downloads."""
        from transformers import CLIPSegForImageSegmentation, CLIPSegProcessor

        model = CLIPSegForImageSegmentation.from_pretrained(path_or_name, local_files_only=True, dtype="float32")
        processor = CLIPSegProcessor.from_pretrained(path_or_name, local_files_only=True)
        return cls(model, processor, str(path_or_name))

    def describe(self) -> str:
        return f"CLIPSeg from {self.name} (τ={TAU}, θ_mask={THETA_MASK}; Table 2 templates, Table 3 proxies)"

    def logits(self, image_rgb: np.ndarray, texts: list[str]) -> np.ndarray:
        """Pixelwise CLIPSeg logits of one (H, W, 3) uint8 RGB image for each prompt: (len(texts), h, w) float32,
        at the model's output resolution. The prompts go through the model as one batch."""
        import torch

        if image_rgb.ndim != 3 or image_rgb.shape[2] != 3:
            raise ValueError(f"expected an (H, W, 3) RGB image, got shape {image_rgb.shape}")
        if not texts:
            raise ValueError("no prompts")
        image = np.ascontiguousarray(image_rgb, dtype=np.uint8)
        pixels = self.processor.image_processor(images=image, return_tensors="pt")["pixel_values"].float()  # (1, 3, s, s)
        max_len = int(getattr(self.model.config.text_config, "max_position_embeddings", 77))
        tokens = self.processor.tokenizer(list(texts), padding=True, truncation=True, max_length=max_len, return_tensors="pt")
        with torch.no_grad():
            out = self.model(
                pixel_values=pixels.expand(len(texts), -1, -1, -1).contiguous(),
                input_ids=tokens["input_ids"],
                attention_mask=tokens["attention_mask"],
            )
        z = out.logits.float()
        if z.ndim == 2:  # the decoder squeezes the batch axis of a single prompt away
            z = z[None]
        return z.reshape(len(texts), z.shape[-2], z.shape[-1]).numpy().astype(np.float32)

    def location_mask(self, image_rgb: np.ndarray, phrase: str) -> np.ndarray:
        """M_l (S1.3.3): Table 2 template logits averaged, σ(Z/τ), resampled to (H, W), < θ_mask zeroed, clamped."""
        import torch

        height, width = image_rgb.shape[:2]
        z = torch.from_numpy(self.logits(image_rgb, list(location_prompts(phrase)))).mean(dim=0, keepdim=True)  # (1, h, w)
        return soft_masks(z.numpy(), height, width)[0]

    def event_mask(self, image_rgb: np.ndarray, event_type: str, proxies: tuple[str, ...] | None = None) -> np.ndarray:
        """M_e (S1.3.4): per-proxy soft masks (σ(Z_r/τ), resampled, < θ_mask zeroed) averaged uniformly over
        K(e) of Table 3 (or the ``proxies`` given: eval's C3), then M_e ← 1(M_e ≥ θ_mask) ⊙ M_e.
        Returns (H, W) float32 in [0, 1]."""
        import torch

        height, width = image_rgb.shape[:2]
        phrases = list(event_phrases(event_type) if proxies is None else proxies)
        if not phrases:  # an unnamed event (time cluster only): nothing to ground, no contribution (S1.3.6)
            return np.zeros((height, width), np.float32)
        per_proxy = torch.from_numpy(soft_masks(self.logits(image_rgb, phrases), height, width))  # (|K|, H, W)
        return _keep(per_proxy.mean(dim=0)).numpy().astype(np.float32)


class PriorGrounder:
    """The offline default of S1.3.3–S1.3.4 when no CLIPSeg weights are local: a content-free spatial prior
    (see the module docstring). Same interface as ``ClipSegGrounder``; deterministic."""

    source = "prior"
    notice = PRIOR_NOTICE

    def describe(self) -> str:
        return PRIOR_NOTICE

    @staticmethod
    def _frame(image_rgb: np.ndarray) -> tuple[int, int]:
        if image_rgb.ndim != 3 or image_rgb.shape[2] != 3:
            raise ValueError(f"expected an (H, W, 3) RGB image, got shape {image_rgb.shape}")
        return int(image_rgb.shape[0]), int(image_rgb.shape[1])

    def location_mask(self, image_rgb: np.ndarray, phrase: str) -> np.ndarray:
        """½·(1 − v) + ½·r: upper and outer frame (background), < θ_mask zeroed. (H, W) float32."""
        location_prompts(phrase)  # validates the phrase, as the real grounder does
        height, width = self._frame(image_rgb)
        v = (np.arange(height, dtype=np.float64) + 0.5) / height  # (H,)
        u = (np.arange(width, dtype=np.float64) + 0.5) / width  # (W,)
        r = np.sqrt(((u[None, :] - 0.5) * 2) ** 2 + ((v[:, None] - 0.5) * 2) ** 2) / np.sqrt(2.0)  # (H, W)
        prior = 0.5 * (1.0 - v[:, None]) + 0.5 * r
        prior = np.clip(prior, 0.0, 1.0)
        return (prior * (prior >= THETA_MASK)).astype(np.float32)

    def event_mask(self, image_rgb: np.ndarray, event_type: str, proxies: tuple[str, ...] | None = None) -> np.ndarray:
        """A centred Gaussian blob (std 0.25 of the frame, peak 1), < θ_mask zeroed. (H, W) float32.
        ``proxies`` is accepted for the common interface; the prior does not read them."""
        height, width = self._frame(image_rgb)
        if not event_phrases(event_type):  # an unnamed event: no contribution (S1.3.6), as with CLIPSeg
            return np.zeros((height, width), np.float32)
        blob = gaussian_blob((0.0, 0.0, float(width), float(height)), height, width, std_frac=0.25)
        return (blob * (blob >= THETA_MASK)).astype(np.float32)


def load_grounder(explicit: str | None = None) -> ClipSegGrounder | PriorGrounder:
    """CLIPSeg when its weights are local (``locate_clipseg``), else the spatial prior (whose ``describe()`` is
    ``PRIOR_NOTICE``, for the stage to print)."""
    path = locate_clipseg(explicit)
    return ClipSegGrounder.from_pretrained(path) if path else PriorGrounder()
