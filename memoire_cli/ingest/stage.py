"""`memoire ingest` as a stage: one user's gallery from a real photo folder.

The universe is the one user named by ``--user``. Its input digest is a hash of the folder's
listing (every media file's path and stat key, the files skipped while walking), the relations
file's bytes and whether HEIC can be read: an unchanged folder is a cached no-op, any change
reruns the user, and :mod:`.files` then reads only what changed. Everything is computed without
holding the database; the runner then replaces the user's rows and arrays (a run that fails while
reading changes nothing; one interrupted while writing leaves the user absent, and the next run
reads everything again).

Nothing here opens a network connection: the only inputs are the folder, the relations file and
the packaged readers (Pillow, OpenCV, defusedxml).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from memoire_cli.errors import MemoireError
from memoire_cli.ingest.config import IngestConfig
from memoire_cli.stage import Selection, Stage, UserOutput
from memoire_cli.workspace import Workspace


class IngestStage(Stage):
    name = "ingest"
    # 2: favourites from explicit marks only; reject flags recorded as −1 ratings; 3: unnamed events named by their date range,
    # Pet regions, colour labels read, the stated time-zone offset kept (taken_tz)
    code_version = "3"

    def __init__(self, folder: Path, user_id: str, cfg: IngestConfig, relations_file: Path | None = None,
                 relations: dict | None = None, reread: bool = False):
        self.folder = folder
        self.reread = reread  # --force: read every file again (no reuse of the last run's readings)
        self.user_id = user_id
        self.cfg = cfg
        self.relations_file = relations_file
        self.relations = relations or {}
        self.scan: Any = None
        self.heif = False
        self.summary: dict[str, Any] = {}
        self.console: Any = None

    def params(self) -> dict[str, Any]:
        return {**asdict(self.cfg), "folder": str(self.folder)}

    def universe(self, ws: Workspace) -> list[str]:
        return [self.user_id]

    def _scan(self, ws: Workspace) -> Any:
        from memoire_cli.ingest.scan import heif_available, scan_folder

        if self.scan is None:
            self.heif = heif_available()
            self.scan = scan_folder(self.folder, self.heif, exclude=(ws.root,))
        return self.scan

    def input_digests(self, ws: Workspace, users: list[str]) -> dict[str, str]:
        scan = self._scan(ws)
        extra = hashlib.sha256()
        if self.relations_file is not None:
            extra.update(self.relations_file.read_bytes())
        for name, person in sorted(self.relations.items()):
            if person.reference is not None:
                st = person.reference.stat()
                extra.update(f"{name}\x1f{person.reference}\x1f{st.st_size}:{st.st_mtime_ns}".encode())
        extra.update(f"heif={self.heif}".encode())
        return {u: scan.digest(extra.hexdigest()) for u in users}

    def prepare(self, ws: Workspace, console: Any) -> None:
        self.console = console
        scan = self._scan(ws)
        console.print(f"ingest: {len(scan.files)} photo/video file(s) under {self.folder}; readers: Pillow (EXIF, IPTC, XMP via defusedxml), "
                      f"OpenCV (video, 1 fps, ≤ 5 frames), HEIC {'via pillow-heif' if self.heif else 'not readable (pillow-heif not installed)'}")

    # ---------------------------------------------------------------------------------- compute
    def _previous(self, ws: Workspace, user_id: str) -> tuple[dict, dict, dict, Any]:
        """Register, image rows, tag ids and pixel array of the user's last ingest (empty if none)."""
        from memoire_cli.ingest.files import load_register

        if user_id not in ws.user_fingerprints(self.name):
            return {}, {}, {}, None
        register = load_register(ws.query(
            "SELECT path, stat_key, content_hash, status, detail, metadata, image_ids FROM ingest_files WHERE user_id = ?", [user_id]))
        code = ws.query("SELECT r.code_version FROM stage_users s JOIN runs r ON r.run_id = s.run_id "
                        "WHERE s.stage = ? AND s.user_id = ?", [self.name, user_id])
        if self.reread or not code or code[0][0] != self.code():
            # Readings of another code version (or --force) are not reused; hashes still classify changes.
            for reg in register.values():
                reg.reusable = False
        rows = {i: (idx, w, h) for i, idx, w, h in ws.query("SELECT image_id, idx, width, height FROM images WHERE user_id = ?", [user_id])}
        tags = {(t, nm): tid for tid, t, nm in ws.query("SELECT tag_id, type, name FROM tags WHERE user_id = ?", [user_id])}
        pixels = None
        if rows:
            try:
                arr = ws.read_array("images", user_id)
                if arr.shape[1] == self.cfg.image_size and arr.shape[0] == len(rows):
                    pixels = arr
            except MemoireError:
                pixels = None
        return register, rows, tags, pixels

    def compute(self, ws: Workspace, user_id: str) -> UserOutput:
        """Read the folder (reusing the last run's readings), then build every table and array."""
        from memoire_cli.ingest.frames import FrameStore

        store = FrameStore()
        try:
            return self._compute(ws, user_id, store)
        finally:
            store.close()

    def _compute(self, ws: Workspace, user_id: str, store: Any) -> UserOutput:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        from memoire_cli.ingest.files import FileResult, mark_duplicates, read_file, read_reference, register_row
        from memoire_cli.ingest.media import MediaError
        from memoire_cli.ingest.tables import build_tables

        scan = self._scan(ws)
        register, old_rows, old_tags, old_pixels = self._previous(ws, user_id)
        results: list[FileResult] = []
        cols = (TextColumn("ingest: reading"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        with Progress(*cols, console=self.console, transient=True, disable=self.console is None) as progress:
            task = progress.add_task("read", total=len(scan.files))
            for found in scan.files:
                results.append(read_file(found, register.get(found.rel), old_pixels, old_rows, self.cfg.image_size,
                                         self.cfg.max_pixels, store, self.cfg.anchor_size))
                progress.advance(task)
        mark_duplicates(results)
        ingested = [r for r in results if r.status == "ingested"]
        if not ingested:
            raise MemoireError(f"no readable photo or video under {self.folder} ({len(scan.files)} media file(s), "
                               f"{sum(r.status == 'skipped' for r in results) + len(scan.skipped)} skipped, {len(scan.unsupported)} unsupported)")
        references = {}
        for name, person in sorted(self.relations.items()):
            if person.reference is not None:
                try:
                    references[name] = read_reference(person.reference, self.cfg.image_size, self.cfg.max_pixels)
                except (MediaError, OSError) as exc:
                    raise MemoireError(f"reference photo of {name} ({person.reference.name}) cannot be read: {exc}") from None
        rows = [register_row(r, user_id) for r in results]
        rows += [{"path": rel, "sidecar": None, "media": None, "size": 0, "stat_key": None, "content_hash": None, "status": "skipped",
                  "detail": why, "image_ids": "[]", "metadata": None} for rel, why in scan.skipped]
        rows += [{"path": rel, "sidecar": None, "media": None, "size": 0, "stat_key": None, "content_hash": None, "status": "unsupported",
                  "detail": why, "image_ids": "[]", "metadata": None} for rel, why in scan.unsupported]
        changes = self._changes(results, register, user_id)
        tables, arrays = build_tables(user_id, self.cfg, results, self.relations, references, old_tags,
                                      {i: r[0] for i, r in old_rows.items()}, rows, changes)
        self._report(results, scan, changes, tables)
        return UserOutput(tables=tables, arrays=arrays)

    @staticmethod
    def _changes(results: list, register: dict, user_id: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        present = {r.found.rel for r in results}
        for r in results:
            prev = register.get(r.found.rel)
            old = (prev.image_ids[0] if prev is not None and prev.image_ids else None)
            if r.change is None:
                continue
            if r.change == "skipped" and prev is not None and prev.status == "skipped" and prev.stat_key == r.found.stat_key:
                continue  # skipped before for the same reason: not a change
            ids = r.image_ids(user_id) if r.status == "ingested" else []
            out.append({"path": r.found.rel, "change": r.change, "image_id": ids[0] if ids else None,
                        "old_image_id": old if r.change in ("changed", "retagged") else None,
                        "detail": r.detail if r.status != "ingested" else ("; ".join(r.meta.problems) or None)})
        for rel in sorted(set(register) - present):
            prev = register[rel]
            if prev.status in ("ingested", "duplicate"):
                out.append({"path": rel, "change": "removed", "image_id": None,
                            "old_image_id": prev.image_ids[0] if prev.image_ids else None, "detail": None})
        return out

    def _report(self, results: list, scan: Any, changes: list[dict[str, Any]], tables: dict) -> None:
        """One line per skipped file or metadata problem, then a summary table (stderr)."""
        from collections import Counter

        from rich.table import Table

        counts = Counter(r.status for r in results)
        notes = [(r.found.rel, r.detail) for r in results if r.status == "skipped"] + list(scan.skipped)
        problems = [(r.found.rel, p) for r in results if r.meta is not None for p in r.meta.problems]
        self.summary = {
            "files": len(scan.files), "ingested": counts.get("ingested", 0), "duplicates": counts.get("duplicate", 0),
            "skipped": len(notes), "unsupported": len(scan.unsupported), "metadata_problems": len(problems),
            "images": len(tables["images"]["image_id"]), "people": len(tables["people"]["tag_id"]),
            "places": len(tables["locations"]["tag_id"]), "events": len(tables["events"]["event_id"]),
            "anchors": len(tables["anchors"]["tag_id"]), "ratings": len(tables["ratings"]["image_id"]),
            "changes": dict(Counter(c["change"] for c in changes)),
        }
        if self.console is None:
            return
        for rel, why in notes:
            self.console.print(f"ingest: skipped {rel}: {why}", markup=False)
        for rel, why in problems:
            self.console.print(f"ingest: {rel}: {why}", markup=False)
        dropped = Counter(kind for r in results if r.meta is not None for kind in r.meta.other_regions)
        if dropped:
            kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(dropped.items()))
            self.console.print(f"ingest: {sum(dropped.values())} image region(s) of other types than Face and Pet make no tag ({kinds})",
                               markup=False)
        if scan.unsupported:
            shown = ", ".join(f"{rel} ({why})" if "HEIC" in why else rel for rel, why in scan.unsupported[:5])
            shown += " …" if len(scan.unsupported) > 5 else ""
            self.console.print(f"ingest: {len(scan.unsupported)} unsupported file(s) not read: {shown}", markup=False)
        table = Table(title="ingest summary", show_header=True)
        table.add_column("what")
        table.add_column("count", justify="right")
        for key in ("files", "ingested", "duplicates", "skipped", "unsupported", "metadata_problems", "images", "people",
                    "places", "events", "anchors", "ratings"):
            table.add_row(key.replace("_", " "), str(self.summary[key]))
        table.add_row("changes", json.dumps(self.summary["changes"], sort_keys=True) if self.summary["changes"] else "none")
        self.console.print(table)

    def finish(self, ws: Workspace, selection: Selection) -> None:
        """Nothing to drop: an ingest run owns one user."""
