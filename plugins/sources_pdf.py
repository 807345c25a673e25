"""Source type for PDF documents (``.pdf``) with a text layer, read with pypdf: one section per page.

A page is a natural citation ("Guide › Page 3": the reader can find it), where headings guessed from font
sizes would often be wrong. Scanned PDFs have no text layer and are refused with a hint to OCR them.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from pypdf import PdfReader
from pypdf.errors import DependencyError

from otvet import hookimpl
from otvet.core.sources import (
    DocumentSource,
    ParsedSource,
    Section,
    SourceError,
    SourceType,
    title_from_name,
)
from otvet.plugins.sources_text import unwrap

if TYPE_CHECKING:
    from otvet.core.app import Otvet


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
            pages = [page.extract_text() or "" for page in reader.pages]
            metadata = reader.metadata
            title = str(metadata.title or "").strip() if metadata else ""
            declared = reader.trailer["/Root"].get("/Lang")
        except SourceError:
            raise
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
