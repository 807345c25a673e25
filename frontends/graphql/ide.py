"""GraphiQL, served from the package: its page (``graphiql/index.html``), its pinned assets (React,
ReactDOM and GraphiQL from npm, ``graphiql/LICENSES.md``; ``tools/vendor_graphiql.py`` fetches them again)
and a Content-Security-Policy made for exactly that page.

Nothing is loaded from a CDN, so GraphiQL works offline and behind a firewall. The policy allows scripts
from this server and the page's one inline script by its SHA-256 hash: an injected ``<script>`` has another
hash and does not run. Styles may be inline (GraphiQL's editor sets them); they cannot run code.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import re
from functools import cache
from importlib import resources

from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response

#: Where the assets are served (``/graphiql/<name>``); names carry their version, so they never change.
ASSETS_PATH = "/graphiql"
#: Served name → (file in the package, media type). The big ones are stored gzip-compressed.
ASSETS = {
    "react-18.2.0.production.min.js": ("react-18.2.0.production.min.js", "text/javascript"),
    "react-dom-18.2.0.production.min.js": ("react-dom-18.2.0.production.min.js", "text/javascript"),
    "graphiql-3.8.3.min.js": ("graphiql-3.8.3.min.js.gz", "text/javascript"),
    "graphiql-3.8.3.min.css": ("graphiql-3.8.3.min.css.gz", "text/css"),
}
_INLINE = re.compile(r"<(script|style)>(.*?)</\1>", re.DOTALL | re.IGNORECASE)
_IMMUTABLE = "public, max-age=31536000, immutable"


def _read(name: str) -> bytes:
    return resources.files("otvet.frontends.graphql").joinpath("graphiql", name).read_bytes()


def inline_hashes(html: str, tag: str) -> list[str]:
    """CSP hash sources (``'sha256-…'``) of the inline ``<script>`` or ``<style>`` elements of ``html``."""
    found = []
    for name, body in _INLINE.findall(html):
        if name.lower() == tag:
            digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode("ascii")
            found.append(f"'sha256-{digest}'")
    return found


def ide_policy(html: str) -> str:
    scripts = " ".join(["'self'", *inline_hashes(html, "script")])
    return (
        f"default-src 'none'; script-src {scripts}; style-src 'self' 'unsafe-inline'; font-src 'self' data:; "
        "img-src 'self' data:; connect-src 'self' ws: wss:; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'"
    )


@cache
def ide_page() -> tuple[str, dict[str, str]]:
    html = _read("index.html").decode("utf-8")
    return html, {"Content-Security-Policy": ide_policy(html), "Cache-Control": "no-cache"}


def ide_response() -> HTMLResponse:
    html, headers = ide_page()
    return HTMLResponse(html, headers=headers)


@cache
def _asset(name: str) -> tuple[bytes, str, bool]:
    file, media_type = ASSETS[name]
    return _read(file), media_type, file.endswith(".gz")


async def ide_asset(request: Request) -> Response:
    """One of GraphiQL's assets, compressed when the browser takes gzip (every browser does)."""
    name = request.path_params["name"]
    if name not in ASSETS:
        return PlainTextResponse("not found", status_code=404)
    body, media_type, compressed = _asset(name)
    headers = {"Cache-Control": _IMMUTABLE, "X-Content-Type-Options": "nosniff", "Vary": "Accept-Encoding"}
    if compressed:
        if "gzip" in request.headers.get("accept-encoding", "").lower():
            headers["Content-Encoding"] = "gzip"
        else:
            body = gzip.decompress(body)
    return Response(body, media_type=media_type, headers=headers)
