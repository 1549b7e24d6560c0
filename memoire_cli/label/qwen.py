"""The Qwen2.5-VL personal-impact judge of S1.1.10 ("Personal Attention Aware Labeling with a VLM").

For a pair of images the judge shows Qwen2.5-VL-7B-Instruct [2], per candidate, (i) the raw RGB image,
(ii) the personal attention map A(I) (PAT) rendered as a separate RGB picture, and (iii) a short tag card
("People: Daughter (Alice), Father (Raj); Event: Birthday; Location: Home living room"), under the spec's
VLM prompt (``PROMPT``, verbatim). Decoding follows S1.1.10: temperature = 0 (greedy, ``do_sample=False``),
top-p = 1, ``max_new_tokens = 2`` "to force a one-token label". Each pair is asked in *two prompt variants*:

- variant 1: the candidates in the given order;
- variant 2: the order swapped AND a null rationale sentence (``NULL_RATIONALE``) appended to the prompt.

``QwenJudge.judge`` returns, per pair, both variants' answers mapped back to the ORIGINAL order (variant 2's
"Image1" is the original Image2). Accepting a label only when both agree (else discarding the pair) is the
caller's job (the label stage), as is the 20k-pair cap.

Message layout (one user turn of the model's chat template)::

    PROMPT [+ "\n\n" + NULL_RATIONALE in variant 2]
    "Image1:" <raw image> <attention map> "Tag card: <card of the first shown candidate>"
    "Image2:" <raw image> <attention map> "Tag card: <card of the second shown candidate>"

Answer parsing (``parse_answer``) is strict: after stripping surrounding whitespace the answer must be a
single line equal to ``Image1`` or ``Image2`` (case-sensitive), optionally followed by ONE trailing period;
anything else (empty, "image1", "Image1 because…", "Image3", two lines) is None and counted in
``QwenJudge.stats["unparsed"]``.

Caching (S1.1.10: "We cache {image, A(I), tag card} triplets to avoid re-tokenization overhead"): when a
``PairInput`` carries a ``key`` (e.g. "img_a|img_b"), the processed model inputs (token ids and pixel patches)
of each (key, variant) are memoised in memory; with a ``cache_dir`` they are also kept on disk under a
content hash (model version, variant, prompt text, the candidates' pixels and maps), so a re-run in another
process — or after new images changed nothing about this pair — does not call the processor again. Files are
written to a temporary name and renamed, so an interrupted run never leaves a half-written entry.

This module imports torch/transformers only inside functions; it is imported by the label stage only when
the qwen judge is chosen, never at CLI start-up. Nothing is ever downloaded (``local_files_only=True``).
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast, overload

import numpy as np

from memoire_cli.errors import MemoireError

ENV_VAR = "MEMOIRE_QWEN_VL"
QWEN_REPO = "Qwen/Qwen2.5-VL-7B-Instruct"
MODEL_TYPE = "qwen2_5_vl"
MAX_NEW_TOKENS = 2  # S1.1.10: "max_new_tokens = 2 to force a one-token label"
LABELS = ("Image1", "Image2")

# S1.1.10 "VLM Prompt", verbatim (line breaks and indentation kept; the surrounding quotes dropped).
PROMPT = """You are a careful assessor of personal impact in photo galleries. Your task is to evaluate two image candidates and select the one with greater personal significance to the user, considering both emotional value and visual presentation.

Evaluation Criteria:

1. Primary Focus - Personal Impact:

- Weighted Highlight Analysis:
 - Pay close attention to the intensity/weighting of highlighted regions in the attention map.
 - Regions with stronger highlighting should be given proportionally greater importance.
- People:
 - Clearly visible close relations (family, friends) in weighted highlight regions.
 - Preference for good posture and positive emotions (smiling, laughing).
 - Multiple people visible with good interactions score higher.
- Locations:
 - Meaningful places clearly marked in weighted highlight regions.
 - Recognizable and personally significant venues score higher.
- Important Events:
 - Prioritize images capturing Important events (weddings, birthdays, graduations, family gatherings) if they are emphasized in the attention overlay.

2. Secondary Consideration - Aesthetics:

- Composition: Balanced framing and good use of space.
- Lighting: Appropriate brightness and contrast.
- Focus: Sharpness on main subjects.

Input Structure (Per Candidate):

- Raw image: The base photo.
- Attention map: Indicates regions of importance (people, locations, objects).
- Tag card: Provides contextual metadata (e.g., event type, people tags, location tags).

Output Requirement:

