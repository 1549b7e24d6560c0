"""Finding and loading the diffusion models from local folders, never from the network (S1.1.4–S1.1.5).

Each model is looked for, in order: the folder given on the command line, the folder named by its
environment variable, then the local Hugging Face hub cache (a snapshot of the public repository
with its ``model_index.json``). A missing model is a one-line error that names the repository to
download and where to put it. Loading uses diffusers' own code with ``local_files_only=True``.

* SD3 (stills, anchors): ``StableDiffusion3Pipeline`` — ``stabilityai/stable-diffusion-3-medium-diffusers``
  (S1.1.4 "SD3-Medium"; any SD3-family folder works, e.g. SD3.5-Large). Sampler: S1.1.8 names
  DPM-Solver++; diffusers offers it for rectified-flow models as ``DPMSolverMultistepScheduler``
  with ``use_flow_sigmas=True, prediction_type="flow_prediction"`` (the flow-matching sigmas of the
  checkpoint's own scheduler, with its ``shift``), so that is the default; ``--sampler euler`` keeps
  the checkpoint's ``FlowMatchEulerDiscreteScheduler``.
* Identity adapter: diffusers' SD3 IP-Adapter (``SD3IPAdapterMixin.load_ip_adapter``, the
  ``InstantX/SD3.5-Large-IP-Adapter`` format: ``ip-adapter.safetensors`` + a SigLIP image encoder,
  ``google/siglip-so400m-patch14-384``). InstantID itself exists for SDXL only.
* Pose (optional, λ_pose): an SD3 pose ControlNet (``SD3ControlNetModel``, ``InstantX/SD3-Controlnet-Pose``)
  through ``StableDiffusion3ControlNetPipeline.from_pipe`` (same components, IP-Adapter kept).
* HunyuanVideo (clips): ``HunyuanVideoPipeline`` — ``hunyuanvideo-community/HunyuanVideo``.
* NSFW filter (optional): ``StableDiffusionSafetyChecker`` — ``CompVis/stable-diffusion-safety-checker``.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

from memoire_cli.errors import MemoireError

SD3_ENV, SD3_REPOS = "MEMOIRE_SD3", ("stabilityai/stable-diffusion-3-medium-diffusers",)
IP_ADAPTER_ENV, IP_ADAPTER_REPOS = "MEMOIRE_SD3_IP_ADAPTER", ("InstantX/SD3.5-Large-IP-Adapter",)
IMAGE_ENCODER_ENV, IMAGE_ENCODER_REPOS = "MEMOIRE_SIGLIP", ("google/siglip-so400m-patch14-384",)
HUNYUAN_ENV, HUNYUAN_REPOS = "MEMOIRE_HUNYUAN", ("hunyuanvideo-community/HunyuanVideo",)
NSFW_ENV, NSFW_REPOS = "MEMOIRE_NSFW", ("CompVis/stable-diffusion-safety-checker",)
POSE_ENV, POSE_REPOS = "MEMOIRE_SD3_POSE", ("InstantX/SD3-Controlnet-Pose",)
IP_ADAPTER_FILE = "ip-adapter.safetensors"


class ModelMissingError(MemoireError):
    """A model a renderer needs is not on this machine (the message says what to download, and where)."""


class GpuMemoryError(MemoireError):
    """A render ran out of GPU memory (the message lists the memory-saving options)."""


def _hub_snapshot(repos: tuple[str, ...], marker: str) -> str | None:
    """The folder of the first repo whose ``marker`` file is in the local HF hub cache (no network)."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover - diffusers brings huggingface_hub
        return None
    from memoire_cli.local_models import hf_hub_cache

    for repo in repos:
        try:
            found = try_to_load_from_cache(repo, marker, cache_dir=str(hf_hub_cache()))
        except Exception:  # noqa: BLE001 - a broken cache entry means "not there"
            continue
        if isinstance(found, str) and os.path.isfile(found):
            return str(Path(found).parent)
    return None


def _missing(what: str, repos: tuple[str, ...], flag: str, env: str) -> ModelMissingError:
    repo = repos[0]
    return ModelMissingError(
        f"{what} not found on this machine: download {repo} elsewhere (`huggingface-cli download {repo} "
        f"--local-dir DIR`), copy DIR here and pass {flag} DIR or set ${env}=DIR (or put it in the local "
        f"Hugging Face cache); nothing is downloaded at run time"
    )


