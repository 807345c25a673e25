"""Protocol abuse: oversized bodies, headers and frames, malformed JSON and UTF-8, hostile GraphQL documents,
floods and slow clients. Each must get a clear refusal (a status, an error code or a close code), cost the
server little, leave the data unchanged, and not stop it answering everyone else.

What tests/frontends/*/test_limits.py already cover (depth, alias, cost and token limits, the widget's frame
and rate limits, its slow reader) is not repeated. Behaviour that depends on uvicorn runs over real sockets:
``otvet serve`` as a process (tests/support/server.py) or the app on a loopback uvicorn.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import string
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import websockets

from otvet.core.app import Otvet
from otvet.frontends.app import create_app
from otvet.frontends.graphql.app import FRAME_TOO_BIG
from otvet.frontends.openai_api.schema import MAX_BODY_BYTES as V1_LIMIT
from otvet.frontends.telegram.plugin import MAX_UPDATE_BYTES
from otvet.frontends.untrusted import MAX_HEADER_BYTES
from tests.conftest import make_settings
from tests.frontends.graphql.client import Api, codes
from tests.frontends.graphql.conftest import ApiFactory, serve_api
from tests.frontends.graphql.wsclient import PROTOCOL, GraphQLSocket, graphql_socket
from tests.frontends.telegram.test_webhook import SECRET, webhook_env
from tests.security.hostile import UPDATE, UpdateQueue, snapshot, stub_webhook
from tests.support.cli import run_otvet_async
from tests.support.fake_telegram import FakeBotAPI
from tests.support.loopback import LoopbackServer
from tests.support.providers import MockProvider
from tests.support.server import Service, service
from tests.support.waiting import eventually

GRAPHQL_LIMIT = 131072  # graphql.max_body_bytes' default
ASK = 'mutation { ask(input: {question: "How do I install it?"}) { __typename } }'
ASK_STREAM = """subscription($q: String!) { askStream(input: {question: $q}) {
  __typename ... on AnswerDelta { text } ... on Answer { text } } }"""
#: Nesting deeper than Python's JSON parser recurses, in a few kilobytes.
DEEP = "[" * 50_000 + "]" * 50_000


# --- a real ``otvet serve`` ---------------------------------------------------------------------------------


@dataclass
class Served:
    service: Service
    #: An API key with the ``ask`` scope, made with ``otvet key create``.
    key: str

    @property
    def port(self) -> int:
        return self.service.port

    @property
    def base(self) -> str:
        return self.service.base


@contextlib.asynccontextmanager
async def otvet_serve(tmp_path: Path) -> AsyncIterator[Served]:
    """``otvet serve`` with the Telegram webhook on (against the fake Bot API) and the demo knowledge base."""
    async with FakeBotAPI() as bot:
        env = webhook_env(tmp_path, bot, OTVET_LOAD_DEMO="true", OTVET_PROVIDER="extractive")
        code, out, err = await run_otvet_async(
            "key", "create", "probe", "--scope", "ask", env=env, cwd=tmp_path
        )
        assert code == 0, err
        async with service("serve", env, tmp_path, ready_path="/readyz") as running:
            yield Served(running, out.strip())


async def exchange(port: int, head: bytes, body: bytes, *, seconds: float = 20) -> bytes:
    """Send a request's head and part of its body, then read the status line: the server must answer
    without the rest (the connection is never finished, so waiting for it would time out)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head + body)
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        async with asyncio.timeout(seconds):
            return await reader.readline()
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


def _head(path: str, framing: str, extra: str = "") -> bytes:
    length = "Transfer-Encoding: chunked" if framing == "chunked" else "Content-Length: 500000000"
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json", length]
    return ("\r\n".join(lines) + "\r\n" + extra + "\r\n").encode()


