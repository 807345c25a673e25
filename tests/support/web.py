"""A tiny web server on loopback for fetch tests: serves fixed pages by path and records what was asked."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from http import HTTPStatus
from types import TracebackType


@dataclass
class Page:
    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    #: Seconds to wait before answering (a slow server).
    delay: float = 0.0
    #: Without Content-Length the body simply runs until the connection closes.
    send_length: bool = True


@dataclass
class Request:
    path: str
    headers: dict[str, str]


class WebServer:
    """``async with WebServer() as web: web.pages["/a"] = Page(...)``; ``web.url("/a")``."""

    def __init__(self) -> None:
        self.pages: dict[str, Page] = {}
        self.requests: list[Request] = []
        self.port = 0
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()

    def url(self, path: str = "/", host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    async def __aenter__(self) -> WebServer:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._handlers):
            task.cancel()
        for task in list(self._handlers):
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await task
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            _, path, _ = lines[0].split(" ", 2)
            headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
            self.requests.append(Request(path, {k.lower(): v for k, v in headers.items()}))
            page = self.pages.get(path, Page(b"not found", status=404))
            if page.delay:
                await asyncio.sleep(page.delay)
            out = [f"HTTP/1.1 {page.status} {HTTPStatus(page.status).phrase}", "Connection: close"]
            out += [f"{name}: {value}" for name, value in page.headers.items()]
            if page.send_length:
                out.append(f"Content-Length: {len(page.body)}")
            writer.write(("\r\n".join(out) + "\r\n\r\n").encode("latin-1") + page.body)
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            self._handlers.discard(task)
