"""What an idle widget socket holds on the server: thousands must fit one process (docs/performance.md).

Measured memory is a benchmark's job (bench/bench_widget.py); these tests pin the two things that made an
idle socket cost 80 KB instead of 35: WebSocket compression (zlib state per socket) and tasks per socket.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import websockets

from otvet.core.lifecycle import Lifecycle
from tests.frontends.widget.client import WidgetSocket, widget_socket
from tests.frontends.widget.conftest import ServeFactory
from tests.support.cli import clean_env
from tests.support.server import serving

SOCKETS = 12


async def test_otvet_serve_accepts_a_compressing_client_without_compression(tmp_path: Path) -> None:
    env = clean_env(tmp_path / "data", OTVET_WORKER__IN_PROCESS="false")
    async with serving(env, tmp_path) as base:
        url = base.replace("http://", "ws://") + "/ws/chat"
        # websockets offers permessage-deflate, as every browser does.
        async with websockets.connect(url, compression="deflate") as connection:
            assert "permessage-deflate" in connection.request.headers["Sec-WebSocket-Extensions"]
            assert connection.response.headers.get("Sec-WebSocket-Extensions") is None
            socket = WidgetSocket(connection)
            assert (await socket.hello())["type"] == "welcome"
            deltas, answer = await socket.ask("How do I connect Telegram?")
            assert deltas and answer["type"] == "answer"


def _tasks() -> int:
    return len(asyncio.all_tasks())


async def test_an_idle_socket_holds_at_most_two_tasks_and_answers_again_after_idling(
    serve: ServeFactory,
) -> None:
    async with serve() as served, contextlib.AsyncExitStack() as stack:
        before = _tasks()  # the app runs in this loop (LoopbackServer): its tasks are counted here
        # No client pings: the client's keepalive task would be counted with the server's.
        sockets = [
            WidgetSocket(
                await stack.enter_async_context(
                    websockets.connect(served.ws_url, origin=served.origin, ping_interval=None)  # type: ignore[arg-type]
                )
            )
            for _ in range(SOCKETS)
        ]
        for socket in sockets:
            assert (await socket.hello())["type"] == "welcome"
        await asyncio.sleep(0.2)  # every welcome written: nothing is being sent
        per_socket = (_tasks() - before) / SOCKETS
        # uvicorn's task for the connection and the socket's receiver; the sender only while sending.
        assert per_socket <= 2
        for number, socket in enumerate(sockets[:3]):
            deltas, answer = await socket.ask("What is Otvet?", question_id=f"q{number}")
            assert answer["type"] == "answer" and deltas


async def test_draining_closes_every_idle_socket_with_1012(serve: ServeFactory) -> None:
    async with serve() as served, contextlib.AsyncExitStack() as stack:
        sockets = [
            await stack.enter_async_context(widget_socket(served.ws_url, origin=served.origin))
            for _ in range(3)
        ]
        for socket in sockets:
            await socket.hello()
        served.otvet.lifecycle.begin_drain()
        codes = await asyncio.gather(*(socket.closed_with() for socket in sockets))
        assert codes == [1012, 1012, 1012]
        # A socket opened while draining is closed the same way.
        async with widget_socket(served.ws_url, origin=served.origin) as late:
            assert await late.closed_with() == 1012


def test_when_draining_calls_back_once_at_the_drain_or_at_once_when_already_draining() -> None:
    lifecycle = Lifecycle("serve")
    calls: list[str] = []
    lifecycle.when_draining(lambda: calls.append("early"))
    assert calls == []
    lifecycle.begin_drain()
    lifecycle.begin_drain()  # idempotent: no second call
    assert calls == ["early"]
    lifecycle.when_draining(lambda: calls.append("late"))
    assert calls == ["early", "late"]
