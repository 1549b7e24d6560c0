"""Session-aware, diversity-aware curation (S1.2.8, S2.3–S2.4): the library behind `memoire rank`.

Public API (also used by `memoire eval` for Memoire and its ablations):
:class:`RankOptions`, :class:`UserContext`, :func:`rank_user`, :class:`Ranking`.
Modules: ``context`` (one user's session with the predictor's inputs, loaded once), ``mmr`` (the
diversity-aware selector), ``ranker`` (α*, A*(I), scores, selection, reasons), ``stage`` (the CLI
stage), ``display`` (the Rich table and the contact sheet). Sessions themselves — their specs, IPS^S,
ρ and α*, re-fusion — are :mod:`memoire_cli.session`'s (shared with ``pat --session``).
"""

from __future__ import annotations

from typing import Any

#: The public API and the module each name lives in, imported on first use: importing the package (or its
#: light ``config``, as `memoire rank --help` does) costs no numpy.
_EXPORTS = {
    "RankOptions": "memoire_cli.rank.config",
    "Ranking": "memoire_cli.rank.ranker",
    "UserContext": "memoire_cli.rank.context",
    "rank_user": "memoire_cli.rank.ranker",
}

__all__ = ["RankOptions", "Ranking", "UserContext", "rank_user"]


def __getattr__(name: str) -> Any:
    import importlib

    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
