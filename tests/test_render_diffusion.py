"""Diffusion renderers of `memoire synth` (S1.1.4–S1.1.6, S1.1.8) on tiny SD3 / IP-Adapter / HunyuanVideo
folders built from configs, saved to a temp folder and loaded through the real local-loading code."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import manifest, rows

ARGS = ["--user-count", "1", "--images-per-user", "3", "--frames-per-clip", "2", "--image-size", "128", "--anchors", "2",
        "--render-size", "64", "--steps", "2", "--video-size", "64x32", "--video-steps", "2", "--device", "cpu"]


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from memoire_cli.synth.render.diffusion import tiny

    root = tmp_path_factory.mktemp("tiny-diffusion")
    tiny.build_tiny_sd3(root / "sd3")
    tiny.build_tiny_sd3_ip_adapter(root / "ip", root / "sd3")
    tiny.build_tiny_hunyuan(root / "hy")
    tiny.build_tiny_sd3_pose_controlnet(root / "pose", root / "sd3")
    return {"sd3": root / "sd3", "ip": root / "ip", "hy": root / "hy", "pose": root / "pose"}


def _cfg(**kw):  # noqa: ANN202
    from memoire_cli.synth.render.diffusion.config import DiffusionConfig

    return DiffusionConfig(device="cpu", render_size=64, steps=2, video_width=64, video_height=32, video_steps=2, **kw)


@pytest.fixture(scope="module")
def sd3(models: dict[str, Path]):  # noqa: ANN201
    from memoire_cli.synth.render.diffusion.sd3 import SD3Renderer

    folders = {"sd3": str(models["sd3"]), "ip_adapter": str(models["ip"]), "image_encoder": str(models["ip"] / "image_encoder")}
    return SD3Renderer(_cfg(), folders, "cpu")


def _shot(**kw):  # noqa: ANN202
    from memoire_cli.synth.render.base import PersonSpec, ShotSpec

    person = PersonSpec(tag_id=3, face_key=0, relation="mother", age=45, height_cm=165.0, build="medium", clothing_rgb=(1, 2, 3),
                        name="Nita", style="The mother is 45 years old.")
    base = dict(seed=11, width=96, height=64, event_type="Birthday", event_tag=20, location_kind="home", location_tag=12,
                location_name="home living room", people=(person,), shot_plan="medium group", lighting="daylight",
                prompt="A candid birthday at home: Mother=[Nita]", negative_prompt="artefacts, extra fingers, deformed face")
    base.update(kw)
    return ShotSpec(**base)


def test_sd3_renders_the_shot_size_deterministically_with_the_spec_sampler(sd3) -> None:  # noqa: ANN001
    from diffusers import DPMSolverMultistepScheduler

    sched = sd3.pipe.scheduler
    assert isinstance(sched, DPMSolverMultistepScheduler)
    assert sched.config.algorithm_type == "dpmsolver++" and sched.config.prediction_type == "flow_prediction"
    assert sched.config.use_flow_sigmas and sched.config.flow_shift == 3.0  # the checkpoint's FlowMatch shift
    a, b, c = sd3.render(_shot()), sd3.render(_shot()), sd3.render(_shot(seed=12))
    assert a.image.shape == (64, 96, 3) and a.image.dtype == np.uint8 and a.raw is not None
    assert np.array_equal(a.image, b.image) and not np.array_equal(a.image, c.image)
    # the planned camera effects are applied to the output, QC reads the raw render
    d = sd3.render(_shot(blur_sigma=2.0, exposure_ev=-1.0))
    assert np.array_equal(d.raw, a.raw) and d.image.mean() < a.image.mean() - 5


def test_identity_references_reach_the_ip_adapter_at_lambda_id(sd3, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    from memoire_cli.synth.render.diffusion.identity import identity_grid

    seen: list = []
    original = sd3.pipe.set_ip_adapter_scale
    monkeypatch.setattr(sd3.pipe, "set_ip_adapter_scale", lambda s: (seen.append(s), original(s)))
    anchor = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    plain = sd3.render(_shot())
    with_id = sd3.render(_shot(references=((3, anchor, (16.0, 16.0, 48.0, 48.0)),)))
    retry = sd3.render(_shot(references=((3, anchor, (16.0, 16.0, 48.0, 48.0)),), qc_level=2))
    assert seen == [0.0, pytest.approx(0.8), pytest.approx(1.0)]  # λ_id 0.8, +0.1 per QC level, at most 1
    assert not np.array_equal(plain.raw, with_id.raw) and not np.array_equal(with_id.raw, retry.raw)
    grid = identity_grid([np.zeros((8, 8, 3), np.uint8)] * 3, cell=8)
    assert grid.shape == (16, 16, 3)  # 3 people → a 2 × 2 tiled identity grid


def test_anchor_portraits_share_the_first_portrait_as_identity_reference(sd3, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    calls: list = []
    original = sd3.generate
    monkeypatch.setattr(sd3, "generate", lambda *a, **k: (calls.append(a[5] is not None), original(*a, **k))[1])
    person = _shot().people[0]
    out = [sd3.render_anchor(person, k, 5, 48) for k in range(3)]
    assert [o.shape for o in out] == [(48, 48, 3)] * 3
    assert calls == [False, True, True]


def test_hunyuan_renders_each_clip_once_and_returns_its_frames(models: dict[str, Path]) -> None:
    from memoire_cli.synth.render.diffusion.hunyuan import HunyuanVideoRenderer, clip_frames, mult16

    assert clip_frames() == 41 and mult16(360) == 368  # 5 s at 8 fps as 4k + 1 frames; sides in multiples of 16
    r = HunyuanVideoRenderer(_cfg(), str(models["hy"]), "cpu")
    frames = [r.render(_shot(clip_id="u0000/c000", frame_index=f, width=64, height=36)) for f in (0, 8, 16)]
    assert r.generated == 1
    assert all(f.image.shape == (36, 64, 3) for f in frames)
    assert not np.array_equal(frames[0].image, frames[2].image)
    again = r.render(_shot(clip_id="u0000/c000", frame_index=8, width=64, height=36, qc_level=1, seed=99))
    assert r.generated == 2 and not np.array_equal(again.image, frames[1].image)
    with pytest.raises(ValueError):
        r.render(_shot())


def test_long_prompts_are_truncated_with_a_warning() -> None:
    from rich.console import Console

    from memoire_cli.synth.render.diffusion import tiny
    from memoire_cli.synth.render.diffusion.text import PromptFitter, fit

    console = Console(record=True, width=200)
    fitter = PromptFitter(tiny.t5_tokenizer(max_length=8), 8, tiny.clip_tokenizer(16), console, "T5")
    short = fitter("a birthday", "image u0000/00001")
    assert short == "a birthday" and console.export_text(clear=False) == ""
    text = fitter("a candid birthday in the home living room with father and mother and son", "image u0000/00002")
    assert text.startswith("a candid birthday") and fit(tiny.t5_tokenizer(), text, 8).tokens <= 8 and len(text) < 50
    out = console.export_text(clear=False)
    assert "prompt of image u0000/00002 is 15 T5 tokens, more than the 8 it reads: truncated" in out
    fitter("a candid birthday in the home living room with father and mother and son", "image u0000/00002")
    assert console.export_text(clear=False).count("truncated to") == 1  # reported once per prompt


def test_synth_sd3_hunyuan_end_to_end(cli, models: dict[str, Path], tmp_path: Path) -> None:  # noqa: ANN001
    ws = tmp_path / "w"
    res = cli("synth", "-w", ws, *ARGS, "--renderer", "sd3", "--sd3", models["sd3"], "--ip-adapter", models["ip"],
              "--hunyuan", models["hy"], "--pose-controlnet", models["pose"])
    assert res.exit_code == 0, res.output
    m = manifest(res)
    assert m["computed"] == 1
    assert "renderer: sd3 — StableDiffusion3ControlNetPipeline" in res.stderr and "λ_pose 0.2" in res.stderr
    assert "video renderer: hunyuan" in res.stderr and "QC (S1.1.6)" in res.stderr
    kinds = rows(ws, "SELECT kind, renderer, count(*) FROM images GROUP BY ALL ORDER BY 1")
    assert kinds == [("still", "sd3 1", 3), ("video_frame", "hunyuan 1", 6)]
    # tiny random models draw noise: no anchor shows a face, so each is re-rendered up to 3 times and recorded
    anchors = rows(ws, "SELECT count(*) FROM anchors")[0][0]
    qc_anchor = rows(ws, "SELECT attempt, check_name, passed FROM qc WHERE image_id LIKE '%/anchor/%' ORDER BY ALL")
    assert len(qc_anchor) == 3 * anchors and {r[1] for r in qc_anchor} == {"anchor_face"} and not any(r[2] for r in qc_anchor)
    # depicted people cannot be verified without an enrolled face: recorded, not re-rendered
    ident = rows(ws, "SELECT detail FROM qc WHERE check_name = 'face_identity'")
    assert ident and all("not verifiable" in d[0] and d[0].endswith("(a re-render cannot fix it)") for d in ident)
    import zarr

    z = zarr.open_group(str(ws / "arrays.zarr"), mode="r")
    assert z["users/u0000/images"].shape == (9, 128, 128, 3) and z["users/u0000/anchors"].shape[1:] == (128, 128, 3)
    frame = z["users/u0000/images"][1]
    assert frame[:72].std() > 0 and frame[72:].max() == 0  # 640:360 frames fill 128 × 72 of the buffer
    assert not (ws / "cache").exists()  # render cache dropped once committed


def test_interrupted_diffusion_run_resumes_from_the_render_cache(cli, models: dict[str, Path], tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    from memoire_cli.synth.render.diffusion.sd3 import SD3Renderer

    flags = [*ARGS, "--frames-per-clip", "0", "--renderer", "sd3", "--sd3", models["sd3"], "--anchors", "1"]
    full = tmp_path / "full"
    calls = {"n": 0, "stop": None}
    original = SD3Renderer.generate

    def counting(self, *a, **k):  # noqa: ANN001, ANN202
        calls["n"] += 1
        if calls["stop"] is not None and calls["n"] >= calls["stop"]:
            raise KeyboardInterrupt
        return original(self, *a, **k)

    monkeypatch.setattr(SD3Renderer, "generate", counting)
    assert cli("synth", "-w", full, *flags).exit_code == 0
    total = calls["n"]
    ws = tmp_path / "resumed"
    calls.update(n=0, stop=total - 1)  # interrupt during the last still
    assert cli("synth", "-w", ws, *flags).exit_code == 130
    assert list((ws / "cache" / "synth" / "u0000").glob("*.npz"))
    calls.update(n=0, stop=None)
    assert cli("synth", "-w", ws, *flags).exit_code == 0
    assert 0 < calls["n"] < total  # only what was not finished is rendered again
    import zarr

    a, b = (zarr.open_group(str(w / "arrays.zarr"), mode="r") for w in (full, ws))
    assert np.array_equal(a["users/u0000/images"][:], b["users/u0000/images"][:])
    assert rows(full, "SELECT * FROM qc ORDER BY ALL") == rows(ws, "SELECT * FROM qc ORDER BY ALL")


def test_missing_models_fail_before_any_work(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-hub"))
    for var in ("MEMOIRE_SD3", "MEMOIRE_HUNYUAN", "MEMOIRE_SD3_IP_ADAPTER"):
        monkeypatch.delenv(var, raising=False)
    ws = tmp_path / "w"
    res = cli("synth", "-w", ws, *ARGS, "--renderer", "sd3")
    assert res.exit_code == 1 and "stabilityai/stable-diffusion-3-medium-diffusers" in res.stderr
    assert "--sd3 DIR" in res.stderr and "Traceback" not in res.output and not ws.exists()
    res = cli("synth", "-w", ws, *ARGS, "--renderer", "sd3", "--sd3", tmp_path / "nowhere")
    assert res.exit_code == 1 and "no SD3 pipeline folder at" in res.stderr and not ws.exists()
    (tmp_path / "not-a-model").mkdir()
    res = cli("synth", "-w", ws, *ARGS, "--renderer", "sd3", "--sd3", tmp_path / "not-a-model")
    assert res.exit_code == 1 and "no model_index.json" in res.stderr


def test_missing_hunyuan_names_it_and_the_alternatives(cli, models: dict[str, Path], tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-hub"))
    monkeypatch.delenv("MEMOIRE_HUNYUAN", raising=False)
    res = cli("synth", "-w", tmp_path / "w", *ARGS, "--renderer", "hunyuan", "--sd3", models["sd3"])
    assert res.exit_code == 1
    assert "hunyuanvideo-community/HunyuanVideo" in res.stderr and "--video-renderer procedural" in res.stderr


def test_out_of_gpu_memory_suggests_the_memory_options(sd3, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    import torch

    from memoire_cli.synth.render.diffusion.models import GpuMemoryError

    def oom(*a, **k):  # noqa: ANN002, ANN003, ANN202
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(type(sd3.pipe), "__call__", oom)
    with pytest.raises(GpuMemoryError) as err:
        sd3.render(_shot())
    assert "--offload model" in str(err.value) and "--dtype fp16" in str(err.value)


def test_bad_flags(cli, tmp_path: Path) -> None:  # noqa: ANN001
    for bad in (["--renderer", "dalle"], ["--video-renderer", "sora"], ["--dtype", "fp8"], ["--offload", "disk"],
                ["--sampler", "ddim"], ["--lambda-id", "1.5"], ["--video-size", "640by360"], ["--steps", "0"]):
        res = cli("synth", "-w", tmp_path / "w", *bad)
        assert res.exit_code == 2, (bad, res.output)
        assert "Traceback" not in res.output
    assert not (tmp_path / "w").exists()


def test_shards_render_disjoint_users_of_one_workspace(cli, models: dict[str, Path], tmp_path: Path) -> None:  # noqa: ANN001
    ws = tmp_path / "w"
    flags = [*ARGS, "--user-count", "2", "--images-per-user", "2", "--frames-per-clip", "0", "--anchors", "1",
             "--renderer", "sd3", "--sd3", models["sd3"]]
    first = manifest(cli("synth", "-w", ws, *flags, "--shard", "0/2"))
    assert (first["users"], first["computed"]) == (1, 1)
    assert rows(ws, "SELECT DISTINCT user_id FROM images") == [("u0000",)]
    second = manifest(cli("synth", "-w", ws, *flags, "--shard", "1/2"))
    assert (second["users"], second["computed"]) == (1, 1)
    assert rows(ws, "SELECT user_id, count(*) FROM images GROUP BY 1 ORDER BY 1") == [("u0000", 2), ("u0001", 2)]
    again = manifest(cli("synth", "-w", ws, *flags))  # same parameters: nothing to redo
    assert again["skipped"] and again["cached"] == 2


def test_pose_controlnet_follows_the_shot_layout_at_lambda_pose(models: dict[str, Path], tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from diffusers import StableDiffusion3ControlNetPipeline

    from memoire_cli.synth.render.diffusion.pose import pose_image, skeletons
    from memoire_cli.synth.render.diffusion.sd3 import SD3Renderer

    pose_dir = models["pose"]
    r = SD3Renderer(_cfg(), {"sd3": str(models["sd3"]), "ip_adapter": str(models["ip"]),
                             "image_encoder": str(models["ip"] / "image_encoder"), "pose": str(pose_dir)}, "cpu")
    assert isinstance(r.pipe, StableDiffusion3ControlNetPipeline) and r.has_adapter
    seen: list = []
    original = type(r.pipe).__call__
    monkeypatch.setattr(type(r.pipe), "__call__", lambda self, **k: (seen.append(k), original(self, **k))[1])
    anchor = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    out = r.render(_shot(references=((3, anchor, (16.0, 16.0, 48.0, 48.0)),)))
    assert out.image.shape == (64, 96, 3)
    assert seen[0]["controlnet_conditioning_scale"] == pytest.approx(0.2) and "ip_adapter_image" in seen[0]
    control = np.asarray(seen[0]["control_image"])
    assert control.shape == (48, 64, 3) and control.any()  # the render size: 96×64 at --render-size 64, sides ÷ 16
    r.render(_shot(shot_plan="detail close-up"))
    assert seen[1]["controlnet_conditioning_scale"] == 0.0  # hands only: no skeleton, no pose control
    # one skeleton per person, heads above feet, inside the frame
    people = skeletons(_shot(shot_plan="wide establishing", width=512, height=512), 512, 512)
    assert len(people) == 1 and people[0][0, 1] < people[0][10, 1]
    assert pose_image(_shot(shot_plan="detail close-up"), 96, 64) is None


def test_hunyuan_clips_beside_procedural_stills_are_verified_and_rerendered_whole(cli, models: dict[str, Path],
                                                                                  tmp_path: Path) -> None:  # noqa: ANN001
    ws = tmp_path / "w"
    res = cli("synth", "-w", ws, *ARGS, "--video-renderer", "hunyuan", "--hunyuan", models["hy"])
    assert res.exit_code == 0, res.output
    assert rows(ws, "SELECT kind, renderer, min(attempts), max(attempts) FROM images GROUP BY ALL ORDER BY 1") == [
        ("still", "procedural 1", 1, 1), ("video_frame", "hunyuan 1", 3, 3)]
    # procedural anchors show real faces: they are enrolled, so the noise clips fail identity and are re-rendered
    frames = rows(ws, """SELECT q.image_id, q.attempt, q.detail FROM qc q JOIN images i USING (image_id)
                         WHERE i.kind = 'video_frame' AND q.check_name = 'face_identity' ORDER BY ALL""")
    n_frames = rows(ws, "SELECT count(*) FROM images WHERE kind = 'video_frame' AND image_id IN "
                        "(SELECT t.image_id FROM image_tags t JOIN people p ON p.user_id = t.user_id AND p.tag_id = t.tag_id "
                        "WHERE p.in_graph)")[0][0]
    assert len(frames) == 3 * n_frames > 0
    assert all("no face found" in d for _, _, d in frames)
    assert {a for _, a, d in frames if d.endswith("; re-rendered")} == {1, 2}
    assert {a for _, a, d in frames if d.endswith("; kept after the last attempt")} == {3}
    # the procedural stills keep their drawn ground truth (people, place, event regions)
    assert {r[0] for r in rows(ws, "SELECT DISTINCT r.kind FROM truth.regions r JOIN images i USING (image_id) WHERE i.kind = 'still'")} >= {"E", "L"}


def test_progress_lines_give_rate_and_eta(monkeypatch: pytest.MonkeyPatch) -> None:
    from rich.console import Console

    from memoire_cli.synth import stage

    console = Console(record=True, width=200)
    clock = iter([0.0, 30.0, 35.0, 70.0])
    monkeypatch.setattr(stage.time, "monotonic", lambda: next(clock))
    p = stage._Progress(console, "u0003", 10)
    p.advance(3)  # t = 30 s: 10 s/image, 7 left
    p.advance(1)  # t = 35 s: under 20 s since the last line, not the end: silent
    p.advance(6)  # t = 70 s: the end
    lines = console.export_text().splitlines()
    assert lines == ["synth u0003: 3/10 images, 10.0 s/image, ETA 1.2 min", "synth u0003: 10/10 images, 7.0 s/image, ETA 0.0 min"]
