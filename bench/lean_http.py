"""A lean HTTP/1.1 load client for the benchmarks: keep-alive connections writing prepared requests.

httpx spends more CPU per request than a small server does to answer it, and on a 2-core machine the client's
CPU is taken from the server it measures. This client does the least HTTP/1.1 allows: one request at a time
per connection, the body prepared by the caller, the response read by its ``Content-Length`` (every server
benchmarked here sends one). It is not a general client: no chunked bodies, no redirects, no TLS.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field


class HttpError(RuntimeError):
    pass


@dataclass
class Response:
    status: int
    body: bytes


def post_request(host: str, port: int, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    """The bytes of one keep-alive POST."""
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class Connection:
    """One keep-alive connection; ``await request(raw)`` sends prepared bytes and reads the response."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, host: str, port: int) -> Connection:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    async def request(self, raw: bytes) -> Response:
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status_line, _, header_block = head.partition(b"\r\n")
        status = int(status_line.split(b" ", 2)[1])
        length = 0
        for line in header_block.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
            elif name.strip().lower() == b"transfer-encoding":
                raise HttpError("chunked responses are not supported by the lean client")
        body = await self.reader.readexactly(length) if length else b""
        return Response(status, body)

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()


@dataclass
class LoadResult:
    latencies_ms: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    seconds: float = 0.0


async def drive(
    host: str,
    port: int,
    requests: Iterable[bytes],
    concurrency: int,
    check: Callable[[Response], None] | None = None,
) -> LoadResult:
    """Send every prepared request over ``concurrency`` connections, each taking the next one when free."""
    pending = iter(requests)
    result = LoadResult()

    async def worker() -> None:
        connection = await Connection.open(host, port)
        try:
            for raw in pending:  # one shared iterator: the workers take turns from it
                started = time.perf_counter()
                response = await connection.request(raw)
                result.latencies_ms.append((time.perf_counter() - started) * 1000)
                result.statuses[response.status] = result.statuses.get(response.status, 0) + 1
                if check is not None:
                    check(response)
        finally:
            await connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    result.seconds = time.perf_counter() - started
    return result