def locate(explicit: str | None, env: str, flag: str, repos: tuple[str, ...], marker: str, what: str,
           required: bool = True) -> str | None:
    """``explicit``, else ``$env``, else the local hub cache; a named folder without ``marker`` is an error."""
    for given, source in ((explicit, flag), (os.environ.get(env, "").strip() or None, f"${env}")):
        if given:
            folder = Path(given)
            if not folder.is_dir():
                raise ModelMissingError(f"{source}: no {what} folder at {given}")
            if not (folder / marker).is_file():
                raise ModelMissingError(f"{source}: {given} is not a {what} folder (no {marker} in it); expected a copy of {repos[0]}")
            return str(folder)
    found = _hub_snapshot(repos, marker)
    if found is None and required:
        raise _missing(what, repos, flag, env)
    return found


def locate_sd3(explicit: str | None) -> str:
    return locate(explicit, SD3_ENV, "--sd3", SD3_REPOS, "model_index.json", "SD3 pipeline")  # type: ignore[return-value]


def locate_ip_adapter(explicit: str | None) -> str | None:
    """The SD3 IP-Adapter folder, or None (then stills are text-only and the run says so)."""
    return locate(explicit, IP_ADAPTER_ENV, "--ip-adapter", IP_ADAPTER_REPOS, IP_ADAPTER_FILE, "SD3 IP-Adapter", required=False)


def locate_image_encoder(explicit: str | None, ip_adapter: str) -> str:
    """The adapter's SigLIP image encoder: flag, env, ``<ip_adapter>/image_encoder``, then the hub cache."""
    if explicit or os.environ.get(IMAGE_ENCODER_ENV, "").strip():
        return locate(explicit, IMAGE_ENCODER_ENV, "--image-encoder", IMAGE_ENCODER_REPOS, "config.json", "SigLIP image encoder")  # type: ignore[return-value]
    inside = Path(ip_adapter) / "image_encoder"
    if (inside / "config.json").is_file():
        return str(inside)
    return locate(None, IMAGE_ENCODER_ENV, "--image-encoder", IMAGE_ENCODER_REPOS, "config.json", "SigLIP image encoder")  # type: ignore[return-value]


def locate_hunyuan(explicit: str | None) -> str:
    return locate(explicit, HUNYUAN_ENV, "--hunyuan", HUNYUAN_REPOS, "model_index.json", "HunyuanVideo pipeline")  # type: ignore[return-value]


def locate_pose(explicit: str | None) -> str | None:
    """The SD3 pose ControlNet folder, or None (then no pose control: λ_pose has nothing to weigh)."""
    return locate(explicit, POSE_ENV, "--pose-controlnet", POSE_REPOS, "config.json", "SD3 pose ControlNet", required=False)


def locate_nsfw(explicit: str | None) -> str | None:
    return locate(explicit, NSFW_ENV, "--nsfw", NSFW_REPOS, "config.json", "NSFW safety checker", required=False)


def folder_key(folder: str | None) -> str | None:
    """A content key of a model folder: SHA-256 over its config files and weight file names and sizes."""
    if folder is None:
        return None
    h = hashlib.sha256()
    for path in sorted(Path(folder).rglob("*")):
        if path.is_file():
            rel = path.relative_to(folder).as_posix()
            h.update(f"{rel}:{path.stat().st_size}".encode())
            if path.suffix == ".json" and path.stat().st_size < 1 << 20:
                h.update(path.read_bytes())
    return h.hexdigest()[:16]


def quiet_libraries() -> None:
    """diffusers/transformers progress bars and info logs off: our stderr has one progress line per user."""
    from diffusers.utils import logging as dlog
    from transformers.utils import logging as tlog

    dlog.set_verbosity_error()
    tlog.set_verbosity_error()
    dlog.disable_progress_bar()
    tlog.disable_progress_bar()


def place(pipe: Any, device: str, offload: str) -> Any:
    """Move a pipeline to ``device``, or enable diffusers' CPU offload (``model`` or ``sequential``)."""
    pipe.set_progress_bar_config(disable=True)
    if offload == "none" or not device.startswith("cuda"):
        return pipe.to(device)
    gpu = int(device.split(":")[1]) if ":" in device else 0
    if offload == "model":
        pipe.enable_model_cpu_offload(gpu_id=gpu)
    else:
        pipe.enable_sequential_cpu_offload(gpu_id=gpu)
    return pipe


def dpm_solver_for(scheduler: Any) -> Any:
    """DPM-Solver++ (2nd order, multistep) on the flow-matching sigmas of an SD3 scheduler (S1.1.8 sampler)."""
    from diffusers import DPMSolverMultistepScheduler

    shift = float(scheduler.config.get("shift", 3.0))
    return DPMSolverMultistepScheduler(num_train_timesteps=int(scheduler.config.get("num_train_timesteps", 1000)),
                                       algorithm_type="dpmsolver++", solver_order=2, prediction_type="flow_prediction",
                                       use_flow_sigmas=True, flow_shift=shift)