def _chunked(size: int) -> bytes:
    piece = b"[" * 65536
    return b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for _ in range(size // len(piece) + 1))


@pytest.mark.parametrize("framing", ["declared", "chunked"])
async def test_oversized_bodies_get_413_before_they_are_sent_whole(tmp_path: Path, framing: str) -> None:
    """500 MB announced (or a chunked body that runs past the limit and never ends): 413 at once, on each
    HTTP endpoint that takes a body, and the service keeps answering."""
    async with otvet_serve(tmp_path) as running:
        endpoints = {
            "/graphql": (GRAPHQL_LIMIT, ""),
            "/v1/chat/completions": (V1_LIMIT, f"Authorization: Bearer {running.key}\r\n"),
            "/telegram/webhook": (MAX_UPDATE_BYTES, f"X-Telegram-Bot-Api-Secret-Token: {SECRET}\r\n"),
        }
        for path, (limit, extra) in endpoints.items():
            sent = _chunked(limit + 65536) if framing == "chunked" else b"[" * 65536
            status = await exchange(running.port, _head(path, framing, extra), sent)
            assert status.split()[1] == b"413", (path, status)
        async with httpx.AsyncClient(base_url=running.base) as client:
            assert (await client.get("/readyz")).status_code == 200


async def test_huge_headers_are_refused_and_the_service_keeps_answering(tmp_path: Path) -> None:
    """uvicorn's parsers do not bound headers reliably (h11 only while they arrive in pieces, with 400;
    httptools not at all); sent at once they reach Otvet, which refuses more than MAX_HEADER_BYTES with 431,
    on HTTP and on WebSocket handshakes alike."""
    async with otvet_serve(tmp_path) as running:
        requests = {
            "just over the limit": [b"X-Big: " + b"a" * (MAX_HEADER_BYTES + 1)],
            "one huge header": [b"X-Big: " + b"a" * 1_000_000],
            "many headers": [b"X-%d: a" % n for n in range(50_000)],
            "huge authorization": [b"Authorization: Bearer " + b"a" * 100_000],
        }
        for name, lines in requests.items():
            request = b"\r\n".join([b"GET /healthz HTTP/1.1", b"Host: x", *lines]) + b"\r\n\r\n"
            status = await exchange(running.port, request, b"")
            assert status.split()[1:2] in ([b"431"], [b"400"]), (name, status)
        # The WebSocket library limits each line (8 KiB) itself; many lines under that come to Otvet.
        url = running.base.replace("http://", "ws://") + "/ws/chat"
        many_lines = {f"X-{n}": "a" * 1000 for n in range(40)}
        with pytest.raises(websockets.InvalidStatus) as refused:
            await websockets.connect(url, additional_headers=many_lines)
        assert refused.value.response.status_code == 403
        async with httpx.AsyncClient(base_url=running.base) as client:
            assert (await client.get("/healthz", headers={"X-Fine": "a" * 8000})).status_code == 200


async def test_slow_clients_trickling_bodies_do_not_block_others(tmp_path: Path) -> None:
    """Slowloris: many connections that send a head and then a byte now and then. Others are served."""
    async with otvet_serve(tmp_path) as running:
        head = b"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        head += b"Content-Length: 100000\r\n\r\n"
        slow = []
        for _ in range(50):
            reader, writer = await asyncio.open_connection("127.0.0.1", running.port)
            writer.write(head + b'{"query": "')
            slow.append((reader, writer))
        try:
            async with httpx.AsyncClient(base_url=running.base, timeout=20) as client:
                for round_ in range(3):
                    for _, writer in slow:
                        writer.write(b" ")
                    answered = await client.post("/graphql", json={"query": "{ __typename }"})
                    assert answered.json() == {"data": {"__typename": "Query"}}, round_
                    ready = await client.get("/readyz")
                    assert ready.status_code == 200
        finally:
            for _, writer in slow:
                writer.close()


# --- malformed bodies, in process ---------------------------------------------------------------------------


@dataclass
class Body:
    content: bytes
    content_type: str = "application/json"
    #: What the error message must say, so the client learns what to fix.
    detail: str = ""


MALFORMED = {
    "deep array": Body(('{"query": "{ __typename }", "variables": {"x": ' + DEEP + "}}").encode()),
    "deep object": Body(
        ('{"query": "{ __typename }", "variables": ' + '{"a":' * 20_000 + "1" + "}" * 20_001).encode()
    ),
    "invalid utf-8": Body(b'{"query": "{ __typename \xff\xfe }"}', detail="not UTF-8 (byte 24)"),
    "overlong utf-8": Body(b'{"query": "{ __typename \xc0\xaf }"}'),
    "lone surrogate escape": Body(
        b'{"query": "{ __typename } \\ud800"}', detail="\\ud800 is half a surrogate pair, not text"
    ),
    # Found: a question or title spelled with one reached the database or the provider and failed there.
    "lone surrogate in a variable": Body(
        b'{"query": "mutation($q: String!) { ask(input: {question: $q}) { __typename } }",'
        b' "variables": {"q": "Why \\ud800?"}}',
        detail="\\ud800 is half a surrogate pair, not text: line 1 column 106",
    ),
    "lone low surrogate in a key": Body(
        b'{"query": "{ __typename }", "variables": {"\\udc00": 1}}', detail="\\udc00 is half a surrogate pair"
    ),
    "surrogate encoded in utf-8": Body(b'{"query": "{ __typename \xed\xa0\x80 }"}', detail="not UTF-8"),
    "truncated": Body(b'{"query": "{ __typ'),
    "not an object": Body(b'"{ __typename }"'),
    "number": Body(b"12345"),
    "null": Body(b"null"),
    "empty": Body(b""),
    "batch of 1000": Body(json.dumps([{"query": "{ __typename }"}] * 1000).encode()),
    "query not a string": Body(b'{"query": {"nested": true}}'),
    "variables not an object": Body(b'{"query": "{ __typename }", "variables": [1, 2]}'),
    "text/plain": Body(b'{"query": "{ __typename }"}', "text/plain"),
    "form": Body(b"query=%7B__typename%7D", "application/x-www-form-urlencoded"),
    "xml": Body(b"<query>{ __typename }</query>", "application/xml"),
    "multipart without boundary": Body(b"--x\r\n\r\n--x--", "multipart/form-data"),
    "multipart bad operations": Body(
        b'--x\r\nContent-Disposition: form-data; name="operations"\r\n\r\n\xff\xfe'
        + DEEP.encode()[:4000]
        + b'\r\n--x\r\nContent-Disposition: form-data; name="map"\r\n\r\n{}\r\n--x--\r\n',
        "multipart/form-data; boundary=x",
    ),
}


@pytest.mark.parametrize("attack", list(MALFORMED))
async def test_malformed_graphql_bodies_are_400_with_a_json_error(sqlite_api: Api, attack: str) -> None:
    body = MALFORMED[attack]
    headers = {
        **sqlite_api.headers("admin"),
        "content-type": body.content_type,
        "apollo-require-preflight": "1",
    }
    response = await sqlite_api.client.post("/graphql", content=body.content, headers=headers)
    # 4xx for transport errors; a document that does not parse is a GraphQL request error, which keeps 200
    # under application/json (docs/graphql.md#media-types-and-status-codes).
    assert response.status_code in (200, 400, 415), (response.status_code, response.text[:300])
    refused = response.json()
    assert refused.get("data") is None and codes(refused), refused
    assert all(code in ("BAD_REQUEST", "GRAPHQL_PARSE_FAILED", "BAD_USER_INPUT") for code in codes(refused))
    assert body.detail in refused["errors"][0]["message"], refused
    assert await sqlite_api.otvet.store.list_conversations(channel="graphql") == []
    assert (await sqlite_api.data("{ __typename }")) == {"__typename": "Query"}


V1_MALFORMED = {
    "deep": b'{"model": "otvet", "messages": ' + DEEP.encode() + b"}",
    "invalid utf-8": b'{"model": "otvet", "messages": [{"role": "user", "content": "\xff\xfe"}]}',
    "lone surrogate": b'{"model": "otvet", "messages": [{"role": "user", "content": "Why \\udfff?"}]}',
    "array": b'[{"model": "otvet"}]',
    "truncated": b'{"model": "otv',
    "messages not a list": b'{"model": "otvet", "messages": "hello"}',
    "role unknown": b'{"model": "otvet", "messages": [{"role": "root", "content": "hi"}]}',
}


@pytest.mark.parametrize("attack", list(V1_MALFORMED))
async def test_malformed_v1_bodies_are_400_invalid_request(sqlite_api: Api, attack: str) -> None:
    headers = {**sqlite_api.headers("ask"), "content-type": "application/json"}
    response = await sqlite_api.client.post(
        "/v1/chat/completions", content=V1_MALFORMED[attack], headers=headers
    )
    assert response.status_code == 400, response.text[:300]
    assert response.json()["error"]["type"] == "invalid_request_error"


WEBHOOK_MALFORMED = {
    "deep": DEEP.encode(),
    "deep inside an update": b'{"update_id": 1, "message": ' + DEEP.encode() + b"}",
    "invalid utf-8": b'{"update_id": 1, "message": {"text": "\xff\xfe"}}',
    # A whole update but for the text: only the lone surrogate is wrong with it.
    "lone surrogate": json.dumps(
        {**UPDATE, "message": {**UPDATE["message"], "text": "Why \ud800?"}}
    ).encode(),
    "array": b"[1, 2, 3]",
    "number": b"7",
    "string": b'"update"',
    "truncated": b'{"update_id": ',
}


@contextlib.asynccontextmanager
async def webhook(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, UpdateQueue]]:
    """The webhook route in process, with a stand-in for the bot's update queue."""
    async with Otvet(make_settings(tmp_path, telegram={"secret_token": SECRET})) as otvet:
        queue = stub_webhook(otvet)
        transport = httpx.ASGITransport(app=create_app(otvet))
        headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
        async with httpx.AsyncClient(transport=transport, base_url="http://otvet", headers=headers) as client:
            yield client, queue


