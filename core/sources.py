"""Training-source types: parsers that turn an uploaded file into sections of text and Q&A pairs."""

from __future__ import annotations

import codecs
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any, ClassVar


class SourceError(ValueError):
    """A source could not be parsed. The message says what is wrong and where, for the admin to fix."""

    def __init__(self, message: str, *, origin: str = "", line: int | None = None) -> None:
        where = origin + (f":{line}" if line is not None else "")
        super().__init__(f"{where}: {message}" if where else message)
        self.origin = origin
        self.line = line


@dataclass(frozen=True, slots=True)
class Section:
    """A titled stretch of prose (a Markdown section, a plain-text file)."""

    text: str
    title: str = ""


@dataclass(frozen=True, slots=True)
class QAPair:
    """A question with its approved answer."""

    question: str
    answer: str


@dataclass(slots=True)
class ParsedSource:
    """What a source type extracted from one file."""

    title: str
    sections: list[Section] = field(default_factory=list)
    qa_pairs: list[QAPair] = field(default_factory=list)
    #: The source's language when the file says so (front matter, a ``language`` column); else detected.
    language: str | None = None

    @property
    def is_empty(self) -> bool:
        return not any(s.text.strip() for s in self.sections) and not self.qa_pairs


#: Who hears how far the parser of the file being ingested has got (set by core/ingest.py around a parse).
_PARSE_PROGRESS: ContextVar[Callable[[int, int, str], None] | None] = ContextVar(
    "parse_progress", default=None
)


def report_progress(done: int, total: int, unit: str) -> None:
    """For a source type's ``parse``: ``done`` of ``total`` ``unit``s (pages, sections) read so far, shown
    to the admin while a long file is parsed. Costs nothing when nobody listens."""
    listener = _PARSE_PROGRESS.get()
    if listener is not None:
        listener(done, total, unit)


def listening_to_progress(listener: Callable[[int, int, str], None] | None) -> Token[Any]:
    """Send :func:`report_progress` of parses started in this context to ``listener`` (reset the token
    after)."""
    return _PARSE_PROGRESS.set(listener)


def stop_listening(token: Token[Any]) -> None:
    _PARSE_PROGRESS.reset(token)


class SourceType(ABC):
    """A kind of training source. ``name`` is unique; ``extensions`` pick it for ``otvet ingest FILE``."""

    name: ClassVar[str] = ""
    #: Lower-case file suffixes with the dot, e.g. ``(".md", ".markdown")``.
    extensions: ClassVar[tuple[str, ...]] = ()
    description: ClassVar[str] = ""

    @abstractmethod
    def parse(self, data: bytes, *, origin: str) -> ParsedSource:
        """Parse ``data`` (the file's bytes; ``origin`` names it in errors) or raise :class:`SourceError`."""


class DocumentSource(SourceType):
    """A document format that may declare its own language (HTML ``lang``, a PDF's ``/Lang``, Word's
    language property): the declaration is kept when it names one of ``languages``."""

    def __init__(self, languages: Iterable[str] | None = None) -> None:
        #: The languages a declaration may name (Otvet's own); None accepts any language code.
        self.languages = None if languages is None else {lang.lower() for lang in languages}

    def declared_language(self, declared: object) -> str | None:
        """``ru-RU`` → ``ru``; None for anything else, or a language not in ``languages``."""
        match = _LANGUAGE_TAG.match(str(declared or "").strip())
        if not match:
            return None
        language = match.group(1).lower()
        return language if self.languages is None or language in self.languages else None


_LANGUAGE_TAG = re.compile(r"^([A-Za-z]{2,3})(?:[-_].*)?$")


def title_from_name(origin: str) -> str:
    """A title from a file name or URL: ``office-rules.md`` → ``Office rules`` (the query is ignored)."""
    path = PurePath(origin.split("?", 1)[0].rstrip("/"))
    stem = path.stem or path.name or origin
    return stem.replace("_", " ").replace("-", " ").strip().capitalize() or origin


def sections_by_heading(blocks: Iterable[tuple[bool, str]], title: str) -> list[Section]:
    """Sections from ``(is_heading, text)`` blocks: each heading starts one, titled with it; paragraphs
    before the first heading belong to the document ``title``. Headings with no text under them vanish."""
    sections: list[Section] = []
    heading, paragraphs = "", list[str]()
    for is_heading, text in [*blocks, (True, "")]:
        if is_heading:
            body = "\n\n".join(paragraphs)
            if body:
                sections.append(Section(body, heading or title))
            heading, paragraphs = text, []
        else:
            paragraphs.append(text)
    return sections


