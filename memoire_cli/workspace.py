"""The workspace: one DuckDB file (tables) and one Zarr v3 group (arrays) in a folder.

Contracts (DESIGN.md, "Contracts"; prose in ``schemas/README.md``):

* Located by ``--workspace DIR``, else ``$MEMOIRE_WORKSPACE``, else a manifest line on stdin
  (:mod:`memoire_cli.manifest`).
* Schema versions are checked on open: newer is refused, older is migrated in place.
* DuckDB admits one writer process at a time, so no connection is held while computing: reads and
  writes open a short-lived connection and retry while another process holds the lock.
* Per user, a stage's outputs are committed in one transaction together with its ``stage_users``
  row; a user without that row has no outputs. Arrays are written before that commit (and after
  the user's previous outputs were retracted), so an interrupted stage leaves each user either as
  it was committed or absent (resumable), never half-written.
* Write-then-swap: a stage's new arrays are written under a staged name beside the live ones and
  swapped in (renamed) only with the commit of its rows; a failed write or commit leaves the previous
  outputs as they were.
* Integrity (cheap checks on open and read): the Zarr group's ``memoire_schema_version`` is checked
  like the database's; a table the workspace recorded (meta ``tables``) that is gone is an error, not
  re-created empty; an array written complete (attribute ``memoire_chunks``) with a chunk file missing
  is an error when opened, never read as zeros (missing chunks would read as the fill value).
* Hidden ground truth (DuckDB schema ``truth``, Zarr group ``truth/``) is readable by ``eval`` only.
* The gallery tables have several producers (:data:`GALLERY_STAGES`); a user's gallery comes from
  exactly one of them, so committing a user to one gallery stage while another holds it is refused.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from memoire_cli import __version__
from memoire_cli.errors import SchemaVersionError, UsageError, WorkspaceError, first_line
from memoire_cli.pipeline import GALLERY_STAGES
from memoire_cli.schema import Schema, TableSpec, load_schema

DB_FILE = "memoire.duckdb"
ZARR_DIR = "arrays.zarr"
ENV_VAR = "MEMOIRE_WORKSPACE"
LOCK_TIMEOUT_ENV = "MEMOIRE_LOCK_TIMEOUT"
#: The attribute of an array whose every chunk was written (so a missing chunk file is damage).
COMPLETE_ATTR = "memoire_chunks"
#: The Zarr group attribute holding the schema version (checked on open like meta.schema_version).
ZARR_VERSION_ATTR = "memoire_schema_version"
#: Stages allowed to read hidden ground truth.
TRUTH_READERS = frozenset({"eval"})
_TRUTH_REF = re.compile(r"\btruth\s*\.", re.IGNORECASE)

Columns = dict[str, np.ndarray]


@dataclass(frozen=True)
class Mark:
    """A ``stage_users`` row committed with a user's outputs: they are ``stage``'s current outputs."""

    stage: str
    fingerprint: str
    digest: str
    upstream: dict[str, str] | None = None  # {input: "stage:digest"} they were computed from


@dataclass
class UserCommit:
    """One user's outputs to commit (:meth:`Workspace.commit`): rows per table, and the stages they make current."""

    user_id: str
    tables: dict[str, Columns]
    marks: tuple[Mark, ...] = ()


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _is_lock_conflict(exc: Exception) -> bool:
    text = str(exc).lower()
    return "lock" in text and ("conflicting" in text or "could not set" in text)


def lock_timeout() -> float:
    """``$MEMOIRE_LOCK_TIMEOUT``: seconds to wait for another process's database lock (default 300)."""
    text = os.environ.get(LOCK_TIMEOUT_ENV, "").strip() or "300"
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 <= value <= 86400:  # NaN too
        raise UsageError(f"${LOCK_TIMEOUT_ENV} must be a number of seconds between 0 and 86400, got {text[:40]!r}")
    return value


def check_path_text(path: Path, what: str = "workspace path") -> None:
    """Refuse a path that is not valid UTF-8 (DuckDB cannot open it, and paths are stored as text)."""
    try:
        os.fsencode(path).decode("utf-8")
    except UnicodeDecodeError:
        shown = os.fsencode(path).decode("utf-8", "backslashreplace")
        raise UsageError(f"{what} {shown} is not valid UTF-8: rename it") from None