@pytest.mark.parametrize("attack", list(WEBHOOK_MALFORMED))
async def test_malformed_webhook_updates_are_400_and_nothing_is_processed(
    tmp_path: Path, attack: str
) -> None:
    async with webhook(tmp_path) as (client, queue):
        response = await client.post("/telegram/webhook", content=WEBHOOK_MALFORMED[attack])
        assert response.status_code == 400 and response.json() == {"error": "not a Telegram update"}
        assert queue.updates == []
        assert (await client.post("/telegram/webhook", json=UPDATE)).status_code == 200  # still working


async def test_a_webhook_body_without_length_stops_being_read_at_the_limit(tmp_path: Path) -> None:
    pulled: list[int] = []

    async def endless() -> AsyncIterator[bytes]:
        for _ in range(10_000):  # 640 MB if it were all read
            pulled.append(1)
            yield b" " * 65536

    async with webhook(tmp_path) as (client, queue):
        response = await client.post("/telegram/webhook", content=endless())
        assert response.status_code == 413 and queue.updates == []
    assert len(pulled) <= MAX_UPDATE_BYTES // 65536 + 2


async def test_a_webhook_without_a_configured_secret_refuses_every_update(tmp_path: Path) -> None:
    """The path is public and the same everywhere: no secret set must not mean anyone may post."""
    async with Otvet(make_settings(tmp_path)) as otvet:
        queue = stub_webhook(otvet)
        transport = httpx.ASGITransport(app=create_app(otvet))
        async with httpx.AsyncClient(transport=transport, base_url="http://otvet") as client:
            for headers in (
                {},
                {"X-Telegram-Bot-Api-Secret-Token": ""},
                {"X-Telegram-Bot-Api-Secret-Token": "x"},
            ):
                refused = await client.post("/telegram/webhook", json=UPDATE, headers=headers)
                assert refused.status_code == 403 and "SECRET_TOKEN" in refused.json()["error"]
    assert queue.updates == []


