"""Source types for prose: plain text (``.txt``) and Markdown (``.md``), split into titled sections."""

from __future__ import annotations

import re
from collections.abc import Callable

from otvet import hookimpl
from otvet.core.sources import ParsedSource, Section, SourceError, SourceType, decode_text, title_from_name

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
_FENCE = re.compile(r"^\s*(```|~~~)")
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\(([^)]+)\)")
_EMPHASIS = re.compile(r"(\*\*|__|\*|`)(?=\S)(.+?)(?<=\S)\1")
_FRONT_MATTER_KEY = re.compile(r"^(\w+)\s*:\s*(.*)$")


def unwrap(paragraph: str) -> str:
    """Join hard-wrapped lines of a paragraph, keeping list items and table rows on their own lines."""
    lines: list[str] = []
    for raw in paragraph.splitlines():
        line = raw.strip()
        if not line:
            continue
        if lines and not _LIST_ITEM.match(raw) and not line.startswith("|") and not lines[-1].startswith("|"):
            lines[-1] = f"{lines[-1]} {line}"
        else:
            lines.append(_LIST_ITEM.sub("", line))
    return "\n".join(lines)


def _paragraphs(text: str) -> str:
    return "\n\n".join(p for p in (unwrap(block) for block in re.split(r"\n\s*\n", text)) if p)


class TextSource(SourceType):
    """A plain-text file: paragraphs separated by blank lines; the file name is its title."""

    name = "text"
    extensions = (".txt", ".text")
    description = "Plain text (UTF-8), paragraphs separated by blank lines"

    def parse(self, data: bytes, *, origin: str) -> ParsedSource:
        text = decode_text(data, origin=origin)
        body = _paragraphs(text)
        if not body.strip():
            raise SourceError("is empty: there is no text to learn from", origin=origin)
        title = title_from_name(origin)
        return ParsedSource(title=title, sections=[Section(body, title)])


class MarkdownSource(SourceType):
    """A Markdown file: each heading starts a section; front matter may set ``title`` and ``language``."""

    name = "markdown"
    extensions = (".md", ".markdown")
    description = "Markdown (UTF-8): sections by heading, optional front matter with title and language"

    def parse(self, data: bytes, *, origin: str) -> ParsedSource:
        text = decode_text(data, origin=origin)
        meta, text = _front_matter(text, origin)
        sections: list[Section] = []
        title = meta.get("title", "")
        current_title, buffer, in_fence = "", [], False

        def flush() -> None:
            body = _paragraphs(_inline("\n".join(buffer)))
            if body.strip():
                sections.append(Section(body, current_title or title))
            buffer.clear()

        for line in text.splitlines():
            if _FENCE.match(line):
                in_fence = not in_fence
                buffer.append("")
                continue
            heading = None if in_fence else _HEADING.match(line)
            if heading:
                flush()
                current_title = _inline(heading.group(2))
                if len(heading.group(1)) == 1 and not title:
                    title = current_title
                continue
            buffer.append(line)
        flush()
        if in_fence:
            raise SourceError("has a code block (```) that is never closed", origin=origin)
        if not sections:
            raise SourceError("has no text under its headings: there is nothing to learn from", origin=origin)
        title = title or title_from_name(origin)
        sections = [Section(s.text, s.title or title) for s in sections]
        return ParsedSource(title=title, sections=sections, language=meta.get("language") or None)


def _inline(text: str) -> str:
    text = _IMAGE.sub(r"\1", text)
    text = _LINK.sub(r"\1", text)
    return _EMPHASIS.sub(r"\2", text)


def _front_matter(text: str, origin: str) -> tuple[dict[str, str], str]:
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        return {}, text
    end = next((i for i, line in enumerate(lines[1:], 1) if line.strip() == "---"), None)
    if end is None:
        raise SourceError("starts front matter with --- but never closes it", origin=origin, line=1)
    meta: dict[str, str] = {}
    for number, line in enumerate(lines[1:end], 2):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _FRONT_MATTER_KEY.match(line.strip())
        if not match:
            raise SourceError("front matter lines must look like 'key: value'", origin=origin, line=number)
        meta[match.group(1).lower()] = match.group(2).strip().strip("\"'")
    return meta, "\n".join(lines[end + 1 :])


@hookimpl
def register_source_types(register: Callable[[SourceType], None]) -> None:
    register(TextSource())
    register(MarkdownSource())
