"""The Qwen2.5-VL judge of S1.1.10 on a tiny Qwen2.5-VL built from a config with a processor built offline."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import spec_text
from memoire_cli.errors import MemoireError
from memoire_cli.label import qwen
from memoire_cli.label.qwen import NULL_RATIONALE, PROMPT, PairInput, QwenJudge, locate_qwen, parse_answer

SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>", "<|image_pad|>",
            "<|video_pad|>"]
WORDS = ["[UNK]", "Image1", "Image2", "Image1:", "Image2:", "Birthday;", "Tag", "card:", "user", "assistant"]
TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}{% else %}{% for c in message['content'] %}"
    "{% if c['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif c['type'] == 'text' %}{{ c['text'] }}{% endif %}{% endfor %}{% endif %}"
    "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def build_tiny_qwen(folder: Path) -> None:
    """A ~100k-parameter Qwen2.5-VL (1 text layer, hidden 32; 1 vision block, patch 14, merge 2) and a
    Qwen2_5_VLProcessor from a WordLevel tokenizer and tiny min/max_pixels, saved with save_pretrained."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import (
        PreTrainedTokenizerFast,
        Qwen2_5_VLConfig,
        Qwen2_5_VLForConditionalGeneration,
        Qwen2_5_VLProcessor,
        Qwen2VLImageProcessor,
        Qwen2VLVideoProcessor,
    )

    vocab = {w: i for i, w in enumerate(SPECIALS + WORDS)}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="<|endoftext|>",
                                   eos_token="<|im_end|>", additional_special_tokens=SPECIALS[1:],
                                   model_max_length=4096, padding_side="left", chat_template=TEMPLATE)
    pixels = {"min_pixels": 28 * 28, "max_pixels": 56 * 56}
    processor = Qwen2_5_VLProcessor(image_processor=Qwen2VLImageProcessor(**pixels), tokenizer=fast,
                                    video_processor=Qwen2VLVideoProcessor(**pixels), chat_template=TEMPLATE)
    config = Qwen2_5_VLConfig(
        text_config=dict(vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=4096,
                         rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [2, 3, 3]},
                         bos_token_id=0, eos_token_id=vocab["<|im_end|>"], pad_token_id=0),
        vision_config=dict(depth=1, hidden_size=32, intermediate_size=64, num_heads=2, out_hidden_size=32,
                           patch_size=14, spatial_merge_size=2, window_size=56, fullatt_block_indexes=[0]),
        image_token_id=vocab["<|image_pad|>"], video_token_id=vocab["<|video_pad|>"],
        vision_start_token_id=vocab["<|vision_start|>"], vision_end_token_id=vocab["<|vision_end|>"],
    )
    torch.manual_seed(0)
    model = Qwen2_5_VLForConditionalGeneration(config)
    model.save_pretrained(folder)
    processor.save_pretrained(folder)


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("tiny-qwen25vl")
    build_tiny_qwen(folder)
    return folder


@pytest.fixture(scope="module")
def judge(tiny_dir: Path) -> QwenJudge:
    return QwenJudge(str(tiny_dir), batch_size=3)


def make_pair(seed: int, birthday_first: bool, key: str | None = None) -> PairInput:
    rng = np.random.default_rng(seed)
    img = lambda: rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)  # noqa: E731
    att = lambda: rng.integers(0, 256, (48, 64), dtype=np.uint8)  # noqa: E731
    cards = ["People: Daughter (Alice), Father (Raj); Event: Birthday; Location: Home living room",
             "People: Friend (Bo); Event: Hike; Location: Mountain trail"]
    if not birthday_first:
        cards.reverse()
    return PairInput(img(), att(), cards[0], img(), att(), cards[1], key=key)


def test_prompt_is_the_spec_text_verbatim() -> None:
    squash = lambda s: re.sub(r"\s+", " ", s).strip()  # noqa: E731
    assert squash(PROMPT) in squash(spec_text())
    assert PROMPT.startswith("You are a careful assessor of personal impact")
    assert PROMPT.endswith("No explanations or justifications are to be included.")
    assert "\n\nEvaluation Criteria:\n\n" in PROMPT  # structure kept


@pytest.mark.parametrize("text,expected", [
    ("Image1", "Image1"), ("Image2", "Image2"), ("  Image2\n", "Image2"), ("Image1.", "Image1"),
    ("image1", None), ("Image1..", None), ("Image3", None), ("", None), (None, None), ("Image1 Image2", None),
    ("Image1\nImage2", None), ("Image 1", None), ("Image1 because", None), ("Image12", None),
])
def test_parse_answer_is_strict(text: str | None, expected: str | None) -> None:
    assert parse_answer(text) == expected


