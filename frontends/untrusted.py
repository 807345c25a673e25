"""Reading what clients send, alike in every frontend: bodies bounded, JSON failing only as ValueError.

``json.loads`` has two failures that are not ``JSONDecodeError``: bytes that are not UTF-8 raise
``UnicodeDecodeError``, and nesting deeper than Python's recursion limit (``[[[[…`` — a few kilobytes do
it) raises ``RecursionError``. A handler that only catches the first kind turns either into a 500 and a
traceback for a few bytes anyone can send. :func:`load_json` turns all of them into ``JSONDecodeError``,
which is what strawberry's request and WebSocket parsers catch.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send


class BodyTooLarge(Exception):
    """The request body is over the limit (declared by ``Content-Length`` or counted while reading)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the request body is larger than {limit} bytes")
        self.limit = limit


def load_json(data: str | bytes) -> Any:
    """``json.loads``, failing with ``json.JSONDecodeError`` for anything that is not JSON it can load."""
    try:
        return json.loads(data)
    except RecursionError:
        raise json.JSONDecodeError("nested too deeply", "", 0) from None
    except UnicodeDecodeError as exc:
        raise json.JSONDecodeError(f"not UTF-8 (byte {exc.start})", "", exc.start) from None


async def read_body(request: Request, limit: int) -> bytes:
    """The body, or :class:`BodyTooLarge` as soon as it is known to be larger than ``limit`` bytes: from
    ``Content-Length`` before reading anything, else once that many bytes have arrived (never more)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(limit)
    body = bytearray()
    async for piece in request.stream():
        body += piece
        if len(body) > limit:
            raise BodyTooLarge(limit)
    return bytes(body)


#: Most bytes a request's header lines may take together (names and values). uvicorn's HTTP parsers do not
#: bound them reliably (h11 only while they arrive in pieces, httptools not at all), so a header block sent
#: at once could be megabytes; proxies allow 8 to 32 KiB (NGINX's default buffers: 4 × 8 KiB).
MAX_HEADER_BYTES = 32 * 1024


class HeaderLimit:
    """ASGI middleware: a request (or WebSocket handshake) whose headers exceed :data:`MAX_HEADER_BYTES` is
    refused with 431 (a WebSocket with 403, the only refusal a handshake has) before any app sees it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            size = sum(len(name) + len(value) for name, value in scope["headers"])
            if size > MAX_HEADER_BYTES:
                if scope["type"] == "websocket":
                    await send({"type": "websocket.close", "code": 1008, "reason": "headers too large"})
                    return
                message = f"the request headers are larger than {MAX_HEADER_BYTES} bytes"
                await JSONResponse({"error": {"code": "headers_too_large", "message": message}}, 431)(
                    scope, receive, send
                )
                return
        await self.app(scope, receive, send)
