"""One home per parameter (issue 17, item 5): every stage's config holds its defaults and checks.

The commands take their defaults from the configs, the configs reject bad values on construction
(:class:`~memoire_cli.errors.ParameterError`: a usage error on the command line, a ValueError to code),
and a run's recorded parameters are read back through the config (``from_params``).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from memoire_cli.errors import EXIT_USAGE, ParameterError, UsageError
from memoire_cli.eval.config import EvalConfig
from memoire_cli.graph.config import GraphConfig
from memoire_cli.ingest.config import IngestConfig
from memoire_cli.label.config import LabelConfig
from memoire_cli.pat.config import TAU_MATCH, PatConfig
from memoire_cli.people.config import PeopleConfig
from memoire_cli.persona.config import PersonaConfig
from memoire_cli.rank.config import RankOptions
from memoire_cli.synth.config import SynthConfig, parse_split, split_text
from memoire_cli.synth.render.diffusion.config import DiffusionConfig
from memoire_cli.train.config import TrainConfig


def defaults(command: str) -> dict[str, object]:
    import importlib

    module = importlib.import_module(f"memoire_cli.commands.{command}")
    return {k: p.default for k, p in inspect.signature(module.command).parameters.items()}


def test_the_commands_take_their_defaults_from_the_configs() -> None:
    rank, pat, people = defaults("rank"), defaults("pat"), defaults("people")
    r = RankOptions()
    assert (rank["k"], rank["lam"], rank["alpha"], rank["tag_types"], rank["model"], rank["runtime"]) == \
        (r.k, r.lam, r.alpha, "".join(r.tag_types), r.model, r.runtime)
    assert pat["tau_match"] == people["tau_match"] == PatConfig().tau_match == PeopleConfig().tau_match == TAU_MATCH
    persona, p = defaults("persona"), PersonaConfig()
    assert (persona["epochs"], persona["steps_per_epoch"], persona["lr"], persona["seed"]) == \
        (p.max_epochs, p.steps_per_epoch, p.lr, p.seed)
    ingest, i = defaults("ingest"), IngestConfig()
    assert (ingest["image_size"], ingest["anchor_size"], ingest["event_gap"], ingest["place_radius"], ingest["max_pixels"]) == \
        (i.image_size, i.anchor_size, i.event_gap_h, i.place_radius_km, i.max_pixels)
    synth, s, d = defaults("synth"), SynthConfig(), DiffusionConfig()
    assert (synth["users"], synth["split"], synth["image_size"], synth["anchors"], synth["frames_per_clip"]) == \
        (s.users, "80/10/10", s.image_size, s.anchors_per_person, s.max_frames_per_clip)
    assert (synth["steps"], synth["cfg_scale"], synth["lambda_id"], synth["video_size"]) == (d.steps, d.cfg, d.lambda_id, "640x360")
    assert defaults("train")["session_mix"] == TrainConfig().session_mix
    assert defaults("graph")["knn"] == GraphConfig().knn
    label, lc = defaults("label"), LabelConfig()
    ev, e = defaults("eval"), EvalConfig()
    assert (ev["k"], ev["suite"], ev["runtime"], ev["sheets"]) == (e.k, e.suite, e.runtime, e.sheets) == (r.k, "quick", "torch", 4)
    assert (label["max_pairs"], label["seed"], label["judge"]) == (lc.max_pairs, lc.seed, lc.judge)


def test_eval_settings_start_from_rank_defaults() -> None:
    from memoire_cli.eval.suite import MemoireSetting

    m, r = MemoireSetting(), RankOptions()
    assert (m.lam, m.rho, m.alpha, m.tag_types, m.model) == (r.lam, r.rho, r.alpha, r.tag_types, r.model)


@pytest.mark.parametrize(("make", "message"), [
    (lambda: RankOptions(lam=1.5), "--lambda must be in [0, 1], got 1.5"),
    (lambda: RankOptions(k=0), "--k must be at least 1, got 0"),
    (lambda: RankOptions(rho=-0.1), "--rho must be in [0, 1], got -0.1"),
    (lambda: RankOptions(alpha="x"), "--tag-weights must be one of persona, uniform, got 'x'"),
    (lambda: RankOptions(runtime="tf"), "--runtime must be torch or onnx, got 'tf'"),
    (lambda: RankOptions(blur_sigma=0.0), "blur σ must be positive, got 0.0"),
    (lambda: PatConfig(tau_match=1.2), "--tau-match must be between 0 and 1, got 1.2"),
    (lambda: PatConfig(theta_det=-0.5), "--theta-det must be between 0 and 1, got -0.5"),
    (lambda: PeopleConfig(tau_match=2.0), "--tau-match must be between 0 and 1, got 2"),
    (lambda: PeopleConfig(cluster_distance=3.0), "--cluster-distance must be in (0, 2], got 3"),
    (lambda: TrainConfig(session_mix=1.5), "--session-mix must be in [0, 1], got 1.5"),
    (lambda: TrainConfig(epochs=0), "--epochs must be at least 1, got 0"),
    (lambda: TrainConfig(lr=math.inf), "--lr must be a finite number, got inf"),
    (lambda: SynthConfig(users=0), "--user-count must be between 1 and 100000, got 0"),
    (lambda: SynthConfig(image_size=64), "--image-size must be between 128 and 4096, got 64"),
    (lambda: DiffusionConfig(steps=0), "--steps must be between 1 and 1000, got 0"),
    (lambda: DiffusionConfig(sampler="ddim"), "--sampler must be one of dpmsolver++, euler, got 'ddim'"),
    (lambda: LabelConfig(max_pairs=0), "--max-pairs must be at least 1, got 0"),
    (lambda: EvalConfig(suite="fast"), "--suite 'fast': choose quick or full"),
    (lambda: EvalConfig(runtime="tf"), "--runtime 'tf': choose torch or onnx"),
])
def test_configs_reject_bad_values_in_one_line(make: Callable[[], object], message: str) -> None:
    with pytest.raises(ParameterError) as err:
        make()
    assert str(err.value) == message
    assert isinstance(err.value, UsageError) and isinstance(err.value, ValueError)
    assert err.value.exit_code == EXIT_USAGE


@pytest.mark.parametrize(("make", "match"), [
    (lambda: PersonaConfig(lr=0.0), "--lr must be positive and finite"),
    (lambda: PersonaConfig(steps_per_epoch=-1), "--steps-per-epoch must be 0"),
    (lambda: IngestConfig(image_size=8), "--image-size must be in 32…4096"),
    (lambda: GraphConfig(mu=1.5), "--mu must be in"),
])
def test_older_configs_check_on_construction_too(make: Callable[[], object], match: str) -> None:
    with pytest.raises(UsageError, match=match):
        make()


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_lambda_is_accepted_exactly_in_the_unit_interval(lam: float) -> None:
    if 0.0 <= lam <= 1.0:
        assert RankOptions(lam=lam).params()["lam"] == lam
    else:
        with pytest.raises(ParameterError, match="--lambda"):
            RankOptions(lam=lam)


@given(st.lists(st.integers(0, 1000), min_size=3, max_size=3).filter(lambda v: sum(v) > 0))
def test_split_text_inverts_parse_split(parts: list[int]) -> None:
    shares = parse_split("/".join(map(str, parts)))
    assert parse_split(split_text(shares)) == pytest.approx(shares, rel=1e-9, abs=1e-12)


def test_pat_config_from_recorded_params() -> None:
    recorded = {"theta_det": 0.5, "nms_iou": 0.4, "tau_match": 0.3, "clipseg": "none", "sam": "gaussian", "faces": None,
                "grounder": "auto", "not_a_parameter": 1}
    cfg = PatConfig.from_params(recorded)
    assert (cfg.theta_det, cfg.tau_match, cfg.clipseg, cfg.sam, cfg.grounder) == (0.5, 0.3, None, None, "auto")
    found = PatConfig.from_params({"clipseg": "/models/clipseg", "sam": "/models/sam"})
    assert (found.clipseg, found.sam, found.tau_match) == ("/models/clipseg", "/models/sam", TAU_MATCH)  # an older run: defaults
    assert PatConfig.from_params({}) == PatConfig()


def test_configs_from_their_own_params_round_trip() -> None:
    from dataclasses import asdict

    for cfg in (GraphConfig(knn=7), PersonaConfig(lr=1e-3), PeopleConfig(tau_match=0.4, fix_names=True), IngestConfig(image_size=256)):
        assert type(cfg).from_params({**asdict(cfg), "extra": "ignored"}) == cfg


def test_a_bad_lambda_is_a_usage_error_before_any_work(cli: Any, tmp_path: Path) -> None:
    result = cli("rank", "-w", tmp_path / "none", "--lambda", "1.5")
    assert result.exit_code == EXIT_USAGE
    assert result.stderr.strip().splitlines()[-1].endswith("--lambda must be in [0, 1], got 1.5")
    assert result.stdout == ""
