"""Fitting prompts to the text encoders' token limits, with a warning on stderr (S1.1.4 prompts).

SD3 reads a prompt with two CLIP encoders (77 tokens, fixed by their position embeddings) and T5
(``max_sequence_length``, 256 by default, at most 512); HunyuanVideo with Llama (256 after its
template) and CLIP (77). The S1.1.4 template with the STYLE sentences of several people often
exceeds 77 CLIP tokens: the CLIP encoders then see the first 77 (their pooled embedding sums up the
scene), T5 reads the whole prompt. A prompt longer than the *longest* encoder's limit is truncated
explicitly and reported, so nothing is cut silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class Fitted:
    text: str  # what the encoder sees
    tokens: int  # tokens of the original prompt
    limit: int  # the encoder's limit
    truncated: bool


def fit(tokenizer: Any, text: str, limit: int) -> Fitted:
    """Truncate ``text`` to ``limit`` tokens of ``tokenizer`` (special tokens included), decoding back to text."""
    ids = tokenizer(text, add_special_tokens=True, truncation=False)["input_ids"]
    if len(ids) <= limit:
        return Fitted(text, len(ids), limit, False)
    kept = tokenizer(text, add_special_tokens=True, truncation=True, max_length=limit)["input_ids"]
    return Fitted(tokenizer.decode(kept, skip_special_tokens=True).strip(), len(ids), limit, True)


class PromptFitter:
    """Fits prompts to one pipeline's main text encoder and reports truncations to a console.

    ``main`` is the tokenizer with the longest reach (T5 for SD3, Llama for HunyuanVideo); ``short``
    the CLIP tokenizer(s), which see the first 77 tokens (counted, reported once per run).
    """

    def __init__(self, main: Any, limit: int, short: Any | None, console: Any, encoder: str) -> None:
        self.main, self.limit, self.short, self.console, self.encoder = main, limit, short, console, encoder
        self.clip_cut = 0
        self._clip_reported = False
        self._warned: set[str] = set()  # prompts already reported (QC re-renders reuse them)

    def __call__(self, text: str, where: str) -> str:
        fitted = fit(self.main, text, self.limit)
        if fitted.truncated and self.console is not None and text not in self._warned:
            if len(self._warned) > 4096:
                self._warned.clear()
            self._warned.add(text)
            self.console.print(f"[yellow]warning[/]: prompt of {where} is {fitted.tokens} {self.encoder} tokens, "
                               f"more than the {fitted.limit} it reads: truncated to \"…{fitted.text[-40:]}\"")
        if self.short is not None:
            limit = int(getattr(self.short, "model_max_length", 77))
            if fit(self.short, fitted.text, limit).truncated:
                self.clip_cut += 1
                if not self._clip_reported and self.console is not None:
                    self._clip_reported = True
                    self.console.print(f"note: prompts longer than CLIP's {limit} tokens (first: {where}) reach the CLIP "
                                       f"encoders truncated; {self.encoder} reads them whole")
        return fitted.text