# --- hostile GraphQL documents ------------------------------------------------------------------------------

DOCUMENTS = {
    "fragment cycle": (
        "query { ...A } fragment A on Query { ...B } fragment B on Query { ...C } "
        "fragment C on Query { ...A }",
        "GRAPHQL_VALIDATION_FAILED",
    ),
    "fragment spreading itself": (
        "query { ...A } fragment A on Query { me { name } ...A }",
        "GRAPHQL_VALIDATION_FAILED",
    ),
    "long fragment chain": (
        "query { ...F0 } "
        + " ".join(f"fragment F{i} on Query {{ ...F{i + 1} }}" for i in range(300))
        + " fragment F300 on Query { __typename }",
        "QUERY_TOO_LARGE",
    ),
    "inline fragments nested": (
        "{ " + "... on Query { " * 400 + "__typename" + " }" * 400 + " }",
        "GRAPHQL_PARSE_FAILED",
    ),
    "directive flood": ("{ __typename " + "@include(if: true) " * 300 + "}", None),
    "directives of every kind": ("{ __typename @include(if: true) @skip(if: false) @deprecated }", None),
    "field flood": ("{ " + "__typename " * 1990 + "}", None),
    "unknown field flood": ("{ " + " ".join(f"x{i}" for i in range(1500)) + " }", None),
    "variable flood": ("query(" + ", ".join(f"$v{i}: Int" for i in range(400)) + ") { __typename }", None),
    "deep selection": (
        "{ conversations(first: 5) { nodes { messages(first: 5) { nodes { "
        + "conversation { messages(first: 5) { nodes { " * 5
        + "id"
        + " } } }" * 5
        + " } } } } }",
        "QUERY_TOO_DEEP",
    ),
    "huge string literal": ('{ __typename(x: "' + "a" * 120_000 + '") }', None),
}


