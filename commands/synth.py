"""`memoire synth`: synthetic galleries with hidden ground truth (S1.1)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from memoire_cli.cli import ForceOpt, JobsOpt, ShardOpt, WorkspaceOpt, run
from memoire_cli.errors import UsageError
from memoire_cli.synth.config import SynthConfig, split_text  # light: dataclasses only, the defaults' one source
from memoire_cli.synth.render import RENDERERS, VIDEO_RENDERERS
from memoire_cli.synth.render.diffusion.config import DiffusionConfig  # light too

HELP = """Synthesise virtual users' galleries: people, events, calendar, usage, images, hidden truth (S1.1).

Creates the workspace if needed. Defaults are the spec's (100 users, 8–14 events each with
20–40 stills and one clip); --images-per-user shrinks galleries keeping the same structure.
Renderers: procedural (CPU, no downloads; the default), sd3 (SD3 + IP-Adapter stills and anchors,
S1.1.4) with hunyuan clips (HunyuanVideo, S1.1.5) — model folders from the flags, their environment
variables or the local Hugging Face cache; nothing is downloaded.
"""

DIFFUSION = "Diffusion renderers"
_D = SynthConfig()
_DIFF = DiffusionConfig()
#: Old option spellings that still work (one stderr line): `--users` is a list of user ids elsewhere.
RENAMED = {"--users": "--user-count"}


def _video_size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise UsageError(f"--video-size must look like WxH (e.g. 640x360), got {text!r}") from None
    if w < 16 or h < 16 or w > 4096 or h > 4096:
        raise UsageError(f"--video-size {text}: width and height must be between 16 and 4096")
    return w, h


def _folder(value: Path | None) -> str | None:
    return None if value is None else str(value)


def command(
    workspace: WorkspaceOpt = None,
    users: Annotated[int, typer.Option("--user-count", help="Number of virtual users (split by --split), at most 100000.")] = _D.users,
    split: Annotated[str, typer.Option("--split", help="Shares of users in train/val/test (S1.1.1: 80/10/10).")] = split_text(_D.split),
    seed: Annotated[int, typer.Option("--seed", help="Run seed (≥ 0): every user, event and image derives from it.")] = _D.seed,
    images_per_user: Annotated[int | None, typer.Option("--images-per-user", help="Stills per user, at most 5000 (default: n_e ~ U{20,40} per event).", show_default=False)] = _D.images_per_user,
    renderer: Annotated[str, typer.Option("--renderer", help=f"Stills and anchors: {RENDERERS.choices(auto=False)} or a plugin of memoire.renderers. procedural: CPU, no downloads; sd3: S1.1.4; hunyuan: sd3 stills + hunyuan clips.")] = "procedural",
    video_renderer: Annotated[str, typer.Option("--video-renderer", help=f"Clip frames: {', '.join(VIDEO_RENDERERS)} (S1.1.5). auto: procedural with procedural, hunyuan with sd3.")] = "auto",
    image_size: Annotated[int, typer.Option("--image-size", help="Side of the square image buffer, pixels.")] = _D.image_size,
    frames_per_clip: Annotated[int, typer.Option("--frames-per-clip", help="Video frames kept per clip (sampled at 1 fps, at most 5).")] = _D.max_frames_per_clip,
    anchors: Annotated[int, typer.Option("--anchors", help="Enrolment anchor portraits per person (1–3).")] = _D.anchors_per_person,
    composition_link: Annotated[float, typer.Option("--composition-link", help="ℓ_c: events, venues and people are photographed ∝ (hidden affinity)^ℓ_c; 0 = gallery independent of the preferences.")] = _D.composition_link,
    views_link: Annotated[float, typer.Option("--views-link", help="ℓ_v: views ∝ exp(ℓ_v·z(hidden utility)); 0 = S1.1.3 (views by tag only).")] = _D.views_link,
    favourite_link: Annotated[float, typer.Option("--favourite-link", help="ℓ_q: favourite probability ∝ exp(ℓ_q·z(hidden utility)); 0 = S1.1.3.")] = _D.favourite_link,
    device: Annotated[str, typer.Option("--device", help="Diffusion device: auto, cpu, cuda, cuda:1 … (one process per GPU with --shard).", rich_help_panel=DIFFUSION)] = _DIFF.device,
    dtype: Annotated[str, typer.Option("--dtype", help="auto (fp16 on CUDA, S1.1.8 vae=fp16; fp32 on CPU), fp16, bf16, fp32.", rich_help_panel=DIFFUSION)] = _DIFF.dtype,
    offload: Annotated[str, typer.Option("--offload", help="GPU memory saving: none, model (CPU offload per model), sequential (per layer, slowest).", rich_help_panel=DIFFUSION)] = _DIFF.offload,
    sd3: Annotated[Path | None, typer.Option("--sd3", help="SD3 pipeline folder (stabilityai/stable-diffusion-3-medium-diffusers); or $MEMOIRE_SD3.", rich_help_panel=DIFFUSION, show_default=False)] = None,
    ip_adapter: Annotated[Path | None, typer.Option("--ip-adapter", help="SD3 IP-Adapter folder (InstantX/SD3.5-Large-IP-Adapter format); or $MEMOIRE_SD3_IP_ADAPTER. Without it stills are text-only.", rich_help_panel=DIFFUSION, show_default=False)] = None,
    image_encoder: Annotated[Path | None, typer.Option("--image-encoder", help="The adapter's SigLIP encoder (default: <ip-adapter>/image_encoder); or $MEMOIRE_SIGLIP.", rich_help_panel=DIFFUSION, show_default=False)] = None,
    hunyuan: Annotated[Path | None, typer.Option("--hunyuan", help="HunyuanVideo pipeline folder (hunyuanvideo-community/HunyuanVideo); or $MEMOIRE_HUNYUAN.", rich_help_panel=DIFFUSION, show_default=False)] = None,
    nsfw: Annotated[Path | None, typer.Option("--nsfw", help="Safety checker folder (CompVis/stable-diffusion-safety-checker); or $MEMOIRE_NSFW. Optional.", rich_help_panel=DIFFUSION, show_default=False)] = None,
    pose_controlnet: Annotated[Path | None, typer.Option("--pose-controlnet", help="SD3 pose ControlNet folder (InstantX/SD3-Controlnet-Pose); or $MEMOIRE_SD3_POSE. Optional: OpenPose skeletons of the shot layout at λ_pose.", rich_help_panel=DIFFUSION, show_default=False)] = None,
    faces: Annotated[Path | None, typer.Option("--faces", help="insightface model pack for QC identity checks (default: the packaged ArcFace).", rich_help_panel=DIFFUSION, show_default=False)] = None,
    render_size: Annotated[int, typer.Option("--render-size", help="SD3 render resolution (longer side), resized into the image buffer.", rich_help_panel=DIFFUSION)] = _DIFF.render_size,
    steps: Annotated[int, typer.Option("--steps", help="SD3 inference steps.", rich_help_panel=DIFFUSION)] = _DIFF.steps,
    cfg_scale: Annotated[float, typer.Option("--cfg", help="SD3 classifier-free guidance.", rich_help_panel=DIFFUSION)] = _DIFF.cfg,
    sampler: Annotated[str, typer.Option("--sampler", help="SD3 sampler: dpmsolver++ (S1.1.8, on flow sigmas) or euler (the checkpoint's flow-matching Euler).", rich_help_panel=DIFFUSION)] = _DIFF.sampler,
    lambda_id: Annotated[float, typer.Option("--lambda-id", help="Identity adapter scale λ_id (QC re-renders add 0.1 per attempt, at most 1).", rich_help_panel=DIFFUSION)] = _DIFF.lambda_id,
    lambda_pose: Annotated[float, typer.Option("--lambda-pose", help="Pose ControlNet scale λ_pose (with --pose-controlnet).", rich_help_panel=DIFFUSION)] = _DIFF.lambda_pose,
    max_text_tokens: Annotated[int, typer.Option("--max-text-tokens", help="Tokens the long text encoder reads (SD3's T5, HunyuanVideo's Llama; at most 512); longer prompts are truncated with a warning.", rich_help_panel=DIFFUSION)] = _DIFF.max_sequence_length,
    video_size: Annotated[str, typer.Option("--video-size", help="HunyuanVideo resolution WxH.", rich_help_panel=DIFFUSION)] = f"{_DIFF.video_width}x{_DIFF.video_height}",
    video_steps: Annotated[int, typer.Option("--video-steps", help="HunyuanVideo inference steps (S1.1.5: 30–40).", rich_help_panel=DIFFUSION)] = _DIFF.video_steps,
    video_cfg: Annotated[float, typer.Option("--video-cfg", help="HunyuanVideo guidance (its embedded, distilled guidance).", rich_help_panel=DIFFUSION)] = _DIFF.video_cfg,
    shard: ShardOpt = None,
    jobs: JobsOpt = "1",
    force: ForceOpt = False,
) -> None:
    from memoire_cli.synth.config import parse_split
    from memoire_cli.synth.render import check_renderer, resolve_renderers
    from memoire_cli.synth.stage import SynthStage

    vw, vh = _video_size(video_size)
    try:
        shares = parse_split(split)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    cfg = SynthConfig(users=users, split=shares, seed=seed, images_per_user=images_per_user, image_size=image_size, anchor_size=min(_D.anchor_size, image_size),
                      anchors_per_person=anchors, max_frames_per_clip=frames_per_clip,
                      composition_link=composition_link, views_link=views_link, favourite_link=favourite_link)
    diffusion = DiffusionConfig(device=device, dtype=dtype, offload=offload, sd3=_folder(sd3), ip_adapter=_folder(ip_adapter),
                                image_encoder=_folder(image_encoder), hunyuan=_folder(hunyuan), nsfw=_folder(nsfw),
                                pose_controlnet=_folder(pose_controlnet), lambda_pose=lambda_pose,
                                render_size=render_size, steps=steps, cfg=cfg_scale, sampler=sampler, lambda_id=lambda_id,
                                video_width=vw, video_height=vh, video_steps=video_steps, video_cfg=video_cfg,
                                max_sequence_length=max_text_tokens)
    check_renderer(renderer)
    resolve_renderers(renderer, video_renderer)
    run(lambda: SynthStage(cfg, renderer, video_renderer=video_renderer, diffusion=diffusion, faces=_folder(faces)),
        workspace, shard=shard, force=force, create=True, jobs=jobs)
