"""GraphQL-over-HTTP response media types, and error responses in the spec's ``{"errors": [...]}`` shape.

``application/graphql-response+json`` is used when the client's ``Accept`` asks for it (the spec's
recommended ``application/graphql-response+json, application/json;q=0.9`` does); ``application/json``
otherwise, also for ``*/*`` and a missing ``Accept``, as older clients expect.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from starlette.responses import Response

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
JSON = "application/json"


def negotiate(accept: str | None) -> str:
    """The media type to answer with: the supported one the client weighs highest."""
    best: tuple[float, int, str] = (0.0, 0, JSON)
    for part in (accept or "").split(","):
        media, *params = (piece.strip() for piece in part.split(";"))
        media = media.lower()
        quality = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        # Higher rank wins a tie of quality: the new type named explicitly, then JSON, then a wildcard.
        if media == GRAPHQL_RESPONSE_JSON:
            candidate = (quality, 3, GRAPHQL_RESPONSE_JSON)
        elif media == JSON:
            candidate = (quality, 2, JSON)
        elif media in ("*/*", "application/*"):
            candidate = (quality, 1, JSON)
        else:
            continue
        if candidate[0] > 0 and candidate[:2] > best[:2]:
            best = candidate
    return best[2]


def content_type(media: str) -> str:
    return f"{media}; charset=utf-8"


def error(message: str, code: str, **extensions: Any) -> dict[str, Any]:
    return {"message": message, "extensions": {"code": code, **extensions}}


def error_response(
    media: str, status: int, errors: list[dict[str, Any]], headers: Mapping[str, str] | None = None
) -> Response:
    """A request refused before execution: no ``data`` entry, as the spec says."""
    body = json.dumps({"errors": errors}, ensure_ascii=False, separators=(",", ":"))
    response = Response(body.encode("utf-8"), status_code=status, headers=dict(headers or {}))
    response.headers["content-type"] = content_type(media)
    return response
