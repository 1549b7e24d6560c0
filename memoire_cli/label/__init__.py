"""Pairwise personal-impact labels (S1.1.10): pair sampling, tag cards, judges, the `label` stage.

A judge sees two candidates, each an RGB image, its attention map A(I) and its tag card, and answers
``"Image1"`` or ``"Image2"`` under two prompt variants, the second with the candidates swapped
(S1.1.10 "Decoding and reliability"). This module holds the judge interface and the registry of
judges (:data:`JUDGES`, ``memoire label --judge``), so that the offline judge
(:mod:`memoire_cli.label.offline`), the VLM judge (Qwen2.5-VL, :mod:`memoire_cli.label.vlm`) and
plugins of the ``memoire.judges`` entry-point group plug into the same stage. A judge's factory may
take ``model_dir`` (``--qwen``) and ``device``; it gets those it declares.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from memoire_cli.registry import Registry

#: The two answers a judge may give; anything else is recorded raw and counts as invalid.
ANSWERS = ("Image1", "Image2")


@dataclass
class UserGallery:
    """Everything a judge may look at for one user (never hidden truth).

    ``images``: (N, S, S, 3) uint8 RGB, row = ``idx``; ``attention``: (N, S, S) uint8 A(I)·255;
    ``masks``: (M, S, S) uint8 M_t·255 (row = ``mask_rows[k]["mask_idx"]``). The arrays may be lazy
    (zarr) — index them. ``width``/``height``: valid region of each row (top-left aligned).
    """

    user_id: str
    image_ids: list[str]
    width: list[int]
    height: list[int]
    images: Any
    attention: Any
    masks: Any
    mask_rows: list[dict[str, Any]]  # mask_idx, idx (image row), tag_id, type, alpha
    tags: dict[int, tuple[str, str, str | None]]  # tag_id -> (type, name, relation)
    alpha: dict[int, float]
    image_tags: list[list[int]]  # per image row, its tag ids
    cards: list[str]  # per image row, its tag card (S1.1.10 "Input packing")
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PairInput:
    """One pair to judge: rows ``a`` and ``b`` of the bound :class:`UserGallery`.

    Variant 1 shows (a, b) as (Image1, Image2); variant 2 shows (b, a).
    """

    a: int
    b: int


class Judge(Protocol):
    """A pairwise judge. ``bind`` is called once per user (precompute, caches), then ``judge``.

    ``judge`` returns per pair the raw answers of the two variants: ``(answer_1, answer_2)``, where
    answer_1 refers to the order (a, b) and answer_2 to the swapped order (b, a).
    """

    name: str
    version: str

    def params(self) -> dict[str, Any]: ...

    def bind(self, gallery: UserGallery) -> None: ...

    def judge(self, pairs: list[PairInput]) -> list[tuple[str, str]]: ...


JUDGES: Registry[Judge] = Registry("judges", "--judge")
JUDGES.add("offline", "memoire_cli.label.offline:OfflineJudge", doc="deterministic, no model")
JUDGES.add("qwen-vl", "memoire_cli.label.vlm:VlmJudge", doc="Qwen2.5-VL from a local copy")


def resolve(answer_1: str, answer_2: str, a: str, b: str) -> str | None:
    """The winner's image id when both variants give a valid answer and agree, else None."""
    if answer_1 not in ANSWERS or answer_2 not in ANSWERS:
        return None
    first = a if answer_1 == "Image1" else b
    second = b if answer_2 == "Image1" else a  # variant 2 showed (b, a)
    return first if first == second else None
