"""What a stage is: selection, sharding, caching by fingerprint, staleness; :mod:`memoire_cli.runner` runs it.

A stage computes per user. For each selected user the runner compares the user's *fingerprint*
(stage parameters + code version + the digests of the user's upstream outputs, as DVC's lock file
does with content hashes) with the committed one in ``stage_users``:

* equal → nothing to do (cached); a run where every user is cached says so and is ``skipped``;
* different or absent (or ``--force``) → compute without holding the database, retract the user's
  old outputs, write its arrays, then commit its rows and fingerprint in one short transaction
  (users computed within ``COMMIT_EVERY_S`` of each other share a transaction).

An interrupted run therefore keeps every user it committed; the next run continues with the rest.
A stage whose users are not cached by fingerprint (``persona update``, ``pat --session``) says what
to do by its own :meth:`Stage.plan` and what to commit by the :class:`UserOutput` it returns.

Staleness is checked by content and transitively: each ``stage_users`` row records the committed
input digests it was computed from (``upstream``); before computing, every stage upstream of the
one run must still match its own inputs (:func:`stale_inputs`), so a stage never reads outputs
computed from an older gallery (it names the stage to re-run instead). Each row also records its
row counts and array shapes (``contents``); the direct inputs' counts are compared with the tables
(:func:`changed_inputs`), which notices rows added or deleted behind memoire's back (not rows edited
in place: that would need re-hashing every input, see schemas/README.md).
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from memoire_cli import __version__
from memoire_cli.errors import MemoireError, UsageError
from memoire_cli.pipeline import PIPELINE  # the first stale stage named is the one to re-run first

# GALLERY_STAGES lives in the workspace (which guards it) and stays importable from here.
from memoire_cli.workspace import (
    GALLERY_STAGES,
    Columns,
    Mark,
    StaleInputError,
    Workspace,
)

#: Users computed within this many seconds are committed in one transaction (fast stages would
#: otherwise spend most of their time opening the database); slow stages commit every user.
COMMIT_EVERY_S = 1.0


@dataclass(frozen=True)
class Selection:
    """Which users a process handles: ``--users a,b`` and ``--shard i/n``."""

    user_ids: tuple[str, ...] = ()
    shard_index: int = 0
    shard_count: int = 1

    @property
    def shard(self) -> str:
        return f"{self.shard_index}/{self.shard_count}"

    def apply(self, universe: list[str]) -> list[str]:
        """The users of this shard: the k-th user (sorted) belongs to shard k mod n."""
        users = sorted(universe)
        if self.user_ids:
            missing = sorted(set(self.user_ids) - set(users))
            if missing:
                raise UsageError(f"unknown user(s): {', '.join(missing[:5])}")
            users = [u for u in users if u in set(self.user_ids)]
        return [u for k, u in enumerate(users) if k % self.shard_count == self.shard_index]


def parse_shard(text: str | None) -> tuple[int, int]:
    """``"i/n"`` → (i, n) with 0 ≤ i < n."""
    if not text:
        return 0, 1
    try:
        i_text, n_text = text.split("/")
        i, n = int(i_text), int(n_text)
    except ValueError:
        raise UsageError(f"--shard must look like i/n (e.g. 0/4), got {text!r}") from None
    if n < 1 or not 0 <= i < n:
        raise UsageError(f"--shard {text}: need 0 <= i < n and n >= 1")
    return i, n


def parse_selection(users: str | None, shard: str | None) -> Selection:
    i, n = parse_shard(shard)
    ids = tuple(u.strip() for u in users.split(",") if u.strip()) if users else ()
    return Selection(ids, i, n)


@dataclass
class UserOutput:
    """What a stage computed for one user: rows per table, and arrays per declared array name.

    The runner commits them with the user's ``stage_users`` row for the stage (its fingerprint, the
    outputs' digest, the inputs they came from) unless ``marks`` says which rows to write instead
    (``persona update`` marks graph and persona; ``pat --session`` marks none). ``run_params`` are
    merged (one level deep) into the run's parameters in the same transaction; ``note`` is printed
    once the user is committed.
    """

    tables: dict[str, Columns] = field(default_factory=dict)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    marks: tuple[Mark, ...] | None = None
    run_params: dict[str, dict[str, Any]] | None = None
    note: str | None = None


def upstream_parts(snapshot: dict[str, dict[str, tuple[str, str]]], inputs: Any) -> dict[str, dict[str, str]]:
    """user_id → {input: ``"{stage}:{digest}"``} of the user's committed outputs of each input it has.

    ``"gallery"`` stands for whichever of :data:`GALLERY_STAGES` holds the user; ``snapshot`` is
    :meth:`Workspace.stage_users`.
    """
    out: dict[str, dict[str, str]] = {}
    for name in inputs:
        for stage in GALLERY_STAGES if name == "gallery" else (name,):
            for u, (_, d) in snapshot.get(stage, {}).items():
                out.setdefault(u, {})[name] = f"{stage}:{d}"
    return out


def committed_inputs(ws: Workspace, inputs: tuple[str, ...]) -> dict[str, str]:
    """user_id → combined digest of the user's committed outputs of every input stage.

    ``"gallery"`` in ``inputs`` stands for whichever of :data:`GALLERY_STAGES` holds the user. Only
    users committed in every input are returned.
    """
    parts = upstream_parts(ws.stage_users(), inputs)
    return {u: inputs_digest([p[name] for name in inputs]) for u, p in parts.items() if all(name in p for name in inputs)}


def stale_inputs(ws: Workspace, stage: str, inputs: tuple[str, ...], users: list[str]) -> None:
    """Refuse (one line) when a user's input, or anything upstream of it, was computed from outputs
    that have changed since (recorded ``stage_users.upstream`` ≠ the committed digests now).

    Rows without a record (written before schema version 2 recorded it) are taken as current.
    """
    if not users or not inputs:
        return
    snapshot = ws.stage_users()
    records: dict[tuple[str, str], dict[str, str]] = {
        (st, u): json.loads(up) for st, u, up in ws.query("SELECT stage, user_id, upstream FROM stage_users WHERE upstream IS NOT NULL")}
    now = upstream_parts(snapshot, {"gallery", *snapshot})  # every input of every recorded row
    for user_id in users:
        stale: dict[str, str] = {}  # stage → the input it is stale against
        gone: dict[str, str] = {}  # stage → an input no longer committed at all
        seen: set[str] = set()
        todo = [i for i in inputs if i != "gallery"]
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            record = records.get((name, user_id))
            if record is None:
                continue
            for dep, part in sorted(record.items()):
                current = now.get(user_id, {}).get(dep)
                if current is None:
                    gone.setdefault(name, dep)
                elif current != part and name not in stale:
                    stale[name] = dep
            todo.extend(d for d in record if d != "gallery")
        if gone:
            name, dep = min(gone.items(), key=lambda kv: PIPELINE.index(kv[0]) if kv[0] in PIPELINE else len(PIPELINE))
            rerun = "synth or ingest" if dep == "gallery" else dep
            raise StaleInputError(f"user {user_id}: {name} was computed from a {dep} output that is no longer committed; "
                                  f"re-run memoire {rerun} (and the stages after it) before {stage}")
        if stale:
            order = sorted(stale, key=lambda st: PIPELINE.index(st) if st in PIPELINE else len(PIPELINE))
            first, rest = order[0], order[1:]
            also = f" and the stages after it ({', '.join(rest)} {'is' if len(rest) == 1 else 'are'} stale too)" if rest else ""
            raise StaleInputError(f"user {user_id}: {first} was computed from an older {stale[first]}; "
                                  f"re-run memoire {first}{also} before {stage}")


def changed_inputs(ws: Workspace, inputs: tuple[str, ...], users: list[str]) -> None:
    """Refuse (one line) when a user's committed input rows were added or deleted behind memoire's back:
    the row counts recorded in ``stage_users.contents`` must match the tables (one count per table)."""
    if not users or not inputs:
        return
    stages = [g for g in GALLERY_STAGES] if "gallery" in inputs else []
    stages += [i for i in inputs if i != "gallery"]
    marks = ", ".join("?" * len(stages))
    recorded = ws.query(f"SELECT stage, user_id, contents FROM stage_users WHERE contents IS NOT NULL AND stage IN ({marks})", stages)
    wanted = set(users)
    expected: dict[str, dict[str, int]] = {}  # table → user → rows
    owner: dict[tuple[str, str], str] = {}
    for stage, user_id, contents in recorded:
        if user_id not in wanted:
            continue
        for key, value in json.loads(contents).items():
            kind, _, table = key.partition(":")
            if kind == "table":
                expected.setdefault(table, {})[user_id] = int(value)
                owner[(table, user_id)] = stage
    for table, per_user in sorted(expected.items()):
        found = dict(ws.query(f"SELECT user_id, count(*) FROM {table} GROUP BY user_id"))
        for user_id, n in sorted(per_user.items()):
            if found.get(user_id, 0) != n:
                stage = owner[(table, user_id)]
                raise StaleInputError(f"user {user_id}: table {table} holds {found.get(user_id, 0)} rows where `memoire {stage}` "
                                      f"committed {n}: the workspace was changed outside memoire (re-run memoire {stage} --force)")


def inputs_digest(parts: list[str]) -> str:
    """The digest of a user's inputs from its upstream outputs' ``"{stage}:{digest}"`` parts, in input order."""
    return sha16("|".join(parts))


class Stage(ABC):
    """A stage: parameters, the users it can run on, their inputs' digests, and per-user compute.

    Downstream stages name their upstream stages in ``inputs`` (``"gallery"`` for synth/ingest);
    the default :meth:`universe` and :meth:`input_digests` then follow the committed outputs.
    """

    name: str = ""
    code_version: str = "1"
    inputs: tuple[str, ...] = ()

    @abstractmethod
    def params(self) -> dict[str, Any]:
        """The parameters that change the outputs (they enter the fingerprint)."""

    def universe(self, ws: Workspace) -> list[str]:
        """Every user this stage could run on: those with committed outputs of all its inputs."""
        return input_users(ws, self.name, self.inputs)

    def input_digests(self, ws: Workspace, users: list[str]) -> dict[str, str]:
        """Digest of each user's inputs (their upstream outputs' digests); empty for source stages."""
        if not self.inputs:
            return {u: "" for u in users}
        digests = committed_inputs(ws, self.inputs)
        return {u: digests[u] for u in users}

    def prepare(self, ws: Workspace, console: Any) -> None:  # noqa: B027 - optional hook
        """Load what every user shares (models, banks) once, before the first compute."""

    @abstractmethod
    def compute(self, ws: Workspace, user_id: str) -> UserOutput | None:
        """Compute one user's outputs (must not write to the workspace); None: nothing to commit for
        this user (the stage says why), and it does not count as computed."""

    def confirm(self, ws: Workspace, selection: Selection, todo: list[str], force: bool, console: Any) -> None:  # noqa: B027 - optional hook
        """Before anything is written: refuse (or, with ``force``, announce) changes that destroy results."""

    def finish(self, ws: Workspace, selection: Selection) -> None:  # noqa: B027 - optional hook
        """After every selected user is committed (e.g. drop users no longer in the universe)."""

    def code(self) -> str:
        return f"{__version__}+{self.name}.{self.code_version}"

    # --- what the runner asks of every stage; the defaults are those of a cached per-user stage

    #: The tables whose user rows a commit replaces (None: every table the schema declares for ``name``).
    replaces: tuple[str, ...] | None = None
    #: The arrays a user's output may hold (None: any the schema declares for ``name``); the workspace
    #: refuses, at the commit, tables and arrays declared for neither the stage nor a stage it marks.
    writes_arrays: tuple[str, ...] | None = None
    #: Users computed within this many seconds share a commit (0: each user is committed on its own).
    commit_every_s: float = COMMIT_EVERY_S
    #: Whether the runner shows a progress bar over the users to compute.
    progress_bar: bool = True

    def writes(self, ws: Workspace) -> list[str]:
        """The tables a commit replaces the user's rows of (:attr:`replaces`)."""
        return list(self.replaces) if self.replaces is not None else [t.name for t in ws.schema.tables_of(self.name)]

    def plan(self, ws: Workspace, selection: Selection, force: bool) -> Plan:
        """The selected users and those to compute (:func:`plan_stage`: by fingerprint)."""
        return plan_stage(ws, self, selection, force)

    def idle(self, users: list[str], console: Any) -> None:
        """Say that no user had to be computed."""
        console.print(f"{self.name}: inputs and parameters unchanged for {len(users)} user(s); nothing to do (use --force to redo)")

    def verdict(self, run: dict[str, Any]) -> tuple[str, str] | None:
        """A (status, message) other than ``done``/``skipped`` to record once every user is committed."""
        return None

    def after(self, ws: Workspace, run: dict[str, Any], console: Any) -> None:  # noqa: B027 - optional hook
        """After the run is recorded: report, or fail with one line (what was committed stays)."""

    def manifest(self, ws: Workspace, run: dict[str, Any], skipped: bool) -> dict[str, Any]:
        """The manifest line of the finished run."""
        return manifest_of(ws, self.name, run, skipped)


