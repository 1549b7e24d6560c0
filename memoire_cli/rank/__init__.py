"""Session-aware, diversity-aware curation (S1.2.8, S2.3–S2.4): the library behind `memoire rank`.

Public API (also used by `memoire eval` for Memoire and its ablations):
:class:`RankOptions`, :class:`UserContext`, :func:`rank_user`, :class:`Ranking`.
Modules: ``context`` (one user's session with the predictor's inputs, loaded once), ``mmr`` (the
diversity-aware selector), ``ranker`` (α*, A*(I), scores, selection, reasons), ``stage`` (the CLI
stage), ``display`` (the Rich table and the contact sheet). Sessions themselves — their specs, IPS^S,
ρ and α*, re-fusion — are :mod:`memoire_cli.session`'s (shared with ``pat --session``).
"""

from memoire_cli.rank.context import UserContext
from memoire_cli.rank.ranker import Ranking, RankOptions, rank_user

__all__ = ["RankOptions", "Ranking", "UserContext", "rank_user"]