class Workspace:
    """A workspace folder, opened on behalf of one stage (which decides what it may read)."""

    def __init__(self, root: Path, stage: str, schema: Schema | None = None):
        self.root = Path(root).resolve()
        self.stage = stage
        self.schema = schema or load_schema()
        self.lock_timeout = lock_timeout()

    # ---------------------------------------------------------------------------------- opening
    @property
    def db_path(self) -> Path:
        return self.root / DB_FILE

    @property
    def zarr_path(self) -> Path:
        return self.root / ZARR_DIR

    @classmethod
    def open(cls, root: Path, stage: str, create: bool = False) -> Workspace:
        """Open (or, with ``create``, initialise) a workspace and check its schema version."""
        ws = cls(root, stage)
        check_path_text(ws.root)
        if create:
            ws._create()
        elif not ws.db_path.exists():
            raise WorkspaceError(
                f"no workspace at {ws.root} (expected {DB_FILE} there): run `memoire synth` or `memoire ingest` first"
            )
        ws._check_version()
        return ws

    def _create(self) -> None:
        if self.root.exists() and not self.root.is_dir():
            raise WorkspaceError(f"workspace path {self.root} exists and is not a folder")
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WorkspaceError(f"cannot create workspace folder {self.root}: {exc.strerror}") from None
        if not os.access(self.root, os.W_OK | os.X_OK):
            raise WorkspaceError(f"workspace folder {self.root} is not writable")
        if self.db_path.exists():
            return
        import zarr

        def init(con: Any) -> None:
            from memoire_cli.schema import render_ddl

            con.execute(render_ddl(self.schema))
            now = utcnow().isoformat(timespec="seconds")
            meta = (("schema_version", str(self.schema.version)), ("created_at", now), ("created_by", f"memoire {__version__}"),
                    ("workspace_id", uuid.uuid4().hex), ("tables", json.dumps(sorted(self.schema.tables))))
            for key, value in meta:
                con.execute("INSERT INTO meta VALUES (?, ?)", [key, value])

        root = zarr.open_group(store=str(self.zarr_path), mode="a")
        root.attrs[ZARR_VERSION_ATTR] = self.schema.version
        root.require_group("users")
        root.require_group("truth")
        tmp = self.root / f"{DB_FILE}.init-{os.getpid()}"
        tmp.unlink(missing_ok=True)
        import duckdb

        con = duckdb.connect(str(tmp))
        try:
            init(con)
        finally:
            con.close()
        # The workspace exists only once fully initialised; link() never replaces a database that
        # another process initialised meanwhile (it fails instead, and that one is used).
        try:
            os.link(tmp, self.db_path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)

    def _check_version(self) -> None:
        try:
            rows = self.query("SELECT value FROM meta WHERE key = 'schema_version'")
        except WorkspaceError:
            raise
        except Exception:
            raise WorkspaceError(f"{self.db_path} is not a memoire workspace (no meta table)") from None
        if not rows:
            raise WorkspaceError(f"{self.db_path} has no schema_version: not a memoire workspace")
        try:
            found = int(rows[0][0])
        except ValueError:
            raise SchemaVersionError(f"workspace {self.root} has an unknown schema version {rows[0][0]!r}") from None
        if found > self.schema.version:
            raise SchemaVersionError(
                f"workspace {self.root} has schema version {found}, newer than this memoire supports "
                f"({self.schema.version}): upgrade memoire"
            )
        if found < self.schema.version:
            from memoire_cli.migrations import migrate

            self._check_zarr(found)
            self.transaction(lambda con: migrate(con, found, self.schema.version))
        self._check_zarr(self.schema.version)
        self._add_missing_tables()
        mark_dead_runs(self)

    def _check_zarr(self, expected: int) -> None:
        """The Zarr group must exist and carry the schema version ``expected`` (an older one is brought
        up to date: no array changed layout between versions). Reads ``zarr.json`` directly (no zarr import)."""
        meta = self.zarr_path / "zarr.json"
        try:
            attrs = json.loads(meta.read_text()).get("attributes", {})
        except FileNotFoundError:
            raise WorkspaceError(f"workspace {self.root} is damaged: its array store {ZARR_DIR} is missing "
                                 f"(restore it from a backup, or re-create the workspace)") from None
        except (OSError, ValueError) as exc:
            raise WorkspaceError(f"workspace {self.root} is damaged: cannot read {ZARR_DIR}/zarr.json ({exc})") from None
        found = attrs.get(ZARR_VERSION_ATTR)
        if not isinstance(found, int):
            raise WorkspaceError(f"workspace {self.root} is damaged: {ZARR_DIR} has no {ZARR_VERSION_ATTR} attribute")
        if found > self.schema.version:
            raise SchemaVersionError(f"workspace {self.root}: {ZARR_DIR} has schema version {found}, newer than this "
                                     f"memoire supports ({self.schema.version}): upgrade memoire")
        if found < expected:
            import zarr

            zarr.open_group(store=str(self.zarr_path), mode="a").attrs[ZARR_VERSION_ATTR] = expected
        elif found > expected:
            raise SchemaVersionError(f"workspace {self.root} is damaged: {ZARR_DIR} has schema version {found}, "
                                     f"its database {expected}")

    def _add_missing_tables(self) -> None:
        """Create tables the schema declares that the workspace lacks (empty; additive only), and the
        trailing columns version 2 added (:func:`memoire_cli.migrations.add_missing_columns`).

        A table added to the schema without changing any existing one keeps the schema version (the
        workspace stays readable by the previous release, which ignores it); a workspace made before it
        gets the empty table the first time a newer memoire opens it. The tables a workspace holds are
        recorded (meta ``tables``): one of them missing was dropped behind memoire's back, and is an
        error naming it (re-creating it empty would silently lose its rows).
        """
        from memoire_cli.migrations import V2_COLUMNS, add_missing_columns
        from memoire_cli.schema import table_ddl

        with self.connect(read_only=True) as con:  # one connection for the reads of every open
            found = {(schema, name) for schema, name in con.execute("SELECT table_schema, table_name FROM information_schema.tables").fetchall()}
            rows = con.execute("SELECT value FROM meta WHERE key = 'tables'").fetchall()
            columns = {t: {c for (c,) in con.execute("SELECT column_name FROM information_schema.columns "
                                                     "WHERE table_schema = 'main' AND table_name = ?", [t]).fetchall()} for t in V2_COLUMNS}
        missing = [spec for spec in self.schema.tables.values()
                   if tuple(spec.name.split(".", 1)) not in found and ("main", spec.name) not in found]
        recorded = set(json.loads(rows[0][0])) if rows else None
        dropped = sorted(spec.name for spec in missing if recorded is not None and spec.name in recorded)
        if dropped:
            raise WorkspaceError(f"workspace {self.root} is damaged: table {', '.join(dropped)} is missing from {DB_FILE} "
                                 f"(restore it from a backup, or re-create the workspace)")
        lacking = any(not set(names) <= columns[t] for t, names in V2_COLUMNS.items())
        if missing or recorded is None or lacking:
            def run(con: Any) -> None:
                for spec in missing:
                    con.execute(table_ddl(spec))
                add_missing_columns(con, self.schema)
                con.execute("DELETE FROM meta WHERE key = 'tables'")
                con.execute("INSERT INTO meta VALUES ('tables', ?)", [json.dumps(sorted(self.schema.tables))])

            self.transaction(run)

    @property
    def workspace_id(self) -> str:
        """A random id given to the workspace at creation (models record it, so that a model from
        another workspace is recognised); workspaces created before it existed answer their creation time."""
        rows = self.query("SELECT key, value FROM meta WHERE key IN ('workspace_id', 'created_at')")
        found = dict(rows)
        return found.get("workspace_id") or f"created-{found.get('created_at', 'unknown')}"

    # ------------------------------------------------------------------------------ connections
    @contextmanager
    def connect(self, read_only: bool) -> Iterator[Any]:
        """A short-lived DuckDB connection, retried while another process holds the file lock."""
        import duckdb

        deadline = time.monotonic() + self.lock_timeout
        delay = 0.02
        while True:
            try:
                con = duckdb.connect(str(self.db_path), read_only=read_only)
                break
            except duckdb.Error as exc:
                if not _is_lock_conflict(exc):
                    raise WorkspaceError(f"cannot open {self.db_path}: {str(exc).splitlines()[0]}") from None
                if time.monotonic() > deadline:
                    raise WorkspaceError(
                        f"{self.db_path} stayed locked by another process for {self.lock_timeout:.0f} s"
                    ) from None
                time.sleep(delay)
                delay = min(delay * 1.5, 0.5)
        try:
            yield con
        except duckdb.Error as exc:  # a damaged file, a dropped table or column: one line naming the file
            raise WorkspaceError(f"workspace database {self.db_path}: {first_line(exc)} "
                                 f"(the file is damaged or was edited: restore it, or rerun the stages that write it)") from None
        finally:
            con.close()

    def transaction(self, fn: Callable[[Any], Any]) -> Any:
        """Run ``fn(con)`` in one write transaction; rolled back if it raises or is interrupted."""
        with self.connect(read_only=False) as con:
            con.execute("BEGIN TRANSACTION")
            try:
                result = fn(con)
                con.execute("COMMIT")
            except BaseException as exc:
                try:
                    con.execute("ROLLBACK")
                except Exception:  # an interrupt or a failed statement may already have ended it
                    pass
                if is_interrupted_query(exc):  # DuckDB turns a signal during a statement into this error
                    raise KeyboardInterrupt from None
                raise
            return result

    def _guard(self, sql: str) -> None:
        if _TRUTH_REF.search(sql) and self.stage not in TRUTH_READERS:
            raise WorkspaceError(
                f"stage {self.stage!r} may not read hidden ground truth (truth.*): only {sorted(TRUTH_READERS)} may"
            )

    def query(self, sql: str, params: list[Any] | dict[str, Any] | None = None) -> list[tuple]:
        """Rows of a read-only query."""
        self._guard(sql)
        with self.connect(read_only=True) as con:
            return con.execute(sql, params or []).fetchall()

    def query_numpy(self, sql: str, params: list[Any] | None = None) -> Columns:
        """Columns of a read-only query as numpy arrays."""
        self._guard(sql)
        with self.connect(read_only=True) as con:
            return con.execute(sql, params or []).fetchnumpy()

    # --------------------------------------------------------------------------------- writing
    def insert(self, con: Any, spec: TableSpec, columns: Columns) -> None:
        """Insert a dict of numpy columns into a declared table (inside a transaction)."""
        names = spec.column_names
        if tuple(columns) != names:
            raise ValueError(f"columns for {spec.name} must be {names}, got {tuple(columns)}")
        lengths = {len(v) for v in columns.values()}
        if len(lengths) > 1:
            raise ValueError(f"columns of {spec.name} have different lengths {lengths}")
        if not lengths or lengths == {0}:
            return
        view = f"_src_{spec.name.replace('.', '_')}"
        con.register(view, columns)
        try:
            con.execute(f"INSERT INTO {spec.name} SELECT {', '.join(names)} FROM {view}")
        finally:
            con.unregister(view)

    def stage_users(self) -> dict[str, dict[str, tuple[str, str]]]:
        """stage → user_id → (fingerprint, digest) of every committed output, in one query."""
        out: dict[str, dict[str, tuple[str, str]]] = {}
        for stage, user_id, fp, digest in self.query("SELECT stage, user_id, fingerprint, digest FROM stage_users"):
            out.setdefault(stage, {})[user_id] = (fp, digest)
        return out

    def user_fingerprints(self, stage: str) -> dict[str, tuple[str, str]]:
        """user_id → (fingerprint, digest) of the committed outputs of a stage."""
        rows = self.query("SELECT user_id, fingerprint, digest FROM stage_users WHERE stage = ?", [stage])
        return {u: (f, d) for u, f, d in rows}

    def gallery_conflicts(self, stage: str, user_ids: list[str], con: Any = None) -> dict[str, str]:
        """user_id → the other gallery stage holding it, for ``stage`` in :data:`GALLERY_STAGES` (else {}).

        A user's gallery tables are written by one gallery stage only: ``synth`` over an ingested user
        (or ``ingest`` over a synthetic one) would mix two galleries' rows under one user id.
        """
        others = [g for g in GALLERY_STAGES if g != stage]
        if stage not in GALLERY_STAGES or not user_ids:
            return {}
        sql = (f"SELECT user_id, stage FROM stage_users WHERE stage IN ({', '.join('?' * len(others))}) "
               f"AND user_id IN ({', '.join('?' * len(user_ids))})")
        if con is not None:
            rows = con.execute(sql, [*others, *user_ids]).fetchall()
        else:
            rows = self.query(sql, [*others, *user_ids])
        return dict(rows)

    def drop_user(self, user_id: str, stages: list[str]) -> None:
        """Remove every output of ``user_id`` of the given stages (rows, ``stage_users`` rows, arrays), in one transaction."""

        def run(con: Any) -> None:
            for stage in stages:
                for spec in self.schema.tables_of(stage):
                    con.execute(f"DELETE FROM {spec.name} WHERE user_id = ?", [user_id])
                con.execute("DELETE FROM stage_users WHERE stage = ? AND user_id = ?", [stage, user_id])

        self.transaction(run)
        for stage in stages:
            self.delete_arrays(user_id, [a.name for a in self.schema.arrays_of(stage)])

    def retract_user(self, stage: str, user_id: str) -> None:
        """Remove a user's committed outputs of a stage (its tables' rows and its stage_users row)."""

        def run(con: Any) -> None:
            for spec in self.schema.tables_of(stage):
                con.execute(f"DELETE FROM {spec.name} WHERE user_id = ?", [user_id])
            con.execute("DELETE FROM stage_users WHERE stage = ? AND user_id = ?", [stage, user_id])

        self.transaction(run)

    def commit_users(self, stage: str, run_id: str, batch: list[tuple[str, str, str, dict[str, Columns]]],
                     upstream: dict[str, dict[str, str]] | None = None,
                     staged: dict[str, dict[str, tuple[int, ...]]] | None = None, tag: str = "") -> None:
        """Replace the rows of each (user_id, fingerprint, digest, tables) in every table of ``stage``
        and mark the users committed, all in one transaction (rows of a batch are inserted together).

        Args:
            upstream: user → the ``{input: "stage:digest"}`` it was computed from (recorded in
                ``stage_users.upstream``); checked again inside the transaction, so outputs computed
                while an input changed (another process re-ran it) are refused, not committed as current.
            staged: user → {array name: shape} written by :meth:`stage_array` with ``tag``: swapped in
                with the commit, and swapped back when it fails (the previous arrays are never lost).
        """
        upstream = upstream or {}
        outputs = [UserCommit(u, tables, (Mark(stage, fp, digest, upstream.get(u)),)) for u, fp, digest, tables in batch]
        self.commit(stage, run_id, outputs, [s.name for s in self.schema.tables_of(stage)], staged=staged, tag=tag)

    def commit(self, stage: str, run_id: str, outputs: list[UserCommit], replace: list[str],
               staged: dict[str, dict[str, tuple[int, ...]]] | None = None, tag: str = "", recheck: bool = True,
               run: dict[str, Any] | None = None) -> None:
        """Commit users' outputs in one transaction: their rows of the tables ``replace`` are replaced by
        ``outputs[k].tables``, each output's :class:`Mark` becomes its ``stage_users`` row (recording its
        row counts and array shapes), and the staged arrays are swapped in.

        Ownership: ``stage`` (the one running) may write the tables and arrays the schema declares for it or
        for a stage it marks (``memoire persona update`` marks graph and persona); anything else is refused.

        Args:
            recheck: check each mark's recorded ``upstream`` against the committed digests inside the
                transaction (off where a mark's upstream is another mark of the same commit).
            run: the invocation's ``runs`` row, rewritten in the same transaction (its parameters record
                what the committed users were computed from).
        """
        staged = staged or {}
        marked = {m.stage for out in outputs for m in out.marks}
        owned_tables = {s.name for st in (stage, *marked) for s in self.schema.tables_of(st)}
        owned_arrays = {a.name for st in (stage, *marked) for a in self.schema.arrays_of(st)}
        unknown = (set(replace) - owned_tables) | {t for out in outputs for t in out.tables if t not in replace}
        if unknown:
            raise ValueError(f"stage {stage} does not own tables {sorted(unknown)}")
        unknown = {a for names in staged.values() for a in names} - owned_arrays
        if unknown:
            raise ValueError(f"stage {stage} does not own arrays {sorted(unknown)}")
        users = [out.user_id for out in outputs]
        marks = ", ".join("?" * len(users))

        def run_(con: Any) -> None:
            for st in sorted(marked):
                held = self.gallery_conflicts(st, users, con)
                if held:
                    u, other = min(held.items())
                    raise WorkspaceError(f"user {u} already holds a gallery written by `memoire {other}`: a user's gallery comes from one stage")
            for name in replace:
                spec = self.schema.tables[name]
                con.execute(f"DELETE FROM {spec.name} WHERE user_id IN ({marks})", users)
                parts = [out.tables[name] for out in outputs if name in out.tables]
                if parts:
                    self.insert(con, spec, {c: np.concatenate([p[c] for p in parts]) for c in spec.column_names})
            checked = [(out.user_id, m) for out in outputs for m in out.marks if recheck and m.upstream]
            if checked:
                from memoire_cli.stage import upstream_parts

                now_parts = upstream_parts(con_snapshot(con), {k for _, m in checked for k in m.upstream or {}})
                for user_id, m in checked:
                    for name, part in (m.upstream or {}).items():
                        if now_parts.get(user_id, {}).get(name) != part:
                            raise StaleInputError(f"user {user_id}: its {name} changed while `memoire {m.stage}` ran; "
                                                  f"re-run memoire {m.stage}")
            now = utcnow()
            for out in outputs:
                for m in out.marks:
                    con.execute("DELETE FROM stage_users WHERE stage = ? AND user_id = ?", [m.stage, out.user_id])
                    con.execute("INSERT INTO stage_users (stage, user_id, fingerprint, digest, run_id, completed_at, upstream, contents) "
                                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                                [m.stage, out.user_id, m.fingerprint, m.digest, run_id, now,
                                 None if m.upstream is None else json.dumps(m.upstream, sort_keys=True),
                                 json.dumps(self._contents(m.stage, out.tables, staged.get(out.user_id, {})), sort_keys=True)])
            if run is not None:
                self.write_run(con, run)
            self._swap_in(staged, tag, undo)

        undo: list[Callable[[], None]] = []
        with signals_deferred():  # an interrupt mid-COMMIT could commit the rows and still undo the arrays' swap
            try:
                self.transaction(run_)
            except BaseException:
                for step in reversed(undo):
                    step()
                for user_id, names in staged.items():
                    self.delete_arrays(user_id, list(names), suffix=f".staged-{tag}")
                raise
            for user_id, names in staged.items():
                self.delete_arrays(user_id, list(names), suffix=f".old-{tag}")

    def _contents(self, stage: str, tables: dict[str, Columns], shapes: dict[str, tuple[int, ...]]) -> dict[str, Any]:
        """A ``stage_users.contents`` record: the rows of each of ``stage``'s tables the output holds (others,
        such as pat_sessions, are written by later commands) and the shapes of its arrays; hidden ones left out."""
        contents: dict[str, Any] = {f"table:{spec.name}": len(next(iter(tables[spec.name].values()), ()))
                                    for spec in self.schema.tables_of(stage) if spec.name in tables and not spec.hidden}
        contents.update({f"array:{name}": list(shape) for name, shape in shapes.items()
                         if stage in self.schema.arrays[name].producers and not self.schema.arrays[name].hidden})
        return contents

    def write_run(self, con: Any, run: dict[str, Any]) -> None:
        """Insert or replace a row of ``runs`` (a dict with every column) on an open connection."""
        cols = self.schema.tables["runs"].column_names
        con.execute("DELETE FROM runs WHERE run_id = ?", [run["run_id"]])
        con.execute(f"INSERT INTO runs VALUES ({', '.join('?' * len(cols))})", [run[c] for c in cols])

    def _swap_in(self, staged: dict[str, dict[str, tuple[int, ...]]], tag: str, undo: list[Callable[[], None]]) -> None:
        """Rename each staged array over the live one, keeping the live one aside (``undo`` restores it)."""
        import shutil

        for user_id, names in staged.items():
            for name in names:
                live = self.zarr_path / self.schema.arrays[name].path.format(user_id=user_id)
                new, old = live.with_name(f"{live.name}.staged-{tag}"), live.with_name(f"{live.name}.old-{tag}")
                shutil.rmtree(old, ignore_errors=True)
                if live.exists():
                    os.rename(live, old)
                    undo.append(functools.partial(_restore_array, live, old))
                else:
                    undo.append(functools.partial(shutil.rmtree, live, ignore_errors=True))
                os.rename(new, live)

    # ----------------------------------------------------------------------------------- arrays
    def array_path(self, name: str, user_id: str) -> str:
        spec = self.schema.arrays[name]
        if spec.hidden and self.stage not in TRUTH_READERS and self.stage not in spec.producers:
            raise WorkspaceError(f"stage {self.stage!r} may not read hidden array {spec.path}")
        return spec.path.format(user_id=user_id)

    def write_array(self, name: str, user_id: str, data: np.ndarray) -> None:
        """Write a declared per-user array (replacing it: written staged, then renamed over the old one)."""
        import shutil

        tag = uuid.uuid4().hex[:12]
        self.stage_array(name, user_id, data, tag)
        undo: list[Callable[[], None]] = []
        try:
            self._swap_in({user_id: {name: data.shape}}, tag, undo)
        except BaseException:
            for step in reversed(undo):
                step()
            raise
        finally:
            self.delete_arrays(user_id, [name], suffix=f".staged-{tag}")
        old = self.zarr_path / self.schema.arrays[name].path.format(user_id=user_id)
        shutil.rmtree(old.with_name(f"{old.name}.old-{tag}"), ignore_errors=True)

    def stage_array(self, name: str, user_id: str, data: np.ndarray, tag: str) -> None:
        """Write a declared per-user array under its staged name (``….staged-{tag}``), chunked as the
        schema says, every chunk written (so that a missing chunk file reads as damage, not zeros);
        :meth:`commit` swaps it in."""
        import zarr

        spec = self.schema.arrays[name]
        if np.dtype(spec.dtype) != data.dtype:
            raise ValueError(f"array {name} must be {spec.dtype}, got {data.dtype}")
        # A named extent ("image_size") spans the whole axis; a number is a fixed chunk length.
        chunks = tuple(
            max(1, data.shape[i]) if isinstance(c, str) else max(1, min(int(c), data.shape[i]))
            for i, c in enumerate(spec.chunks)
        )
        root = zarr.open_group(store=str(self.zarr_path), mode="a")
        arr = root.create_array(f"{self.array_path(name, user_id)}.staged-{tag}", shape=data.shape, chunks=chunks,
                                dtype=data.dtype, overwrite=True, config={"write_empty_chunks": True},
                                attributes={COMPLETE_ATTR: "complete"})
        if data.size:
            arr[...] = data

    def read_array(self, name: str, user_id: str) -> Any:
        """A declared per-user array, opened read-only (a zarr.Array: index it to read).

        An array written complete must have every chunk file (:func:`missing_chunks`, a directory
        listing: cheaper than reading, and a missing chunk would otherwise read as zeros)."""
        import zarr

        path = self.array_path(name, user_id)
        try:
            arr = zarr.open_array(store=str(self.zarr_path), path=path, mode="r")
        except Exception:
            raise WorkspaceError(f"array {path} is missing from {self.zarr_path}") from None
        lost = missing_chunks(self.zarr_path / path, arr)
        if lost:
            raise WorkspaceError(f"workspace {self.root} is damaged: array {path} lacks {lost} chunk file(s) "
                                 f"(re-run the stage that wrote it with --force)")
        return CheckedArray(arr, self.zarr_path / path)

    def delete_arrays(self, user_id: str, names: list[str], suffix: str = "") -> None:
        import shutil

        for name in names:
            path = self.zarr_path / self.schema.arrays[name].path.format(user_id=user_id)
            shutil.rmtree(path.with_name(path.name + suffix), ignore_errors=True)


@contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM back while the block runs; an interrupt that came is raised when it ends.

    Blocking the signals is not enough: any of the process's threads (DuckDB's, Zarr's, ONNX
    Runtime's) may take one, and DuckDB then stops the statement in progress, a COMMIT included
    (reported as "Query interrupted" after the rows were written). The Python-level handlers are
    swapped for ones that only note the signal; outside the main thread the block runs as it is."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    watched = (signal.SIGINT, signal.SIGTERM)
    previous = {s: signal.getsignal(s) for s in watched}
    for s in watched:
        signal.signal(s, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler if handler is not None else signal.SIG_DFL)
    if caught:
        raise KeyboardInterrupt


def is_interrupted_query(exc: BaseException) -> bool:
    """Whether ``exc`` is DuckDB's report of a statement stopped by Ctrl-C or SIGTERM."""
    return isinstance(exc, RuntimeError) and str(exc).startswith("Query interrupted")


class StaleInputError(WorkspaceError):
    """A stage's input changed (or is stale itself) relative to what its outputs would be computed from."""


def con_snapshot(con: Any) -> dict[str, dict[str, tuple[str, str]]]:
    """:meth:`Workspace.stage_users` on an open connection (inside a transaction)."""
    out: dict[str, dict[str, tuple[str, str]]] = {}
    for stage, user_id, fp, digest in con.execute("SELECT stage, user_id, fingerprint, digest FROM stage_users").fetchall():
        out.setdefault(stage, {})[user_id] = (fp, digest)
    return out


