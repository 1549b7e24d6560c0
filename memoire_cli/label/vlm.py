"""The Qwen2.5-VL judge behind the label stage's :class:`~memoire_cli.label.Judge` protocol (S1.1.10).

Turns each pair of gallery rows into the VLM's input packing (per candidate: the RGB image, A(I) as a
separate image, the tag card) and maps the answers to the protocol's convention: answer 1 refers
to the order (a, b), answer 2 to the swapped order (b, a) that variant 2 showed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from memoire_cli.errors import MemoireError
from memoire_cli.label import PairInput, UserGallery


class VlmJudge:
    """``--judge qwen-vl``: Qwen2.5-VL from a local folder (``--qwen`` or ``$MEMOIRE_QWEN_VL`` or the HF cache)."""

    name = "qwen-vl"

    def __init__(self, model_dir: str | None, device: str = "cpu", batch_size: int = 4, cache_dir: Path | None = None):
        from memoire_cli.label.qwen import QwenJudge, locate_qwen

        found = locate_qwen(model_dir)
        if found is None:
            raise MemoireError("no local Qwen2.5-VL: pass --qwen DIR or set $MEMOIRE_QWEN_VL (nothing is downloaded)")
        self.device = device
        self.batch_size = batch_size  # prompts per generate call: label's progress chunks are multiples of it
        self.inner = QwenJudge(found, device=device, batch_size=batch_size, cache_dir=cache_dir)
        self.version = self.inner.version
        self.gallery: UserGallery | None = None

    def params(self) -> dict[str, Any]:
        return {"model": self.version, "device": self.device.split(":")[0]}

    def use_cache(self, folder: Path) -> None:
        """Keep processed inputs on disk under ``folder`` (the workspace's ``cache/label``), per model version."""
        self.inner.cache_dir = Path(folder) / self.inner.version

    def bind(self, gallery: UserGallery) -> None:
        self.gallery = gallery

    def _pixels(self, row: int) -> tuple[np.ndarray, np.ndarray]:
        g = self.gallery
        assert g is not None, "bind() a gallery first"
        h, w = g.height[row], g.width[row]
        return np.asarray(g.images[row])[:h, :w], np.asarray(g.attention[row])[:h, :w]

    def judge(self, pairs: list[PairInput]) -> list[tuple[str, str]]:
        from memoire_cli.label.qwen import PairInput as VlmPair
        from memoire_cli.label.qwen import parse_answer, swap_label

        g = self.gallery
        assert g is not None, "bind() a gallery first"
        inputs = []
        for pair in pairs:
            (img_a, att_a), (img_b, att_b) = self._pixels(pair.a), self._pixels(pair.b)
            inputs.append(VlmPair(image_1=img_a, attention_1=att_a, card_1=g.cards[pair.a], image_2=img_b,
                                  attention_2=att_b, card_2=g.cards[pair.b], key=f"{g.image_ids[pair.a]}|{g.image_ids[pair.b]}"))
        out = []
        for answer_1, answer_2 in self.inner.judge(inputs):
            # QwenJudge maps variant 2 back to the original order; the protocol wants the swapped order.
            parsed = parse_answer(answer_2)
            out.append((answer_1, swap_label(parsed) if parsed else answer_2))
        return out
