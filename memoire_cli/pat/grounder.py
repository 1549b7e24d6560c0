"""Location and event grounders of PAT (S1.3.3–S1.3.4): the interface and the registry of backends.

A grounder turns an image and a tag phrase into a soft mask: :class:`Grounder`. Built-ins, in
:data:`GROUNDERS` (``memoire pat --grounder``):

* ``clipseg`` — the spec's CLIPSeg with the Table 2 templates and the Table 3 proxies
  (:class:`memoire_cli.pat.clipseg.ClipSegGrounder`); needs local weights (``--clipseg``);
* ``cam`` — class-activation maps of the packaged ImageNet EfficientNet-Lite0, the spatial prior for
  phrases without an ImageNet class (:class:`memoire_cli.pat.cam.CamGrounder`);
* ``prior`` — the content-free spatial prior (:class:`memoire_cli.pat.clipseg.PriorGrounder`).

``auto`` (:func:`resolve_grounder`): CLIPSeg when its weights are local; otherwise CAM for ingested
(real) photos and the prior for synthetic ones, where CAM measured worse than the prior
(benchmarks/pat_grounding.py; schemas/README.md) — the shared rule of
:meth:`memoire_cli.registry.Registry.resolve_auto` with one preference order per kind of gallery.

People masks are not grounders: SAM (:class:`Segmenter`) refines a matched face's box, with the
Gaussian fallback of S1.3.2(3) when it is absent. The interfaces are structural (``typing.Protocol``):
a backend needs the methods, not a base class (built-in backends do not subclass them either, so that
their constructors keep their own signatures). Nothing heavy is imported here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from memoire_cli.registry import Registry

if TYPE_CHECKING:
    import numpy as np


@runtime_checkable
class Grounder(Protocol):
    """Soft masks (H, W) float32 in [0, 1] for a location phrase or an event type (S1.3.3–S1.3.4).

    ``source`` is what ``pat_masks.source`` records for its masks (a grounder that falls back per tag
    may also define ``source_for(kind, name)``). Deterministic: the same image gives the same mask.
    """

    source: str

    def describe(self) -> str:
        """One line for stderr: which model or rule this grounder uses."""
        ...

    def location_mask(self, image_rgb: np.ndarray, phrase: str) -> np.ndarray:
        """M_l of one (H, W, 3) uint8 image: (H, W) float32."""
        ...

    def event_mask(self, image_rgb: np.ndarray, event_type: str, proxies: tuple[str, ...] | None = None) -> np.ndarray:
        """M_e of one (H, W, 3) uint8 image over K(e) (or ``proxies``): (H, W) float32."""
        ...


@runtime_checkable
class Segmenter(Protocol):
    """A people-mask model prompted by a face box (S1.3.2(3)); None where it returns no mask."""

    def describe(self) -> str: ...

    def segment(self, image_rgb: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray | None: ...


def _clipseg(clipseg_path: str | None = None) -> Grounder:
    """CLIPSeg from the located folder (``PatStage`` locates it: flag, environment, Hugging Face cache)."""
    from memoire_cli.errors import MemoireError
    from memoire_cli.pat.clipseg import ClipSegGrounder

    if not clipseg_path:
        raise MemoireError("--grounder clipseg: no local CLIPSeg (pass --clipseg DIR or set $MEMOIRE_CLIPSEG; nothing is downloaded)")
    return ClipSegGrounder.from_pretrained(clipseg_path)


def _clipseg_local(clipseg_path: str | None = None, **_: Any) -> bool:
    return bool(clipseg_path)


GROUNDERS: Registry[Grounder] = Registry("grounders", "--grounder")
GROUNDERS.add("clipseg", _clipseg, available=_clipseg_local, doc="CLIPSeg with the Table 2 templates (local weights)")
GROUNDERS.add("cam", "memoire_cli.pat.cam:CamGrounder", doc="class-activation maps of the packaged ImageNet EfficientNet-Lite0")
GROUNDERS.add("prior", "memoire_cli.pat.clipseg:PriorGrounder", doc="content-free spatial prior")

#: ``auto``'s preference order per kind of gallery: ingested (real) photos, synthetic galleries.
AUTO_INGESTED = ("clipseg", "cam", "prior")
AUTO_SYNTHETIC = ("clipseg", "prior")


def resolve_grounder(name: str, ingested: bool, clipseg_path: str | None) -> str:
    """The grounder ``--grounder name`` gives a gallery: ``name`` itself, or ``auto``'s first available."""
    if name != "auto":
        return name
    return GROUNDERS.resolve_auto(AUTO_INGESTED if ingested else AUTO_SYNTHETIC, clipseg_path=clipseg_path)