def missing_chunks(folder: Path, arr: Any) -> int:
    """How many chunk files an array written complete (attribute :data:`COMPLETE_ATTR`) lacks; 0 for
    arrays written before that attribute existed (zarr then skipped chunks equal to the fill value)."""
    import math

    if arr.attrs.get(COMPLETE_ATTR) != "complete" or not arr.size:
        return 0
    expected = math.prod(math.ceil(n / c) for n, c in zip(arr.shape, arr.chunks))
    found = sum(len(files) for _, _, files in os.walk(folder / "c"))
    return max(0, expected - found)


def _restore_array(live: Path, old: Path) -> None:
    """Undo of an array's swap: drop the new ``live`` folder and put the ``old`` one back."""
    import shutil

    shutil.rmtree(live, ignore_errors=True)
    os.rename(old, live)


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: it exists, owned by someone else
        return True
    return True


def mark_dead_runs(ws: Workspace) -> None:
    """Mark ``running`` rows whose process (same host) is gone as ``interrupted`` (a ``kill -9`` records nothing)."""
    host = socket.gethostname()
    rows = ws.query("SELECT run_id, pid FROM runs WHERE status = 'running' AND pid IS NOT NULL AND host = ?", [host])
    dead = [run_id for run_id, pid in rows if not pid_alive(int(pid))]
    if not dead:
        return
    import shutil

    for run_id in dead:  # arrays it staged but never committed; live arrays it had set aside mid-swap
        for staged in ws.zarr_path.glob(f"*/*/*.staged-{run_id}"):
            shutil.rmtree(staged, ignore_errors=True)
        for old in ws.zarr_path.glob(f"*/*/*.old-{run_id}"):
            live = old.with_name(old.name.rsplit(".old-", 1)[0])
            if live.exists():
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.rename(old, live)
    marks = ", ".join("?" * len(dead))
    ws.transaction(lambda con: con.execute(
        f"UPDATE runs SET status = 'interrupted', ended_at = ?, message = 'its process ended without recording how "
        f"(killed?)' WHERE status = 'running' AND run_id IN ({marks})", [utcnow(), *dead]))