def load_sd3(folder: str, ip_adapter: str | None, image_encoder: str | None, device: str, dtype: Any, offload: str,
             sampler: str, pose: str | None = None) -> Any:
    """The SD3 pipeline from a local folder, with the IP-Adapter and the pose ControlNet when given, on ``device``."""
    from diffusers import StableDiffusion3Pipeline

    quiet_libraries()
    with gpu_memory_guard("loading SD3"):
        try:
            pipe = StableDiffusion3Pipeline.from_pretrained(folder, dtype=dtype, local_files_only=True)
        except (OSError, ValueError) as exc:
            raise ModelMissingError(f"cannot load the SD3 pipeline from {folder}: {str(exc).splitlines()[0]}") from None
        if sampler == "dpmsolver++":
            pipe.scheduler = dpm_solver_for(pipe.scheduler)
        if ip_adapter is not None:
            try:
                # image_encoder_folder with a "/" is read as a folder path (diffusers' convention).
                pipe.load_ip_adapter(ip_adapter, weight_name=IP_ADAPTER_FILE,
                                     image_encoder_folder=str(Path(image_encoder or "").resolve()), local_files_only=True)
            except (RuntimeError, KeyError, ValueError, OSError) as exc:
                raise ModelMissingError(
                    f"the SD3 IP-Adapter in {ip_adapter} does not fit the SD3 transformer in {folder} "
                    f"({str(exc).splitlines()[0][:160]}): InstantX/SD3.5-Large-IP-Adapter needs an SD3.5-Large pipeline"
                ) from None
        if pose is not None:
            from diffusers import SD3ControlNetModel, StableDiffusion3ControlNetPipeline

            try:
                controlnet = SD3ControlNetModel.from_pretrained(pose, dtype=dtype, local_files_only=True)
            except (OSError, ValueError) as exc:
                raise ModelMissingError(f"cannot load the SD3 pose ControlNet from {pose}: {str(exc).splitlines()[0]}") from None
            pipe = StableDiffusion3ControlNetPipeline.from_pipe(pipe, controlnet=controlnet)
        return place(pipe, device, offload)


def hunyuan_prompt_template(tokenizer: Any) -> dict:
    """diffusers' HunyuanVideo prompt template with ``crop_start`` counted with this tokenizer.

    (diffusers' own fallback counts the template padded to ``model_max_length``; the fixed 95 is right
    for the original Llama tokenizer only.)
    """
    from diffusers.pipelines.hunyuan_video.pipeline_hunyuan_video import DEFAULT_PROMPT_TEMPLATE

    template = DEFAULT_PROMPT_TEMPLATE["template"]
    return {"template": template, "crop_start": len(tokenizer(template)["input_ids"]) - 2}


def load_hunyuan(folder: str, device: str, dtype: Any, offload: str) -> Any:
    """The HunyuanVideo pipeline from a local folder, VAE tiling on (VRAM-efficient decoding, S1.1.5)."""
    from diffusers import HunyuanVideoPipeline

    quiet_libraries()
    with gpu_memory_guard("loading HunyuanVideo"):
        try:
            pipe = HunyuanVideoPipeline.from_pretrained(folder, dtype=dtype, local_files_only=True)
        except (OSError, ValueError) as exc:
            raise ModelMissingError(f"cannot load the HunyuanVideo pipeline from {folder}: {str(exc).splitlines()[0]}") from None
        pipe.vae.enable_tiling()
        return place(pipe, device, offload)


def load_safety_checker(folder: str, device: str) -> tuple[Any, Any]:
    """``(StableDiffusionSafetyChecker, CLIPImageProcessor)`` from a local folder."""
    from diffusers.pipelines.stable_diffusion.safety_checker import StableDiffusionSafetyChecker
    from transformers import CLIPImageProcessor

    # transformers' stubs type .to() as the model's own wrapped method; it takes a device at run time
    checker = cast(Any, StableDiffusionSafetyChecker.from_pretrained(folder, local_files_only=True)).to(device).eval()
    return checker, CLIPImageProcessor.from_pretrained(folder, local_files_only=True)


@contextmanager
def gpu_memory_guard(what: str) -> Iterator[None]:
    """Turn a CUDA out-of-memory error into a one-line :class:`GpuMemoryError` with the memory-saving options."""
    import torch

    try:
        yield
    except torch.OutOfMemoryError:
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        raise GpuMemoryError(
            f"out of GPU memory while {what}: try --offload model (or --offload sequential, slower), "
            f"--dtype fp16, a smaller --render-size, or one process per GPU (--shard i/n with --device cuda:i)"
        ) from None