def test_non_qwen_folder_is_a_memoire_error(tmp_path: Path) -> None:
    with pytest.raises(MemoireError, match="no config.json"):
        QwenJudge(str(tmp_path))
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "clipseg"}))
    with pytest.raises(MemoireError, match="not a Qwen2.5-VL"):
        QwenJudge(str(tmp_path))
    with pytest.raises(MemoireError):
        QwenJudge(str(tmp_path / "missing"))


def test_locate_qwen_is_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MEMOIRE_QWEN_VL", raising=False)
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    assert locate_qwen(None) is None
    assert locate_qwen(str(tmp_path)) == str(tmp_path)
    monkeypatch.setenv("MEMOIRE_QWEN_VL", str(tmp_path))
    assert locate_qwen(None) == str(tmp_path)
    with pytest.raises(MemoireError):
        locate_qwen(str(tmp_path / "nope"))
    # a cache entry with config.json and weights is found
    monkeypatch.delenv("MEMOIRE_QWEN_VL")
    snap = tmp_path / "hf" / "hub" / "models--Qwen--Qwen2.5-VL-7B-Instruct" / "snapshots" / "abc"
    snap.mkdir(parents=True)
    (snap / "config.json").write_text("{}")
    (tmp_path / "hf" / "hub" / "models--Qwen--Qwen2.5-VL-7B-Instruct" / "refs").mkdir()
    (tmp_path / "hf" / "hub" / "models--Qwen--Qwen2.5-VL-7B-Instruct" / "refs" / "main").write_text("abc")
    assert locate_qwen(None) is None  # no weights beside config.json
    (snap / "model.safetensors.index.json").write_text("{}")
    assert locate_qwen(None) == str(snap)


def test_loads_tiny_model(judge: QwenJudge, tiny_dir: Path) -> None:
    assert judge.name == "qwen-vl"
    assert judge.version.startswith(tiny_dir.name + "@") and len(judge.version) == len(tiny_dir.name) + 13
    gen = judge.generation_config()
    assert gen.do_sample is False and gen.max_new_tokens == 2 and gen.top_p == 1.0 and gen.num_beams == 1


def test_messages_layout_and_variants(judge: QwenJudge) -> None:
    pair = make_pair(0, birthday_first=True)
    m1 = qwen.build_messages(("Image1", pair.card_1), ("Image2", pair.card_2), 1)[0]["content"]
    m2 = qwen.build_messages(("Image1", pair.card_2), ("Image2", pair.card_1), 2)[0]["content"]
    assert [c["type"] for c in m1] == ["text"] + ["text", "image", "image", "text"] * 2
    assert NULL_RATIONALE not in m1[0]["text"] and NULL_RATIONALE in m2[0]["text"]
    assert "Birthday" in m1[4]["text"] and "Birthday" in m2[8]["text"]
    out = judge._process(pair, 1)
    assert out["image_grid_thw"].shape == (4, 3) and out["input_ids"].shape[0] == 1


def _birthday_fake_generate(judge: QwenJudge, calls: list[int]):  # noqa: ANN202
    """A stand-in `generate` that answers with the shown slot whose tag card holds "Birthday"."""
    import torch

    tok = judge.processor.tokenizer
    birthday, vstart = tok.convert_tokens_to_ids("Birthday;"), tok.convert_tokens_to_ids("<|vision_start|>")
    labels = [tok.convert_tokens_to_ids("Image1"), tok.convert_tokens_to_ids("Image2")]

    def generate(input_ids, generation_config=None, **kwargs):  # noqa: ANN001, ANN202
        calls.append(int(input_ids.shape[0]))
        assert generation_config.do_sample is False and generation_config.max_new_tokens == 2
        answers = []
        for row in input_ids.tolist():
            third_image = [i for i, t in enumerate(row) if t == vstart][2]  # candidate 2 starts at image 3
            slot = 0 if row.index(birthday) < third_image else 1
            answers.append([labels[slot], tok.convert_tokens_to_ids("<|im_end|>")])
        return torch.cat([input_ids, torch.tensor(answers, dtype=input_ids.dtype)], dim=1)

    return generate


