"""What changed in a user's gallery since its graph and persona last accounted for it (S1.2.11).

``memoire persona update`` must notice every change of the gallery, not only a longer one, so it
compares *content*, not counts:

* **The gallery the graph accounts for.** A full ``memoire graph`` run's fingerprint is a hash of
  its parameters, code version and the gallery's digest (``stage_users.digest`` of synth or
  ingest), so the graph accounts for the current gallery iff its committed fingerprint equals the
  one recomputed from the current digest. An update run records, per user, the gallery it
  accounted for (``runs.params.from[user].gallery``, ``"{stage}:{digest}"``).
* **How it changed.** When the gallery differs and it was ingested, ``ingest_changes`` lists the
  files the latest ingest run added, changed (new bytes), retagged (same bytes, new metadata) or
  removed — relative to the run before it. It describes the change from what the graph accounts
  for only when exactly one ingest run of the folder committed since the graph or persona was last
  written; otherwise (two re-ingests in between, a synthetic gallery rewritten, a new graph code
  version) only a full run can follow.
* **What an update can fold in.** Added photos are appended rows (``images.idx ≥
  graph_users.n_images``) and are folded in incrementally. A removed, changed or retagged photo
  would need its *old* tags subtracted from the counts and co-occurrences, and the gallery no
  longer holds them: those need a full run (``memoire persona update --full``, or ``memoire graph``
  then ``memoire persona``). Duplicates and skipped files change no image.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from memoire_cli.stage import fingerprint, inputs_digest
from memoire_cli.workspace import GALLERY_STAGES

#: ingest_changes kinds that an incremental update cannot fold in, in the order a reason names them.
NEEDS_FULL = ("removed", "retagged", "changed")
VERBS = {"added": "added", "removed": "removed", "retagged": "retagged", "changed": "edited (new pixels)"}


@dataclass
class GalleryDelta:
    """One user's gallery against what its graph/persona account for."""

    gallery: str  # "{stage}:{digest}" of the current gallery
    accounted: bool  # the graph and persona already account for it
    changes: dict[str, list[str]] = field(default_factory=dict)  # ingest_changes kind → paths (a changed ingested gallery)
    full_reason: str | None = None  # why only a full run can follow (one line), None when an update can

    def summary(self) -> str:
        """``1 added (a.jpg), 1 removed (b.jpg)`` for the changes that touch images."""
        parts = []
        for kind in ("added", *NEEDS_FULL):
            paths = self.changes.get(kind, [])
            if paths:
                shown = ", ".join(paths[:2]) + (" …" if len(paths) > 2 else "")
                parts.append(f"{len(paths)} {VERBS[kind]} ({shown})")
        return ", ".join(parts)


def _photos(n: int) -> str:
    return f"{n} photo" + ("" if n == 1 else "s")


def _gallery_part(con: Any, user_id: str) -> tuple[str, str, str]:
    """(stage, digest, run_id) of the user's committed gallery."""
    rows = con.execute(f"SELECT stage, digest, run_id FROM stage_users WHERE user_id = ? AND stage IN ({', '.join('?' * len(GALLERY_STAGES))})",
                       [user_id, *GALLERY_STAGES]).fetchall()
    if not rows:
        return "", "", ""
    return rows[0][0], rows[0][1], rows[0][2]


def graph_code() -> str:
    from memoire_cli.graph.stage import GraphStage

    return GraphStage().code()


def gallery_delta(con: Any, user_id: str, graph_mark: tuple[str, str, str], gparams: dict[str, Any]) -> GalleryDelta:
    """Compare the user's gallery with what its graph accounts for (module docstring).

    Args:
        graph_mark: the user's ``stage_users`` graph row: (fingerprint, digest, run_id).
        gparams: the parameters of the full ``memoire graph`` run behind it.
    """
    stage, digest, gallery_run = _gallery_part(con, user_id)
    part = f"{stage}:{digest}"
    g_fp, _, g_run = graph_mark
    writer = con.execute("SELECT params, code_version FROM runs WHERE run_id = ?", [g_run]).fetchall()
    wparams = json.loads(writer[0][0]) if writer else {}
    if wparams.get("update"):
        seen = ((wparams.get("from") or {}).get(user_id) or {}).get("gallery")
        accounted = seen is None or seen == part  # an update run before this field: the append watermark alone
    else:
        accounted = fingerprint(gparams, graph_code(), inputs_digest([part])) == g_fp
    delta = GalleryDelta(part, accounted)
    if accounted:
        return delta
    if writer and not wparams.get("update") and writer[0][1] != graph_code():
        delta.full_reason = f"its graph was built by `memoire graph` {writer[0][1]}, and this is {graph_code()}"
        return delta
    if stage != "ingest":
        delta.full_reason = (f"its {stage or 'missing'} gallery is not the one its graph was built from, and only `memoire ingest` "
                             "records what changed")
        return delta
    since = con.execute("SELECT completed_at FROM stage_users WHERE stage = 'graph' AND user_id = ?", [user_id]).fetchall()[0][0]
    folder = con.execute("SELECT params FROM runs WHERE run_id = ?", [gallery_run]).fetchall()
    folder_of = (json.loads(folder[0][0]) or {}).get("folder") if folder else None
    later = [json.loads(p or "{}").get("folder") for (p,) in con.execute(
        "SELECT params FROM runs WHERE stage = 'ingest' AND status = 'done' AND computed > 0 AND ended_at > ?", [since]).fetchall()]
    n_runs = sum(f == folder_of for f in later)
    if n_runs != 1:
        delta.full_reason = ("the gallery differs from the one its graph accounts for " + (
            f"and was ingested {n_runs} times since (ingest_changes holds only the last run's changes)" if n_runs > 1 else
            "but no ingest run of its folder since the graph was written says how"))
        return delta
    for path, kind in con.execute("SELECT path, change FROM ingest_changes WHERE user_id = ? ORDER BY seq", [user_id]).fetchall():
        delta.changes.setdefault(kind, []).append(path)
    blocking = [k for k in NEEDS_FULL if delta.changes.get(k)]
    if blocking:
        named = ", ".join(f"{_photos(len(delta.changes[k]))} {VERBS[k]} ({delta.changes[k][0]}{' …' if len(delta.changes[k]) > 1 else ''})"
                          for k in blocking)
        delta.full_reason = (f"{named} since its graph was built: the tags they had are no longer in the gallery, so their counts "
                             "and co-occurrences cannot be taken out incrementally")
    return delta
