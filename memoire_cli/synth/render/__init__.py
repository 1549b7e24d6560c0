"""Renderer backends of `memoire synth`, by name (interface: :mod:`memoire_cli.synth.render.base`).

Stills and enrolment anchors come from ``--renderer``; the kept frames of event clips from
``--video-renderer``:

* ``procedural`` — the embedded CPU default (both);
* ``sd3`` — Stable Diffusion 3 + the SD3 IP-Adapter for identity (S1.1.4): stills and anchors;
* ``hunyuan`` — HunyuanVideo (S1.1.5): clips. ``--renderer hunyuan`` is short for ``--renderer sd3
  --video-renderer hunyuan`` (HunyuanVideo renders no stills or portraits).

``--video-renderer auto`` (the default) follows ``--renderer``: ``procedural`` → procedural frames,
``sd3``/``hunyuan`` → HunyuanVideo clips (:data:`VIDEO_AUTO`, resolved by the registry's shared rule).
Diffusion backends live in :mod:`.diffusion`.

Every backend is one line of :data:`RENDERERS` (``stills``/``clips``: what it can draw); third-party
renderers come from the ``memoire.renderers`` entry points. A renderer's factory gets the keywords it
declares of ``cache_dir`` (procedural), ``cfg``, ``folders``, ``device`` and ``console`` (diffusion).
Any backend but ``procedural`` is treated as generative: its renders go through S1.1.6 QC.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from memoire_cli.errors import UsageError
from memoire_cli.registry import Registry

if TYPE_CHECKING:
    from memoire_cli.synth.render.base import Renderer


def default_cache_dir() -> Path:
    """Where derived, rebuildable files (the face bank) are cached: ``$XDG_CACHE_HOME/memoire``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "memoire"


def _procedural(cache_dir: Path | None = None) -> Renderer:
    """The procedural renderer over the face bank cached under ``cache_dir`` (built there on first use)."""
    from memoire_cli.faces.bank import FaceBank
    from memoire_cli.synth.render.procedural import ProceduralRenderer

    return ProceduralRenderer(FaceBank.load(cache_dir or default_cache_dir()))


RENDERERS: Registry[Renderer] = Registry("renderers", "--renderer")
RENDERERS.add("procedural", _procedural, doc="CPU, no downloads (the default)", stills=True, clips=True)
RENDERERS.add("sd3", "memoire_cli.synth.render.diffusion:sd3_renderer", doc="SD3 + IP-Adapter stills and anchors (S1.1.4)",
              stills=True, clips=False)
RENDERERS.add("hunyuan", "memoire_cli.synth.render.diffusion:hunyuan_renderer", doc="HunyuanVideo clips (S1.1.5)",
              stills=False, clips=True)
#: ``--renderer hunyuan`` is short for ``--renderer sd3 --video-renderer hunyuan`` (HunyuanVideo draws no stills).
STILLS_FOR = {"hunyuan": "sd3"}
#: ``--video-renderer auto``'s preference order per ``--renderer`` (any other: HunyuanVideo).
VIDEO_AUTO = {"procedural": ("procedural",)}
VIDEO_AUTO_DEFAULT = ("hunyuan",)
#: ``--video-renderer`` values: ``auto`` and the built-ins that draw clips.
VIDEO_RENDERERS = ("auto", *(n for n in RENDERERS.names() if RENDERERS.get(n).extra["clips"]))


def check_renderer(name: str) -> str:
    """``name`` if it is a renderer (a built-in or a plugin), else a :class:`UsageError`."""
    return RENDERERS.check(name, auto=False)


def resolve_renderers(renderer: str, video_renderer: str = "auto") -> tuple[str, str]:
    """(stills backend, clip backend) from ``--renderer`` and ``--video-renderer`` (see the module doc)."""
    check_renderer(renderer)
    if video_renderer != "auto":
        try:
            draws_clips = RENDERERS.get(video_renderer).extra.get("clips", True)  # a plugin may draw clips
        except UsageError:
            draws_clips = False
        if not draws_clips:
            raise UsageError(f"unknown video renderer {video_renderer!r}: available are {', '.join(VIDEO_RENDERERS)}")
    stills = STILLS_FOR.get(renderer, renderer)
    if video_renderer == "auto":
        video_renderer = RENDERERS.resolve_auto(VIDEO_AUTO.get(renderer, VIDEO_AUTO_DEFAULT))
    return stills, video_renderer


def make_renderer(name: str, cache_dir: Path | None = None) -> Renderer:
    """Build the procedural backend (heavy imports happen here, not at CLI start-up).

    Diffusion backends need model folders and a device: :mod:`.diffusion` builds them.
    """
    check_renderer(name)
    if name != "procedural":
        raise UsageError(f"renderer {name!r} is built by memoire_cli.synth.render.diffusion.make_diffusion_renderer")
    return RENDERERS.create(name, cache_dir=cache_dir)
