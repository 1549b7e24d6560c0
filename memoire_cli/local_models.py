"""Finding model weights on this machine, never on the network (DESIGN.md, "Models").

A model-backed step looks for its weights, in order: the folder given on the command line, the
folder named by its environment variable, then the local Hugging Face hub cache (a ``config.json``
with a weights file beside it). Nothing is downloaded; ``None`` means "use the offline default".
"""

from __future__ import annotations

import os
from pathlib import Path

from memoire_cli.errors import MemoireError

WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json")


class ModelFolderError(MemoireError, FileNotFoundError):
    """A model folder named explicitly (flag or environment) does not exist: a typo must not fall back silently."""


def hf_hub_cache() -> Path:
    """The Hugging Face hub cache folder, read from the environment at call time (not at import)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "huggingface"
    )
    return Path(home) / "hub"


def locate_local_model(explicit: str | os.PathLike | None, env_var: str, flag: str,
                       repos: tuple[str, ...] = (), what: str = "model") -> str | None:
    """``explicit``, else ``$env_var``, else the first of ``repos`` complete in the local hub cache; else None."""
    for given, source in ((explicit, flag), (os.environ.get(env_var, "").strip() or None, f"${env_var}")):
        if given:
            if not Path(given).is_dir():
                raise ModelFolderError(f"{source}: no {what} folder at {given}")
            return str(given)
    if not repos:
        return None
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover - transformers brings huggingface_hub
        return None
    cache = str(hf_hub_cache())
    for repo in repos:
        try:
            config = try_to_load_from_cache(repo, "config.json", cache_dir=cache)
        except Exception:  # noqa: BLE001 - a broken cache entry means "not available"
            continue
        if isinstance(config, str) and os.path.isfile(config):
            folder = Path(config).parent
            if any((folder / name).is_file() for name in WEIGHT_FILES):
                return str(folder)
    return None
