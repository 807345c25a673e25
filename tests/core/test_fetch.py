"""Fetching web pages for ingestion: what is refused (SSRF), limits, redirects and content types."""

from __future__ import annotations

import ipaddress

import pytest

from otvet.config.settings import FetchSettings
from otvet.core import fetch as fetch_module
from otvet.core.fetch import Fetched, FetchError, fetch, refusal
from otvet.core.ingest import source_type_for_page
from otvet.plugins.sources_html import HtmlSource
from otvet.plugins.sources_pdf import PdfSource
from otvet.plugins.sources_qa import CsvQASource, JsonQASource, YamlQASource
from otvet.plugins.sources_text import MarkdownSource, TextSource
from tests.support.server import free_port
from tests.support.web import Page, WebServer

SOURCE_TYPES = [
    TextSource(),
    MarkdownSource(),
    HtmlSource(),
    PdfSource(),
    CsvQASource(),
    JsonQASource(),
    YamlQASource(),
]
HTML = b"<html><head><title>Hours</title></head><body><p>We open at nine.</p></body></html>"


def allowing(web: WebServer, **overrides: object) -> FetchSettings:
    """Settings that let exactly this test server (its address and port) be fetched."""
    return FetchSettings(allow_hosts=[f"127.0.0.1:{web.port}"], **overrides)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1/", "loopback"),
        ("http://localhost/", "localhost resolves to"),
        ("http://10.0.0.1/", "private"),
        ("http://192.168.1.1/", "private"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://[::1]/", "loopback"),
        ("http://[::ffff:127.0.0.1]/", "loopback"),
        ("http://[2002:7f00:1::1]/", "loopback address (carried in 2002:7f00:1::1)"),  # 6to4 of 127.0.0.1
        ("http://[fe80::1]/", "link-local"),
        ("http://0.0.0.0/", "unspecified"),
        ("http://224.0.0.1/", "multicast"),
        ("http://100.64.0.1/", "non-public"),  # carrier-grade NAT
        ("http://240.0.0.1/", "reserved"),
    ],
)
async def test_internal_addresses_are_refused_before_any_connection(url: str, reason: str) -> None:
    with pytest.raises(FetchError, match="refused") as info:
        await fetch(url, FetchSettings())
    assert reason in info.value.reason and "fetch.allow_hosts" in info.value.reason


async def test_a_server_on_loopback_is_never_asked_unless_allowed() -> None:
    async with WebServer() as web:
        web.pages["/"] = Page(HTML, headers={"Content-Type": "text/html"})
        with pytest.raises(FetchError, match="loopback"):
            await fetch(web.url("/"), FetchSettings())
        with pytest.raises(FetchError, match="loopback"):
            await fetch(web.url("/", host="localhost"), allowing(web))  # the name differs from the entry
        assert web.requests == []
        page = await fetch(web.url("/"), allowing(web))
    assert page.content_type == "text/html" and page.data == HTML


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("file:///etc/passwd", "only http and https"),
        ("ftp://example.com/a.txt", "only http and https"),
        ("http://user:secret@example.com/", "user name or password"),
        ("http://no-such-host.invalid/", "cannot resolve no-such-host.invalid"),
    ],
)
async def test_other_schemes_credentials_and_unknown_hosts_are_clear_errors(url: str, message: str) -> None:
    with pytest.raises(FetchError, match=message):
        await fetch(url, FetchSettings())


async def test_a_redirect_from_an_allowed_server_to_another_loopback_port_is_refused() -> None:
    other = free_port()
    async with WebServer() as web:
        web.pages["/go"] = Page(status=302, headers={"Location": f"http://127.0.0.1:{other}/admin"})
        web.pages["/metadata"] = Page(status=301, headers={"Location": "http://169.254.169.254/latest/"})
        web.pages["/local"] = Page(status=307, headers={"Location": f"http://localhost:{web.port}/page"})
        for path, target in (
            ("/go", f"http://127.0.0.1:{other}/admin"),
            ("/metadata", "http://169.254.169.254/latest/"),
            ("/local", f"http://localhost:{web.port}/page"),
        ):
            with pytest.raises(FetchError) as info:
                await fetch(web.url(path), allowing(web))
            assert info.value.reason.startswith(f"redirected to {target}: refused: ")
        assert [r.path for r in web.requests] == ["/go", "/metadata", "/local"]  # never /page


async def test_redirects_on_an_allowed_server_are_followed_up_to_a_limit() -> None:
    async with WebServer() as web:
        web.pages["/old"] = Page(status=301, headers={"Location": "/new"})
        web.pages["/new"] = Page(HTML, headers={"Content-Type": "text/html; charset=utf-8"})
        web.pages["/loop"] = Page(status=302, headers={"Location": "/loop"})
        page = await fetch(web.url("/old"), allowing(web))
        assert (page.url, page.final_url) == (web.url("/old"), web.url("/new"))
        assert page.data == HTML
        with pytest.raises(FetchError, match="more than 5 redirects"):
            await fetch(web.url("/loop"), allowing(web))
        with pytest.raises(FetchError, match="answered 404 Not Found"):
            await fetch(web.url("/missing"), allowing(web))


