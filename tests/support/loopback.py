"""uvicorn inside the test's own event loop, on a free loopback port: how the fake services are served.

Both fakes (the Bot API, the OpenAI API) need the same things from it: start and know the port, hide
uvicorn's complaints about responses cut short on purpose, and stop at once rather than after uvicorn's
0.1 s polls, which a suite starting a fake per test would otherwise pay twice per test.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from typing import Any

import uvicorn
from starlette.types import ASGIApp

_DROPPED = ("without completing response", "without starting response")


class _QuietDrops(logging.Filter):
    """Hide uvicorn's error lines for the responses the fakes drop on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(text in message for text in _DROPPED)


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = asyncio.Event()
        self._stop = asyncio.Event()

    def stop(self) -> None:
        self.should_exit = True
        self._stop.set()

    async def main_loop(self) -> None:
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 10) % 864000  # a multiple of 10: every tick refreshes the Date header
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), 1)

    async def shutdown(self, sockets: Any = None) -> None:
        for server in self.servers:
            server.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()  # idle keep-alive connections close now, busy ones after their response
        for _ in range(1000):  # up to 5 s: the fakes wake their waiting responses before stopping
            if not (self.server_state.connections or self.server_state.tasks):
                break
            await asyncio.sleep(0.005)
        for task in self.server_state.tasks:
            task.cancel()
        for server in self.servers:
            await server.wait_closed()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # Ctrl-C belongs to pytest, not to a server inside a test

    async def startup(self, sockets: Any = None) -> None:
        await super().startup(sockets)
        self.ready.set()


class LoopbackServer:
    """``app`` served on 127.0.0.1 in the running loop: ``await start()``, read ``port``, ``await stop()``."""

    def __init__(self, app: ASGIApp, what: str) -> None:
        self.app = app
        self.what = what
        self.port = 0

    async def start(self) -> int:
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=0, lifespan="off", log_config=None, access_log=False
        )
        self._filter = _QuietDrops()
        logging.getLogger("uvicorn.error").addFilter(self._filter)
        self._server = _Server(config)
        self._task = asyncio.create_task(self._server.serve())
        ready = asyncio.create_task(self._server.ready.wait())
        await asyncio.wait({ready, self._task}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
        if not ready.done():
            ready.cancel()
            await self.stop()
            raise RuntimeError(f"{self.what} did not start listening")
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        self._server.stop()
        try:
            await self._task
        finally:
            logging.getLogger("uvicorn.error").removeFilter(self._filter)
