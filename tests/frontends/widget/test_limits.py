"""The socket's defences: origins, frame size, question length, rate limits, timeouts, bad frames, busy."""

from __future__ import annotations

import json

import pytest
import websockets

from tests.frontends.widget.client import widget_socket
from tests.frontends.widget.conftest import ServeFactory
from tests.support.providers import MockProvider


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def _refused(url: str, origin: str) -> tuple[int, str]:
    """The close code and reason a page from ``origin`` gets: the server closes before any frame."""
    async with widget_socket(url, origin=origin) as socket:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await socket.hello()
    received = closed.value.rcvd
    assert received is not None, "the server closed without a close frame"
    return received.code, received.reason


async def test_only_allowed_or_same_origin_pages_may_open_the_socket(serve: ServeFactory) -> None:
    async with serve(widget={"allowed_origins": "https://shop.example, https://Other.example/"}) as served:
        # Closed with 4403 right after the handshake, not refused with HTTP 403: a browser reports a refused
        # handshake as 1006, which the widget cannot tell from a server that is down.
        assert await _refused(served.ws_url, "https://evil.example") == (4403, "origin not allowed")
        for origin in ("https://shop.example", "https://other.example", served.origin, None):
            async with widget_socket(served.ws_url, origin=origin) as socket:
                assert (await socket.hello())["type"] == "welcome", origin
    async with serve() as served:  # nothing listed: Otvet's own pages (and non-browsers) only
        assert await _refused(served.ws_url, "https://shop.example") == (4403, "origin not allowed")
        async with widget_socket(served.ws_url, origin=served.origin) as socket:
            assert (await socket.hello())["type"] == "welcome"
    async with (
        serve(widget={"allowed_origins": ["*"]}) as served,
        widget_socket(served.ws_url, origin="https://anyone.example") as socket,
    ):
        assert (await socket.hello())["type"] == "welcome"


async def test_an_oversized_frame_closes_the_socket_with_1009(serve: ServeFactory) -> None:
    async with serve(widget={"max_message_bytes": 1024}) as served, widget_socket(served.ws_url) as socket:
        await socket.hello()
        await socket.send({"type": "question", "id": "q", "text": "я" * 600})  # 1200 bytes in UTF-8
        assert await socket.closed_with() == 1009


async def test_a_long_question_is_refused_calmly(serve: ServeFactory) -> None:
    async with serve(widget={"max_question_chars": 50}) as served, widget_socket(served.ws_url) as socket:
        assert (await socket.hello())["limits"] == {"max_question_chars": 50}
        _, refused = await socket.ask("x" * 51, "long")
        assert refused["type"] == "error" and refused["code"] == "too_long" and refused["id"] == "long"
        assert "50" in refused["message"]
        _, answer = await socket.ask("How do I connect Telegram?")
        assert answer["type"] == "answer"


async def test_questions_over_the_rate_limit_wait_for_the_window(serve: ServeFactory) -> None:
    async with serve(widget={"questions_per_minute": 2}) as served:
        clock = Clock()
        served.hub.set_clock(clock)
        async with widget_socket(served.ws_url) as socket:
            welcome = await socket.hello(language="ru")
            for n in range(2):
                _, answer = await socket.ask("Как подключить Telegram?", f"q{n}")
                assert answer["type"] == "answer"
            clock.now += 20
            _, limited = await socket.ask("Как подключить Telegram?", "q2")
            assert limited["code"] == "rate_limited" and limited["id"] == "q2"
            assert 39 <= limited["retry_after"] <= 40
            assert "через 40 секунд" in limited["message"], limited["message"]
        # The limit follows the visitor, not the socket.
        async with widget_socket(served.ws_url) as socket:
            await socket.hello(visitor=welcome["visitor"])
            _, limited = await socket.ask("Как подключить Telegram?", "q3")
            assert limited["code"] == "rate_limited"
            clock.now += 41
            _, answer = await socket.ask("Как подключить Telegram?", "q4")
            assert answer["type"] == "answer"


