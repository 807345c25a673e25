"""Source type for PDF documents (``.pdf``) with a text layer, read with pypdf: one section per page.

A page is a natural citation ("Guide › Page 3": the reader can find it), where headings guessed from font
sizes would often be wrong. Scanned PDFs have no text layer and are refused with a hint to OCR them.

Page content streams are deflated, and deflate shrinks repetitive input a thousand-fold: a 50 KB upload can
hold 50 MB of content that text extraction then spends seconds of CPU on, and one upload can hold many such
pages. So each page's content is decompressed (pypdf itself caps one stream) and counted before its text is
extracted; a document whose pages unpack to more than :data:`MAX_UNPACKED_BYTES`, or to more than
:data:`MAX_RATIO` times its own size beyond :data:`RATIO_FLOOR_BYTES`, is refused as a decompression bomb.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from pypdf import PdfReader
from pypdf.errors import DependencyError, LimitReachedError

from otvet import hookimpl
from otvet.core.sources import (
    DocumentSource,
    ParsedSource,
    Section,
    SourceError,
    SourceType,
    report_progress,
    title_from_name,
)
from otvet.plugins.sources_text import unwrap

if TYPE_CHECKING:
    from otvet.core.app import Otvet


#: Most bytes the pages' content streams may unpack to, all pages together (text-only books stay far below).
MAX_UNPACKED_BYTES = 64 * 1024 * 1024
#: Real content streams compress a few to a few dozen times; a bomb a thousand times.
MAX_RATIO = 100
#: Small documents may be as repetitive as they like: the ratio is only checked past this many bytes.
RATIO_FLOOR_BYTES = 8 * 1024 * 1024


def _bomb_check(unpacked: int, size: int, origin: str) -> None:
    if unpacked > MAX_UNPACKED_BYTES:
        raise SourceError(
            f"its pages decompress to more than {MAX_UNPACKED_BYTES} bytes (a decompression bomb?)",
            origin=origin,
        )
    if unpacked > RATIO_FLOOR_BYTES and unpacked > MAX_RATIO * size:
        raise SourceError(
            f"its pages decompress to {unpacked} bytes from {size}, more than {MAX_RATIO} times its size "
            "(a decompression bomb?)",
            origin=origin,
        )


def _page_text(text: str) -> str:
    # pypdf gives one line per line of print: join them into paragraphs (blank lines separate paragraphs).
    blocks = re.split(r"\n\s*\n", text.replace("\x00", ""))
    return "\n\n".join(p for p in (unwrap(block) for block in blocks) if p)


class PdfSource(DocumentSource):
    """A PDF's text, page by page; the document's Title (else the file name) is its title."""

    name = "pdf"
    extensions = (".pdf",)
    description = "PDF with a text layer (not scanned images): one section per page"

    def parse(self, data: bytes, *, origin: str) -> ParsedSource:
        if b"%PDF-" not in data[:1024]:
            raise SourceError("is not a PDF file", origin=origin)
        try:
            reader = PdfReader(io.BytesIO(data))
            if reader.is_encrypted:
                self._decrypt(reader, origin)
            pages = []
            unpacked = 0
            total = len(reader.pages)
            for number, page in enumerate(reader.pages, 1):
                contents = page.get_contents()
                unpacked += len(contents.get_data()) if contents is not None else 0
                _bomb_check(unpacked, len(data), origin)  # before the costly part: extracting the text
                pages.append(page.extract_text() or "")
                report_progress(number, total, "page")
            metadata = reader.metadata
            title = str(metadata.title or "").strip() if metadata else ""
            declared = reader.trailer["/Root"].get("/Lang")
        except SourceError:
            raise
        except LimitReachedError:  # one stream alone unpacks past pypdf's own cap
            raise SourceError(
                "a page decompresses to more than pypdf's limit (a decompression bomb?)", origin=origin
            ) from None
        except Exception as exc:
            # pypdf meets broken files with many kinds of exception (its own, KeyError, ValueError...):
            # whatever it raised, the file cannot be read and the admin needs to hear that, not a traceback.
            raise SourceError(f"is not a readable PDF ({exc or type(exc).__name__})", origin=origin) from None
        sections = [
            Section(text, f"Page {number}")
            for number, text in enumerate((_page_text(page) for page in pages), 1)
            if text
        ]
        if not sections:
            raise SourceError(
                "has no text layer (scanned pages?): run it through OCR first, then ingest the result",
                origin=origin,
            )
        return ParsedSource(
            title=title or title_from_name(origin),
            sections=sections,
            language=self.declared_language(declared),
        )

    @staticmethod
    def _decrypt(reader: PdfReader, origin: str) -> None:
        # PDFs with only an owner password ("no copying") open with an empty user password.
        try:
            opened = reader.decrypt("")
        except DependencyError:
            raise SourceError(
                "is encrypted with AES, which needs the 'cryptography' package; save an unencrypted copy",
                origin=origin,
            ) from None
        if not opened:
            raise SourceError(
                "is protected by a password: save a copy without one and ingest that", origin=origin
            )


@hookimpl
def register_source_types(register: Callable[[SourceType], None], otvet: Otvet) -> None:
    register(PdfSource(otvet.settings.languages))
