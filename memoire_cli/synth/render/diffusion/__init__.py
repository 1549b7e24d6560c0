"""Diffusion renderers of `memoire synth`: SD3 stills with an identity adapter, HunyuanVideo clips (S1.1.4–S1.1.9).

Modules:

* :mod:`.config` — the S1.1.8 settings (:class:`DiffusionConfig`), devices and dtypes;
* :mod:`.models` — finding model folders locally (flag, environment, HF cache; never the network),
  loading the diffusers pipelines, the DPM-Solver++ sampler, GPU out-of-memory errors;
* :mod:`.text` — fitting prompts to the text encoders' token limits (with a warning);
* :mod:`.identity` — per-person face crops and the tiled identity grid for the IP-Adapter;
* :mod:`.pose` — OpenPose skeletons of the shot's layout for an SD3 pose ControlNet (λ_pose);
* :mod:`.sd3` — :class:`~.sd3.SD3Renderer` (stills, anchors);
* :mod:`.hunyuan` — :class:`~.hunyuan.HunyuanVideoRenderer` (clips sampled at 1 fps);
* :mod:`.qc` — S1.1.6 quality control (ArcFace identity, crowd, exposure, blur, NSFW);
* :mod:`.cache` — finished renders kept on disk per user, so an interrupted run resumes;
* :mod:`.tiny` — tiny models of the same architectures built from configs (tests, smoke benchmarks).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from memoire_cli.synth.render.diffusion.config import DiffusionConfig


@dataclass(frozen=True)
class ModelFolders:
    """The resolved local folders of the models a run needs (None: not needed / not available)."""

    sd3: str | None = None
    ip_adapter: str | None = None
    image_encoder: str | None = None
    hunyuan: str | None = None
    nsfw: str | None = None
    pose: str | None = None

    def keys(self) -> dict[str, str | None]:
        from memoire_cli.synth.render.diffusion.models import folder_key

        return {name: folder_key(getattr(self, name)) for name in ("sd3", "ip_adapter", "image_encoder", "hunyuan", "nsfw", "pose")}


def locate_folders(cfg: DiffusionConfig, stills: str, video: str) -> ModelFolders:
    """Resolve every folder the chosen backends need; a missing one is a one-line error (before any work)."""
    from memoire_cli.synth.render.diffusion import models

    sd3 = ip = enc = hy = pose = None
    if stills == "sd3":
        sd3 = models.locate_sd3(cfg.sd3)
        ip = models.locate_ip_adapter(cfg.ip_adapter)
        enc = models.locate_image_encoder(cfg.image_encoder, ip) if ip else None
        pose = models.locate_pose(cfg.pose_controlnet)
    if video == "hunyuan":
        try:
            hy = models.locate_hunyuan(cfg.hunyuan)
        except models.ModelMissingError as exc:
            raise models.ModelMissingError(f"{exc} (or render clips with --video-renderer procedural, or keep no frames "
                                           f"with --frames-per-clip 0)") from None
    return ModelFolders(sd3, ip, enc, hy, models.locate_nsfw(cfg.nsfw), pose)


def sd3_renderer(cfg: DiffusionConfig, folders: ModelFolders, device: str, console: Any = None) -> Any:
    """``sd3`` (registered in :data:`memoire_cli.synth.render.RENDERERS`): SD3 + IP-Adapter stills on ``device``."""
    from memoire_cli.synth.render.diffusion.sd3 import SD3Renderer

    return SD3Renderer(cfg, {"sd3": folders.sd3, "ip_adapter": folders.ip_adapter, "image_encoder": folders.image_encoder,
                             "pose": folders.pose}, device, console)


def hunyuan_renderer(cfg: DiffusionConfig, folders: ModelFolders, device: str, console: Any = None) -> Any:
    """``hunyuan`` (registered in :data:`memoire_cli.synth.render.RENDERERS`): HunyuanVideo clips on ``device``."""
    from memoire_cli.synth.render.diffusion.hunyuan import HunyuanVideoRenderer

    return HunyuanVideoRenderer(cfg, folders.hunyuan, device, console)  # type: ignore[arg-type]


def make_diffusion_renderer(name: str, cfg: DiffusionConfig, folders: ModelFolders, device: str, console: Any = None) -> Any:
    """Build ``sd3``, ``hunyuan`` or a plugin renderer on ``device`` from the resolved folders."""
    from memoire_cli.synth.render import RENDERERS

    if name == "procedural":
        raise ValueError(f"not a diffusion renderer: {name}")
    return RENDERERS.create(name, cfg=cfg, folders=folders, device=device, console=console)