async def test_frames_and_connections_per_address_are_limited(serve: ServeFactory) -> None:
    limits = {"messages_per_minute_per_ip": 3, "connections_per_minute_per_ip": 1}
    async with serve(widget=limits) as served:
        served.hub.set_clock(Clock())
        async with widget_socket(served.ws_url) as socket:
            await socket.hello()
            await socket.send({"type": "ping"})
            assert await socket.receive() == {"type": "pong"}
            await socket.send({"type": "ping"})
            assert await socket.receive() == {"type": "pong"}
            await socket.send({"type": "question", "id": "q9", "text": "hi"})
            limited = await socket.receive()
            assert limited["code"] == "rate_limited" and limited["id"] == "q9" and limited["retry_after"] > 0
        async with widget_socket(served.ws_url) as socket:
            refused = await socket.receive()
            assert refused["code"] == "rate_limited" and refused["retry_after"] > 0
            assert await socket.closed_with() == 1013


async def test_no_hello_in_time_closes_with_4408(serve: ServeFactory) -> None:
    async with serve(widget={"hello_timeout_seconds": 0.3}) as served, widget_socket(served.ws_url) as socket:
        assert await socket.closed_with() == 4408


async def test_an_idle_socket_is_closed_with_4408(serve: ServeFactory) -> None:
    async with serve(widget={"idle_timeout_seconds": 0.3}) as served, widget_socket(served.ws_url) as socket:
        assert (await socket.hello())["type"] == "welcome"
        assert await socket.closed_with() == 4408


async def test_bad_frames_get_bad_request_and_the_socket_keeps_working(serve: ServeFactory) -> None:
    async with serve() as served, widget_socket(served.ws_url) as socket:
        await socket.send({"type": "question", "id": "early", "text": "before hello"})
        early = await socket.receive()
        assert early["code"] == "bad_request" and early["id"] == "early" and "hello" in early["message"]
        assert (await socket.hello())["type"] == "welcome"
        for frame, detail in [
            ("{not json", "not valid JSON"),
            ('{"type": "question", "id": "s", "text": "\\ud800"}', "\\ud800 is half a surrogate pair"),
            ("[1, 2]", "JSON object"),
            (json.dumps({"type": "shout"}), "unknown frame type"),
            (json.dumps({"type": "question", "id": "q"}), '"text"'),
            (json.dumps({"type": "question", "id": "x" * 65, "text": "hi"}), '"id"'),
            (json.dumps({"type": "feedback", "message_id": "1", "value": 1}), '"message_id"'),
            (json.dumps({"type": "feedback", "message_id": 1, "value": 5}), '"value"'),
            (json.dumps({"type": "hello"}), "already"),
        ]:
            await socket.send(frame)
            error = await socket.receive()
            assert error["type"] == "error" and error["code"] == "bad_request", frame
            assert detail in error["message"], (frame, error["message"])
        await socket.connection.send(b"\x00binary")
        assert (await socket.receive())["code"] == "bad_request"
        await socket.send({"type": "ping"})
        assert await socket.receive() == {"type": "pong"}


async def test_a_second_question_while_answering_is_busy(
    serve: ServeFactory, mock_provider: MockProvider
) -> None:
    mock_provider.then("Working", " on it", hang=True)
    async with serve(mock=True) as served, widget_socket(served.ws_url) as socket:
        await socket.hello()
        await socket.send({"type": "question", "id": "first", "text": "How do I connect Telegram?"})
        assert (await socket.receive())["type"] == "delta"
        await socket.send({"type": "question", "id": "second", "text": "And another?"})
        while (frame := await socket.receive())["type"] == "delta":
            pass
        assert frame["type"] == "error" and frame["code"] == "busy" and frame["id"] == "second"
        await socket.send({"type": "ping"})
        assert await socket.receive() == {"type": "pong"}, "other frames still work while answering"


async def test_an_unexpected_error_is_calm_and_the_socket_keeps_working(
    serve: ServeFactory, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(*args: object, **kwargs: object) -> bool:
        raise RuntimeError("the database went away")

    async with serve() as served, widget_socket(served.ws_url) as socket:
        await socket.hello()
        monkeypatch.setattr(served.otvet.engine, "reset", broken)
        await socket.send({"type": "reset"})
        error = await socket.receive()
        assert error["code"] == "internal_error" and "database" not in error["message"]
        await socket.send({"type": "ping"})
        assert await socket.receive() == {"type": "pong"}
    assert "the database went away" in caplog.text, "the traceback goes to the log"
