"""The PDF source type: text page by page; encrypted, broken and scanned PDFs refused clearly."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfWriter
from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject, TextStringObject

from otvet.core.sources import SourceError
from otvet.plugins.sources_pdf import PdfSource


def make_pdf(
    pages: list[list[str]], *, title: str = "", lang: str = "", user_password: str | None = None
) -> bytes:
    """A real PDF whose pages print ``lines`` in Helvetica (an empty list: a page with no text layer)."""
    writer = PdfWriter()
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
        }
    )
    for lines in pages:
        page = writer.add_blank_page(612, 792)
        if not lines:
            continue
        page[NameObject("/Resources")] = DictionaryObject(
            {NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})}
        )
        escaped = (line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") for line in lines)
        shown = " T* ".join(f"({line}) Tj" for line in escaped)
        content = DecodedStreamObject()
        content.set_data(f"BT /F1 12 Tf 14 TL 72 720 Td {shown} ET".encode("latin-1"))
        page.replace_contents(content)
    if title:
        writer.add_metadata({"/Title": title})
    if lang:
        writer.root_object[NameObject("/Lang")] = TextStringObject(lang)
    if user_password is not None:
        writer.encrypt(user_password, owner_password="owner", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_one_section_per_page_with_lines_joined_into_paragraphs() -> None:
    data = make_pdf(
        [["The office opens", "at nine."], [], ["It closes at six."]], title="Visitor guide", lang="en-US"
    )
    parsed = PdfSource(["en", "ru"]).parse(data, origin="guide.pdf")
    assert parsed.title == "Visitor guide" and parsed.language == "en"
    # The empty second page is skipped, and the third keeps its real number.
    assert [(s.title, s.text) for s in parsed.sections] == [
        ("Page 1", "The office opens at nine."),
        ("Page 3", "It closes at six."),
    ]


def test_the_file_name_is_the_title_when_the_pdf_has_none_and_unknown_languages_are_ignored() -> None:
    parsed = PdfSource(["en", "ru"]).parse(make_pdf([["Text."]], lang="de"), origin="docs/price_list.pdf")
    assert parsed.title == "Price list" and parsed.language is None


def test_a_pdf_with_only_an_owner_password_is_read() -> None:
    parsed = PdfSource().parse(make_pdf([["Open to read."]], user_password=""), origin="locked.pdf")
    assert parsed.sections[0].text == "Open to read."


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (make_pdf([["Secret."]], user_password="hunter2"), "locked.pdf: is protected by a password"),
        (b"%PDF-1.7\n1 0 obj << /Type /Catalog >> garbage", "locked.pdf: is not a readable PDF"),
        (make_pdf([["Cut short."]])[:300], "locked.pdf: is not a readable PDF"),
        (b"<html>not a pdf</html>", "locked.pdf: is not a PDF file"),
        (make_pdf([[], []]), "no text layer"),
    ],
)
def test_encrypted_broken_and_scanned_pdfs_are_refused_clearly(data: bytes, message: str) -> None:
    with pytest.raises(SourceError, match=message):
        PdfSource().parse(data, origin="locked.pdf")
