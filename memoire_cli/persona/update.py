"""`memoire persona update`: streaming maintenance of a user's graph and persona (S1.2.11).

Between two full runs (``memoire graph`` → ``memoire persona``), images appended to a gallery are
folded into the committed graph and persona at a cost bounded by the ego graph of the tags they
touch, not by the gallery.

**Which images are new.** First the update checks, by content, that the gallery is the one the
graph accounts for, and if not, how it changed (:mod:`.follow`: the gallery digest against the
graph's fingerprint or the last update's record, then ``ingest_changes``). Photos added by a
re-ingest are appended rows, and so are images appended by any other writer: with
``graph_users.n_images`` as the watermark (the graph accounts for the images with ``images.idx <
n_images``; ``idx`` is the row in the user's image array, 0…N−1), an update folds in the images
with ``idx ≥ n_images`` and raises ``n_images``. A removed, edited or retagged photo cannot be
folded in (its old tags are gone from the gallery): the update names it in one line and fails, or
with ``--full`` rebuilds the user's graph and persona with the parameters of their last full runs.
If fewer than ``n_images`` old images remain without such a change on record, it refuses too.

**The arithmetic** is :mod:`.streaming`'s (steps (1)–(6) of S1.2.11 on one user's state in memory);
:mod:`.stored_state` reads the committed state and turns it back into rows.

**Bookkeeping.** The update is a :class:`~memoire_cli.stage.Stage` of the runner
(:mod:`memoire_cli.runner`). Per user, the new ``graph_users``/``graph_nodes``/``graph_edges`` and
``persona`` rows, both ``stage_users`` rows and the z array (staged, swapped in with the commit) are
committed in one transaction through :meth:`memoire_cli.workspace.Workspace.commit`
(``persona_curves`` keeps the training curves). A run
is recorded with stage ``persona`` and params ``{"update": true, …}``; its ``from[user_id]`` names the
full runs the user's graph and persona come from and the gallery (``"{stage}:{digest}"``) they now
account for. The graph keeps the
fingerprint of its last full build (so a changed gallery still triggers a full ``memoire graph``);
the persona's fingerprint is recomputed over the updated graph's digest, so a later plain
``memoire persona`` with the same parameters is cached rather than retraining: a full rerun
(``memoire graph`` after the gallery stage, or ``--force``) recomputes everything from scratch.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from memoire_cli import __version__
from memoire_cli.errors import MemoireError
from memoire_cli.graph.config import GraphConfig
from memoire_cli.persona.follow import GalleryDelta
from memoire_cli.persona.stored_state import (
    GRAPH_TABLES,
    load_model,
    origin_params,
    output_rows,
    persona_code,
    read_state,
)
from memoire_cli.persona.streaming import (
    NewImages,
    UpdateConfig,
    UpdateReport,
    UserState,
    update_state,
)
from memoire_cli.stage import (
    Plan,
    Selection,
    Stage,
    UserOutput,
    canonical_json,
    fingerprint,
    inputs_digest,
)
from memoire_cli.workspace import Mark, Workspace, digest_columns

__all__ = ["GRAPH_TABLES", "NewImages", "UpdateConfig", "UpdateStage", "UserState", "full_rerun", "load_model",
           "run_update", "update_state"]


class UpdateStage(Stage):
    """``memoire persona update``: every selected user with a graph and a persona is looked at (no
    caching by fingerprint: the gallery itself says what is new, :mod:`.follow`); a user with images to
    fold in, or a re-ingested gallery to record, is committed on its own, marking graph and persona.

    Users whose gallery changed in a way an update cannot fold in are rebuilt by a full ``graph`` +
    ``persona`` run when ``full``; otherwise, after the others are updated, one line names the change
    and the command fails (exit 1), so that a script notices the stale persona.
    """

    name = "persona"
    replaces = (*GRAPH_TABLES, "persona")
    writes_arrays = ("persona_embeddings",)
    commit_every_s = 0.0  # each user's commit records the gallery it now accounts for
    progress_bar = False

    def __init__(self, ucfg: UpdateConfig, full: bool = False) -> None:
        self.ucfg, self.full = ucfg, full
        self.stale: list[tuple[str, str]] = []  # (user, why only a full run can follow)

    def params(self) -> dict[str, Any]:
        return {"update": True, **self.ucfg.as_params()}

    def code(self) -> str:
        return persona_code() + "+update.1"

    def plan(self, ws: Workspace, selection: Selection, force: bool) -> Plan:
        from memoire_cli.threads import pin_torch_threads

        self.ucfg.check()
        pin_torch_threads()  # the forward of the trained model: the same numbers on every machine
        universe = [u for (u,) in ws.query(
            "SELECT user_id FROM stage_users WHERE stage IN ('graph', 'persona') GROUP BY user_id HAVING count(*) = 2 ORDER BY user_id")]
        if not universe:
            raise MemoireError(
                f"`memoire persona update` needs the outputs of persona in {ws.root}, and there are none yet: run `memoire persona` first"
            )
        users = selection.apply(universe)
        return Plan(users, self.params(), {}, {}, [(u, "") for u in users])

    def idle(self, users: list[str], console: Any) -> None:
        """No user selected: :meth:`after` says there is nothing new."""

    def compute(self, ws: Workspace, user_id: str) -> UserOutput | None:
        """Fold the user's new images into its graph and persona.

        Nothing is committed (None) when the graph already accounts for the gallery and no image was
        appended, or when only a full run can follow (``delta.full_reason``). A re-ingested gallery with
        no new image (only duplicates or skipped files changed) is committed unchanged, so that the
        update records the gallery it now accounts for. The run's params gain ``from[user_id]`` (the
        full runs the user's graph and persona come from, and the gallery accounted for), committed
        with the user's rows.
        """
        st, new, gparams, pparams, delta = read_state(ws, user_id)
        if delta.full_reason is not None:
            self.stale.append((user_id, delta.full_reason))
            return None
        if new.k == 0 and delta.accounted:
            return None
        report = None
        if new.k:
            fields = set(GraphConfig.__dataclass_fields__)
            gcfg = GraphConfig(**{k: v for k, v in gparams.items() if k in fields})
            model = load_model(pparams, np.asarray(ws.read_array("persona_weights", user_id)[...]))
            report = update_state(st, new, model, gcfg, self.ucfg)
        tables = output_rows(user_id, st)
        graph_digest = digest_columns({k: tables[k] for k in GRAPH_TABLES}, {})
        graph_fp = st.users_row["graph_fingerprint"]  # the last full build's: a changed gallery still rebuilds
        persona_fp = fingerprint(pparams, persona_code(), inputs_digest([f"graph:{graph_digest}"]))
        persona_digest = digest_columns({"persona": tables["persona"]}, {"persona_embeddings": st.emb})
        marks = (Mark("graph", graph_fp, graph_digest, {"gallery": delta.gallery}),
                 Mark("persona", persona_fp, persona_digest, {"graph": f"graph:{graph_digest}"}))
        return UserOutput(tables=tables, arrays={"persona_embeddings": np.ascontiguousarray(st.emb, dtype=np.float32)},
                          marks=marks, run_params={"from": {user_id: {**st.users_row["from"], "gallery": delta.gallery}}},
                          note=update_note(user_id, delta, report))

    def verdict(self, run: dict[str, Any]) -> tuple[str, str] | None:
        if self.stale and not self.full:
            return "failed", f"{len(self.stale)} user(s) need a full run"
        return None

    def after(self, ws: Workspace, run: dict[str, Any], console: Any) -> None:
        stale = self.stale
        if run["computed"] == 0 and not stale:
            console.print(f"persona update: nothing new: the gallery of {run['users']} user(s) is the one their graph and persona "
                          "account for (same content digest, no appended image)")
        if len(stale) > 1 or (stale and self.full):
            for user_id, why in stale:
                console.print(f"persona update: user {user_id} needs a full run{' (rebuilding: graph + persona)' if self.full else ''}: {why}",
                              markup=False)
        if stale and not self.full:
            first, why = stale[0]
            more = f" (and {len(stale) - 1} other user(s))" if len(stale) > 1 else ""
            raise MemoireError(f"user {first}{more}: {why}; rerun with `memoire persona update --full` "
                               "(or `memoire graph` then `memoire persona`)")
        if stale:
            full_rerun(ws, [u for u, _ in stale], console)

    def manifest(self, ws: Workspace, run: dict[str, Any], skipped: bool) -> dict[str, Any]:
        n_stale = len(self.stale)
        return {
            "memoire": __version__, "stage": "persona", "action": "update", "workspace": str(ws.root), "run_id": run["run_id"],
            "skipped": skipped and not self.stale, "shard": run["shard"], "users": run["users"], "computed": run["computed"] + n_stale,
            "cached": run["users"] - run["computed"] - n_stale, "full": [u for u, _ in self.stale],
            "wrote": {"tables": self.writes(ws), "arrays": [ws.schema.arrays[a].path for a in self.writes_arrays or ()]},
        }


def update_note(user_id: str, delta: GalleryDelta, report: UpdateReport | None) -> str:
    """The line said once a user is committed: what the fold changed, or that a re-ingest added nothing."""
    if report is not None:
        seen = f" after a re-ingest ({delta.summary()})" if delta.changes.get("added") else ""
        return (f"persona update: user {user_id}{seen}: {len(report.touched)} tag(s) touched, "
                f"{len(report.new)} new, {len(report.ego)} node(s) refreshed"
                + (f", {len(report.pruned_tags)} pruned" if report.pruned_tags else ""))
    kinds = ", ".join(f"{len(v)} {k}" for k, v in sorted(delta.changes.items())) or "no file changed"
    return (f"persona update: user {user_id}: the gallery was re-ingested ({kinds}) "
            "and no photo was added, removed or retagged: the persona is current")


def full_rerun(ws: Workspace, users: list[str], console: Any) -> None:
    """``--full``: rebuild the users' graph and retrain their persona with the parameters of their
    last full runs (``memoire graph`` then ``memoire persona``, each recorded as its own run)."""
    from memoire_cli.graph.stage import GraphStage
    from memoire_cli.persona.config import PersonaConfig, resolve_device
    from memoire_cli.persona.stage import PersonaStage
    from memoire_cli.runner import run_stage

    with ws.connect(read_only=True) as con:
        origins = {}
        for user_id in users:
            runs = dict(
                con.execute("SELECT stage, run_id FROM stage_users WHERE stage IN ('graph', 'persona') AND user_id = ?", [user_id]).fetchall()
            )
            origins[user_id] = tuple(origin_params(con, runs[k], k, user_id)[0] for k in ("graph", "persona"))
    groups: dict[str, list[str]] = {}
    for user_id, params in origins.items():  # users that share parameters rebuild together
        groups.setdefault(canonical_json(params), []).append(user_id)
    g_fields, p_fields = set(GraphConfig.__dataclass_fields__), set(PersonaConfig.__dataclass_fields__)
    for key, members in sorted(groups.items()):
        gparams, pparams = json.loads(key)
        selection = Selection(tuple(members))
        run_stage(ws, GraphStage(GraphConfig(**{k: v for k, v in gparams.items() if k in g_fields})), selection, False, console)
        device = resolve_device("cpu" if pparams.get("device", "cpu") == "cpu" else "auto")
        cfg = PersonaConfig(**{k: v for k, v in pparams.items() if k in p_fields})
        run_stage(ws, PersonaStage(cfg, device), selection, False, console)


def run_update(ws: Workspace, selection: Selection, ucfg: UpdateConfig, console: Any, full: bool = False) -> dict[str, Any]:
    """``memoire persona update`` over the selected users (:class:`UpdateStage`); returns the manifest."""
    from memoire_cli.runner import run_stage

    return run_stage(ws, UpdateStage(ucfg, full), selection, False, console)
