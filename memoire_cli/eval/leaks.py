"""Inputs derived from the ground truth: which sources of a `memoire eval` run read them (issue 14).

Eval scores against a hidden truth (synthetic PIS, an owner's star ratings). A usage signal that was
*made from* that truth turns whatever reads it into a partial oracle, so its score says nothing about
curation. Two signals can be, and they are known from the runs that wrote the gallery (``runs.params``
of the ``synth`` or ``ingest`` run that committed each evaluated user, via ``stage_users``):

* ``views`` — `memoire synth --views-link ℓ_v` with ℓ_v > 0 draws views from the hidden utility (at 0.6
  "most viewed" is near an oracle). Synth runs whose parameters lack the key (synth code version 1)
  linked views at :data:`LEGACY_SYNTH` 0.6;
* ``favourites`` — `memoire synth --favourite-link ℓ_q` with ℓ_q > 0 (code version 1: 0.4), or an
  ingest run that made rated images favourites (``--favourites-from-rating``, or any ingest code
  version 1 run: :func:`memoire_cli.ingest.config.favourites_from_ratings`) — then the favourites are
  the ratings eval scores.

The readers (:data:`READERS`): the ``most-viewed`` baseline reads views, ``favourites-first`` reads
favourites (Expo reads quality and faces only); Memoire reads both through the persona (the graph's
per-tag view rate v_t and favourite share q_t, and the session prior of eq. 17). A reader of a
derived signal is *flagged*: the flag goes into its row's note (``eval_results.note``, prefixed
:data:`FLAG`), the stderr table and the report, and a flagged baseline is left out of the "beats every
baseline" goal line (which says so). Nothing is refused: the numbers are still reported.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

#: Synth runs from before ``views_link``/``favourite_link`` existed (synth code version 1) linked both.
LEGACY_SYNTH = {"views_link": 0.6, "favourite_link": 0.4}
#: Prefix of a flagged row's note.
FLAG = "FLAGGED"
#: Which signals each source reads (baselines by name; "Memoire" for every Memoire setting).
READERS: dict[str, tuple[str, ...]] = {"most-viewed": ("views",), "favourites-first": ("favourites",),
                                       "Memoire": ("views", "favourites")}


@dataclass(frozen=True)
class Leak:
    """One usage signal derived from the truth, why, and for which evaluated users."""

    signal: str  # views | favourites
    why: str  # e.g. "synth --views-link 0.6"
    users: tuple[str, ...]

    def text(self, n_users: int) -> str:
        who = "" if len(self.users) == n_users else f" for {len(self.users)}/{n_users} users"
        drawn = "made from the star ratings eval scores" if self.why.startswith("ingest") else "drawn from the hidden utility"
        return f"{self.signal} {drawn} ({self.why}){who}"


def _params(ws: Any, stage: str, user: str) -> dict[str, Any] | None:
    """``runs.params`` of the ``stage`` run that committed ``user`` (None: no such run; {} unreadable)."""
    rows = ws.query("SELECT r.params FROM stage_users s JOIN runs r ON r.run_id = s.run_id "
                    "WHERE s.stage = ? AND s.user_id = ?", [stage, user])
    if not rows:
        return None
    try:
        params = json.loads(rows[0][0] or "{}")
    except (TypeError, ValueError):
        return {}
    return params if isinstance(params, dict) else {}


def _link(params: dict[str, Any], key: str) -> tuple[float, bool]:
    """(ℓ, legacy): the synth run's link, or code version 1's value when the key is missing or unreadable."""
    value = params.get(key)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value), False
    return LEGACY_SYNTH[key], True


def find_leaks(ws: Any, users: list[str]) -> list[Leak]:
    """The usage signals of ``users`` that were derived from their ground truth (see the module docstring)."""
    from memoire_cli.ingest.config import favourites_from_ratings

    found: dict[tuple[str, str], list[str]] = {}
    for user in users:
        synth = _params(ws, "synth", user)
        if synth is not None:
            for signal, key, flag in (("views", "views_link", "--views-link"), ("favourites", "favourite_link", "--favourite-link")):
                value, legacy = _link(synth, key)
                if value > 0:
                    why = f"synth {flag} {value:g}" + (" as in synth code version 1, which did not record it" if legacy else "")
                    found.setdefault((signal, why), []).append(user)
            continue
        stars = favourites_from_ratings(ws, user)
        if stars is not None:
            found.setdefault(("favourites", f"ingest --favourites-from-rating {stars:g}"), []).append(user)
    order = {"views": 0, "favourites": 1}
    return [Leak(signal, why, tuple(us)) for (signal, why), us in sorted(found.items(), key=lambda x: (order[x[0][0]], x[0][1]))]


def flag_of(reader: str, leaks: list[Leak], n_users: int) -> str:
    """The flag text of a source (a baseline name or "Memoire"); "" when it reads no derived signal."""
    hits = [leak for leak in leaks if leak.signal in READERS.get(reader, ())]
    if not hits:
        return ""
    what = "; ".join(leak.text(n_users) for leak in hits)
    if reader == "Memoire":
        return f"{FLAG}: persona reads {what} — optimistic"
    return f"{FLAG}: input derived from the truth — {what}; not counted in the goal"


def apply_flags(rows: list[Any], leaks: list[Leak], n_users: int) -> dict[str, str]:
    """Set ``row.flag`` on the comparison rows whose source reads a derived signal; returns variant → flag."""
    out: dict[str, str] = {}
    for row in rows:
        if row.section != "comparison":
            continue
        flag = flag_of(row.variant, leaks, n_users)
        if flag:
            row.flag = flag
            out[row.variant] = flag
    return out