def test_two_variants_mapped_back_to_original_order(judge: QwenJudge, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    monkeypatch.setattr(judge.model, "generate", _birthday_fake_generate(judge, calls))
    pairs = [make_pair(1, True), make_pair(2, False), make_pair(3, True)]
    got = judge.judge(pairs)
    # the fake always prefers the Birthday candidate: both variants agree once variant 2 is mapped back
    assert got == [("Image1", "Image1"), ("Image2", "Image2"), ("Image1", "Image1")]
    # variant 2 really saw the swapped order
    assert [r[1] for r in judge.last_raw] == ["Image2", "Image1", "Image2"]
    assert sum(calls) == 6 and max(calls) <= judge.batch_size  # two prompts per pair, batched
    assert judge.judge([]) == []


def test_real_tiny_generation_is_deterministic_and_cached(judge: QwenJudge, capsys: pytest.CaptureFixture) -> None:
    pairs = [make_pair(10 + i, i % 2 == 0, key=f"img{i}|img{i + 1}") for i in range(3)]
    calls = {"n": 0}
    real = judge.processor

    class Counting:
        def __call__(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN204
            calls["n"] += 1
            return real(*args, **kwargs)

        def __getattr__(self, name: str):  # noqa: ANN204
            return getattr(real, name)

    judge.processor = Counting()
    try:
        unparsed0 = judge.stats["unparsed"]
        t0 = time.perf_counter()
        first = judge.judge(pairs)
        elapsed = time.perf_counter() - t0
        assert calls["n"] == 6  # 3 pairs × 2 variants
        second = judge.judge(pairs)
        assert calls["n"] == 6  # cache hits: no re-processing
        assert judge.stats["cache_hits"] >= 6
        assert first == second and len(first) == 3
        for (a1, a2), (r1, _r2) in zip(first, judge.last_raw):
            assert isinstance(a1, str) and isinstance(a2, str)
            assert (parse_answer(a1) is None) == (parse_answer(r1) is None)
        assert judge.stats["unparsed"] - unparsed0 == sum(
            (parse_answer(a) is None) for pair in first + second for a in pair)
        # un-keyed pairs are processed every time
        judge.judge([make_pair(99, True)])
        judge.judge([make_pair(99, True)])
        assert calls["n"] == 10
    finally:
        judge.processor = real
    with capsys.disabled():
        print(f"\n[tiny Qwen2.5-VL, CPU, 1 thread] {elapsed / len(pairs) * 1000:.0f} ms per pair (2 variants, "
              f"uncached, batch {judge.batch_size}); answers {judge.last_raw}")


def test_disk_cache_survives_a_new_judge(tiny_dir: Path, tmp_path: Path) -> None:
    """Processed inputs kept on disk under a content hash: a second judge (a re-run) processes nothing."""
    pairs = [make_pair(20 + i, i % 2 == 1, key=f"d{i}|d{i + 1}") for i in range(2)]
    first = QwenJudge(str(tiny_dir), batch_size=4, cache_dir=tmp_path)
    answers = first.judge(pairs)
    assert first.stats["processed"] == 4 and first.stats["disk_hits"] == 0
    entries = sorted(tmp_path.rglob("*.pt"))
    assert len(entries) == 4 and not list(tmp_path.rglob("*.tmp-*"))
    second = QwenJudge(str(tiny_dir), batch_size=4, cache_dir=tmp_path)
    assert second.judge(pairs) == answers
    assert second.stats["processed"] == 0 and second.stats["disk_hits"] == 4
    entries[0].write_bytes(b"damaged")  # a damaged entry is recomputed, not trusted
    third = QwenJudge(str(tiny_dir), batch_size=4, cache_dir=tmp_path)
    assert third.judge(pairs) == answers and third.stats["processed"] == 1
    fourth = QwenJudge(str(tiny_dir), batch_size=4, cache_dir=tmp_path)
    fourth.judge([make_pair(77, True, key="d0|d1")])  # same ids, other pixels: new entries, no stale hit
    assert fourth.stats["processed"] == 2 and len(list(tmp_path.rglob("*.pt"))) == 6


def test_left_padded_batch_matches_one_by_one(judge: QwenJudge) -> None:
    """Prompts of different lengths (tag cards of different sizes) batched with left padding answer as alone."""
    pairs = [make_pair(20, True), make_pair(21, False), make_pair(22, True)]
    pairs[1].card_1 = "People: Friend (Bo); Event: Birthday; Location: A very long winding mountain trail far away"
    batched = judge.judge(pairs)
    raw_batched = list(judge.last_raw)
    old = judge.batch_size
    judge.batch_size = 1
    try:
        single = judge.judge(pairs)
    finally:
        judge.batch_size = old
    assert single == batched and judge.last_raw == raw_batched
    lengths = {int(judge._process(p, 1)["input_ids"].shape[1]) for p in pairs}
    assert len(lengths) > 1  # padding really happened
