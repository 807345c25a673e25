"""A fake Telegram Bot API on loopback for tests: the real PTB client talks HTTP to it, it records every call.

``async with FakeBotAPI() as api:`` then point PTB at ``api.base_url`` and ``api.base_file_url``. Results,
error texts and status codes follow the real Bot API, so PTB raises what it would raise in production.
"""

from __future__ import annotations

import contextlib
import email.parser
import email.policy
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from tests.support.loopback import LoopbackServer
from tests.support.telegram_methods import BotAPIError, BotAPIMethods, bad_request

# Form values are strings, objects and numbers JSON-encoded; these stay text even when they look like JSON.
_TEXT_PARAMS = {"text", "caption", "parse_mode", "url", "secret_token", "callback_query_id", "action"}
_TEXT_PARAMS |= {"inline_message_id", "language_code", "ip_address", "description", "name", "file_id"}
_NGINX_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1>"
)


@dataclass(frozen=True, slots=True)
class Call:
    method: str
    params: dict[str, Any]
    at: float  # time.monotonic()
    #: Answered with an injected error (a 429, a 5xx): the message did not go out.
    refused: bool = False


#: Telegram's documented message limits as this fake checks them: (messages, seconds) for the whole bot,
#: a private chat (one a second, in bursts of up to three) and a group. ``SLACK`` seconds absorb the jitter
#: between a client spacing its requests and their arrival here.
LIMITS = {"bot": (30, 1.0), "private": (3, 3.0), "group": (20, 60.0)}
SLACK = 0.05


@dataclass
class _Fault:
    remaining: int
    response: Callable[[], Response] | None  # None: drop the connection
    after_processing: bool = False


class FakeBotAPI(BotAPIMethods):
    """The Bot API for one bot token, served by uvicorn inside the test's event loop."""

    def __init__(
        self,
        token: str = "123:ABC",
        *,
        first_name: str = "Otvet Test",
        username: str = "otvet_test_bot",
        strict_ampersand: bool = True,
        limits: dict[str, tuple[int, float]] | None = None,
    ) -> None:
        super().__init__(token, first_name=first_name, username=username, strict_ampersand=strict_ampersand)
        #: The limits :meth:`limit_violations` checks: Telegram's, or lower ones a test sets to be quick.
        self.limits = {**LIMITS, **(limits or {})}
        self.calls: list[Call] = []
        self.base_url = self.base_file_url = ""
        self._faults: dict[str, list[_Fault]] = {}
        self._canned: dict[str, Any] = {}
        self.app = Starlette(
            routes=[
                Route("/bot{token}/{method}", self._endpoint, methods=["GET", "POST"]),
                Route("/file/bot{token}/{path:path}", self._download),
            ]
        )

    async def __aenter__(self) -> FakeBotAPI:
        self._server = LoopbackServer(self.app, "the fake Bot API")
        port = await self._server.start()
        self.base_url = f"http://127.0.0.1:{port}/bot"
        self.base_file_url = f"http://127.0.0.1:{port}/file/bot"
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._closing = True  # waiting long polls answer now instead of holding up the shutdown
        self._notify()
        await self._server.stop()

    # What tests look at.

    def calls_to(self, method: str) -> list[Call]:
        return [call for call in self.calls if call.method.lower() == method.lower()]

    async def wait_for(self, method: str, count: int = 1, timeout: float = 5) -> list[Call]:  # noqa: ASYNC109
        """Wait until ``method`` has been called ``count`` times; return those calls."""
        if not await self._wait_until(lambda: len(self.calls_to(method)) >= count, timeout):
            seen = [call.method for call in self.calls]
            raise AssertionError(
                f"expected {count} call(s) to {method} within {timeout}s; calls so far: {seen}"
            )
        return self.calls_to(method)[:count]

    def limit_violations(self) -> list[str]:
        """Where the bot sent more messages than Telegram allows (:data:`LIMITS`); empty when it never did.

        Counted: the methods that post or change a message, as Telegram counts them; typing actions and the
        like are not messages.
        """
        from otvet.frontends.telegram.flood import MESSAGE_METHODS

        sent = [c for c in self.calls if c.method in MESSAGE_METHODS and not c.refused]
        sent = [c for c in sent if "chat_id" in c.params]
        problems = _over([c.at for c in sent], *self.limits["bot"], "the bot")
        chats: dict[int, list[float]] = {}
        for call in sent:
            chats.setdefault(int(call.params["chat_id"]), []).append(call.at)
        for chat, times in chats.items():
            problems += _over(times, *self.limits["group" if chat < 0 else "private"], f"chat {chat}")
        return problems

    # Driving the bot.

    def queue_update(self, update: dict[str, Any]) -> dict[str, Any]:
        """Hand an update to getUpdates; a long poll that is waiting returns it at once."""
        self.pending_updates.append(update)
        self._notify()
        return update

    async def deliver_webhook(
        self, update: dict[str, Any], *, client: httpx.AsyncClient | None = None
    ) -> httpx.Response:
        """POST an update to the webhook the bot set, with its secret token header, as Telegram does."""
        if not self.webhook:
            raise RuntimeError("the bot has not set a webhook")
        secret = self.webhook.get("secret_token")
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret else {}
        async with contextlib.AsyncExitStack() as stack:
            if client is None:
                client = await stack.enter_async_context(httpx.AsyncClient())
            return await client.post(self.webhook["url"], json=update, headers=headers)

    def respond(self, method: str, result: Any) -> None:
        """Answer ``method`` (any Bot API method) with ``result``, or with ``result(params)`` if callable."""
        self._canned[method.lower()] = result

    # Faults: each applies to the next calls of one method, in the order they were queued.

    def fail_next(
        self,
        method: str,
        times: int = 1,
        *,
        error_code: int = 429,
        description: str = "Too Many Requests: retry after 1",
        retry_after: int | None = 1,
    ) -> None:
        """The next ``times`` calls to ``method`` fail as given (by default with flood control's 429)."""
        error = BotAPIError(error_code, description, {"retry_after": retry_after} if retry_after else None)
        self._add_fault(method, _Fault(times, lambda: JSONResponse(error.body(), status_code=error.code)))

    def server_error_next(self, method: str, times: int = 1) -> None:
        """The next calls get the HTML 502 page Telegram's nginx serves while the Bot API is down."""
        self._add_fault(method, _Fault(times, lambda: Response(_NGINX_502, 502, media_type="text/html")))

    def drop_connection_next(self, method: str, times: int = 1, *, after_processing: bool = False) -> None:
        """Cut the connection mid-response; ``after_processing``: the call acts first (a lost reply)."""
        self._add_fault(method, _Fault(times, None, after_processing))

    def reject_html(self, times: int = 1) -> None:
        """The next sendMessage/editMessageText calls in HTML mode fail with a can't-parse-entities 400."""
        self._html_rejections += times

    def _add_fault(self, method: str, fault: _Fault) -> None:
        self._faults.setdefault(method.lower(), []).append(fault)

    def _take_fault(self, method: str) -> _Fault | None:
        queue = self._faults.get(method.lower())
        if not queue:
            return None
        queue[0].remaining -= 1
        return queue.pop(0) if queue[0].remaining <= 0 else queue[0]

    # HTTP.

    async def _endpoint(self, request: Request) -> Response:
        if request.path_params["token"] != self.token:
            return _error(BotAPIError(401, "Unauthorized"))
        method = request.path_params["method"]
        try:
            params = await _read_params(request)
        except ValueError:
            return _error(bad_request("can't parse JSON object"))
        fault = self._take_fault(method)
        refused = fault is not None and fault.response is not None
        self.calls.append(Call(method, params, time.monotonic(), refused))
        self._notify()
        if fault is not None and fault.response is not None:
            return fault.response()
        if fault is not None and not fault.after_processing:
            return _DroppedResponse()
        try:
            response: Response = JSONResponse({"ok": True, "result": await self._call(method, params)})
        except BotAPIError as exc:
            response = _error(exc)
        return response if fault is None else _DroppedResponse()

    async def _call(self, method: str, params: dict[str, Any]) -> Any:
        if (canned := self._canned.get(method.lower(), _MISSING)) is not _MISSING:
            return canned(params) if callable(canned) else canned
        if (handler := self._handlers.get(method.lower())) is None:
            raise BotAPIError(404, "Not Found")  # what Telegram answers for an unknown method
        return await handler(params)

    async def _download(self, request: Request) -> Response:
        content = self.files.get(request.path_params["path"])
        if request.path_params["token"] != self.token or content is None:
            return _error(BotAPIError(404, "Not Found"))
        return Response(content, media_type="application/octet-stream")


