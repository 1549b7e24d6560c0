"""Progress within long steps: lines with an ETA without a terminal, a Rich bar on one; stdout stays the manifest."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from rich.console import Console

from conftest import TINY, manifest
from memoire_cli import progress as progress_mod
from memoire_cli.progress import StepProgress, eta_line


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def plain() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=False, width=200), out


def test_short_steps_are_quiet_and_long_ones_print_a_line_every_few_seconds() -> None:
    console, out = plain()
    clock = Clock()
    with StepProgress(console, "pat: user u0 (images)", 10, after_s=3, every_s=10, clock=clock) as p:
        for _ in range(2):
            clock.t += 1
            p.advance()
        assert out.getvalue() == ""  # under 3 s: nothing
        clock.t += 2  # 4 s, 3 done
        p.advance()
        clock.t += 5  # 9 s: within 10 s of the last line
        p.advance()
        clock.t += 6  # 15 s, 5 done
        p.advance()
    lines = out.getvalue().splitlines()
    assert lines == ["pat: user u0 (images): 3/10 (30%), elapsed 4 s, ETA 9 s",
                     "pat: user u0 (images): 5/10 (50%), elapsed 15 s, ETA 15 s"]


def test_eta_line_formats() -> None:
    assert eta_line("x", 0, 4, 5.0) == "x: 0/4 (0%), elapsed 5 s"
    assert eta_line("x", 1, 5, 90.0) == "x: 1/5 (20%), elapsed 1 min 30 s, ETA 6 min 00 s"
    assert eta_line("x", 1, 2, 4000.0).endswith("ETA 1 h 06 min")


def test_a_terminal_gets_a_transient_rich_bar() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120)
    clock = Clock()
    with StepProgress(console, "train: epoch 1/3 (batches)", 4, after_s=0, clock=clock) as p:
        for _ in range(4):
            clock.t += 1
            p.advance()
        assert p.bar is not None
    assert "train: epoch 1/3 (batches)" in out.getvalue() and p.bar is None


@pytest.fixture
def eager(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every step shows its progress at once, one line per unit."""
    monkeypatch.setattr(progress_mod, "AFTER_S", 0.0)
    monkeypatch.setattr(progress_mod, "EVERY_S", 0.0)


def test_long_stages_show_progress_within_a_user_on_stderr_only(cli, box_renderer, eager, tmp_path: Path) -> None:
    ws = tmp_path / "w"
    steps = [("synth", "-w", ws, *TINY), ("graph", "-w", ws), ("persona", "-w", ws, "--epochs", "2", "--steps-per-epoch", "2"),
             ("pat", "-w", ws), ("label", "-w", ws, "--max-pairs", "20")]
    seen = {}
    for args in steps:
        result = cli(*args)
        assert result.exit_code == 0, result.stderr
        manifest(result)  # stdout: exactly one JSON line
        seen[args[0]] = result.stderr
    assert re.search(r"persona: user u0000 \(epochs, early stop may end sooner\): 1/2 \(50%\), elapsed \d+ s, ETA", seen["persona"])
    assert re.search(r"pat: user u0000 \(images\): 1/\d+ ", seen["pat"])
    assert re.search(r"label: user u0000 \(pairs\): \d+/\d+ \(100%\)", seen["label"])
