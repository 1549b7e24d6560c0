"""Progress within one long step (an epoch, a user's images), on stderr only.

A step that has run for ``after_s`` seconds starts showing its progress: on a terminal a transient
Rich bar (done/total, elapsed, ETA), elsewhere (a log file, a pipe, a ``--jobs`` parent) one plain
line every ``every_s`` seconds, ``label: done/total (p%), elapsed 12 s, ETA 34 s``. Short steps
print nothing, so fast runs and tests stay quiet. The ETA is the mean rate so far extrapolated to
the rest. Nothing is written to stdout, which carries only the manifest line.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

#: a step shows progress once it has run this long (seconds)
AFTER_S = 3.0
#: without a terminal, one line per this many seconds
EVERY_S = 10.0


def _duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h} h {m:02d} min" if h else f"{m} min {s:02d} s" if m else f"{s} s"


def eta_line(label: str, done: int, total: int, elapsed: float) -> str:
    """``label: done/total (p%), elapsed …, ETA …`` (no ETA before the first unit is done)."""
    pct = 100.0 * done / total if total else 100.0
    eta = f", ETA {_duration(elapsed / done * (total - done))}" if done else ""
    return f"{label}: {done}/{total} ({pct:.0f}%), elapsed {_duration(elapsed)}{eta}"


class StepProgress:
    """``with StepProgress(console, "train: epoch 3/20", total=40) as p: … p.advance()``.

    ``console`` may be None (no output). ``clock`` is injectable for tests.
    """

    def __init__(self, console: Any, label: str, total: int, after_s: float | None = None, every_s: float | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.console = console
        self.label = label
        self.total = max(0, int(total))
        self.after_s = AFTER_S if after_s is None else after_s
        self.every_s = EVERY_S if every_s is None else every_s
        self.clock = clock
        self.done = 0
        self.start = 0.0
        self.last_line: float | None = None
        self.bar: Any = None
        self.task: Any = None

    def __enter__(self) -> StepProgress:
        self.start = self.clock()
        return self

    def advance(self, n: int = 1) -> None:
        self.done += n
        if self.console is None or not self.total:
            return
        now = self.clock()
        elapsed = now - self.start
        if elapsed < self.after_s:
            return
        if getattr(self.console, "is_terminal", False):
            if self.bar is None:
                self._start_bar()
            self.bar.update(self.task, completed=self.done)
        elif self.last_line is None or now - self.last_line >= self.every_s:
            self.last_line = now
            self.console.print(eta_line(self.label, self.done, self.total, elapsed), markup=False, highlight=False)

    def _start_bar(self) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        self.bar = Progress(TextColumn(self.label, markup=False), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                            TextColumn("ETA"), TimeRemainingColumn(), console=self.console, transient=True)
        self.bar.start()
        self.task = self.bar.add_task(self.label, total=self.total, completed=self.done)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None


def stage_bar(name: str, console: Any, disable: bool = False) -> Any:
    """The runner's per-user progress bar of a stage: ``name ━━━ 3/12 0:00:14 ETA 0:00:05`` (a rich ``Progress``)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    return Progress(TextColumn(name), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("ETA"),
                    TimeRemainingColumn(), console=console, transient=False, disable=disable)
