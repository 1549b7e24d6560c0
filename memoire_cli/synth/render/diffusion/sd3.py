"""``sd3``: stills and enrolment anchors with Stable Diffusion 3 + an identity adapter (S1.1.4, S1.1.8).

:class:`SD3Renderer` renders a :class:`~memoire_cli.synth.render.base.ShotSpec` from its S1.1.4 prompt
and negative prompt at ``render_size``² (1024), 35 steps, CFG 4.0, DPM-Solver++ (:mod:`.models`),
seeded per image (``shot.seed``, a CPU ``torch.Generator``: the same seed gives the same noise on
every device). Identity: the per-person face crops of the depicted people's anchors, tiled
(:mod:`.identity`), go to the SD3 IP-Adapter at scale λ_id (0.8, raised per QC re-render); without an
adapter the stills are text-only (said on stderr). With a pose ControlNet, the OpenPose skeletons of
the shot's layout (:mod:`.pose`) condition it at λ_pose = 0.2. QC re-renders (``shot.qc_level`` > 0) also add
the S1.1.6 "reduced crowd" constraint to the prompts.

Anchors (S1.1.1): three portraits per person. Portrait k = 0 is rendered from text (the person's
STYLE sentence); k = 1, 2 take k = 0 as their identity reference, so the three show one face.

Output: the raw render resized to the shot's size (``Rendered.raw``, read by QC) and the same with
the planned camera effects (exposure error, blur; S1.1.6 heuristics) applied. A diffusion renderer
does not know where it drew people; the stage records verified face boxes instead (:mod:`.qc`).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from memoire_cli.synth.render.base import PersonSpec, Rendered, Renderer, ShotSpec, identity_weight
from memoire_cli.synth.render.diffusion.config import DiffusionConfig
from memoire_cli.synth.render.diffusion.identity import crop_margin, face_crop, identity_grid

CROWD_PROMPT = " Only the named people are in frame; uncluttered, empty background."
CROWD_NEGATIVE = ", crowd, extra people, bystanders"
ANCHOR_NEGATIVE = "artefacts, deformed face, extra faces, sunglasses, hat, hands on face, watermark, text"


def anchor_prompt(person: PersonSpec, k: int) -> str:
    """The S1.1.1 anchor portrait prompt: a high-quality portrait with the person's STYLE attributes baked in."""
    who = "the user" if person.relation == "self" else f"the {person.relation}"
    name = f" [{person.name}]" if person.name else ""
    view = ("frontal head-and-shoulders portrait", "three-quarter head-and-shoulders portrait, slight smile",
            "frontal portrait, soft window light")[k % 3]
    return (f"A high-quality {view} photo of {who}{name}, a {person.age}-year-old person with a {person.build} build, "
            f"neutral studio background, sharp focus on the face, 85mm DSLR, photorealistic, no watermark."
            + (f" STYLE: {person.style}" if person.style else ""))


def finish(raw: np.ndarray, exposure_ev: float, blur_sigma: float) -> np.ndarray:
    """The planned camera effects of the shot (the procedural renderer's LUT and blur, without the lighting tint)."""
    if exposure_ev == 0 and blur_sigma <= 0:
        return raw
    from PIL import Image

    from memoire_cli.synth.render.procedural.renderer import ProceduralRenderer

    return np.asarray(ProceduralRenderer._finish(Image.fromarray(raw), "", exposure_ev, blur_sigma))


