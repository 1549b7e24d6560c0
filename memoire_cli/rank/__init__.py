"""Session-aware, diversity-aware curation (S1.2.8, S2.3–S2.4): the library behind `memoire rank`.

Public API (also used by `memoire eval` for Memoire and its ablations):
:class:`RankOptions`, :class:`UserContext`, :func:`rank_user`, :class:`Ranking`, :func:`parse_session`.
Modules: ``session`` (session specs), ``context`` (one user's session, loaded once), ``mmr`` (the
diversity-aware selector), ``ranker`` (α*, A*(I), scores, selection, reasons), ``stage`` (the CLI
stage), ``display`` (the Rich table and the contact sheet).
"""

from memoire_cli.rank.context import UserContext
from memoire_cli.rank.ranker import Ranking, RankOptions, rank_user
from memoire_cli.rank.session import Session, parse_session

__all__ = ["RankOptions", "Ranking", "Session", "UserContext", "parse_session", "rank_user"]