def input_users(ws: Workspace, stage: str, inputs: tuple[str, ...]) -> list[str]:
    """Users with committed outputs of every input stage (sorted); a clear error naming what to run when none."""
    users = sorted(committed_inputs(ws, inputs))
    if not users:
        needed = " and ".join("synth or ingest" if i == "gallery" else i for i in inputs)
        raise MemoireError(f"`memoire {stage}` needs the outputs of {needed} in {ws.root}, and there are none yet: run it first")
    return users


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def sha16(text: str) -> str:
    """First 32 hex digits of the SHA-256 of ``text``."""
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def fingerprint(params: dict[str, Any], code: str, input_digest: str) -> str:
    """What a user's outputs of a stage depend on: parameters, code version, input digests."""
    return sha16(canonical_json({"params": params, "code": code, "inputs": input_digest}))


@dataclass
class Plan:
    """What a run of a stage over a selection has to do (:func:`plan_stage`)."""

    users: list[str]
    params: dict[str, Any]
    fingerprints: dict[str, str]
    committed: dict[str, tuple[str, str]]
    todo: list[tuple[str, str]]
    upstream: dict[str, dict[str, str]] = field(default_factory=dict)
    fingerprint: str | None = None  # the run's: of every selected user's fingerprint (None: not cached by fingerprint)


