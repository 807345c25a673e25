"""The widget's source entries: a link only for an http(s) URL, from the source's URL or its name."""

from __future__ import annotations

from otvet.core.types import SourceRef
from otvet.frontends.widget import protocol


def test_a_web_source_gets_its_url_for_a_link() -> None:
    ref = SourceRef(
        "Pricing", url="https://example.com/pricing", section="Plans", name="https://example.com/pricing"
    )
    assert protocol.source(1, ref) == {
        "n": 1,
        "title": "Pricing",
        "section": "Plans",
        "url": "https://example.com/pricing",
        "name": "https://example.com/pricing",
    }


def test_a_source_named_by_its_url_gets_it_even_without_one() -> None:
    # A page ingested from the web is named by its URL; an answer stored without the URL still links to it.
    assert (
        protocol.source(2, SourceRef("Docs", name="http://example.org/docs"))["url"]
        == "http://example.org/docs"
    )
    assert protocol.source(1, SourceRef("Docs", name="HTTPS://EXAMPLE.ORG/"))["url"] == "HTTPS://EXAMPLE.ORG/"


def test_anything_but_http_and_https_never_becomes_a_url() -> None:
    for value in (
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "file:///etc/passwd",
        "ftp://example.org/a",
        "//example.org/a",
        "guide.md",
        "otvet-demo:ru/telegram.md",
        "",
    ):
        assert protocol.source(1, SourceRef("T", url=value, name=value))["url"] is None, value
    assert protocol.source(1, SourceRef("T", url="javascript:x", name="https://ok.example/"))["url"] == (
        "https://ok.example/"
    )
    assert protocol.sources([SourceRef("A"), SourceRef("B", name="b.md")]) == [
        {"n": 1, "title": "A", "section": None, "url": None, "name": None},
        {"n": 2, "title": "B", "section": None, "url": None, "name": "b.md"},
    ]
