"""The DOCX source type: sections by heading, lists and tables line by line; bad and hostile files refused."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import docx
import pytest
from docx.oxml.ns import nsdecls

from otvet.core.fetch import Fetched
from otvet.core.ingest import source_type_for_page
from otvet.core.sources import SourceError
from otvet.plugins import sources_docx
from otvet.plugins.sources_docx import DocxSource
from tests.support.archives import zip_bytes as _zip
from tests.support.cli import clean_env, run_otvet

#: What a document holds: ("title" or "h1".."h6", text), ("p" | "li" | "num", text) or ("table", rows).
Block = tuple[str, str] | tuple[str, list[list[str]]]


def make_docx(blocks: list[Block], *, title: str = "", language: str = "") -> bytes:
    """A real .docx written by python-docx, as Word would save it."""
    document = docx.Document()
    for kind, content in blocks:
        if kind == "title":
            document.add_heading(content, 0)
        elif kind.startswith("h"):
            document.add_heading(content, int(kind[1:]))
        elif kind == "li":
            document.add_paragraph(content, style="List Bullet")
        elif kind == "num":
            document.add_paragraph(content, style="List Number")
        elif kind == "table":
            assert isinstance(content, list)
            table = document.add_table(rows=len(content), cols=len(content[0]))
            for row, values in zip(table.rows, content, strict=True):
                for cell, value in zip(row.cells, values, strict=True):
                    cell.text = value
        else:
            document.add_paragraph(content)
    document.core_properties.title = title
    document.core_properties.language = language
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def test_headings_start_sections_and_paragraphs_join_into_text() -> None:
    data = make_docx(
        [
            ("p", "Welcome to the office."),
            ("h1", "Hours"),
            ("p", "The office opens at nine."),
            ("p", "It closes   at six."),
            ("h2", "Holidays"),
            ("p", "Closed on public holidays."),
        ],
        title="Office handbook",
        language="en-US",
    )
    parsed = DocxSource(["en", "ru"]).parse(data, origin="handbook.docx")
    assert parsed.title == "Office handbook" and parsed.language == "en"
    assert [(s.title, s.text) for s in parsed.sections] == [
        ("Office handbook", "Welcome to the office."),  # text before the first heading: the document's
        ("Hours", "The office opens at nine.\n\nIt closes at six."),
        ("Holidays", "Closed on public holidays."),
    ]


def test_list_items_and_table_rows_keep_their_own_lines() -> None:
    data = make_docx(
        [
            ("h1", "Prices"),
            ("p", "What to bring:"),
            ("li", "A passport"),
            ("li", "A photo"),
            ("num", "Sign the form"),
            ("table", [["Service", "Price"], ["Visa", "100 EUR"], ["Express", ""]]),
            ("p", "Prices include tax."),
        ]
    )
    parsed = DocxSource().parse(data, origin="prices.docx")
    assert parsed.sections[0].text == (
        "What to bring:\n\n"
        "A passport\nA photo\nSign the form\n\n"
        "Service | Price\nVisa | 100 EUR\nExpress\n\n"
        "Prices include tax."
    )


def test_numbered_paragraphs_in_the_normal_style_are_list_items_too() -> None:
    document = docx.Document()
    document.add_paragraph("Steps:")
    for step in ("Open the form", "Fill it in"):
        paragraph = document.add_paragraph(step)  # Word often keeps Normal and adds numbering properties
        paragraph._p.get_or_add_pPr().append(
            docx.oxml.parse_xml(f'<w:numPr {nsdecls("w")}><w:ilvl w:val="0"/><w:numId w:val="1"/></w:numPr>')
        )
    out = io.BytesIO()
    document.save(out)
    parsed = DocxSource().parse(out.getvalue(), origin="steps.docx")
    assert parsed.sections[0].text == "Steps:\n\nOpen the form\nFill it in"


def test_russian_text_and_declared_language() -> None:
    data = make_docx(
        [("h1", "Часы работы"), ("p", "Офис открыт с девяти. Закрывается в шесть!")], language="ru-RU"
    )
    parsed = DocxSource(["en", "ru"]).parse(data, origin="офис.docx")
    assert parsed.language == "ru"
    assert parsed.title == "Часы работы"
    assert parsed.sections[0].text == "Офис открыт с девяти. Закрывается в шесть!"


@pytest.mark.parametrize(
    ("blocks", "title", "origin", "expected"),
    [
        ([("title", "Guide"), ("h1", "Part"), ("p", "Text.")], "Declared", "a.docx", "Declared"),
        ([("title", "Visitor guide"), ("h1", "Part"), ("p", "Text.")], "", "a.docx", "Visitor guide"),
        ([("p", "Intro."), ("h2", "Second level"), ("p", "Text.")], "", "a.docx", "Second level"),
        ([("p", "Only text.")], "", "docs/price_list.docx", "Price list"),
        ([("p", "Only text.")], "   ", "https://example.com/files/visa-rules.docx?v=2", "Visa rules"),
    ],
)
def test_title_from_properties_else_first_heading_else_file_name(
    blocks: list[Block], title: str, origin: str, expected: str
) -> None:
    assert DocxSource().parse(make_docx(blocks, title=title), origin=origin).title == expected


def test_a_language_otvet_does_not_speak_is_ignored() -> None:
    parsed = DocxSource(["en", "ru"]).parse(make_docx([("p", "Text.")], language="de-DE"), origin="a.docx")
    assert parsed.language is None


def _bomb() -> bytes:
    """A few hundred KB that would unpack into more than 200 MiB of zeros."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/document.xml", b"<w:document/>")
        with archive.open("word/media/zeros.bin", "w") as member:
            zeros = bytes(1024 * 1024)
            for _ in range(201):
                member.write(zeros)
    return out.getvalue()


OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"Just some text, not a document.", "bad.docx: is not a Word .docx file \\(not a zip archive\\)"),
        (b"PK\x03\x04 cut short", "is not a Word .docx file"),
        (
            _zip({"hello.txt": b"hi"}),
            "is a zip archive but not a Word document \\(no word/document.xml\\)",
        ),
        (OLE, "is an old Word .doc or a password-protected document: save it from Word as .docx"),
        (
            _zip({"[Content_Types].xml": b"<x", "word/document.xml": b"<x"}),
            "is not a readable Word document",
        ),
        (make_docx([("p", "Cut short.")])[:-200], "is not a Word .docx file"),
        (make_docx([("h1", "Only a heading")]), "has no text: there is nothing to learn from"),
    ],
)
def test_bad_files_are_refused_clearly(data: bytes, message: str) -> None:
    with pytest.raises(SourceError, match=message):
        DocxSource().parse(data, origin="bad.docx")


def test_zip_bombs_are_refused_before_python_docx_opens_them(monkeypatch: pytest.MonkeyPatch) -> None:
    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("python-docx must not open a refused archive")

    monkeypatch.setattr(sources_docx.docx, "Document", never)
    bomb = _bomb()
    assert len(bomb) < 1024 * 1024
    with pytest.raises(SourceError, match="unpacks to 210763789 bytes; the limit is 209715200"):
        DocxSource().parse(bomb, origin="bomb.docx")
    many = _zip({"word/document.xml": b"<w:document/>"} | {f"x/{n}": b"" for n in range(10_000)})
    with pytest.raises(SourceError, match=r"holds 10001 files; a \.docx may hold at most 10000"):
        DocxSource().parse(many, origin="many.docx")


def test_a_docx_url_is_read_as_docx() -> None:
    url = "https://example.com/files/guide"
    content_type = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    chosen = source_type_for_page(Fetched(url, url, content_type, b""), [DocxSource()])
    assert chosen is not None and chosen.name == "docx"
    by_extension = Fetched(f"{url}.docx", f"{url}.docx", "application/octet-stream", b"")
    chosen = source_type_for_page(by_extension, [DocxSource()])
    assert chosen is not None and chosen.name == "docx"


def test_ingest_a_docx_then_ask_about_it(tmp_path: Path) -> None:
    env = clean_env(tmp_path / "data", OTVET_LOAD_DEMO="false")
    (tmp_path / "visa.docx").write_bytes(
        make_docx(
            [
                ("h1", "Visa applications"),
                ("p", "Visa applications are accepted on Tuesdays and Thursdays."),
                ("table", [["Document", "Copies"], ["Passport", "2"]]),
                ("h1", "Оплата"),
                ("p", "Консульский сбор оплачивается картой на месте."),
            ],
            title="Consulate guide",
        )
    )
    ingested = run_otvet("ingest", "visa.docx", env=env, cwd=tmp_path)
    assert ingested.returncode == 0, ingested.stderr
    assert "added     visa.docx" in ingested.stdout
    english = run_otvet("ask", "--json", "When are visa applications accepted?", env=env, cwd=tmp_path)
    final = json.loads(english.stdout)
    assert "Tuesdays and Thursdays" in final["text"]
    assert final["sources"][0]["title"].startswith("Consulate guide")
    russian = run_otvet("ask", "Как оплатить консульский сбор?", env=env, cwd=tmp_path)
    assert "картой" in russian.stdout
