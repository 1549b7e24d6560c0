"""Renderer backends of `memoire synth`, by name (interface: :mod:`memoire_cli.synth.render.base`).

Stills and enrolment anchors come from ``--renderer``; the kept frames of event clips from
``--video-renderer``:

* ``procedural`` — the embedded CPU default (both);
* ``sd3`` — Stable Diffusion 3 + the SD3 IP-Adapter for identity (S1.1.4): stills and anchors;
* ``hunyuan`` — HunyuanVideo (S1.1.5): clips. ``--renderer hunyuan`` is short for ``--renderer sd3
  --video-renderer hunyuan`` (HunyuanVideo renders no stills or portraits).

``--video-renderer auto`` (the default) follows ``--renderer``: ``procedural`` → procedural frames,
``sd3``/``hunyuan`` → HunyuanVideo clips. Diffusion backends live in :mod:`.diffusion`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from memoire_cli.errors import UsageError

if TYPE_CHECKING:
    from memoire_cli.synth.render.base import Renderer

RENDERERS = ("procedural", "sd3", "hunyuan")
VIDEO_RENDERERS = ("auto", "procedural", "hunyuan")


def check_renderer(name: str) -> str:
    if name not in RENDERERS:
        raise UsageError(f"unknown renderer {name!r}: available renderers are {', '.join(RENDERERS)}")
    return name


def resolve_renderers(renderer: str, video_renderer: str = "auto") -> tuple[str, str]:
    """(stills backend, clip backend) from ``--renderer`` and ``--video-renderer`` (see the module doc)."""
    check_renderer(renderer)
    if video_renderer not in VIDEO_RENDERERS:
        raise UsageError(f"unknown video renderer {video_renderer!r}: available are {', '.join(VIDEO_RENDERERS)}")
    stills = "sd3" if renderer == "hunyuan" else renderer
    if video_renderer == "auto":
        video_renderer = "procedural" if renderer == "procedural" else "hunyuan"
    return stills, video_renderer


def default_cache_dir() -> Path:
    """Where derived, rebuildable files (the face bank) are cached: ``$XDG_CACHE_HOME/memoire``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "memoire"


def make_renderer(name: str, cache_dir: Path | None = None) -> Renderer:
    """Build the procedural backend (heavy imports happen here, not at CLI start-up).

    Diffusion backends need model folders and a device: :mod:`.diffusion` builds them.
    """
    check_renderer(name)
    if name != "procedural":
        raise UsageError(f"renderer {name!r} is built by memoire_cli.synth.render.diffusion.make_diffusion_renderer")
    from memoire_cli.faces.bank import FaceBank
    from memoire_cli.synth.render.procedural import ProceduralRenderer

    return ProceduralRenderer(FaceBank.load(cache_dir or default_cache_dir()))