async def test_a_network_in_the_allow_list_opens_every_port_in_it() -> None:
    async with WebServer() as web:
        web.pages["/"] = Page(HTML, headers={"Content-Type": "text/html"})
        page = await fetch(web.url("/"), FetchSettings(allow_networks=["127.0.0.0/8"]))
    assert page.data == HTML


async def test_the_connection_goes_to_the_checked_address_with_the_original_host_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The name is resolved once, by the check; the request is sent to that address (no second lookup that
    a rebinding DNS server could answer differently), while the server still sees the name asked for."""
    lookups: list[str] = []

    async def resolve(host: str, port: int) -> list[fetch_module.IPAddress]:
        lookups.append(host)
        return [ipaddress.ip_address("127.0.0.1")]

    monkeypatch.setattr(fetch_module, "resolve", resolve)
    async with WebServer() as web:
        web.pages["/"] = Page(HTML, headers={"Content-Type": "text/html"})
        settings = FetchSettings(allow_hosts=[f"wiki.intranet.invalid:{web.port}"])
        page = await fetch(f"http://wiki.intranet.invalid:{web.port}/", settings)
    assert page.data == HTML
    assert lookups == ["wiki.intranet.invalid"]  # real DNS would not know this name: only ours was used
    assert web.requests[0].headers["host"] == f"wiki.intranet.invalid:{web.port}"


async def test_a_name_with_any_internal_address_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    async def resolve(host: str, port: int) -> list[fetch_module.IPAddress]:
        return [ipaddress.ip_address("93.184.215.14"), ipaddress.ip_address("127.0.0.1")]

    monkeypatch.setattr(fetch_module, "resolve", resolve)
    with pytest.raises(FetchError, match=r"rebind\.example resolves to 127\.0\.0\.1, a loopback address"):
        await fetch("https://rebind.example/", FetchSettings())


def test_public_addresses_and_their_ipv6_forms_pass() -> None:
    for address in ("93.184.215.14", "2606:4700:4700::1111", "::ffff:93.184.215.14"):
        assert refusal(ipaddress.ip_address(address)) is None
    assert refusal(ipaddress.ip_address("64:ff9b::a00:1")) is not None  # NAT64 of 10.0.0.1


async def test_a_page_over_the_size_limit_is_refused_with_or_without_its_length() -> None:
    async with WebServer() as web:
        web.pages["/big"] = Page(b"x" * 5000, headers={"Content-Type": "text/plain"})
        web.pages["/stream"] = Page(b"x" * 5000, headers={"Content-Type": "text/plain"}, send_length=False)
        for path in ("/big", "/stream"):
            with pytest.raises(FetchError, match=r"limit is 1000|larger than 1000 bytes"):
                await fetch(web.url(path), allowing(web, max_bytes=1000))
        small = await fetch(web.url("/stream"), allowing(web, max_bytes=5000))
    assert len(small.data) == 5000


async def test_a_slow_server_runs_into_the_time_limit() -> None:
    async with WebServer() as web:
        web.pages["/slow"] = Page(HTML, delay=30)
        with pytest.raises(FetchError, match=r"took longer than 0\.3 seconds"):
            await fetch(web.url("/slow"), allowing(web, timeout_seconds=0.3))


async def test_text_in_another_charset_reaches_the_parser_as_utf8() -> None:
    body = "<title>Часы</title><p>Открыто с девяти.</p>".encode("windows-1251")
    async with WebServer() as web:
        web.pages["/ru"] = Page(body, headers={"Content-Type": "text/html; charset=windows-1251"})
        page = await fetch(web.url("/ru"), allowing(web))
    parsed = HtmlSource().parse(page.data, origin=page.url)
    assert parsed.title == "Часы" and parsed.sections[0].text == "Открыто с девяти."


@pytest.mark.parametrize(
    ("content_type", "path", "source_type"),
    [
        ("text/html; charset=utf-8", "/page", "html"),
        ("application/xhtml+xml", "/page", "html"),
        ("application/pdf", "/doc", "pdf"),
        ("text/plain", "/notes", "text"),
        ("text/markdown", "/readme", "markdown"),
        ("text/plain", "/raw/guide.md", "markdown"),  # raw files are often served as text/plain
        ("application/octet-stream", "/files/manual.pdf", "pdf"),
        ("text/csv", "/export", "qa_csv"),
        ("application/yaml", "/faq", "qa_yaml"),
        ("image/png", "/logo.png", None),
        ("application/octet-stream", "/download", None),
    ],
)
def test_the_content_type_decides_the_source_type(
    content_type: str, path: str, source_type: str | None
) -> None:
    media_type = content_type.split(";")[0]
    page = Fetched(f"https://example.com{path}", f"https://example.com{path}", media_type, b"")
    chosen = source_type_for_page(page, SOURCE_TYPES)
    assert (chosen.name if chosen else None) == source_type


async def test_the_fetched_content_type_is_reported_without_parameters() -> None:
    async with WebServer() as web:
        web.pages["/doc"] = Page(b"%PDF-1.4", headers={"Content-Type": "Application/PDF; name=x"})
        page = await fetch(web.url("/doc"), allowing(web))
    assert page.content_type == "application/pdf"
