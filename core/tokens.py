"""Token estimates that need no tokenizer download: good enough to bound prompts and report usage."""

from __future__ import annotations

import math
import re

_WORD = re.compile(r"\w+|[^\w\s]", re.UNICODE)
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")


def estimate_tokens(text: str) -> int:
    """Estimate how many tokens an OpenAI-style BPE tokenizer makes of ``text``.

    BPE vocabularies cover English at roughly four characters per token and Russian at roughly two and a
    half, and never use fewer tokens than there are words and punctuation marks; the estimate takes the
    larger of the two readings. It errs high, which is the safe side for a budget.
    """
    if not text:
        return 0
    pieces = len(_WORD.findall(text))
    cyrillic = len(_CYRILLIC.findall(text))
    by_chars = cyrillic / 2.5 + (len(text) - cyrillic) / 4.0
    return max(pieces, math.ceil(by_chars))
