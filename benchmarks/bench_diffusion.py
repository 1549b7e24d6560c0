"""Per-image (SD3 + identity adapter) and per-clip (HunyuanVideo) time and memory, beside S1.1.9's numbers.

    .venv/bin/python benchmarks/bench_diffusion.py --sd3 DIR [--ip-adapter DIR] [--hunyuan DIR] \
        [--device cuda] [--warmup 20] [--runs 50] [--clip-runs 3] [--offload none|model|sequential]
    .venv/bin/python benchmarks/bench_diffusion.py --tiny     # smoke run on tiny models built from configs (CPU)

S1.1.9 (batch 1, after 20 warm-ups, median of 50 runs): SD3+InstantID 35 steps 1024² — A100 3.8 s,
9–11 GB; RTX 4090 5.6 s, 13–14 GB. Hunyuan 5 s clip, 36 steps 640×360@8 fps — A100 4.5–6.5 min,
28–34 GB; RTX 4090 7–10 min, 20–22 GB. ArcFace verify per face crop — 1.2 ms / 1.5 ms.

Measured in the same run: memoire's renderer (``SD3Renderer.render``: prompt fitting, identity grid,
the pipeline, resize and camera effects) and, as the peer, the bare diffusers pipeline call with the
same prompt, size, steps and guidance; the ratio is memoire / bare. Memory is the peak
``torch.cuda.max_memory_allocated`` on CUDA, the peak RSS on CPU. ArcFace: the packaged
MobileFaceNet per aligned face crop (S1.1.9 names ArcFace r100).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

SPEC = {
    "sd3": "A100 3.8 s, 9–11 GB | RTX 4090 5.6 s, 13–14 GB",
    "clip": "A100 4.5–6.5 min, 28–34 GB | RTX 4090 7–10 min, 20–22 GB",
    "arcface": "A100 1.2 ms, < 0.5 GB | RTX 4090 1.5 ms, < 0.5 GB",
}


def peak_memory_gb(device: str) -> float:
    import torch

    if device.startswith("cuda"):
        return torch.cuda.max_memory_allocated() / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def reset_peak(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()


def timed(fn, runs: int, device: str) -> list[float]:  # noqa: ANN001
    import torch

    out = []
    for _ in range(runs):
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        t = time.perf_counter()
        fn()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        out.append(time.perf_counter() - t)
    return out


def shot(width: int, height: int, people: int, clip: bool = False):  # noqa: ANN201
    from memoire_cli.synth.render.base import PersonSpec, ShotSpec

    ps = tuple(PersonSpec(tag_id=i, face_key=i, relation=r, age=30 + 10 * i, height_cm=170.0, build="medium", clothing_rgb=(0, 0, 0),
                          name=n) for i, (r, n) in enumerate((("daughter", "Alice"), ("father", "Raj"), ("mother", "Nita"))[:people]))
    return ShotSpec(seed=7, width=width, height=height, event_type="Birthday", event_tag=9, location_kind="home", location_tag=8,
                    location_name="home living room", people=ps, shot_plan="medium group", lighting="tungsten indoor",
                    prompt=("A candid birthday at home living room: Daughter [Alice] holds a cake, Father [Raj] claps, Mother [Nita] "
                            "takes a phone photo; 35mm DSLR, mid-shot, shallow DOF, soft warm light; balloons, candles; "
                            "photorealistic, no watermark."),
                    negative_prompt="artefacts, extra fingers, deformed face", clip_id="u0000/c000" if clip else None,
                    frame_index=0 if clip else None)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sd3"), ap.add_argument("--ip-adapter"), ap.add_argument("--image-encoder"), ap.add_argument("--hunyuan")
    ap.add_argument("--device", default="auto"), ap.add_argument("--dtype", default="auto"), ap.add_argument("--offload", default="none")
    ap.add_argument("--warmup", type=int, default=20), ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--clip-runs", type=int, default=3), ap.add_argument("--clip-warmup", type=int, default=1)
    ap.add_argument("--tiny", action="store_true", help="build tiny models from configs and run a few steps on CPU")
    a = ap.parse_args()

    import torch

    from memoire_cli.synth.render.diffusion import models, tiny
    from memoire_cli.synth.render.diffusion.config import DiffusionConfig, resolve_device

    torch.set_num_threads(1) if a.tiny else None
    kw: dict = {}
    if a.tiny:
        root = Path(tempfile.mkdtemp(prefix="bench-diffusion-"))
        a.sd3, a.ip_adapter = str(tiny.build_tiny_sd3(root / "sd3")), str(tiny.build_tiny_sd3_ip_adapter(root / "ip", root / "sd3"))
        a.hunyuan = str(tiny.build_tiny_hunyuan(root / "hy"))
        a.device, a.warmup, a.runs, a.clip_runs, a.clip_warmup = "cpu", 2, 5, 2, 1
        kw = dict(render_size=64, steps=2, video_width=64, video_height=32, video_steps=2)
    device = resolve_device(a.device)
    cfg = DiffusionConfig(device=device, dtype=a.dtype, offload=a.offload, **kw)
    board = torch.cuda.get_device_name(0) if device.startswith("cuda") else "CPU"
    print(f"device: {board}; dtype {cfg.dtype}; offload {cfg.offload}")

    if a.sd3:
        from memoire_cli.synth.render.diffusion.sd3 import SD3Renderer

        sd3 = models.locate_sd3(a.sd3)
        ip = models.locate_ip_adapter(a.ip_adapter)
        enc = models.locate_image_encoder(a.image_encoder, ip) if ip else None
        r = SD3Renderer(cfg, {"sd3": sd3, "ip_adapter": ip, "image_encoder": enc}, device)
        refs = tuple((i, np.random.default_rng(i).integers(0, 255, (256, 256, 3), dtype=np.uint8), (64.0, 64.0, 192.0, 192.0)) for i in range(3))
        s = shot(cfg.render_size, cfg.render_size, 3)
        s = type(s)(**{**s.__dict__, "references": refs if ip else ()})
        bare = lambda: r.pipe(prompt=s.prompt, negative_prompt=s.negative_prompt, height=cfg.render_size, width=cfg.render_size,  # noqa: E731
                              num_inference_steps=cfg.steps, guidance_scale=cfg.cfg, output_type="np",
                              generator=torch.Generator("cpu").manual_seed(7))
        timed(lambda: r.render(s), a.warmup, device)
        reset_peak(device)
        mine = timed(lambda: r.render(s), a.runs, device)
        mem = peak_memory_gb(device)
        if ip:
            r.pipe.set_ip_adapter_scale(0.0)
        peer = timed(bare, a.runs, device)
        m, p = statistics.median(mine), statistics.median(peer)
        print(f"SD3{' + IP-Adapter' if ip else ''} ({cfg.steps} steps, {cfg.render_size}², {cfg.sampler}): median {m:.3f} s/image, "
              f"peak {mem:.1f} GB; bare pipeline {p:.3f} s (ratio {m / p:.2f}) | S1.1.9: {SPEC['sd3']}")
        del r
        if device.startswith("cuda"):
            torch.cuda.empty_cache()

    if a.hunyuan:
        from memoire_cli.synth.render.diffusion.hunyuan import HunyuanVideoRenderer, clip_frames

        r = HunyuanVideoRenderer(cfg, models.locate_hunyuan(a.hunyuan), device)
        s = shot(cfg.video_width, cfg.video_height, 2, clip=True)
        gen = lambda: r.generate(s.prompt, 7, clip_frames(), "bench clip")  # noqa: E731
        timed(gen, a.clip_warmup, device)
        reset_peak(device)
        t = timed(gen, a.clip_runs, device)
        print(f"HunyuanVideo clip ({cfg.video_steps} steps, {cfg.video_width}×{cfg.video_height}, {clip_frames()} frames): "
              f"median {statistics.median(t) / 60:.2f} min/clip, peak {peak_memory_gb(device):.1f} GB | S1.1.9: {SPEC['clip']}")

    from memoire_cli.faces import insightface_models as fm
    from memoire_cli.faces.bank import FaceBank
    from memoire_cli.synth.render.diffusion.qc import QualityControl

    qc = QualityControl()
    size = 1024  # QC runs on CPU at the spec's still size whatever the models
    bank_dir = Path(tempfile.mkdtemp(prefix="bench-bank-"))
    from PIL import Image

    still = np.random.default_rng(0).integers(90, 170, (size, size, 3), dtype=np.uint8)
    for k in range(3):  # three real faces (the packaged photos), 300 px each, side by side
        face = np.asarray(Image.fromarray(np.asarray(FaceBank.load(bank_dir).crop(k))).resize((300, 300)))
        still[362:662, 20 + k * 330: 320 + k * 330] = face
    enrolled = {i: qc.enrol([f]) for i, f in enumerate(qc.faces(still))}
    assert len(enrolled) == 3, "the benchmark still must show three detectable faces"
    s = shot(size, size, 3)
    t = timed(lambda: qc.check(s, still, enrolled), 10, "cpu")
    print(f"QC per still ({size}², 3 people: SCRFD + ArcFace + Hungarian + exposure/blur, CPU 1 thread): "
          f"{statistics.median(t) * 1e3:.0f} ms")

    bank = FaceBank.load(bank_dir)
    rec = fm.load_recognizer()
    crops = [np.asarray(bank.crop(k)) for k in range(len(bank))]
    kps = [bank.kps(k) for k in range(len(bank))]
    fm.embed_faces(crops[0], kps[0][None], rec)
    t = timed(lambda: [fm.embed_faces(c, k[None], rec) for c, k in zip(crops, kps)], 5, "cpu")
    print(f"ArcFace verify (packaged MobileFaceNet, CPU 1 thread): {statistics.median(t) / len(crops) * 1e3:.1f} ms per face crop "
          f"| S1.1.9 (r100, GPU): {SPEC['arcface']}")


if __name__ == "__main__":
    main()
