"""The demo page ``/`` and the widget's files ``/widget.js`` and ``/widget.css``, with their headers.

The page has no inline script or style, so it is served under a strict Content-Security-Policy: the page
styles itself from ``/demo.css``, and the widget runs from ``/widget.js`` and styles itself from
``/widget.css``, exactly as on a customer's page. Nothing is loaded from anywhere else (no web fonts, no
CDN), so the page looks the same on a machine without internet access.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from otvet.core.i18n import Translator

STATIC = Path(__file__).resolve().parent / "static"

#: Headers of every HTML page Otvet serves (docs/widget.md#security).
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; connect-src 'self' ws: wss:; style-src 'self'; "
        "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
#: The widget's files are embedded by other sites: cacheable for a while and loadable cross-origin.
ASSET_HEADERS = {
    "Cache-Control": "public, max-age=300",
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Resource-Policy": "cross-origin",
}


def demo_page(t: Translator) -> str:
    """The demo page in ``t``'s language: a few lines about Otvet and the widget embedded as customers do."""
    title = t.gettext("Otvet: answers from your knowledge base")
    badge = t.gettext("Widget demo")
    about = t.gettext(
        "Otvet answers questions from a knowledge base you keep training: in Telegram, through its API and "
        "in this chat widget, citing its sources."
    )
    demo = t.gettext(
        "This page is a demo: the chat button in the corner is the Otvet widget, added with one script tag "
        "exactly as on your own website."
    )
    prompt = t.gettext("Open the chat in the corner and ask, for example:")
    examples = [
        t.gettext("How do I connect Telegram?"),
        t.gettext("How do I add training data?"),
        t.gettext("Which languages does Otvet speak?"),
    ]
    items = "\n".join(f'        <li class="demo-example">{escape(text)}</li>' for text in examples)
    # rel="icon" with an empty data: URL: the browser asks for no /favicon.ico (img-src allows data:).
    return f"""<!doctype html>
<html lang="{escape(t.language)}">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <meta name="color-scheme" content="light dark">
    <title>{escape(title)}</title>
    <link rel="icon" href="data:,">
    <link rel="stylesheet" href="/demo.css">
  </head>
  <body>
    <main class="demo">
      <header class="demo-header">
        <p class="demo-badge">{escape(badge)}</p>
        <h1 class="demo-title">{escape(title)}</h1>
        <p class="demo-lede">{escape(about)}</p>
      </header>
      <section class="demo-card">
        <p class="demo-note">{escape(demo)}</p>
        <p class="demo-prompt">{escape(prompt)}</p>
        <ul class="demo-examples">
{items}
        </ul>
      </section>
    </main>
    <script src="/widget.js" data-otvet-url="" defer></script>
  </body>
</html>
"""


class Assets:
    """The demo page and the widget's files, read once when the routes are made."""

    def __init__(self, page: str, directory: Path = STATIC) -> None:
        self.page = page
        self.script = (directory / "widget.js").read_bytes()
        self.stylesheet = (directory / "widget.css").read_bytes()
        self.page_stylesheet = (directory / "demo.css").read_bytes()

    async def index(self, request: Request) -> Response:
        return HTMLResponse(self.page, headers=PAGE_HEADERS)

    async def widget_js(self, request: Request) -> Response:
        return Response(self.script, media_type="text/javascript; charset=utf-8", headers=ASSET_HEADERS)

    async def widget_css(self, request: Request) -> Response:
        return Response(self.stylesheet, media_type="text/css; charset=utf-8", headers=ASSET_HEADERS)

    async def demo_css(self, request: Request) -> Response:
        return Response(self.page_stylesheet, media_type="text/css; charset=utf-8", headers=ASSET_HEADERS)
