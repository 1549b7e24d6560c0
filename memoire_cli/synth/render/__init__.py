"""Renderer backends of `memoire synth`, by name (interface: :mod:`memoire_cli.synth.render.base`).

``procedural`` is the embedded CPU default. Diffusion backends (``sd3`` stills with an identity
adapter, ``hunyuan`` video, S1.1.4–S1.1.5) plug in here with the same interface.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from memoire_cli.errors import UsageError

if TYPE_CHECKING:
    from memoire_cli.synth.render.base import Renderer

RENDERERS = ("procedural",)


def check_renderer(name: str) -> str:
    if name not in RENDERERS:
        raise UsageError(f"unknown renderer {name!r}: available renderers are {', '.join(RENDERERS)}")
    return name


def default_cache_dir() -> Path:
    """Where derived, rebuildable files (the face bank) are cached: ``$XDG_CACHE_HOME/memoire``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "memoire"


def make_renderer(name: str, cache_dir: Path | None = None) -> Renderer:
    """Build a backend (heavy imports happen here, not at CLI start-up)."""
    check_renderer(name)
    from memoire_cli.faces.bank import FaceBank
    from memoire_cli.synth.render.procedural import ProceduralRenderer

    return ProceduralRenderer(FaceBank.load(cache_dir or default_cache_dir()))
