"""Sessions (S1.2.8–S1.2.9, S1.3.5): which images, the session-adapted persona α*, and A*(I) re-fused with it.

A session S is a set of one user's images (a trip, an event, some days, a folder). Both ``memoire rank``
and ``memoire pat --session`` adapt the user's global persona α to S and re-fuse PAT's stored masks
with the result; this package holds all of it, on plain values (arrays, floats, its own small
dataclasses), and imports neither :mod:`memoire_cli.pat` nor :mod:`memoire_cli.rank`:

* :mod:`~memoire_cli.session.selection` — session specs (``all``, ``event:ID``, ``dates:A..B``,
  ``ids:…``, ``folder:…``): :func:`parse_session` checks them, :func:`session_indices` resolves one
  against a user's gallery (images.idx), :func:`check_session` checks it matches something.
* :mod:`~memoire_cli.session.prior` — IPS^S (15): IPS⁰'s feature template on the session's statistics.
* :mod:`~memoire_cli.session.blend` — ρ (17) and the log-space blend (16): α* ``(K,)``;
  :func:`session_alpha` takes a :class:`SessionEvidence` and a ρ (given, or ``None`` for (17)).
* :mod:`~memoire_cli.session.refusion` — :func:`refuse`: A*(I) ``(H, W)`` float32 from stored uint8 masks
  ``(k, H, W)`` and α*, with the post-processing of S1.3.6 and the uint8 storage (Table 5).
* :mod:`~memoire_cli.session.context` — :class:`SessionContext`: one user's session read from the
  workspace by :func:`load_session` (images, stored masks, tags, persona); its :meth:`~SessionContext.evidence` feeds
  :func:`session_alpha`. ``rank``'s ``UserContext`` extends it with the predictor's inputs.

Where ρ goes, from the command line to the fused map (``memoire rank``):

1. ``commands/rank.py`` parses ``--rho`` (``auto`` → ``None``) into ``RankOptions.rho``
   (``rank/stage.py`` passes the options on to :func:`memoire_cli.rank.ranker.rank_user`; it looks
   at ρ only to label the ``sessions`` row and its console line);
2. ``rank/ranker.py`` — ``rank_user`` calls ``session_alpha(ctx.evidence(), options.rho)``;
3. ``session/blend.py`` — ρ of (17) when ``None``, then α* (16), returned to ``rank_user``, whose
   ``attention_maps`` weights the stored masks with α* in ``session/refusion.py``'s :func:`refuse`:
   A*(I), the fused map.

``memoire pat --session`` takes the same route from ``commands/pat.py`` through ``pat/session.py``
(``session_alpha(ctx.evidence(), rho)``, then :func:`refuse` and :func:`quantise`).

Importing this package is cheap: numpy only at import time (scipy, OpenCV, the graph stage's
functions and the workspace readers are imported inside the functions that use them).
"""

from memoire_cli.session.blend import SessionEvidence, session_alpha
from memoire_cli.session.context import ImageMasks, SessionContext, load_session
from memoire_cli.session.refusion import quantise, refuse
from memoire_cli.session.selection import (
           Session,
           check_session,
           parse_session,
           session_indices,
)

__all__ = ["ImageMasks", "Session", "SessionContext", "SessionEvidence", "check_session", "load_session", "parse_session",
           "quantise", "refuse", "session_alpha", "session_indices"]