def plan_stage(ws: Workspace, stage: Stage, selection: Selection, force: bool) -> Plan:
    """The selected users, their fingerprints, and those to compute (changed inputs or parameters,
    never committed, or every one with ``force``)."""
    users = selection.apply(stage.universe(ws))
    params = stage.params()
    committed = ws.user_fingerprints(stage.name)
    fingerprints = {u: fingerprint(params, stage.code(), d) for u, d in stage.input_digests(ws, users).items()}
    todo = [(u, fp) for u, fp in fingerprints.items() if force or committed.get(u, ("", ""))[0] != fp]
    changed_inputs(ws, stage.inputs, users)
    stale_inputs(ws, stage.name, stage.inputs, [u for u, _ in todo])
    parts = upstream_parts(ws.stage_users(), stage.inputs)
    upstream = {u: parts.get(u, {}) for u, _ in todo}
    return Plan(users, params, fingerprints, committed, todo, upstream, sha16(canonical_json(fingerprints)))


def check_gallery(ws: Workspace, stage: Stage, users: list[str]) -> None:
    """One gallery stage per user: a user synth wrote cannot be ingested over, and vice versa."""
    held = ws.gallery_conflicts(stage.name, users)
    if held:
        u, other = min(held.items())
        raise MemoireError(f"user {u} already holds a gallery written by `memoire {other}`; `memoire {stage.name}` "
                           f"cannot write over it (choose another user id, or use another workspace)")


def manifest_of(ws: Workspace, stage: str, run: dict[str, Any], skipped: bool) -> dict[str, Any]:
    """The manifest line of a finished run (memoire_cli/manifest.py validates its shape)."""
    return {
        "memoire": __version__,
        "stage": stage,
        "workspace": str(ws.root),
        "run_id": run["run_id"],
        "skipped": skipped,
        "shard": run["shard"],
        "users": run["users"],
        "computed": run["computed"],
        "cached": run["users"] - run["computed"],
        "wrote": {
            "tables": [t.name for t in ws.schema.tables_of(stage) if not t.hidden],
            "hidden_tables": [t.name for t in ws.schema.tables_of(stage) if t.hidden],
            "arrays": [a.path for a in ws.schema.arrays_of(stage)],
        },
    }
