"""Configuration of the diffusion renderers: the spec's S1.1.8 settings, devices, memory options.

Defaults are S1.1.4/S1.1.5/S1.1.8: SD3-Medium at 1024×1024, 35 steps, CFG 4.0, DPM-Solver++,
λ_id = 0.8, λ_pose = 0.2; HunyuanVideo at 640×360, 8 fps, 5 s, 36 steps, CFG 3.5, s_id = 0.75,
s_motion = 0.25. Model folders are resolved by :mod:`.models` (flag, environment, local HF cache).
"""

from __future__ import annotations

from dataclasses import dataclass

from memoire_cli.errors import ParameterError

#: S1.1.8 "SD3 (images)".
SD3_SIZE = 1024
SD3_STEPS = 35
SD3_CFG = 4.0
SD3_SAMPLER = "dpmsolver++"
LAMBDA_ID = 0.8
LAMBDA_POSE = 0.2
IDENTITY_LORA_RANK = 64  # S1.1.8 instantid.lora_rank; no LoRA exists for the SD3 IP-Adapter (schemas/README.md)
#: S1.1.8 "Hunyuan (video)".
VIDEO_WIDTH, VIDEO_HEIGHT = 640, 360
VIDEO_FPS = 8
VIDEO_SECONDS = 5.0
VIDEO_STEPS = 36
VIDEO_CFG = 3.5
S_ID = 0.75
S_MOTION = 0.25
#: Text lengths: CLIP takes 77 tokens (fixed by its position embeddings), T5 in SD3 up to 512 (256 default).
T5_MAX_TOKENS = 256

SAMPLERS = ("dpmsolver++", "euler")  # euler = the checkpoint's own FlowMatchEulerDiscreteScheduler
DTYPES = ("auto", "fp16", "bf16", "fp32")
OFFLOADS = ("none", "model", "sequential")


@dataclass(frozen=True)
class DiffusionConfig:
    """Everything the diffusion renderers need; ``key()`` (what changes the pixels) enters the stage fingerprint."""

    device: str = "auto"  # auto | cpu | cuda | cuda:1 …
    dtype: str = "auto"  # auto = fp16 on CUDA (S1.1.8 vae=fp16), fp32 on CPU
    offload: str = "none"  # none | model | sequential (diffusers CPU offload, for small GPUs)
    sd3: str | None = None  # SD3 pipeline folder (model_index.json)
    ip_adapter: str | None = None  # SD3 IP-Adapter folder (ip-adapter.safetensors), optional
    image_encoder: str | None = None  # its SigLIP image encoder (default: <ip_adapter>/image_encoder)
    hunyuan: str | None = None  # HunyuanVideo pipeline folder, for --video-renderer hunyuan
    nsfw: str | None = None  # a StableDiffusionSafetyChecker folder, optional
    pose_controlnet: str | None = None  # an SD3 pose ControlNet folder, optional (λ_pose)
    render_size: int = SD3_SIZE  # SD3 renders render_size² and the result is resized into the image buffer
    steps: int = SD3_STEPS
    cfg: float = SD3_CFG
    sampler: str = SD3_SAMPLER
    lambda_id: float = LAMBDA_ID
    lambda_pose: float = LAMBDA_POSE
    video_width: int = VIDEO_WIDTH
    video_height: int = VIDEO_HEIGHT
    video_steps: int = VIDEO_STEPS
    video_cfg: float = VIDEO_CFG
    max_sequence_length: int = T5_MAX_TOKENS

    def __post_init__(self) -> None:
        from memoire_cli.synth.config import check_range

        check_range("--render-size", self.render_size, 16, 4096)
        check_range("--steps", self.steps, 1, 1000)
        check_range("--video-steps", self.video_steps, 1, 1000)
        check_range("--cfg", self.cfg, 0.0, 100.0)
        check_range("--video-cfg", self.video_cfg, 0.0, 100.0)
        check_range("--lambda-id", self.lambda_id, 0.0, 1.0)
        check_range("--lambda-pose", self.lambda_pose, 0.0, 2.0)
        check_range("--max-text-tokens", self.max_sequence_length, 16, 512)
        for flag, value, allowed in (("--dtype", self.dtype, DTYPES), ("--offload", self.offload, OFFLOADS),
                                     ("--sampler", self.sampler, SAMPLERS)):
            if value not in allowed:
                raise ParameterError(f"{flag} must be one of {', '.join(allowed)}, got {value!r}")

    def key(self, model_keys: dict[str, str | None]) -> dict:
        """The settings that change pixels (not the device or memory options), with the models' content keys."""
        return {
            "models": model_keys, "dtype": self.dtype, "render_size": self.render_size, "steps": self.steps, "cfg": self.cfg,
            "sampler": self.sampler, "lambda_id": self.lambda_id, "lambda_pose": self.lambda_pose,
            "video_size": [self.video_width, self.video_height],
            "video_steps": self.video_steps, "video_cfg": self.video_cfg, "max_sequence_length": self.max_sequence_length,
        }


def resolve_device(name: str) -> str:
    """``auto`` → ``cuda`` when a GPU is visible, else ``cpu``; anything else is checked by torch."""
    import torch

    from memoire_cli.errors import UsageError

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise UsageError(f"--device {name!r} is not a torch device (cpu, cuda, cuda:1 …)") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise UsageError(f"--device {name}: no CUDA GPU is visible here (use --device cpu)")
    return str(dev)


def resolve_dtype(name: str, device: str):  # noqa: ANN201 - torch.dtype
    import torch

    if name == "auto":
        return torch.float16 if device.startswith("cuda") else torch.float32
    return {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}[name]