- Your response must be exactly one line: Image1 or Image2.
- No explanations or justifications are to be included."""  # noqa: E501  (verbatim text: its long lines are the spec's)

# The "null rationale sentence" of variant 2: content-free, it favours neither candidate.
NULL_RATIONALE = "Consider both candidates carefully before answering."


@dataclass
class PairInput:
    """One pair to judge. image_*: (H, W, 3) uint8 RGB; attention_*: (H, W) uint8 rendering of A(I) (0 = no
    attention, 255 = full; an (H, W, 3) rendering is accepted as is); card_*: the tag card text. ``key``: an
    optional stable id of the pair (e.g. "img_a|img_b") that enables the processed-input cache."""

    image_1: np.ndarray
    attention_1: np.ndarray
    card_1: str
    image_2: np.ndarray
    attention_2: np.ndarray
    card_2: str
    key: str | None = None


def parse_answer(text: str | None) -> str | None:
    """"Image1" | "Image2" | None. Strict: surrounding whitespace is ignored, then the text must be exactly one
    line equal to Image1 or Image2 (case-sensitive), optionally followed by a single trailing period."""
    if text is None:
        return None
    s = text.strip()
    if "\n" in s or "\r" in s:
        return None
    if s.endswith("."):
        s = s[:-1]
    return s if s in LABELS else None


@overload
def swap_label(label: str) -> str: ...
@overload
def swap_label(label: None) -> None: ...
def swap_label(label: str | None) -> str | None:
    """Image1 ↔ Image2 (None stays None): maps a swapped-order answer back to the original order."""
    if label is None:
        return None
    return LABELS[1] if label == LABELS[0] else LABELS[0]


def attention_rgb(attention: np.ndarray) -> np.ndarray:
    """A(I) as an RGB picture: (H, W) uint8 → (H, W, 3) uint8 grey levels (bright = strong attention)."""
    a = np.asarray(attention)
    if a.ndim == 3 and a.shape[2] == 3:
        return np.ascontiguousarray(a, dtype=np.uint8)
    if a.ndim != 2:
        raise ValueError(f"expected an (H, W) attention map, got shape {a.shape}")
    if a.dtype != np.uint8:
        raise ValueError(f"expected a uint8 attention map, got {a.dtype}")
    return np.ascontiguousarray(np.repeat(a[:, :, None], 3, axis=2))


def _rgb(image: np.ndarray) -> np.ndarray:
    im = np.asarray(image)
    if im.ndim != 3 or im.shape[2] != 3 or im.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 RGB image, got shape {im.shape} dtype {im.dtype}")
    return np.ascontiguousarray(im)


def build_messages(first: tuple[str, str], second: tuple[str, str], variant: int) -> list[dict[str, Any]]:
    """The chat message of one prompt variant. ``first``/``second``: (label, tag card) of the candidates in
    the order shown; images are placeholders filled, in order, with raw₁, A₁, raw₂, A₂."""
    prompt = PROMPT if variant == 1 else PROMPT + "\n\n" + NULL_RATIONALE
    content: list[dict[str, Any]] = [{"type": "text", "text": prompt + "\n\n"}]
    for label, card in (first, second):
        content += [
            {"type": "text", "text": f"{label}:\n"},
            {"type": "image"},
            {"type": "image"},
            {"type": "text", "text": f"\nTag card: {card}\n\n"},
        ]
    return [{"role": "user", "content": content}]


def locate_qwen(explicit: str | None = None) -> str | None:
    """A local Qwen2.5-VL folder: ``explicit``, else ``$MEMOIRE_QWEN_VL``, else the local Hugging Face cache
    entry of Qwen/Qwen2.5-VL-7B-Instruct (config.json with a weights file beside it); None when none is local.
    Never uses the network. An explicit or environment path that does not exist is an error."""
    from memoire_cli.local_models import locate_local_model

    return locate_local_model(explicit, ENV_VAR, "--qwen", (QWEN_REPO,), "Qwen2.5-VL")


def _read_config(model_dir: str) -> tuple[dict[str, Any], bytes]:
    path = Path(model_dir) / "config.json"
    if not Path(model_dir).is_dir():
        raise MemoireError(f"no Qwen2.5-VL model folder at {model_dir}")
    if not path.is_file():
        raise MemoireError(f"{model_dir} is not a Qwen2.5-VL model folder (no config.json)")
    raw = path.read_bytes()
    try:
        config = json.loads(raw)
    except ValueError as exc:
        raise MemoireError(f"{path}: unreadable config.json ({exc})") from exc
    if not isinstance(config, dict) or config.get("model_type") != MODEL_TYPE:
        got = config.get("model_type") if isinstance(config, dict) else None
        raise MemoireError(f"{model_dir} is not a Qwen2.5-VL model (model_type {got!r}, expected {MODEL_TYPE!r})")
    return config, raw


def _folder_name(model_dir: str) -> str:
    """The model folder's name; inside a hub cache (…/models--Qwen--X/snapshots/<hash>) the repo's name."""
    p = Path(model_dir).resolve()
    if p.parent.name == "snapshots" and p.parent.parent.name.startswith("models--"):
        return p.parent.parent.name[len("models--"):].replace("--", "/")
    return p.name


class QwenJudge:
    """Qwen2.5-VL (``Qwen2_5_VLForConditionalGeneration`` + ``AutoProcessor``) as the S1.1.10 pairwise judge.

    ``batch_size`` counts prompts (sequences) per ``generate`` call; each pair contributes two (its variants).
    Sequences are left-padded. ``stats``: pairs, prompts, processed (processor calls), cache_hits, unparsed.
    """

    name = "qwen-vl"

    def __init__(self, model_dir: str, device: str = "cpu", batch_size: int = 4, cache_size: int = 4096,
                 cache_dir: Path | None = None) -> None:
        if batch_size < 1:
            raise MemoireError(f"batch_size must be ≥ 1, got {batch_size}")
        _config, raw = _read_config(model_dir)
        import torch
        from transformers import AutoProcessor, Qwen2_5_VLForConditionalGeneration

        dtype = torch.float32 if str(device).startswith("cpu") else torch.bfloat16
        try:
            model = Qwen2_5_VLForConditionalGeneration.from_pretrained(model_dir, local_files_only=True, dtype=dtype)
            processor = AutoProcessor.from_pretrained(model_dir, local_files_only=True)
        except (OSError, ValueError) as exc:
            raise MemoireError(f"cannot load Qwen2.5-VL from {model_dir}: {exc}") from exc
        self.model = cast(Any, model).to(device).eval()  # transformers' stubs: .to() takes a device at run time
        self.processor = processor
        self.device = device
        self.batch_size = batch_size
        self.cache_size = cache_size
        self.model_dir = str(model_dir)
        self.version = f"{_folder_name(model_dir)}@{hashlib.sha256(raw).hexdigest()[:12]}"
        tok = processor.tokenizer
        pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
        if pad is None:
            raise MemoireError(f"{model_dir}: the tokenizer has neither a pad nor an eos token")
        self.pad_token_id = int(pad)
        self._cache: OrderedDict[tuple[str, int], dict[str, Any]] = OrderedDict()
        self.cache_dir = Path(cache_dir) / self.version if cache_dir is not None else None
        self.stats = {"pairs": 0, "prompts": 0, "processed": 0, "cache_hits": 0, "disk_hits": 0, "unparsed": 0}
        self.last_raw: list[tuple[str, str]] = []

    def describe(self) -> str:
        return (f"Qwen2.5-VL judge {self.version} on {self.device} (greedy, top-p 1, max_new_tokens "
                f"{MAX_NEW_TOKENS}; two variants: swapped order + null rationale)")

    def generation_config(self) -> Any:
        """S1.1.10 decoding: temperature 0 (greedy), top-p 1, max_new_tokens 2; nothing inherited from the
        checkpoint's generation_config.json (the Instruct release ships sampling and a repetition penalty)."""
        from transformers import GenerationConfig

        eos = self.model.generation_config.eos_token_id
        if eos is None:
            eos = self.processor.tokenizer.eos_token_id
        return GenerationConfig(do_sample=False, num_beams=1, temperature=1.0, top_p=1.0, top_k=None,
                                repetition_penalty=1.0, max_new_tokens=MAX_NEW_TOKENS,
                                pad_token_id=self.pad_token_id, eos_token_id=eos)

    # -- inputs ---------------------------------------------------------------------------------------
    def _process(self, pair: PairInput, variant: int) -> dict[str, Any]:
        """Processor outputs of one prompt (batch of 1): input_ids (1, L), attention_mask (1, L),
        mm_token_type_ids (1, L) if given, pixel_values (P, C·T·p·p), image_grid_thw (4, 3)."""
        cands = [(pair.image_1, pair.attention_1, pair.card_1), (pair.image_2, pair.attention_2, pair.card_2)]
        if variant == 2:
            cands.reverse()
        messages = build_messages((LABELS[0], cands[0][2]), (LABELS[1], cands[1][2]), variant)
        text = self.processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        images = []
        for image, attention, _card in cands:
            images += [_rgb(image), attention_rgb(attention)]
        path = self._disk_entry(text, variant, images)
        if path is not None and path.exists():
            import torch

            try:
                cached = torch.load(path, weights_only=True)
                self.stats["disk_hits"] += 1
                return dict(cached)
            except Exception:  # a damaged entry is recomputed and replaced
                path.unlink(missing_ok=True)
        self.stats["processed"] += 1
        out = dict(self.processor(text=[text], images=images, return_tensors="pt"))
        if path is not None:
            self._store(path, out)
        return out

    def _disk_entry(self, text: str, variant: int, images: list[np.ndarray]) -> Path | None:
        """Where the processed inputs of this exact prompt live in the disk cache (None without one)."""
        if self.cache_dir is None:
            return None
        h = hashlib.sha256(f"{self.version}|{variant}|{text}".encode())
        for image in images:
            arr = np.ascontiguousarray(image)
            h.update(repr((arr.shape, arr.dtype.str)).encode())
            h.update(arr.tobytes())
        key = h.hexdigest()
        return self.cache_dir / key[:2] / f"{key}.pt"

    @staticmethod
    def _store(path: Path, inputs: dict[str, Any]) -> None:
        import os

        import torch

        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp-{os.getpid()}")
        torch.save({k: v for k, v in inputs.items() if isinstance(v, torch.Tensor)}, tmp)
        os.replace(tmp, path)

    def _inputs(self, pair: PairInput, variant: int) -> dict[str, Any]:
        if pair.key is None:
            return self._process(pair, variant)
        ck = (pair.key, variant)
        hit = self._cache.get(ck)
        if hit is not None:
            self._cache.move_to_end(ck)
            self.stats["cache_hits"] += 1
            return hit
        value = self._process(pair, variant)
        self._cache[ck] = value
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return value

    def _collate(self, items: list[dict[str, Any]]) -> dict[str, Any]:
        """Left-pad a list of single-prompt inputs into one batch: (B, L_max) ids/masks, patches concatenated."""
        import torch

        length = max(int(it["input_ids"].shape[1]) for it in items)
        batch: dict[str, Any] = {}
        for name, fill in (("input_ids", self.pad_token_id), ("attention_mask", 0), ("mm_token_type_ids", 0)):
            if name not in items[0]:
                continue
            rows = []
            for it in items:
                row = it[name][0]
                pad = torch.full((length - row.shape[0],), fill, dtype=row.dtype)
                rows.append(torch.cat([pad, row]))
            batch[name] = torch.stack(rows)
        batch["pixel_values"] = torch.cat([it["pixel_values"] for it in items])
        batch["image_grid_thw"] = torch.cat([it["image_grid_thw"] for it in items])
        dtype = self.model.dtype
        return {k: (v.to(self.device, dtype=dtype) if k == "pixel_values" else v.to(self.device))
                for k, v in batch.items()}

    # -- judging --------------------------------------------------------------------------------------
    def _answers(self, jobs: list[tuple[PairInput, int]]) -> list[str]:
        """Raw decoded answers of (pair, variant) prompts, in order, generated batch_size at a time."""
        import torch

        gen = self.generation_config()
        answers: list[str] = []
        for start in range(0, len(jobs), self.batch_size):
            chunk = jobs[start:start + self.batch_size]
            batch = self._collate([self._inputs(p, v) for p, v in chunk])
            with torch.inference_mode():
                out = self.model.generate(**batch, generation_config=gen)
            new = out[:, batch["input_ids"].shape[1]:]
            answers += self.processor.tokenizer.batch_decode(new, skip_special_tokens=True)
            self.stats["prompts"] += len(chunk)
        return answers

    def judge(self, pairs: list[PairInput]) -> list[tuple[str, str]]:
        """Both variants' answers per pair, in the ORIGINAL order: a parseable answer becomes its canonical label
        ("Image1"/"Image2", variant 2's swapped back), an unparseable one stays as the raw text (so
        ``parse_answer`` of it is None). Raw texts as generated are kept in ``last_raw``."""
        jobs = [(p, v) for p in pairs for v in (1, 2)]
        raw = self._answers(jobs) if jobs else []
        results: list[tuple[str, str]] = []
        self.last_raw = []
        for i in range(len(pairs)):
            a1, a2 = raw[2 * i], raw[2 * i + 1]
            self.last_raw.append((a1, a2))
            l1, l2 = parse_answer(a1), parse_answer(a2)
            self.stats["unparsed"] += (l1 is None) + (l2 is None)
            results.append((l1 if l1 is not None else a1, swap_label(l2) if l2 is not None else a2))
        self.stats["pairs"] += len(pairs)
        return results
