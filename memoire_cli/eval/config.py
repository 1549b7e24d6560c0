"""The knobs of `memoire eval`, with their defaults and checks, in one place (S2.2).

k = 20 is S2.2's size of the selected set, the same k `memoire rank` picks (:class:`~memoire_cli.rank.config.RankOptions`).

Light: dataclasses only, so `memoire eval --help` imports it at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from memoire_cli.errors import ParameterError
from memoire_cli.rank.config import RUNTIMES, RankOptions
from memoire_cli.recorded import FromParams

#: quick: comparison, Table 9, the λ sweep, the loss; full: also ρ sweep, tag noise, graph size, face-ID errors, runtime.
SUITES = ("quick", "full")


@dataclass(frozen=True)
class EvalConfig(FromParams):
    """Parameters of one `memoire eval` run (besides the users it evaluates)."""

    k: int = RankOptions.k  # APS@k, Redundancy@k, Coverage@k (S2.2: 20)
    suite: str = "quick"
    runtime: str = "torch"  # score with the PyTorch checkpoint or the ONNX export
    sheets: int = 4  # users with top-k contact sheets in the report

    def __post_init__(self) -> None:
        if self.k < 1:
            raise ParameterError(f"--k must be at least 1, got {self.k}")
        if self.suite not in SUITES:
            raise ParameterError(f"--suite {self.suite!r}: choose {' or '.join(SUITES)}")
        if self.runtime not in RUNTIMES:
            raise ParameterError(f"--runtime {self.runtime!r}: choose {' or '.join(RUNTIMES)}")
        if self.sheets < 0:
            raise ParameterError(f"--sheets must be ≥ 0, got {self.sheets}")