class CheckedArray:
    """A read-only Zarr array whose reads report a damaged chunk in one line naming the array.

    Attributes (``shape``, ``dtype``, …) are the array's; indexing reads as ``zarr.Array`` does, but a
    chunk that cannot be decoded (garbled or truncated bytes: a zstd or blosc error) or has the wrong
    size raises :class:`~memoire_cli.errors.WorkspaceError` instead of the codec's own error.
    """

    def __init__(self, array: Any, where: Path):
        self._array = array
        self._where = where

    def __getattr__(self, name: str) -> Any:
        return getattr(self._array, name)

    def __len__(self) -> int:
        return len(self._array)

    def __iter__(self) -> Iterator[Any]:
        for i in range(len(self)):
            yield self[i]

    def __getitem__(self, key: Any) -> Any:
        try:
            return self._array[key]
        except (IndexError, TypeError, KeyboardInterrupt):  # a bad index is the caller's, not the file's
            raise
        except Exception as exc:
            raise WorkspaceError(f"array {self._where} cannot be read ({first_line(exc, 120)}): a chunk is damaged; "
                                 f"rerun the stage that writes it with --force") from None

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return np.asarray(self[...], dtype=dtype)


def digest_columns(tables: dict[str, Columns], arrays: dict[str, np.ndarray]) -> str:
    """Content hash of a user's outputs (tables' columns and arrays), order-sensitive."""
    h = hashlib.sha256()
    for tname in sorted(tables):
        for cname, col in tables[tname].items():
            h.update(f"{tname}.{cname}".encode())
            if col.dtype == object:
                h.update("\x1f".join("\x00" if v is None else str(v) for v in col).encode())
            else:
                h.update(np.ascontiguousarray(col).tobytes())
    for aname in sorted(arrays):
        arr = arrays[aname]
        h.update(aname.encode())
        h.update(str(arr.shape).encode())
        # Row blocks of about 64 MiB: the same bytes in the same order as one update, without a
        # copy of the whole array (a gallery's pixels may be a memory map larger than memory).
        step = max(1, (64 << 20) // max(1, arr[:1].nbytes)) if arr.ndim else 1
        for start in range(0, max(1, len(arr)) if arr.ndim else 1, step):
            h.update(np.ascontiguousarray(arr[start:start + step] if arr.ndim else arr).tobytes())
    return h.hexdigest()[:32]
