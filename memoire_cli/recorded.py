"""Rebuilding a stage's config from the parameters one of its runs recorded (``runs.params``).

A later action that must repeat a run's choices (`people name` re-running `people`, `persona update`
folding into a graph and a persona, `eval` re-assigning pat's faces, `rank` reading the graph's ω)
rebuilds the config through the config class itself, so its defaults and checks apply, instead of
picking keys out of the JSON by hand.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import Any, Self


class FromParams:
    """Mixin of a config dataclass: :meth:`from_params`."""

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> Self:
        """The config a run recorded: its keys that are fields of the config; missing ones (a run of an older
        code version) take today's defaults, the others (resolved values, model paths) are ignored."""
        names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        return cls(**{k: v for k, v in params.items() if k in names})
