"""Engine answers as Telegram HTML messages: escaped, with a sources block, split to Telegram's size limit.

Telegram limits a message to 4096 characters *after entity parsing*, counted in UTF-16 code units: for HTML
that is the unescaped text without tags, and an emoji outside the BMP counts as 2. Everything here measures
that way (:func:`telegram_length`), so a part that fits here fits there.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from otvet.core.i18n import Translator
from otvet.core.types import SourceRef

#: Telegram's limit for one text message, in UTF-16 code units of the text after entity parsing.
MESSAGE_LIMIT = 4096
#: Longest source label shown; the sources block is meant to be compact and a source line is never split.
SOURCE_LABEL_LIMIT = 200
#: Most of a voice message's transcript shown above its answer: enough to see it was heard right.
HEARD_LIMIT = 1000
ELLIPSIS = "…"

# Cut points from the most to the least natural; each pattern matches the whitespace a cut removes.
_PARAGRAPH = re.compile(r"[ \t]*\n[ \t]*\n\s*")
_LINE = re.compile(r"[ \t]*\n\s*")
# A sentence ends with . ! ? or … (closing brackets, quotes or a citation marker like [2] may follow) before
# whitespace and a capital, digit or opening quote. Not chunking.split_sentences: that one normalizes
# whitespace, and an answer must reach the user exactly as written.
_SENTENCE = re.compile(r"[.!?…]+(?:[)\]\"'»]|\[\d+\])*(\s+)(?=[\"'«(\[]?[A-ZА-ЯЁ0-9])")
_WORD = re.compile(r"\s+")
#: Lone surrogates (an LLM's JSON may escape one): no Bot API request can carry them, so Telegram refused the
#: message and its plain-text retry alike, and the user got no answer at all.
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True, slots=True)
class Rendered:
    """One Telegram message: ``html`` to send with ``parse_mode=HTML``, ``plain`` to send without it.

    ``plain`` is exactly the text Telegram shows for ``html`` (tags dropped, entities unescaped), so the
    frontend can resend a part as ``plain`` when Telegram rejects its entities and the user sees the same
    characters, minus bold and links.
    """

    html: str
    plain: str


def telegram_length(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units (a character outside the BMP counts as 2)."""
    return len(text) + sum(1 for char in text if ord(char) > 0xFFFF)


def sendable(text: str) -> str:
    """``text`` with each lone surrogate shown as U+FFFD, the rest unchanged."""
    return _SURROGATE.sub("\ufffd", text)


def escape(text: str) -> str:
    """Escape text for Telegram HTML: only ``&``, ``<`` and ``>`` are special outside attributes."""
    return html.escape(text, quote=False)