_MISSING = object()


def _over(times: list[float], count: int, seconds: float, who: str) -> list[str]:
    """Every stretch of ``seconds`` in which ``times`` hold more than ``count`` messages."""
    times = sorted(times)
    return [
        f"{who}: {count + 1} messages in {times[i + count] - times[i]:.2f} s (at most {count} in {seconds:g})"
        for i in range(len(times) - count)
        if times[i + count] - times[i] < seconds - SLACK
    ]


def _error(error: BotAPIError) -> Response:
    return JSONResponse(error.body(), status_code=error.code)


def _decode(name: str, value: str) -> Any:
    if name in _TEXT_PARAMS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value  # a plain string such as "@channelname"


async def _read_params(request: Request) -> dict[str, Any]:
    """Query string plus a urlencoded, multipart or JSON body, decoded into Python values."""
    params: dict[str, Any] = {key: _decode(key, value) for key, value in request.query_params.items()}
    body = await request.body()
    content_type = request.headers.get("content-type", "")
    kind = content_type.split(";")[0].strip().lower()
    if kind == "application/json" and body:
        loaded = json.loads(body)
        params |= {
            key: _decode(key, value) if isinstance(value, str) else value for key, value in loaded.items()
        }
    elif kind == "multipart/form-data":
        # PTB sends multipart only for uploads, and python-multipart is not installed: the stdlib will do.
        head = f"Content-Type: {content_type}\r\n\r\n".encode()
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
        for part in message.iter_parts():  # type: ignore[attr-defined]
            name, filename = part.get_param("name", header="content-disposition"), part.get_filename()
            payload = part.get_payload(decode=True) or b""
            params[name] = (
                {"filename": filename, "content": payload} if filename else _decode(name, payload.decode())
            )
    elif body:
        params |= {
            key: _decode(key, value) for key, value in parse_qsl(body.decode(), keep_blank_values=True)
        }
    return params


class _DroppedResponse(Response):
    """Headers promising a body that never comes, then a closed socket: httpx sees a broken connection."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"application/json"), (b"content-length", b"1024")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b'{"ok":', "more_body": True})
