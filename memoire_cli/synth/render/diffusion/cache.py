"""Finished renders kept on disk per user, so an interrupted `memoire synth` resumes mid-user.

A diffusion render takes seconds (SD3) to minutes (a HunyuanVideo clip), and the stage commits a
user's gallery in one transaction. Each finished *unit* (an anchor set, a still with its QC retries,
or a clip's kept frames) is therefore saved as ``<workspace>/cache/synth/<user_id>/<key>.npz``,
written to a temporary name and renamed (atomic), under a key over the stage fingerprint inputs and
the unit's seeds and prompts; the next run loads it instead of rendering again. The stage deletes
a user's folder once the user is committed. Nothing here is read by another stage.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

CACHE_DIR = Path("cache") / "synth"


class RenderCache:
    def __init__(self, workspace_root: Path, user_id: str, salt: str) -> None:
        self.folder = Path(workspace_root) / CACHE_DIR / user_id
        self.salt = salt

    def key(self, *parts: Any) -> str:
        return hashlib.sha256(json.dumps([self.salt, *parts], sort_keys=True, default=str).encode()).hexdigest()[:24]

    def get(self, key: str) -> dict[str, Any] | None:
        path = self.folder / f"{key}.npz"
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                out = {k: data[k] for k in data.files}
        except (OSError, ValueError):  # a torn file from a kill during the rename window: render again
            return None
        out["meta"] = json.loads(str(out["meta"]))
        return out

    def put(self, key: str, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.folder / f".{key}.{os.getpid()}.npz"
        np.savez(tmp, meta=np.array(json.dumps(meta)), **arrays)
        os.replace(tmp, self.folder / f"{key}.npz")

    @staticmethod
    def clear(workspace_root: Path, user_id: str) -> None:
        shutil.rmtree(Path(workspace_root) / CACHE_DIR / user_id, ignore_errors=True)
        for folder in (Path(workspace_root) / CACHE_DIR, Path(workspace_root) / CACHE_DIR.parent):
            try:
                folder.rmdir()  # only when empty (other stages keep their own caches under cache/)
            except OSError:
                break