def render_answer(
    text: str, sources: Sequence[SourceRef], translator: Translator, *, limit: int = MESSAGE_LIMIT
) -> list[Rendered]:
    """The answer and its numbered sources as messages of at most ``limit`` Telegram units each.

    The answer is cut at paragraph breaks first, then line breaks, sentence ends, spaces, and only as a last
    resort inside a word; the whitespace at a cut is dropped. A paragraph (or sentence) that fits in one
    message is never split. Cutting happens on the plain text before escaping, so a cut never lands inside
    an entity or a tag; the only tags are the bold sources header and the source links, which are never
    split, so every part is balanced HTML. The sources block follows the answer's last part when it fits and
    is never split when it fits in one message; a longer one spills line by line, its header always
    together with the first source. Returns ``[]`` for an empty answer without sources.
    """
    messages = [Rendered(escape(part), part) for part in split_text(sendable(text), limit)]
    if not sources:
        return messages
    header_text = translator.gettext("Sources:")
    header = Rendered(f"<b>{escape(header_text)}</b>", header_text)
    # A quarter of a (test-sized) limit leaves room for the "[n] " prefix and the header.
    label_limit = min(SOURCE_LABEL_LIMIT, limit // 4)
    lines = [_source_line(number, source, label_limit) for number, source in enumerate(sources, 1)]
    block = header
    for line in lines:
        block = _join(block, "\n", line)
    if telegram_length(block.plain) <= limit:
        # The block stays in one piece: after the answer's last part if there is room, else on its own.
        _append(messages, block, "\n\n", limit)
        return messages
    # Too many sources for one message: line by line, the header never alone at the end of a message.
    first = _join(header, "\n", lines[0])
    if telegram_length(first.plain) <= limit:
        _append(messages, first, "\n\n", limit)
    else:  # only with an absurdly long translation of the header
        _append(messages, header, "\n\n", limit)
        _append(messages, lines[0], "\n", limit)
    for line in lines[1:]:
        _append(messages, line, "\n", limit)
    return messages


def render_partial(text: str, *, limit: int = MESSAGE_LIMIT) -> str:
    """The answer streamed so far as one message's HTML, cut to ``limit`` with a trailing ``…``.

    The head is kept rather than the tail: the reader starts at the top, and the final render splits the
    whole answer properly anyway. The result is empty for empty text; Telegram rejects empty messages, so
    the caller should not send it.
    """
    text = sendable(text)
    if telegram_length(text) <= limit:
        return escape(text)
    return escape(text[: _fit(text, limit - telegram_length(ELLIPSIS))].rstrip()) + ELLIPSIS


def split_text(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Plain text in parts of at most ``limit`` Telegram units, cut at the most natural place that fits."""
    if limit < 2:
        raise ValueError("limit must be at least 2 Telegram units: one astral character takes two")
    parts: list[str] = []
    rest = text.strip()
    while telegram_length(rest) > limit:
        fit = _fit(rest, limit)
        cut, resume = _cut(rest, fit)
        parts.append(rest[:cut].rstrip())
        rest = rest[resume:].lstrip()
    if rest:
        parts.append(rest)
    return parts


def heard(transcript: str, *, limit: int = HEARD_LIMIT) -> Rendered:
    """``🎤 <i>what was heard</i>``: a voice message's transcript as the first line of its answer, cut to
    ``limit`` Telegram units."""
    text = " ".join(sendable(transcript).split())
    if telegram_length(text) > limit:
        text = text[: _fit(text, limit - telegram_length(ELLIPSIS))].rstrip() + ELLIPSIS
    return Rendered(f"🎤 <i>{escape(text)}</i>", f"🎤 {text}")


def prefixed(prefix: Rendered, parts: Sequence[Rendered], *, limit: int = MESSAGE_LIMIT) -> list[Rendered]:
    """``parts`` with ``prefix`` and a blank line before the first one, or as a message of its own before
    them when the two do not fit one message."""
    if not parts:
        return [prefix]
    joined = _join(prefix, "\n\n", parts[0])
    if telegram_length(joined.plain) <= limit:
        return [joined, *parts[1:]]
    return [prefix, *parts]


def _fit(text: str, limit: int) -> int:
    """The largest index ``i`` such that ``text[:i]`` is at most ``limit`` Telegram units."""
    units = 0
    for index, char in enumerate(text):
        units += 2 if ord(char) > 0xFFFF else 1
        if units > limit:
            return index
    return len(text)


def _cut(text: str, fit: int) -> tuple[int, int]:
    """Where to end this part and where the next one starts: the last boundary of the best kind that fits."""
    for pattern in (_PARAGRAPH, _LINE, _SENTENCE, _WORD):
        best: tuple[int, int] | None = None
        for match in pattern.finditer(text):
            # For sentences the boundary is the whitespace group, not the punctuation before it.
            start, end = match.span(match.lastindex or 0)
            if start > fit:
                break
            if start > 0:
                best = (start, end)
        if best is not None:
            return best
    return fit, fit


def _source_line(number: int, source: SourceRef, label_limit: int) -> Rendered:
    """``[n] Title › Section``, a link when the source has an http(s) URL."""
    label = " ".join(sendable(source.label()).split())  # a line break would break the one-line layout
    if telegram_length(label) > label_limit:
        label = label[: _fit(label, label_limit - telegram_length(ELLIPSIS))].rstrip() + ELLIPSIS
    prefix = f"[{number}] "
    shown = escape(label)
    if source.url and _is_web_url(source.url):
        shown = f'<a href="{html.escape(sendable(source.url), quote=True)}">{shown}</a>'
    return Rendered(prefix + shown, prefix + label)


def _is_web_url(url: str) -> bool:
    """Only http(s) links: Telegram rejects the whole message over a link it cannot open."""
    parts = urlsplit(url)
    return parts.scheme.lower() in {"http", "https"} and bool(parts.netloc) and not re.search(r"\s", url)


def _join(first: Rendered, separator: str, second: Rendered) -> Rendered:
    return Rendered(first.html + separator + second.html, first.plain + separator + second.plain)


def _append(messages: list[Rendered], piece: Rendered, separator: str, limit: int) -> None:
    """Add ``piece`` to the last message if the result still fits, else start a new message with it."""
    if messages and telegram_length(messages[-1].plain + separator + piece.plain) <= limit:
        messages[-1] = _join(messages[-1], separator, piece)
    else:
        messages.append(piece)