@pytest.mark.parametrize("attack", list(DOCUMENTS))
async def test_hostile_documents_are_refused_with_bounded_errors(sqlite_api: Api, attack: str) -> None:
    document, code = DOCUMENTS[attack]
    before = await snapshot(sqlite_api.otvet)
    response = await sqlite_api.post(document)
    body = response.json()
    assert body.get("data") is None and codes(body), body
    if code is not None:
        assert codes(body)[0] == code, body
    # Refusals do not multiply: graphql-core stops at 100 validation errors (plus "aborted").
    assert len(body["errors"]) <= 101 and len(response.content) < 64 * 1024
    assert await snapshot(sqlite_api.otvet) == before
    assert await sqlite_api.data("{ __typename }") == {"__typename": "Query"}


# --- graphql-transport-ws -----------------------------------------------------------------------------------


async def _closed_with(connection: websockets.ClientConnection) -> tuple[int, str]:
    """The close code and reason the server sent, once it has closed (frames before it are skipped)."""
    async with asyncio.timeout(10):
        try:
            while True:
                await connection.recv()
        except websockets.ConnectionClosed as closed:
            received = closed.rcvd
    assert received is not None, "closed without a close frame"
    return received.code, received.reason


async def test_an_oversized_frame_closes_the_socket_with_1009(sqlite_api: Api, ws_url: str) -> None:
    async with graphql_socket(ws_url, f"Bearer {sqlite_api.keys['ask']}") as socket:
        big = {"query": "{ __typename }", "variables": {"padding": "x" * (GRAPHQL_LIMIT + 1)}}
        await socket.send({"id": "1", "type": "subscribe", "payload": big})
        assert await _closed_with(socket.connection) == (FRAME_TOO_BIG, "frame too large")
    # A frame just under the limit is still fine on a new socket.
    async with graphql_socket(ws_url, f"Bearer {sqlite_api.keys['admin']}") as socket:
        small = 'subscription { jobProgress(id: "999") { id } }'
        await socket.subscribe("2", small, {"padding": "x" * (GRAPHQL_LIMIT - 200)})
        assert (await socket.receive())["type"] == "next"


async def test_an_oversized_connection_init_closes_the_socket_with_1009(ws_url: str) -> None:
    async with websockets.connect(ws_url, subprotocols=[PROTOCOL]) as connection:  # type: ignore[list-item]
        await connection.send(json.dumps({"type": "connection_init", "payload": {"x": "y" * 200_000}}))
        assert (await _closed_with(connection))[0] == FRAME_TOO_BIG


@pytest.mark.parametrize(
    "frame",
    [
        pytest.param("{not json", id="not json"),
        pytest.param(DEEP[:60_000] + DEEP[-60_000:], id="deep json"),
        pytest.param(b"\xff\xfe binary", id="binary frame"),
        pytest.param('{"type": "connection_init", "payload": {"x": "\\ud800"}}', id="lone surrogate"),
        pytest.param(json.dumps({"type": "subscribe"}), id="subscribe without id"),
        pytest.param(json.dumps({"type": "no such type"}), id="unknown type"),
        pytest.param(json.dumps([1, 2, 3]), id="array"),
        pytest.param('"connection_init"', id="string"),
    ],
)
async def test_malformed_frames_close_the_socket_with_4400(
    sqlite_api: Api, ws_url: str, frame: str | bytes
) -> None:
    async with graphql_socket(ws_url, f"Bearer {sqlite_api.keys['ask']}") as socket:
        await socket.connection.send(frame)
        assert (await _closed_with(socket.connection))[0] == 4400
    assert await sqlite_api.data("{ __typename }") == {"__typename": "Query"}


async def test_subscribing_before_connection_init_closes_with_4401(ws_url: str) -> None:
    async with websockets.connect(ws_url, subprotocols=[PROTOCOL]) as connection:  # type: ignore[list-item]
        payload = {"query": "subscription { jobProgress(id: 1) { id } }"}
        await connection.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
        assert (await _closed_with(connection))[0] == 4401


