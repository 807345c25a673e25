"""Property-based tests of Telegram rendering and splitting (frontends/telegram/formatting.py).

For any answer (hostile Unicode, HTML- and Markdown-looking text, citation markers, words longer than a
message) and any sources: every part is HTML that Telegram's own parser accepts (tests/support/telegram_html
reads it as TDLib does, strict about bare ``&``), so no tag is split across parts; each part is at most the
limit in UTF-16 units after entity parsing and is exactly its ``plain`` twin; the answer's text comes back
whole across the parts (only the whitespace at a cut is dropped); and the user's text never becomes markup.
"""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from otvet.core.i18n import I18n, Translator
from otvet.core.types import SourceRef
from otvet.frontends.telegram.formatting import (
    MESSAGE_LIMIT,
    render_answer,
    render_partial,
    sendable,
    split_text,
)
from otvet.plugins.locales import LOCALE_DIR
from tests.security.fuzzing import FUZZ_TIMEOUT, HOSTILE_CHAR, prose
from tests.support.telegram_html import parse_html, utf16_len

pytestmark = FUZZ_TIMEOUT

#: Any character (lone surrogates too: an LLM's JSON may escape one), and HTML- or Markdown-looking text.
answer_char = st.one_of(
    HOSTILE_CHAR,
    st.sampled_from(["<b>", "</a>", "&amp;", "&", "<", ">", '"', "[1]", "**", "_", "`", "\n\n", ". "]),
)
answers = st.one_of(prose(), st.lists(answer_char, max_size=400).map("".join))
limits = st.sampled_from([MESSAGE_LIMIT, 40, 97, 300])
urls = st.sampled_from(
    [None, 'https://example.org/a?b=1&c="2"', "javascript:alert(1)", "http://x/<y>", "ftp://f"]
)
sources = st.lists(
    st.builds(SourceRef, title=st.lists(answer_char, min_size=1, max_size=60).map("".join), url=urls),
    max_size=4,
)


@pytest.fixture(scope="module")
def en() -> Translator:
    return I18n([LOCALE_DIR], ("en", "ru"), "en").get("en")


def _visible(text: str) -> str:
    return "".join(text.split())


@given(text=answers, refs=sources, limit=limits)
@example(text="<b>bold</b> & <a href='x'>link</a>", refs=[], limit=MESSAGE_LIMIT)
@example(text="lone \ud800 surrogate", refs=[SourceRef("\udfff", url="https://e.org/\ud800")], limit=40)
@example(text="😀" * 30, refs=[SourceRef("😀" * 30, url="https://e.org")], limit=40)
def test_every_part_is_valid_telegram_html_within_the_limit(
    en: Translator, text: str, refs: list[SourceRef], limit: int
) -> None:
    parts = render_answer(text, refs, en, limit=limit)
    for part in parts:
        shown, entities = parse_html(part.html, strict_ampersand=True)
        assert shown == part.plain
        assert 0 < utf16_len(shown) <= limit
        # Only our own markup: the bold sources header and the links of sources.
        assert {entity["type"] for entity in entities} <= {"bold", "text_link"}
    if not refs:
        assert all(not parse_html(part.html)[1] for part in parts), "user text became markup"
        # Every character comes back, a lone surrogate as U+FFFD (Telegram would refuse the message).
        assert "".join(_visible(part.plain) for part in parts) == _visible(sendable(text))


@given(text=answers, limit=limits)
@example(text="\ud800 x", limit=40)  # found by a deep run: the UTF-16 count cannot take a lone surrogate
def test_split_text_keeps_every_visible_character_in_order(text: str, limit: int) -> None:
    text = sendable(text)  # as render_answer calls it: Telegram is never sent a lone surrogate
    parts = split_text(text, limit)
    assert all(0 < utf16_len(part) <= limit and part == part.strip() for part in parts)
    assert "".join(_visible(part) for part in parts) == _visible(text)


@given(text=answers, limit=limits)
def test_a_partial_answer_is_one_valid_message(text: str, limit: int) -> None:
    rendered = render_partial(text, limit=limit)
    shown, entities = parse_html(rendered, strict_ampersand=True)  # encodes: no lone surrogate left
    assert utf16_len(shown) <= limit and not entities
    # The head of the answer, whole or cut with a trailing ellipsis.
    assert _visible(sendable(text)).startswith(_visible(shown).removesuffix("…"))