def to_uint8(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """A pipeline's float (h, w, 3) image in [0, 1] → (height, width, 3) uint8 (Lanczos resize when needed)."""
    from PIL import Image

    out = np.clip(np.rint(np.nan_to_num(image, nan=0.0) * 255.0), 0, 255).astype(np.uint8)
    if out.shape[:2] != (height, width):
        out = np.asarray(Image.fromarray(out).resize((width, height), Image.Resampling.LANCZOS))
    return out


class SD3Renderer(Renderer):
    """SD3 (+ IP-Adapter) through diffusers, from local folders (see the module doc)."""

    name = "sd3"
    version = "1"
    generative = True

    def __init__(self, cfg: DiffusionConfig, folders: dict[str, str | None], device: str, console: Any = None) -> None:
        from memoire_cli.synth.render.diffusion.config import resolve_dtype
        from memoire_cli.synth.render.diffusion.models import load_sd3
        from memoire_cli.synth.render.diffusion.text import PromptFitter

        self.cfg, self.folders, self.device = cfg, folders, device
        self.dtype = resolve_dtype(cfg.dtype, device)
        self.pipe = load_sd3(folders["sd3"], folders.get("ip_adapter"), folders.get("image_encoder"), device, self.dtype,
                             cfg.offload, cfg.sampler, folders.get("pose"))
        self.has_adapter = folders.get("ip_adapter") is not None
        self.has_pose = folders.get("pose") is not None
        self.fit = PromptFitter(self.pipe.tokenizer_3, cfg.max_sequence_length, self.pipe.tokenizer, console, "T5")
        self._first_anchor: dict[int, np.ndarray] = {}  # tag → its portrait k = 0 (the stage renders k = 0 first, per user)

    def describe(self) -> str:
        adapter = (f"SD3 IP-Adapter {self.folders['ip_adapter']} (SigLIP {self.folders.get('image_encoder')}), λ_id {self.cfg.lambda_id}"
                   if self.has_adapter else "no identity adapter (text-only stills: pass --ip-adapter DIR for identity preservation)")
        pose = (f"pose ControlNet {self.folders['pose']} on the shot's layout, λ_pose {self.cfg.lambda_pose}" if self.has_pose
                else "no pose control (λ_pose unused: pass --pose-controlnet DIR)")
        return (f"renderer: sd3 — {type(self.pipe).__name__} from {self.folders['sd3']} on {self.device} ({str(self.dtype).replace('torch.', '')}), "
                f"{self.cfg.render_size}², {self.cfg.steps} steps, CFG {self.cfg.cfg}, {self.cfg.sampler}; {adapter}; {pose}")

    # ------------------------------------------------------------------------------------ core
    def generate(self, prompt: str, negative: str, seed: int, width: int, height: int,
                 reference: np.ndarray | None, scale: float, where: str, pose: np.ndarray | None = None) -> np.ndarray:
        """One SD3 image: (height, width, 3) float32 in [0, 1] at the pipeline's resolution."""
        import torch
        from PIL import Image

        from memoire_cli.synth.render.diffusion.models import gpu_memory_guard

        kwargs: dict[str, Any] = {}
        if self.has_adapter:
            use = reference is not None and scale > 0
            self.pipe.set_ip_adapter_scale(float(scale) if use else 0.0)
            if use:
                kwargs["ip_adapter_image"] = Image.fromarray(reference)
        if self.has_pose:  # no skeleton in frame: a black control image at scale 0
            kwargs["control_image"] = Image.fromarray(pose if pose is not None else np.zeros((height, width, 3), np.uint8))
            kwargs["controlnet_conditioning_scale"] = self.cfg.lambda_pose if pose is not None else 0.0
        text = self.fit(prompt, where)
        with gpu_memory_guard(f"rendering {where} with SD3"), torch.inference_mode(), warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # numpy 2 copy= notice inside diffusers' DPM-Solver
            out = self.pipe(prompt=text, prompt_3=text, negative_prompt=negative, height=height, width=width,
                            num_inference_steps=self.cfg.steps, guidance_scale=self.cfg.cfg,
                            generator=torch.Generator("cpu").manual_seed(int(seed)), output_type="np",
                            max_sequence_length=self.cfg.max_sequence_length, **kwargs)
        return np.asarray(out.images[0], dtype=np.float32)

    def _size(self, width: int, height: int) -> tuple[int, int]:
        """Render size for a shot of width × height: the longer side at render_size, multiples of 16."""
        s = self.cfg.render_size / max(width, height)
        return max(16, int(round(width * s / 16)) * 16), max(16, int(round(height * s / 16)) * 16)

    def render(self, shot: ShotSpec) -> Rendered:
        margin = crop_margin(shot.qc_level)
        faces = shot.shot_plan != "detail close-up"  # close-ups show hands, not faces: no identity reference
        crops = [face_crop(img, box, margin) for _, img, box in shot.references] if faces else []
        reference = identity_grid(crops)
        prompt, negative = shot.prompt, shot.negative_prompt
        if shot.qc_level > 0:
            prompt, negative = prompt + CROWD_PROMPT, negative + CROWD_NEGATIVE
        w, h = self._size(shot.width, shot.height)
        pose = None
        if self.has_pose:
            from memoire_cli.synth.render.diffusion.pose import pose_image

            pose = pose_image(shot, w, h)
        image = self.generate(prompt, negative, shot.seed, w, h, reference, identity_weight(self.cfg.lambda_id, shot.qc_level),
                              f"seed {shot.seed}", pose)
        raw = to_uint8(image, shot.width, shot.height)
        return Rendered(finish(raw, shot.exposure_ev, shot.blur_sigma), [], raw)

    def render_anchor(self, person: PersonSpec, k: int, seed: int, size: int) -> np.ndarray:
        first = self._first_anchor.get(person.tag_id)
        reference = None if k == 0 or first is None else face_crop(first, None, 0.0)
        s = self.cfg.render_size
        image = self.generate(anchor_prompt(person, k), ANCHOR_NEGATIVE, seed * 31 + k, s, s, reference,
                              self.cfg.lambda_id, f"anchor {k} of tag {person.tag_id}")
        out = to_uint8(image, size, size)
        if k == 0:
            self._first_anchor[person.tag_id] = out
        return out
