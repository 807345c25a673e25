"""The demo page and the widget's files: strict CSP, no inline code, the headers embedding sites need."""

from __future__ import annotations

import re

from otvet.frontends.widget.pages import STATIC
from tests.frontends.widget.conftest import ServeFactory


async def test_the_demo_page_has_a_strict_csp_and_no_inline_code(serve: ServeFactory) -> None:
    async with serve(default_language="ru") as served:
        page = await served.http.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    for directive in (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "frame-ancestors 'none'",
    ):
        assert directive in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "no-referrer"
    html = page.text
    scripts = re.findall(r"<script\b[^>]*>(.*?)</script>", html, re.S)
    assert scripts == [""], "one script, loaded from a file"
    assert '<script src="/widget.js" data-otvet-url="" defer></script>' in html
    assert "<style" not in html and " style=" not in html and not re.search(r"\son\w+=", html)
    assert '<html lang="ru">' in html and "Как подключить Telegram?" in html
    # Styled by its own file from Otvet (allowed by style-src 'self'); nothing from another host.
    assert '<link rel="stylesheet" href="/demo.css">' in html
    assert "Демо виджета" in html and "демонстрационная страница" in html
    assert not re.search(r"""(?:href|src)=["']?(?:https?:)?//""", html), "nothing from another host"


async def test_the_demo_page_is_in_english_by_default(serve: ServeFactory) -> None:
    async with serve() as served:
        html = (await served.http.get("/")).text
    assert '<html lang="en">' in html and "Widget demo" in html and "This page is a demo" in html


async def test_the_widget_files_are_served_for_embedding(serve: ServeFactory) -> None:
    async with serve() as served:
        script = await served.http.get("/widget.js")
        stylesheet = await served.http.get("/widget.css")
        page_stylesheet = await served.http.get("/demo.css")
    assert script.headers["content-type"] == "text/javascript; charset=utf-8"
    assert stylesheet.headers["content-type"] == "text/css; charset=utf-8"
    assert page_stylesheet.headers["content-type"] == "text/css; charset=utf-8"
    # The demo page's stylesheet loads nothing else: no web fonts, no imports, no URLs at all.
    assert not re.search(r"@import|@font-face|url\(", page_stylesheet.text)
    for response, name in ((script, "widget.js"), (stylesheet, "widget.css"), (page_stylesheet, "demo.css")):
        assert response.status_code == 200
        assert response.content == (STATIC / name).read_bytes()
        assert response.headers["cache-control"] == "public, max-age=300"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["cross-origin-resource-policy"] == "cross-origin"


async def test_a_disabled_widget_serves_nothing(serve: ServeFactory) -> None:
    async with serve(widget={"enabled": False}) as served:
        assert (await served.http.get("/")).status_code == 404
        assert (await served.http.get("/widget.js")).status_code == 404
        assert (await served.http.get("/demo.css")).status_code == 404
        assert "widget" not in served.otvet.state