async def test_a_duplicate_subscription_id_closes_with_4409(
    sqlite_api: Api, ws_url: str, mock_provider: MockProvider
) -> None:
    mock_provider.then("Still ", "writing", hang=True)
    async with graphql_socket(ws_url, f"Bearer {sqlite_api.keys['ask']}") as socket:
        for _ in range(2):
            await socket.subscribe("same", ASK_STREAM, {"q": "Install?"})
        assert (await _closed_with(socket.connection))[0] == 4409


async def test_a_flood_of_subscriptions_on_one_socket_is_capped(
    sqlite_api: Api, ws_url: str, mock_provider: MockProvider
) -> None:
    for _ in range(30):
        mock_provider.then("Thinking", hang=True)
    async with graphql_socket(ws_url, f"Bearer {sqlite_api.keys['ask']}") as socket:
        for n in range(30):
            await socket.subscribe(str(n), ASK_STREAM, {"q": f"Question {n}?"})
        refused: set[str] = set()
        async with asyncio.timeout(20):
            while len(refused) < 10:
                message = await socket.receive()
                if message["type"] == "error":
                    assert message["payload"] == [{"message": "Subscription limit reached"}]
                    refused.add(message["id"])
        assert refused == {str(n) for n in range(20, 30)}
    assert len(mock_provider.requests) <= 20


async def _first_code(socket: GraphQLSocket, operation_id: str) -> str:
    """Subscribe to an unknown job's progress: the error code of its first message (then it completes)."""
    await socket.subscribe(operation_id, 'subscription { jobProgress(id: "999") { id } }')
    messages = await socket.until_done()
    assert messages[0]["id"] == operation_id and messages[-1]["type"] == "complete", messages
    return str(codes(messages[0]["payload"])[0])


async def test_subscriptions_count_against_the_rate_limit_and_recover(tmp_path: Path) -> None:
    async with serve_api(tmp_path, MockProvider(), api={"requests_per_minute": 3}) as api:
        now = [0.0]
        api.otvet.accounts.limiter.clock = lambda: now[0]
        server = LoopbackServer(api.app, "the GraphQL app")
        url = f"ws://127.0.0.1:{await server.start()}/graphql"
        try:
            async with graphql_socket(url, f"Bearer {api.keys['admin']}") as socket:  # the connection: 1
                outcomes = [await _first_code(socket, str(n)) for n in range(4)]
                assert outcomes == ["NOT_FOUND", "NOT_FOUND", "RATE_LIMITED", "RATE_LIMITED"]
                now[0] += 61
                assert await _first_code(socket, "again") == "NOT_FOUND"
        finally:
            await server.stop()


# --- floods over HTTP recover after the window --------------------------------------------------------------


async def test_a_key_over_its_rate_limit_gets_429_everywhere_then_recovers(tmp_path: Path) -> None:
    provider = MockProvider()
    async with serve_api(tmp_path, provider, api={"requests_per_minute": 5}) as api:
        now = [0.0]
        api.otvet.accounts.limiter.clock = lambda: now[0]
        chat = {"model": "otvet", "messages": [{"role": "user", "content": "hi"}]}
        for _ in range(5):
            assert (await api.post("{ __typename }", key="ask")).status_code == 200
        graphql = await api.post("{ __typename }", key="ask")
        v1 = await api.client.post("/v1/chat/completions", json=chat, headers=api.headers("ask"))
        for refused in (graphql, v1):
            assert refused.status_code == 429 and 1 <= int(refused.headers["retry-after"]) <= 61
        assert (
            codes(graphql.json()) == ["RATE_LIMITED"] and v1.json()["error"]["code"] == "rate_limit_exceeded"
        )
        # Another key is not affected by this one's flood.
        assert (await api.post("{ __typename }", key="read")).status_code == 200
        now[0] += 120.5  # a whole window without requests: both below go through
        provider.then("Back again.")
        assert (await api.post("{ __typename }", key="ask")).status_code == 200
        answered = await api.client.post("/v1/chat/completions", json=chat, headers=api.headers("ask"))
        assert answered.status_code == 200, answered.text


