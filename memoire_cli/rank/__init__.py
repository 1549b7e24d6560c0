"""Session-aware, diversity-aware curation (S1.2.8, S2.3–S2.4): the library behind `memoire rank`.

Public API (also used by `memoire eval` for Memoire and its ablations):
:class:`RankOptions`, :class:`UserContext`, :func:`rank_user`, :class:`Ranking`, :func:`parse_session`.
Modules: ``session`` (session specs), ``context`` (one user's session, loaded once), ``mmr`` (the
diversity-aware selector), ``ranker`` (α*, A*(I), scores, selection, reasons), ``stage`` (the CLI
stage), ``display`` (the Rich table and the contact sheet).
"""

from __future__ import annotations

from typing import Any

#: The public API and the module each name lives in, imported on first use: importing the package (or its
#: light ``config``, as `memoire rank --help` does) costs no numpy.
_EXPORTS = {
    "RankOptions": "memoire_cli.rank.config",
    "Ranking": "memoire_cli.rank.ranker",
    "Session": "memoire_cli.rank.session",
    "UserContext": "memoire_cli.rank.context",
    "parse_session": "memoire_cli.rank.session",
    "rank_user": "memoire_cli.rank.ranker",
}

__all__ = ["RankOptions", "Ranking", "Session", "UserContext", "parse_session", "rank_user"]


def __getattr__(name: str) -> Any:
    import importlib

    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
