"""The bot's Bot API requests over httpx2 (frontends/telegram/request.py): what PTB sees must not change.

Delivery retries network failures and never Telegram's refusals (delivery.with_retries), so each failure has
to reach PTB as the same error HTTPXRequest raised: a 502 or a cut connection as NetworkError, a server that
does not answer as TimedOut, an upload as multipart.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator

import pytest
from telegram import Bot
from telegram.error import BadRequest, NetworkError, TimedOut

from otvet.core.app import Otvet
from otvet.frontends.telegram.bot import build_application
from otvet.frontends.telegram.request import Httpx2Request
from tests.conftest import make_settings
from tests.support.fake_telegram import FakeBotAPI


@pytest.fixture
async def api() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI(token="123:ABC") as fake:
        yield fake


def bot_for(base_url: str, **options: float) -> Bot:
    return Bot("123:ABC", base_url=base_url, request=Httpx2Request(**options))  # type: ignore[arg-type]


async def test_messages_uploads_and_refusals_arrive_as_ptb_objects_and_errors(api: FakeBotAPI) -> None:
    async with bot_for(api.base_url) as bot:
        sent = await bot.send_message(42, "hello <b>there</b>", parse_mode="HTML")
        assert (sent.chat_id, sent.text) == (42, "hello there")
        api.respond(
            "sendDocument",
            lambda p: {"message_id": 5, "date": 0, "chat": {"id": p["chat_id"], "type": "private"}},
        )
        document = await bot.send_document(42, io.BytesIO(b"report"), filename="report.txt")
        assert document.message_id == 5
        with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
            await bot.edit_message_text("nothing here", chat_id=42, message_id=999)
    assert [call.method for call in api.calls] == ["getMe", "sendMessage", "sendDocument", "editMessageText"]
    assert api.calls[1].params["text"] == "hello <b>there</b>"
    assert api.calls[2].params["document"] == {"filename": "report.txt", "content": b"report"}  # multipart


async def test_server_errors_and_cut_connections_are_network_errors_that_delivery_retries(
    api: FakeBotAPI,
) -> None:
    async with bot_for(api.base_url) as bot:
        api.server_error_next("sendMessage")
        with pytest.raises(NetworkError, match="Bad Gateway"):
            await bot.send_message(42, "first")
        api.drop_connection_next("sendMessage", after_processing=True)
        with pytest.raises(NetworkError, match=r"^httpx\.RemoteProtocolError") as caught:
            await bot.send_message(42, "second")
        assert not isinstance(caught.value, TimedOut)
    assert [m["text"] for m in api.bot_messages(42)] == ["second"]  # the reply was lost, not the message


async def test_a_refused_connection_is_a_network_error() -> None:
    listener = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    listener.close()
    await listener.wait_closed()
    with pytest.raises(NetworkError, match="ConnectError"):
        async with bot_for(f"http://127.0.0.1:{port}/bot"):
            pass


@pytest.fixture
async def silent_server() -> AsyncIterator[str]:
    """A server that accepts connections and never answers: every request times out."""
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/bot"
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_no_answer_is_a_timeout_and_a_full_pool_says_the_request_was_not_sent(
    silent_server: str,
) -> None:
    bot = bot_for(silent_server, read_timeout=0.2, pool_timeout=0.2, connection_pool_size=1)
    request = bot.request
    await request.initialize()
    try:
        with pytest.raises(TimedOut) as timed_out:
            await request.post(f"{silent_server}123:ABC/getMe")
        assert "Pool timeout" not in timed_out.value.message
        first = asyncio.ensure_future(request.post(f"{silent_server}123:ABC/getMe", read_timeout=2))
        await asyncio.sleep(0.05)  # the one connection is taken
        with pytest.raises(TimedOut, match="Pool timeout"):
            await request.post(f"{silent_server}123:ABC/getMe")
        first.cancel()
        await asyncio.gather(first, return_exceptions=True)
    finally:
        await request.shutdown()


async def test_a_shut_down_request_is_rebuilt_when_initialized_again(api: FakeBotAPI) -> None:
    request = Httpx2Request()
    await request.shutdown()
    with pytest.raises(NetworkError, match="not initialized"):
        await request.post(f"{api.base_url}123:ABC/getMe")
    await request.initialize()
    assert (await request.post(f"{api.base_url}123:ABC/getMe"))["username"] == "otvet_test_bot"  # type: ignore[index]
    await request.shutdown()


async def test_the_bot_application_sends_through_httpx2(api: FakeBotAPI, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(tmp_path, telegram={"token": api.token, "base_url": api.base_url})
    application = build_application(Otvet(settings), webhook=True)
    assert isinstance(application.bot.request, Httpx2Request)
    async with application:
        assert application.bot.username == "otvet_test_bot"
