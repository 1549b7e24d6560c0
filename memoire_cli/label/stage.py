"""`memoire label` as a stage: per user, balanced pairs judged twice, kept when both variants agree (S1.1.10).

Per user: the gallery (images, A(I), per-tag masks, tags, α, tag cards) is bound to the judge once,
pairs are drawn balanced over the 8 strata (:mod:`memoire_cli.label.pairs`), the judge answers both
prompt variants, and every pair is stored in ``labels`` with its raw answers; ``winner`` is NULL
where the variants disagree or an answer is invalid. A user with fewer than two images gets zero
pairs. Stderr gets one line per user (pairs, agreement) and, at the end, the balance over strata.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from memoire_cli.label import JUDGES, Judge, PairInput, UserGallery, resolve
from memoire_cli.label.cards import tag_card
from memoire_cli.label.config import LabelConfig
from memoire_cli.label.pairs import STRATA, key_of, sample_pairs, user_rng
from memoire_cli.stage import Selection, Stage, UserOutput
from memoire_cli.workspace import Workspace

#: pairs judged per call (times the judge's batch size), so that long users show progress
CHUNK_PAIRS = 256


def make_judge(name: str, model_dir: str | None = None, device: str = "cpu") -> Judge:
    """The judge ``name`` of :data:`JUDGES`, given the local model folder and device it may need."""
    return JUDGES.create(name, model_dir=model_dir, device=device)


def _obj(values: list) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def load_gallery(ws: Workspace, user_id: str) -> tuple[UserGallery, list[int]]:
    """The user's gallery for a judge, and each image row's event id."""
    rows = ws.query("SELECT image_id, idx, width, height, event_id FROM images WHERE user_id = ? ORDER BY idx", [user_id])
    from memoire_cli.people.tags import people_current_for, user_image_tags, user_tags

    people = people_current_for(ws, user_id)  # `memoire people` ran on this gallery: its people per image
    tags = {t: (k, n, r) for t, k, n, r in user_tags(ws, user_id, people)}
    alpha = {t: float(a) for t, a in ws.query("SELECT tag_id, alpha FROM persona WHERE user_id = ?", [user_id])}
    row_of = {r[0]: k for k, r in enumerate(rows)}
    per_image: list[list[int]] = [[] for _ in rows]
    for image_id, tag_id in user_image_tags(ws, user_id, people):
        per_image[row_of[image_id]].append(tag_id)
    masks = [{"mask_idx": m, "idx": row_of[i], "tag_id": t, "type": k, "alpha": a} for m, i, t, k, a in ws.query(
        "SELECT mask_idx, image_id, tag_id, type, alpha FROM pat_masks WHERE user_id = ? ORDER BY mask_idx", [user_id])]
    gallery = UserGallery(
        user_id=user_id, image_ids=[r[0] for r in rows], width=[r[2] for r in rows], height=[r[3] for r in rows],
        images=ws.read_array("images", user_id), attention=ws.read_array("pat_attention", user_id),
        masks=ws.read_array("pat_masks", user_id), mask_rows=masks, tags=tags, alpha=alpha, image_tags=per_image,
        cards=[tag_card(t, tags, alpha) for t in per_image])
    if any(r[1] != k for k, r in enumerate(rows)):
        raise ValueError(f"images of {user_id} are not numbered 0..N-1")
    return gallery, [-1 if r[4] is None else int(r[4]) for r in rows]


class LabelStage(Stage):
    name = "label"
    code_version = "1"
    inputs = ("gallery", "persona", "pat")

    def __init__(self, max_pairs: int = LabelConfig.max_pairs, seed: int = LabelConfig.seed, judge: str = LabelConfig.judge,
                 model_dir: str | None = None, device: str = "cpu"):
        LabelConfig(max_pairs, seed, judge)  # the checks
        self.max_pairs, self.seed = max_pairs, seed
        self.judge: Judge = make_judge(judge, model_dir, device)
        self.console: Any = None
        self.totals = np.zeros((8, 2), np.int64)  # per stratum: pairs, agreed

    def params(self) -> dict[str, Any]:
        return {"max_pairs": self.max_pairs, "seed": self.seed, "judge": self.judge.name,
                "judge_version": self.judge.version, "judge_params": self.judge.params()}

    def prepare(self, ws: Workspace, console: Any) -> None:
        self.console = console
        if hasattr(self.judge, "use_cache"):  # the VLM keeps processed inputs on disk (S1.1.10)
            self.judge.use_cache(ws.root / "cache" / "label")
        console.print(f"label: judge {self.judge.name} v{self.judge.version}, ≤ {self.max_pairs} pairs per user, seed {self.seed}")

    def compute(self, ws: Workspace, user_id: str) -> UserOutput:
        split = ws.query("SELECT split FROM users WHERE user_id = ?", [user_id])
        split_name = split[0][0] if split else None
        gallery, events = load_gallery(ws, user_id)
        n = len(gallery.image_ids)
        a = b = np.zeros(0, np.int64)
        code = np.zeros(0, np.int8)
        if n >= 2:
            person = np.array([key_of(t, "P", gallery.tags, gallery.alpha) for t in gallery.image_tags], np.int64)
            location = np.array([key_of(t, "L", gallery.tags, gallery.alpha) for t in gallery.image_tags], np.int64)
            a, b, code = sample_pairs(np.array(events, np.int64), person, location, self.max_pairs, user_rng(self.seed, user_id))
        answers: list[tuple[str, str]] = []
        if len(a):
            from memoire_cli.progress import StepProgress

            self.judge.bind(gallery)
            pairs = [PairInput(int(i), int(j)) for i, j in zip(a, b, strict=True)]
            # Judged in chunks for progress; a chunk's 2 prompts per pair fill whole judge batches, so the
            # batches (and a batched VLM's answers) are those of one call.
            step = CHUNK_PAIRS * max(1, int(getattr(self.judge, "batch_size", 1)))
            with StepProgress(self.console, f"label: user {user_id} (pairs)", len(pairs)) as progress:
                for start in range(0, len(pairs), step):
                    answers += self.judge.judge(pairs[start:start + step])
                    progress.advance(len(pairs[start:start + step]))
        ids = gallery.image_ids
        image_a, image_b = [ids[i] for i in a], [ids[j] for j in b]
        winners = [resolve(x, y, ia, ib) for (x, y), ia, ib in zip(answers, image_a, image_b, strict=True)]
        agreed = np.array([w is not None for w in winners], dtype=bool)
        np.add.at(self.totals[:, 0], code.astype(np.int64), 1)
        np.add.at(self.totals[:, 1], code.astype(np.int64), agreed.astype(np.int64))
        if self.console is not None:
            rate = f"{agreed.mean():.1%}" if len(agreed) else "n/a"
            self.console.print(f"label: {user_id}: {len(a)} pairs from {n} images, agreement {rate}")
        p = len(a)
        return UserOutput(tables={"labels": {
            "user_id": _obj([user_id] * p), "pair_idx": np.arange(p, dtype=np.int32),
            "image_a": _obj(image_a), "image_b": _obj(image_b), "stratum": _obj([STRATA[c] for c in code]),
            "winner": _obj(winners), "judge": _obj([self.judge.name] * p), "judge_version": _obj([self.judge.version] * p),
            "answer_1": _obj([x for x, _ in answers]), "answer_2": _obj([y for _, y in answers]),
            "agreed": agreed, "split": _obj([split_name] * p),
        }})

    def finish(self, ws: Workspace, selection: Selection) -> None:
        if self.console is None or not self.totals[:, 0].sum():
            return
        from rich.table import Table

        table = Table(title="label: pairs per stratum (this run)")
        for col in ("stratum", "pairs", "agreed", "agreement"):
            table.add_column(col, justify="left" if col == "stratum" else "right")
        for s, name in enumerate(STRATA):
            n, k = (int(x) for x in self.totals[s])
            table.add_row(name, str(n), str(k), f"{k / n:.1%}" if n else "–")
        n, k = (int(x) for x in self.totals.sum(axis=0))
        table.add_row("all", str(n), str(k), f"{k / n:.1%}")
        self.console.print(table)
