"""GraphiQL's page with a Content-Security-Policy made for exactly that page.

Strawberry's GraphiQL loads React and GraphiQL from ``https://unpkg.com`` (pinned versions with Subresource
Integrity) and runs one inline script. The policy allows that CDN and the inline script by its SHA-256 hash,
computed from the page strawberry ships, so it follows a strawberry upgrade and nothing else can run: an
injected ``<script>`` has another hash. Styles may be inline (GraphiQL's editor sets them); they cannot
run code. A server that must not make browsers reach a CDN turns GraphiQL off (``graphql.graphiql``).
"""

from __future__ import annotations

import base64
import hashlib
import re

#: Where strawberry's GraphiQL page loads its scripts and styles from.
CDN = "https://unpkg.com"
_INLINE = re.compile(r"<(script|style)>(.*?)</\1>", re.DOTALL | re.IGNORECASE)


def inline_hashes(html: str, tag: str) -> list[str]:
    """CSP hash sources (``'sha256-…'``) of the inline ``<script>`` or ``<style>`` elements of ``html``."""
    found = []
    for name, body in _INLINE.findall(html):
        if name.lower() == tag:
            digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode("ascii")
            found.append(f"'sha256-{digest}'")
    return found


def ide_policy(html: str) -> str:
    scripts = " ".join([CDN, *inline_hashes(html, "script")])
    return (
        f"default-src 'none'; script-src {scripts}; style-src {CDN} 'unsafe-inline'; font-src {CDN} data:; "
        "img-src 'self' data:; connect-src 'self' ws: wss:; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'"
    )
