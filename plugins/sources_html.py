"""Source type for web pages (``.html``, ``.htm``): the page's main text, in sections by heading.

Menus, headers, footers, forms, scripts and hidden elements are dropped, and when the page marks its main
content (``<main>``, else ``<article>``) only that is kept: a knowledge base learns the page, not the site's
navigation repeated on every page. Built on the standard library's tolerant ``html.parser``.
"""

from __future__ import annotations

import codecs
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import TYPE_CHECKING

from otvet import hookimpl
from otvet.core.sources import (
    DocumentSource,
    ParsedSource,
    SourceError,
    SourceType,
    sections_by_heading,
    title_from_name,
)

if TYPE_CHECKING:
    from otvet.core.app import Otvet

#: Elements whose content is never the page's text.
SKIPPED = frozenset(
    {"head", "script", "style", "noscript", "template", "nav", "aside", "form", "svg", "iframe", "object"}
)
#: Page chrome, unless inside the main content (an article's own header holds its title).
CHROME = frozenset({"header", "footer"})
VOID = frozenset(
    {
        "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
        "track", "wbr",
    }
)  # fmt: skip
#: What may stand in <head>; anything else there means the head ended without saying so.
HEAD_CONTENT = frozenset({"base", "link", "meta", "noscript", "script", "style", "template", "title"})
HEADINGS = {f"h{n}": n for n in range(1, 7)}
#: Elements that end a paragraph.
BLOCKS = frozenset(
    {
        "address", "article", "blockquote", "body", "caption", "dd", "details", "dialog", "div", "dl", "dt",
        "fieldset", "figcaption", "figure", "hr", "html", "li", "main", "ol", "p", "pre", "section",
        "summary", "table", "tbody", "tfoot", "thead", "tr", "ul",
    }
)  # fmt: skip
#: Elements that end a line but not the paragraph (list items and table rows stay together).
LINES = frozenset({"br", "li", "dt", "dd", "tr"})
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_:.+-]+)""", re.IGNORECASE)
_DISPLAY_NONE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)
_SPACE = re.compile(r"\s+")


def decode_html(data: bytes, *, origin: str) -> str:
    """Decode by byte-order mark, else ``<meta charset>`` in the first 4 KB, else UTF-8."""
    for bom, codec in (
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    ):
        if data.startswith(bom):
            return _decode(data[len(bom) :], codec, origin)
    if b"\x00" in data[:4096]:
        raise SourceError("looks like a binary file, not HTML", origin=origin)
    codec = "utf-8"
    match = _META_CHARSET.search(data[:4096])
    if match:
        try:
            codec = codecs.lookup(match.group(1).decode("ascii")).name
        except LookupError:
            codec = "utf-8"
        # As browsers do: a page cannot really be UTF-16 without a BOM, and "latin-1" means windows-1252.
        codec = {"utf-16-le": "utf-8", "utf-16-be": "utf-8", "utf-16": "utf-8", "ascii": "cp1252"}.get(
            codec, codec
        )
        codec = "cp1252" if codec == "iso8859-1" else codec
    return _decode(data, codec, origin)


def _decode(data: bytes, codec: str, origin: str) -> str:
    try:
        return data.decode(codec)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise SourceError(f"is not valid {codec} (byte {exc.start})", origin=origin, line=line) from None


def escape_unclosed_tail(text: str) -> str:
    """``text`` with every ``<`` after its last ``>`` written as ``&lt;``.

    No tag, comment or declaration can end there, so html.parser reads those as text anyway, at the end;
    but before it gets there, Python's html.parser (before 3.11.13/3.12.11/3.13.4) looks for the ``>`` from
    every one of them to the end of the page: 400 KB of ``<!--`` took minutes. Escaping them first gives
    the same text in linear time.
    """
    last = text.rfind(">")
    if text.find("<", last + 1) < 0:
        return text
    return text[: last + 1] + text[last + 1 :].replace("<", "&lt;")


@dataclass(slots=True)
class _Block:
    """A heading or a paragraph, with where it sits: inside ``<main>``, inside an ``<article>``."""

    text: str
    level: int  # 1-6 for headings, 0 for a paragraph
    in_main: bool
    in_article: bool


class _Extractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[_Block] = []
        self.title = ""
        self.language = ""
        self._stack: list[tuple[str, bool]] = []  # (tag, whether it hides its content)
        # How many of each tag are open: asking the stack instead made deeply nested pages quadratic
        # (20,000 nested <div>s, 100 KB, took 6 s; a 20 MB page would take hours).
        self._open: Counter[str] = Counter()
        self._hidden = 0
        self._main = 0
        self._article = 0
        self._in_title = False
        self._heading: int = 0
        self._line: list[str] = []
        # Whether _line holds more than whitespace; joining it to find out made a long table row quadratic.
        self._line_has_text = False
        self._lines: list[str] = []

    # --- structure --------------------------------------------------------------------------------------

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag not in HEAD_CONTENT and self._open["head"]:
            self.handle_endtag("head")  # <body> or page content after an unclosed <head>, as browsers read it
        if tag == "html" and not self.language:
            self.language = values.get("lang") or values.get("xml:lang") or ""
        if tag == "title" and not self.title and not self._open["svg"]:
            self._in_title = True  # the page's title, in <head> (which is otherwise skipped); not an SVG's
        if tag in ("td", "th") and self._line_has_text:
            self._line.append(" | ")  # cells of a row stay apart
        if tag in VOID:
            if tag in ("br", "hr"):
                self._break(paragraph=tag == "hr")
            return
        hides = (
            tag in SKIPPED
            or (tag in CHROME and not (self._main or self._article))
            or "hidden" in values
            or values.get("aria-hidden", "").lower() == "true"
            or bool(_DISPLAY_NONE.search(values.get("style", "")))
        )
        if tag in HEADINGS or tag in BLOCKS:
            self._break(paragraph=tag not in LINES)
        self._stack.append((tag, hides))
        self._open[tag] += 1
        self._hidden += hides
        self._main += tag == "main"
        self._article += tag == "article"
        if tag in HEADINGS and not self._hidden:
            self._heading = HEADINGS[tag]

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # <div/> opens nothing; <br/> still breaks the line.
        if tag in VOID:
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        if not self._open[tag]:
            return  # a stray end tag: ignore it, as browsers do
        # Close everything opened inside it that was never closed (<p> and <li> often are not).
        while self._stack:
            open_tag, hides = self._stack.pop()
            self._open[open_tag] -= 1
            if open_tag in HEADINGS and self._heading:
                self._end_heading()
            elif open_tag in BLOCKS:
                self._break(paragraph=open_tag not in LINES)
            self._hidden -= hides
            self._main -= open_tag == "main"
            self._article -= open_tag == "article"
            if open_tag == tag:
                break

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
            return
        if not self._hidden_now():
            self._line.append(data)
            self._line_has_text = self._line_has_text or not data.isspace()

    def close(self) -> None:
        super().close()
        if self._heading:
            self._end_heading()
        self._break(paragraph=True)

    # --- text ---------------------------------------------------------------------------------------------

    def _hidden_now(self) -> bool:
        return self._hidden > 0

    def _break(self, *, paragraph: bool) -> None:
        if self._heading:
            return  # a heading's inline markup (<br>, <span>) stays in the heading
        line = _SPACE.sub(" ", "".join(self._line)).strip()
        self._clear_line()
        if line:
            self._lines.append(line)
        if paragraph and self._lines:
            self.blocks.append(_Block("\n".join(self._lines), 0, self._main > 0, self._article > 0))
            self._lines.clear()

    def _clear_line(self) -> None:
        self._line.clear()
        self._line_has_text = False

    def _end_heading(self) -> None:
        level, self._heading = self._heading, 0
        text = _SPACE.sub(" ", "".join(self._line)).strip()
        self._clear_line()
        if text:
            self.blocks.append(_Block(text, level, self._main > 0, self._article > 0))


class HtmlSource(DocumentSource):
    """A web page: the main text, one section per heading; ``<title>`` (or the first h1) is its title."""

    name = "html"
    extensions = (".html", ".htm")
    description = "HTML page: main text only (no menus or scripts), sections by heading"

    def parse(self, data: bytes, *, origin: str) -> ParsedSource:
        extractor = _Extractor()
        extractor.feed(escape_unclosed_tail(decode_html(data, origin=origin)))
        extractor.close()
        blocks = extractor.blocks
        # Prefer the page's own statement of its main content: <main>, else its <article>s.
        for marked in (lambda b: b.in_main, lambda b: b.in_article):
            if any(marked(b) for b in blocks):
                blocks = [b for b in blocks if marked(b)]
                break
        first_h1 = next((b.text for b in extractor.blocks if b.level == 1), "")
        title = _SPACE.sub(" ", extractor.title).strip() or first_h1 or title_from_name(origin)
        sections = sections_by_heading(((bool(b.level), b.text) for b in blocks), title)
        if not sections:
            raise SourceError("has no main text: there is nothing to learn from", origin=origin)
        return ParsedSource(
            title=title, sections=sections, language=self.declared_language(extractor.language)
        )


@hookimpl
def register_source_types(register: Callable[[SourceType], None], otvet: Otvet) -> None:
    register(HtmlSource(otvet.settings.languages))
