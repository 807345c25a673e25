"""The HTML source type: a page's main text in sections, without its menus, scripts or hidden parts."""

from __future__ import annotations

import pytest

from otvet.core.sources import SourceError
from otvet.plugins.sources_html import HtmlSource

PAGE = b"""<!doctype html>
<html lang="en-GB">
<head><title>Office &amp; hours</title><style>p { color: red }</style>
<script>document.write("<p>not text</p>")</script></head>
<body>
<header><nav><a href="/">Home</a> <a href="/shop">Shop</a></nav><h1>Acme site</h1></header>
<aside>Subscribe to our newsletter</aside>
<main>
  <h1>Visiting us</h1>
  <p>The office is on
     the   second&nbsp;floor.<p>Ring the bell.</p>
  <div hidden>Draft: we may move.</div>
  <span aria-hidden="true">&#9733;</span>
  <h2>Opening hours</h2>
  <ul><li>Monday to Friday: 9&ndash;18<li>Saturday: 10&ndash;14</ul>
  <table><tr><th>Day</th><th>Lunch</th></tr><tr><td>Daily</td><td>13&ndash;14</td></tr></table>
  <form><label>Search <input name="q"></label><button>Go</button></form>
  <noscript>Enable JavaScript</noscript><template><p>template text</p></template>
</main>
<footer>&copy; Acme</footer>
</body></html>"""


def test_main_text_in_sections_by_heading_without_page_chrome() -> None:
    parsed = HtmlSource(["en", "ru"]).parse(PAGE, origin="visit.html")
    assert parsed.title == "Office & hours" and parsed.language == "en"
    assert [(s.title, s.text) for s in parsed.sections] == [
        ("Visiting us", "The office is on the second floor.\n\nRing the bell."),
        ("Opening hours", "Monday to Friday: 9–18\nSaturday: 10–14\n\nDay | Lunch\nDaily | 13–14"),
    ]
    everything = " ".join(s.text for s in parsed.sections)
    chrome = ("Home", "newsletter", "Acme", "Draft", "★", "Search", "JavaScript", "template", "not text")
    for dropped in chrome:
        assert dropped not in everything


def test_without_main_the_articles_are_kept_and_an_articles_header_is_content() -> None:
    page = (
        b"<body><nav>Menu</nav><p>Cookie banner</p>"
        b"<article><header><h1>Release notes</h1></header><p>Version 2 is out.</p></article>"
        b"<footer>Footer</footer></body>"
    )
    parsed = HtmlSource().parse(page, origin="https://example.com/blog/release-notes")
    assert parsed.title == "Release notes"  # no <title>: the first h1
    assert [(s.title, s.text) for s in parsed.sections] == [("Release notes", "Version 2 is out.")]


def test_a_plain_page_keeps_its_body_and_takes_its_title_from_the_name() -> None:
    parsed = HtmlSource().parse(b"<p>First.</p><p>Second<br>line.</p>", origin="site/office-hours.htm")
    assert parsed.title == "Office hours"
    assert parsed.sections[0].text == "First.\n\nSecond\nline."


def test_an_unclosed_head_ends_where_the_content_starts() -> None:
    parsed = HtmlSource().parse(
        b"<html><head><title>T</title><meta charset=utf-8><p>Body text.", origin="a.html"
    )
    assert (parsed.title, parsed.sections[0].text) == ("T", "Body text.")


@pytest.mark.parametrize(
    ("lang", "language"), [("ru", "ru"), ("RU-ru", "ru"), ("de", None), ("", None), ("not a tag", None)]
)
def test_the_lang_attribute_sets_the_language_only_when_otvet_speaks_it(
    lang: str, language: str | None
) -> None:
    page = f'<html lang="{lang}"><body><p>Текст</p></body></html>'.encode()
    assert HtmlSource(["en", "ru"]).parse(page, origin="a.html").language == language


def test_the_charset_comes_from_the_bom_or_meta_else_utf8() -> None:
    cp1251 = '<meta charset="windows-1251"><p>Привет</p>'.encode("windows-1251")
    assert HtmlSource().parse(cp1251, origin="a.html").sections[0].text == "Привет"
    http_equiv = (
        b'<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1">'
        b"<p>caf\xe9 \x93quoted\x94</p>"
    )
    assert HtmlSource().parse(http_equiv, origin="a.html").sections[0].text == "café “quoted”"
    utf16 = "\ufeff<p>Hello</p>".encode("utf-16-le")
    assert HtmlSource().parse(utf16, origin="a.html").sections[0].text == "Hello"
    assert HtmlSource().parse("<p>Ёлка</p>".encode(), origin="a.html").sections[0].text == "Ёлка"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"<html><head><title>Empty</title></head><body><nav>Menu</nav></body></html>", "no main text"),
        (b"<script>only()</script>", "no main text"),
        (b"<p>caf\xe9</p>", r"bad.html:1: is not valid utf-8"),
        (b"\x00\x01\x02", "binary"),
    ],
)
def test_a_page_without_text_or_with_bad_bytes_is_refused(data: bytes, message: str) -> None:
    with pytest.raises(SourceError, match=message):
        HtmlSource().parse(data, origin="bad.html")