# --- a client that never reads ------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def _subscribed_then_not_reading(url: str, key: str) -> AsyncIterator[None]:
    """A graphql-ws client that subscribes to a long answer and never reads again. ``max_queue=1`` makes
    its library stop reading the socket too, so the server's writes back up."""
    async with websockets.connect(url, subprotocols=[PROTOCOL], max_queue=1, close_timeout=1) as stuck:  # type: ignore[list-item]
        init = {"type": "connection_init", "payload": {"authorization": f"Bearer {key}"}}
        await stuck.send(json.dumps(init))
        assert json.loads(await stuck.recv())["type"] == "connection_ack"
        subscribe = {
            "id": "1",
            "type": "subscribe",
            "payload": {"query": ASK_STREAM, "variables": {"q": "Long?"}},
        }
        await stuck.send(json.dumps(subscribe))
        yield


async def test_a_subscriber_that_never_reads_does_not_hold_up_others(
    sqlite_api: Api, ws_url: str, mock_provider: MockProvider
) -> None:
    mock_provider.then(*["lorem ipsum dolor sit amet " * 400] * 2000)  # ~20 MB, more than socket buffers hold
    mock_provider.then("Others ", "are ", "answered.")
    async with _subscribed_then_not_reading(ws_url, sqlite_api.keys["ask"]):
        # Meanwhile another client asks and gets its whole answer.
        await eventually(lambda: len(mock_provider.requests) == 1)  # its answer is being written
        async with asyncio.timeout(30):
            answer = await sqlite_api.data(
                ASK.replace("__typename", "__typename ... on Answer { text }"), key="ask"
            )
    assert answer == {"ask": {"__typename": "Answer", "text": "Others are answered."}}


async def test_a_subscriber_that_never_reads_is_dropped_and_its_answer_cancelled(
    api_with: ApiFactory, mock_provider: MockProvider, caplog: pytest.LogCaptureFixture
) -> None:
    """After ``graphql.send_timeout_seconds`` of a message waiting for it, the client is disconnected: its
    subscription stops, which closes the provider's stream and records the question as cancelled, instead of
    both staying open for as long as the TCP connection does."""
    # Random letters: the test server keeps permessage-deflate on, which would shrink repeated text to
    # nothing. 8 MB, more than the socket buffers hold.
    letters = random.Random(0).choices(string.ascii_letters, k=10_000)
    mock_provider.then(*["".join(letters[i:] + letters[:i]) for i in range(800)], hang=True)
    caplog.set_level(logging.INFO, "otvet.frontends.graphql")
    async with api_with(graphql={"send_timeout_seconds": 0.5}) as api:
        server = LoopbackServer(api.app, "the GraphQL app")
        port = await server.start()
        try:
            url = f"ws://127.0.0.1:{port}/graphql"
            async with _subscribed_then_not_reading(url, api.keys["ask"]):
                # The server gives up on it.
                await eventually(lambda: mock_provider.closed_streams == 1, within=20)
                (conversation,) = await api.otvet.store.list_conversations(channel="graphql")
                statuses = [m.status for m in await api.otvet.store.messages(conversation.id)]
                assert statuses == ["cancelled"]
                assert "stopped reading its messages: disconnected" in caplog.text
                # The server goes on answering others.
                mock_provider.then("Still ", "here.")
                answer = await api.data(
                    ASK.replace("__typename", "__typename ... on Answer { text }"), key="ask"
                )
                assert answer == {"ask": {"__typename": "Answer", "text": "Still here."}}
        finally:
            await server.stop()


async def test_a_huge_websocket_message_is_cut_off_by_the_server_before_the_app_sees_it(
    tmp_path: Path,
) -> None:
    """uvicorn buffers a message whole before the app can look at it: ``otvet serve`` caps that at four times
    the apps' own frame limits, so a 4 MiB message is refused while it arrives (1009) by the protocol layer,
    and a merely oversized one still gets the app's own reason."""
    async with otvet_serve(tmp_path) as running:
        url = running.base.replace("http://", "ws://") + "/graphql"
        credential = f"Bearer {running.key}"
        for size, app_refused in ((GRAPHQL_LIMIT + 1000, True), (4 * 1024 * 1024, False)):
            async with graphql_socket(url, credential) as socket:
                payload = {"query": "{ __typename }", "variables": {"padding": "x" * size}}
                with contextlib.suppress(websockets.ConnectionClosed):
                    await socket.send({"id": "1", "type": "subscribe", "payload": payload})
                code, reason = await _closed_with(socket.connection)
            assert code == FRAME_TOO_BIG and (reason == "frame too large") == app_refused, (size, reason)
        async with httpx.AsyncClient(base_url=running.base) as client:
            assert (await client.get("/readyz")).status_code == 200
