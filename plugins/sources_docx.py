"""Source type for Word documents (``.docx``), read with python-docx: sections by heading.

Headings (Title, Heading 1-6) start sections, as in a web page; list items and table rows keep their own
lines (cells joined with " | ") so the chunker never glues two of them into one sentence. The archive is
checked against a size and member limit before python-docx opens it: a .docx is a zip, and a small upload
must not unpack into gigabytes.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

import docx
from docx.table import Table
from docx.text.paragraph import Paragraph

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

#: Ten times the largest file Otvet ingests (20 MiB): text compresses well, but not better than that.
MAX_UNCOMPRESSED_BYTES = 200 * 1024 * 1024
MAX_MEMBERS = 10_000
#: An OLE compound file: a legacy .doc, or a .docx encrypted with a password (Word wraps those in OLE).
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_HEADING = re.compile(r"^(?:title|heading ([1-6]))$", re.IGNORECASE)
_SPACE = re.compile(r"\s+")


def _lines(text: str) -> str:
    # A soft line break (Shift+Enter) stays a line break; any other run of whitespace becomes one space.
    lines = (_SPACE.sub(" ", line).strip() for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def check_archive(data: bytes, *, origin: str) -> None:
    """Refuse what is not a .docx, before python-docx unpacks anything: the zip's declared sizes and member
    count are checked here, and :mod:`zipfile` never inflates a member past its declared size.
    """
    if data.startswith(_OLE_MAGIC):
        raise SourceError(
            "is an old Word .doc or a password-protected document: "
            "save it from Word as .docx without a password and ingest that",
            origin=origin,
        )
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise SourceError("is not a Word .docx file (not a zip archive)", origin=origin) from None
    if len(members) > MAX_MEMBERS:
        raise SourceError(
            f"holds {len(members)} files; a .docx may hold at most {MAX_MEMBERS}", origin=origin
        )
    unpacked = sum(member.file_size for member in members)
    if unpacked > MAX_UNCOMPRESSED_BYTES:
        raise SourceError(
            f"unpacks to {unpacked} bytes; the limit is {MAX_UNCOMPRESSED_BYTES} (a zip bomb?)", origin=origin
        )
    if not any(member.filename == "word/document.xml" for member in members):
        raise SourceError("is a zip archive but not a Word document (no word/document.xml)", origin=origin)


def _heading_level(paragraph: Paragraph) -> int:
    """1-6 for a heading (0 for Title, which ranks above them), -1 for anything else."""
    style = paragraph.style
    match = _HEADING.match(style.name or "") if style is not None else None
    if match is None:
        return -1
    return int(match.group(1) or 0)


def _is_list_item(paragraph: Paragraph) -> bool:
    style = paragraph.style
    if style is not None and (style.name or "").lower().startswith("list"):
        return True
    # Numbered and bulleted paragraphs often keep the Normal style and only carry numbering properties.
    return bool(paragraph._p.xpath("./w:pPr/w:numPr"))


def _table_lines(table: Table) -> Iterator[str]:
    for row in table.rows:
        cells, seen = [], set()
        for cell in row.cells:
            # A merged cell is returned once per grid column it spans: keep it once.
            if id(cell._tc) in seen:
                continue
            seen.add(id(cell._tc))
            text = _SPACE.sub(" ", cell.text).strip()
            if text:
                cells.append(text)
        if cells:
            yield " | ".join(cells)


class DocxSource(DocumentSource):
    """A Word document: sections by heading; its Title property (else first heading, else file name) is
    its title."""

    name = "docx"
    extensions = (".docx",)
    description = "Word document (.docx): sections by heading, lists and tables line by line"

    def parse(self, data: bytes, *, origin: str) -> ParsedSource:
        check_archive(data, origin=origin)
        try:
            document = docx.Document(io.BytesIO(data))
            properties = document.core_properties
            declared_title = (properties.title or "").strip()
            declared_language = properties.language or ""
            blocks = list(self._blocks(document.iter_inner_content()))
        except Exception as exc:
            # python-docx meets broken files with many kinds of exception (KeyError, ValueError, lxml's
            # XMLSyntaxError...): whatever it raised, the admin needs to hear the file is unreadable.
            raise SourceError(
                f"is not a readable Word document ({exc or type(exc).__name__})", origin=origin
            ) from None
        first_heading = next((text for level, text in blocks if level >= 0), "")
        title = declared_title or first_heading or title_from_name(origin)
        sections = sections_by_heading(((level >= 0, text) for level, text in blocks), title)
        if not sections:
            raise SourceError("has no text: there is nothing to learn from", origin=origin)
        return ParsedSource(
            title=title, sections=sections, language=self.declared_language(declared_language)
        )

    @staticmethod
    def _blocks(content: Iterable[Paragraph | Table]) -> Iterator[tuple[int, str]]:
        """(heading level, text) for headings, (-1, text) for paragraphs: consecutive list items form one
        paragraph with a line each, and so do a table's rows."""
        items: list[str] = []
        for item in content:
            if isinstance(item, Table):
                if items:
                    yield -1, "\n".join(items)
                    items = []
                rows = "\n".join(_table_lines(item))
                if rows:
                    yield -1, rows
                continue
            text = _lines(item.text)
            if not text:
                continue
            if _is_list_item(item):
                items.append(text)
                continue
            if items:
                yield -1, "\n".join(items)
                items = []
            level = _heading_level(item)
            yield level, (" ".join(text.splitlines()) if level >= 0 else text)
        if items:
            yield -1, "\n".join(items)


@hookimpl
def register_source_types(register: Callable[[SourceType], None], otvet: Otvet) -> None:
    register(DocxSource(otvet.settings.languages))
