"""Hypothesis strategies shared by the fuzz tests (tests/security/test_fuzz_*.py).

``hostile_text`` is what an attacker or a broken client sends: any code point, lone surrogates included,
with the characters that break naive text handling drawn often (combining marks, right-to-left overrides,
zero-width and byte-order marks, emoji and flags outside the BMP, control characters, Unicode line
separators). ``prose`` is what a knowledge base holds: Russian and English sentences in paragraphs.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import strategies as st

#: The Hypothesis profile of this run (tests/security/conftest.py registers them): ``ci`` unless set.
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
#: The per-test timeout of the fuzz tests: a hang fails in CI, and a deep run (HYPOTHESIS_PROFILE=deep, 3,000
#: examples a test) gets the time it needs.
FUZZ_TIMEOUT = pytest.mark.timeout(120 if PROFILE == "ci" else 3600)

#: Characters that have broken text code somewhere, drawn far more often than chance would.
TRICKY_CHARS = (
    "\u0301",  # combining acute accent, with nothing to combine with at the start
    "\u200f",  # right-to-left mark
    "\u202e",  # right-to-left override
    "\u200b",  # zero-width space (not whitespace to str.split)
    "\ufeff",  # byte-order mark
    "\x00",
    "\x1b",
    "\r",
    "\x0b",
    "\x0c",
    "\x85",  # NEL: a line break to str.splitlines, not to a regex's \n
    "\u2028",
    "\u2029",
    "\u00a0",  # no-break space
    "\U0001f600",  # an emoji outside the BMP (two UTF-16 units)
    "\U0001f44d\U0001f3fd",  # emoji with a skin-tone modifier
    "\U0001f1f7\U0001f1fa",  # a flag: two regional indicators
    "\ud800",  # lone surrogates: not encodable as UTF-8
    "\udfff",
    "\u0645",  # Arabic
    "\u05d0",  # Hebrew
    "ё",
    "Ё",
    "\t",
    "\n",
    " ",
)
#: Any code point, surrogates included (Hypothesis leaves those out unless asked).
ANY_CHAR = st.characters(exclude_categories=())
HOSTILE_CHAR = st.one_of(ANY_CHAR, st.sampled_from(TRICKY_CHARS))


def hostile_text(max_size: int = 200) -> st.SearchStrategy[str]:
    # Not st.text(): some tricky "characters" are several code points (a flag, a skin-toned emoji).
    return st.lists(HOSTILE_CHAR, max_size=max_size).map("".join)


_EN = "the bot answers questions from the knowledge base office opens at nine connect telegram widget admin"
_RU = "бот отвечает на вопросы из базы знаний офис открыт с девяти подключить телеграм виджет пароль ёлка"
WORDS = {"en": _EN.split(), "ru": _RU.split()}


@st.composite
def sentence(draw: st.DrawFn, language: str) -> str:
    words = draw(st.lists(st.sampled_from(WORDS[language]), min_size=1, max_size=12))
    end = draw(st.sampled_from([".", "!", "?", "…"]))
    return " ".join(words).capitalize() + end


def sentences(language: str | None = None, max_size: int = 6) -> st.SearchStrategy[str]:
    """A paragraph: sentences of one language (either, when ``language`` is None)."""
    languages = [language] if language else list(WORDS)
    return st.sampled_from(languages).flatmap(
        lambda lang: st.lists(sentence(lang), min_size=1, max_size=max_size).map(" ".join)
    )


def prose(max_paragraphs: int = 6) -> st.SearchStrategy[str]:
    """Paragraphs separated by blank lines, Russian and English mixed."""
    return st.lists(sentences(), min_size=1, max_size=max_paragraphs).map("\n\n".join)


@st.composite
def mutated(draw: st.DrawFn, data: bytes, max_changes: int = 8) -> bytes:
    """``data`` with a few bytes flipped, dropped or inserted, or cut short: a damaged real file."""
    out = bytearray(data)
    if draw(st.booleans()):
        out = out[: draw(st.integers(0, len(out)))]
    for _ in range(draw(st.integers(1, max_changes))):
        if not out:
            break
        at = draw(st.integers(0, len(out) - 1))
        action = draw(st.sampled_from(["flip", "drop", "insert"]))
        if action == "flip":
            out[at] ^= draw(st.integers(1, 255))
        elif action == "drop":
            del out[at]
        else:
            out.insert(at, draw(st.integers(0, 255)))
    return bytes(out)