#: What no stored text may hold: NUL (PostgreSQL's text type refuses it) and lone surrogates (UTF-8 cannot
#: encode them, so neither database driver can send them). Decoding never makes them, but a JSON or YAML
#: escape (``\u0000``, ``\ud800``) does, and a NUL past the binary-file check goes through as it is.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


#: Longest title kept whole. A title is shown with every answer citing its source (a Telegram message, a
#: widget chip), so a parser's title (a page's ``<title>``, a heading that is really a paragraph) is cut
#: there; a title an admin types is refused beyond it instead (:func:`given_title`).
MAX_TITLE_CHARS = 300


def storable_text(text: str) -> str:
    """``text`` as either database can store it: NULs dropped (never text in a document or a question),
    lone surrogates shown as U+FFFD."""
    if text.isascii() and "\x00" not in text:
        return text  # the common case, without a search through the text
    return _UNSTORABLE.sub(lambda m: "" if m.group() == "\x00" else "\ufffd", text)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def given_title(title: str | None) -> str | None:
    """A title an admin gave, on one line; None when it is blank (the parser's own stays). A parser's title
    is cut, but this one is refused with ValueError when longer than :data:`MAX_TITLE_CHARS`: the admin
    chose its words, so the admin chooses which to drop."""
    title = _one_line(title or "")
    if len(title) > MAX_TITLE_CHARS:
        raise ValueError(f"title is longer than {MAX_TITLE_CHARS} characters")
    return title or None


def _storable_title(title: str) -> str:
    """One line of at most :data:`MAX_TITLE_CHARS`, cut at a word with an ellipsis when longer."""
    title = _one_line(storable_text(title))
    if len(title) <= MAX_TITLE_CHARS:
        return title
    cut = title[: MAX_TITLE_CHARS - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > MAX_TITLE_CHARS // 2 else cut).rstrip() + "…"


def storable(parsed: ParsedSource, *, origin: str) -> ParsedSource:
    """``parsed`` as the knowledge base can store it: NULs dropped (never text in a document), lone
    surrogates shown as U+FFFD, titles on one line and cut to :data:`MAX_TITLE_CHARS`. A pair left with an
    empty question or answer is refused, as an empty one is.
    """
    sections = [Section(storable_text(s.text), _storable_title(s.title)) for s in parsed.sections]
    pairs = [
        QAPair(storable_text(p.question).strip(), storable_text(p.answer).strip()) for p in parsed.qa_pairs
    ]
    if any(not pair.question or not pair.answer for pair in pairs):
        raise SourceError("a question or answer holds nothing but NUL characters", origin=origin)
    language = storable_text(parsed.language) if parsed.language is not None else None
    return ParsedSource(
        _storable_title(parsed.title), [s for s in sections if s.text.strip()], pairs, language
    )


def _looks_like_utf16(head: bytes) -> bool:
    """UTF-16 text (what Windows editors save as "Unicode"): a NUL in nearly every other byte, since Latin
    letters, digits and punctuation have a zero high byte (Cyrillic's is 0x04: its share stays low, so the
    mark, when there is one, decides)."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return True
    even, odd = head[0::2], head[1::2]
    return len(head) >= 8 and max(even.count(0) / len(even), odd.count(0) / len(odd)) > 0.9


def decode_text(data: bytes, *, origin: str) -> str:
    """Decode a text file as UTF-8 (with or without BOM), refusing binary or mis-encoded input clearly."""
    head = data[:4096]
    if b"\x00" in head:
        # Refused either way (a UTF-16 mark alone cannot tell text from bytes that start with 0xFF 0xFE), but
        # an admin who saved a file as "Unicode" needs to hear what to do, not that it is binary.
        if _looks_like_utf16(head):
            raise SourceError("looks like UTF-16 text; save it as UTF-8", origin=origin)
        raise SourceError("looks like a binary file, not text", origin=origin)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise SourceError(
            f"is not valid UTF-8 (byte {exc.start}); save it as UTF-8", origin=origin, line=line
        ) from None
