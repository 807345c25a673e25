"""The widget's chat socket ``/ws/chat``: origin check, hello, questions streamed through the engine, limits.

Each socket runs a receiver task that reads and handles the client's frames. Frames for the client are
queued and written by a sender task, each within ``send_timeout_seconds``, so a client that stops reading
is dropped without holding up anyone else; the sender runs only while frames are queued, so an idle socket
holds one task, not two (a task and its frames cost kilobytes, times thousands of sockets). An answer is a
task of its own, one at a time per socket; when the client leaves mid-answer it is cancelled, which closes
the engine's stream and marks the question ``cancelled``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from contextlib import aclosing
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from starlette.websockets import WebSocket, WebSocketDisconnect

from otvet.core.limits import RateLimiter
from otvet.core.store import DatabaseUnavailable, NotFound
from otvet.core.types import Delta, Failure, Final, Turn
from otvet.frontends.widget import messages, protocol
from otvet.frontends.widget.history import conversation_history
from otvet.frontends.widget.identity import CHANNEL, CHAT_ID, Identity, Unauthenticated, identify

if TYPE_CHECKING:
    from otvet.core.app import Otvet
    from otvet.core.i18n import Translator

log = logging.getLogger(__name__)

#: Frames queued for a client before whoever queues the next one waits (an answer's deltas, mostly).
OUTBOX_FRAMES = 256
#: Close codes (docs/widget.md#close-codes).
TOO_BIG, TRY_AGAIN_LATER, SERVER_ERROR = 1009, 1013, 1011
#: The server is restarting (a deploy): the widget reconnects, to another replica behind a load balancer.
SERVICE_RESTART = 1012
UNAUTHENTICATED, TIMED_OUT = 4401, 4408
#: The page's origin is not in ``widget.allowed_origins``: sent right after the handshake, because a browser
#: reports a refused handshake (HTTP 403) as 1006, like a server that is down, and would keep retrying.
ORIGIN_REFUSED = 4403
ORIGIN_REFUSED_REASON = "origin not allowed"
_DEFAULT_PORTS = {"http": "80", "https": "443"}


def origin_allowed(origin: str | None, host: str | None, allowed: list[str]) -> bool:
    """Whether a page from ``origin`` may open a socket: listed, ``*``, same origin, or no browser at all."""
    if origin is None:
        return True  # not a browser (a script, a server): the Origin check protects browsers' users only
    origin = origin.strip().lower().rstrip("/")
    if "*" in allowed or origin in allowed:
        return True
    parts = urlsplit(origin)
    if parts.scheme not in _DEFAULT_PORTS or not parts.netloc or not host:
        return False
    return _hostport(parts.scheme, parts.netloc) == _hostport(parts.scheme, host.strip().lower())


def _hostport(scheme: str, netloc: str) -> str:
    default = f":{_DEFAULT_PORTS[scheme]}"
    return netloc.removesuffix(default)


@dataclass(frozen=True, slots=True)
class _Close:
    code: int
    reason: str = ""


class _TooBig(Exception):
    """A client frame over ``widget.max_message_bytes``."""


class WidgetHub:
    """What every widget socket of this process shares: the settings and the rate limits."""

    def __init__(self, otvet: Otvet, clock: Callable[[], float] = time.monotonic) -> None:
        self.otvet = otvet
        self.settings = otvet.settings.widget
        self.questions = RateLimiter(self.settings.questions_per_minute, clock=clock)
        self.connections = RateLimiter(self.settings.connections_per_minute_per_ip, clock=clock)
        self.frames = RateLimiter(self.settings.messages_per_minute_per_ip, clock=clock)
        #: The open sockets: when the service drains, one callback closes them all (no task per socket).
        self.sessions: set[_Session] = set()
        otvet.lifecycle.when_draining(self._drain_all)

    def set_clock(self, clock: Callable[[], float]) -> None:
        """Move every limit to another clock (tests step through a minute without waiting for it)."""
        for limiter in (self.questions, self.connections, self.frames):
            limiter.clock = clock

    async def endpoint(self, websocket: WebSocket) -> None:
        await _Session(self, websocket).run()

    def _drain_all(self) -> None:
        for session in list(self.sessions):
            session.start_draining()


class _Session:
    """One socket, from the handshake to its close."""

    def __init__(self, hub: WidgetHub, websocket: WebSocket) -> None:
        self.hub = hub
        self.otvet = hub.otvet
        self.settings = hub.settings
        self.websocket = websocket
        self.address = websocket.client.host if websocket.client else "unknown"
        self.outbox: asyncio.Queue[dict[str, Any] | _Close] = asyncio.Queue(OUTBOX_FRAMES)
        self.identity: Identity | None = None
        self.language = self.otvet.settings.default_language
        self.answering: asyncio.Task[None] | None = None
        self.receiver: asyncio.Task[bool] | None = None
        self.sender: asyncio.Task[None] | None = None
        self.draining: asyncio.Task[None] | None = None
        #: Set once the close is written or the client stopped reading: nothing more is sent.
        self.finished = False

    @property
    def t(self) -> Translator:
        return self.otvet.i18n.get(self.language)

    # --- the socket's life --------------------------------------------------------------------------------

    async def run(self) -> None:
        ws = self.websocket
        origin = ws.headers.get("origin")
        if not origin_allowed(origin, ws.headers.get("host"), self.settings.allowed_origins):
            log.info("widget socket from origin %r refused: not in OTVET_WIDGET__ALLOWED_ORIGINS", origin)
            await self._refuse_origin()
            return
        await ws.accept()
        retry_after = self.hub.connections.hit(self.address)
        if retry_after is not None:
            with contextlib.suppress(Exception):
                frame = protocol.error(
                    "rate_limited", messages.rate_limited(self.t, retry_after), None, retry_after
                )
                await asyncio.wait_for(ws.send_text(_dump(frame)), self.settings.send_timeout_seconds)
                await asyncio.wait_for(ws.close(TRY_AGAIN_LATER), self.settings.send_timeout_seconds)
            return
        self.receiver = receiver = asyncio.create_task(self._receive_loop())
        self.hub.sessions.add(self)
        if self.otvet.lifecycle.draining:
            self.start_draining()
        try:
            # The receiver ends when the client leaves (False) or a close is queued (True); the sender
            # cancels it when the socket is over (the close written, or the client stopped reading).
            await asyncio.wait({receiver})
            if not receiver.cancelled() and receiver.result() and self.sender is not None:
                # A close is queued: let the sender deliver what is queued, then the close.
                await asyncio.wait({self.sender}, timeout=self.settings.send_timeout_seconds * 2)
        finally:
            self.hub.sessions.discard(self)
            tasks = [t for t in (receiver, self.draining, self.answering, self.sender) if t is not None]
            for task in tasks:
                if not task.done():
                    task.cancel()
            # Waited for, so a cancelled answer has marked its question before the socket is gone.
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _refuse_origin(self) -> None:
        """Accept and close at once with 4403, so the widget can tell the visitor and stop retrying.

        Nothing is read from or sent to the page before the close: accepting only makes the refusal
        visible to the page's script, which a browser hides when the handshake itself is refused.
        """
        ws = self.websocket
        timeout = self.settings.send_timeout_seconds
        with contextlib.suppress(Exception):  # the client may have gone already
            await asyncio.wait_for(ws.accept(), timeout)
            await asyncio.wait_for(ws.close(ORIGIN_REFUSED, ORIGIN_REFUSED_REASON), timeout)

    def start_draining(self) -> None:
        """The service is stopping: close this socket once its answer is written (WidgetHub calls this)."""
        if self.draining is None:
            self.draining = asyncio.create_task(self._close_when_draining())

    async def _close_when_draining(self) -> None:
        """Finish the answer being written, then close with 1012 (the widget reconnects). Held as work in
        progress until the close is written, so nothing queued is cut off."""
        with self.otvet.lifecycle.busy():
            while self.answering is not None and not self.answering.done():
                await asyncio.wait({self.answering})
            await self._send(_Close(SERVICE_RESTART, "server restarting"))
            if self.sender is not None:
                await asyncio.wait({self.sender}, timeout=self.settings.send_timeout_seconds * 2)

    async def _send_loop(self) -> None:
        """Write the queued frames, then end; started again by the next :meth:`_send`."""
        timeout = self.settings.send_timeout_seconds
        try:
            while not self.outbox.empty():
                item = self.outbox.get_nowait()
                # asyncio.timeout, not wait_for: no task per frame on the streaming path.
                async with asyncio.timeout(timeout):
                    if isinstance(item, _Close):
                        await self.websocket.close(item.code, item.reason)
                        break
                    await self.websocket.send_text(_dump(item))
            else:
                return  # all written: the socket goes on
        except TimeoutError:
            log.info("widget client %s stopped reading its frames: disconnected", self.address)
        except Exception:  # the client has gone meanwhile
            pass
        # The close is written or the client is gone: the socket is over.
        self.finished = True
        if self.receiver is not None and not self.receiver.done():
            self.receiver.cancel()

    async def _send(self, frame: dict[str, Any] | _Close) -> None:
        if self.finished:
            return
        await self.outbox.put(frame)
        if self.sender is None or self.sender.done():
            self.sender = asyncio.create_task(self._send_loop())

    async def _receive(self, seconds: float) -> str | None:
        """The next text frame; None when ``seconds`` pass first. Raises on a disconnect or a huge frame."""
        try:
            # asyncio.timeout, not wait_for: an idle socket waits in its receiver, without a task of its own.
            async with asyncio.timeout(max(seconds, 0.0)):
                message = await self.websocket.receive()
        except TimeoutError:
            return None
        if message["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(message.get("code", 1000))
        text, data = message.get("text"), message.get("bytes")
        limit = self.settings.max_message_bytes
        if text is not None:
            if len(text) > limit or len(text.encode("utf-8")) > limit:
                raise _TooBig
            return text
        if data is not None and len(data) > limit:
            raise _TooBig
        return ""  # a binary frame: not JSON text, answered as a bad request

    async def _receive_loop(self) -> bool:
        """Handle frames until the client leaves (False) or the server closes the socket (True)."""
        try:
            hello = await self._await_hello()
            if hello is None or not await self._greet(hello):
                return True
            while True:
                text = await self._receive(self.settings.idle_timeout_seconds)
                if text is None:
                    if self.answering is not None and not self.answering.done():
                        continue  # writing an answer is not idleness
                    await self._send(_Close(TIMED_OUT, "idle"))
                    return True
                await self._handle(text)
        except WebSocketDisconnect:
            return False
        except _TooBig:
            await self._send(_Close(TOO_BIG, "frame too large"))
            return True

    # --- hello ----------------------------------------------------------------------------------------------

    async def _await_hello(self) -> protocol.Hello | None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.hello_timeout_seconds
        while True:
            text = await self._receive(deadline - loop.time())
            if text is None:
                await self._send(_Close(TIMED_OUT, "no hello"))
                return None
            if not await self._frame_allowed(text):
                continue
            try:
                frame = protocol.parse(text)
            except protocol.BadFrame as exc:
                await self._bad_request(str(exc), text)
                continue
            if isinstance(frame, protocol.Hello):
                return frame
            await self._bad_request('the first frame must be "hello"', text)

    async def _greet(self, hello: protocol.Hello) -> bool:
        """Identify the client and send ``welcome``; False when the socket is being closed instead."""
        i18n = self.otvet.i18n
        self.language = i18n.negotiate(hello.language) or self.language
        try:
            identity = await identify(self.otvet, hello.visitor, hello.user)
        except Unauthenticated as exc:
            log.info("widget user token refused: %s", exc)
            await self._send(protocol.error("unauthenticated", messages.unauthenticated(self.t)))
            await self._send(_Close(UNAUTHENTICATED, "invalid user token"))
            return False
        except DatabaseUnavailable as exc:  # logged once per outage by the store
            error = protocol.error("unavailable", messages.unavailable(self.t), None, exc.retry_after)
            await self._send(error)
            await self._send(_Close(TRY_AGAIN_LATER, "briefly unavailable"))
            return False
        except Exception:
            log.exception("widget hello failed")
            await self._send(protocol.error("internal_error", messages.internal_error(self.t)))
            await self._send(_Close(SERVER_ERROR, "internal error"))
            return False
        self.identity = identity
        history: list[dict[str, Any]] = []
        if identity.known:
            try:
                store = self.otvet.store
                user = await store.get_or_create_user(CHANNEL, identity.external_id, identity.display_name)
                if user.language in i18n.languages:
                    self.language = user.language
                history = await conversation_history(store, user.id)
            except DatabaseUnavailable:
                pass  # welcomed without it; the outage is logged once, by the store
            except Exception:
                log.exception("widget history could not be read: welcoming without it")
        await self._send(
            protocol.welcome(
                identity.visitor_token,
                self.language,
                i18n.languages,
                history,
                self.settings.max_question_chars,
            )
        )
        return True

    # --- frames after hello ---------------------------------------------------------------------------------

    async def _frame_allowed(self, text: str) -> bool:
        retry_after = self.hub.frames.hit(self.address)
        if retry_after is None:
            return True
        message = messages.rate_limited(self.t, retry_after)
        await self._send(protocol.error("rate_limited", message, protocol.question_id_of(text), retry_after))
        return False

    async def _bad_request(self, detail: str, text: str) -> None:
        message = messages.bad_request(self.t, detail)
        await self._send(protocol.error("bad_request", message, protocol.question_id_of(text)))

    async def _handle(self, text: str) -> None:
        if not await self._frame_allowed(text):
            return
        try:
            frame = protocol.parse(text)
        except protocol.BadFrame as exc:
            await self._bad_request(str(exc), text)
            return
        try:
            await self._dispatch(frame, text)
        except DatabaseUnavailable as exc:
            question_id = frame.id if isinstance(frame, protocol.Question) else None
            error = protocol.error("unavailable", messages.unavailable(self.t), question_id, exc.retry_after)
            await self._send(error)
        except Exception:
            log.exception("widget frame %s failed", type(frame).__name__)
            question_id = frame.id if isinstance(frame, protocol.Question) else None
            await self._send(protocol.error("internal_error", messages.internal_error(self.t), question_id))

    async def _dispatch(self, frame: protocol.ClientFrame, text: str) -> None:
        identity = self.identity
        assert identity is not None, "frames are handled only after hello"
        engine = self.otvet.engine
        languages = self.otvet.i18n.languages
        if isinstance(frame, protocol.Question):
            await self._question(frame, identity, text)
        elif isinstance(frame, protocol.FeedbackFrame):
            await self._feedback(frame, identity)
        elif isinstance(frame, protocol.Reset):
            await engine.reset(CHANNEL, identity.external_id, CHAT_ID)
            await self._send(protocol.reset_done())
        elif isinstance(frame, protocol.LanguageFrame):
            if frame.language not in languages:
                await self._bad_request(f"unknown language; choose from {', '.join(languages)}", text)
                return
            await engine.set_language(CHANNEL, identity.external_id, frame.language)
            self.language = frame.language
            await self._send(protocol.language_set(frame.language))
        elif isinstance(frame, protocol.Ping):
            await self._send(protocol.pong())
        else:
            await self._bad_request('"hello" was sent already', text)

    async def _question(self, question: protocol.Question, identity: Identity, text: str) -> None:
        languages = self.otvet.i18n.languages
        if question.language is not None and question.language not in languages:
            await self._bad_request(f"unknown language; choose from {', '.join(languages)}", text)
            return
        if self.answering is not None and not self.answering.done():
            await self._send(protocol.error("busy", messages.busy(self.t), question.id))
            return
        limit = self.settings.max_question_chars
        if len(question.text) > limit:
            await self._send(protocol.error("too_long", messages.too_long(self.t, limit), question.id))
            return
        retry_after = self.hub.questions.hit(identity.external_id)
        if retry_after is not None:
            message = messages.rate_limited(self.t, retry_after)
            await self._send(protocol.error("rate_limited", message, question.id, retry_after))
            return
        turn = Turn(
            channel=CHANNEL,
            user_id=identity.external_id,
            text=question.text,
            chat_id=CHAT_ID,
            locale_hint=self.language,
            display_name=identity.display_name,
            language=question.language,
        )
        self.answering = asyncio.create_task(self._answer(question.id, turn))

    async def _answer(self, question_id: str, turn: Turn) -> None:
        with self.otvet.lifecycle.busy():  # a stopping service waits until the answer frame is queued
            await self._write_answer(question_id, turn)

    async def _write_answer(self, question_id: str, turn: Turn) -> None:
        try:
            # aclosing: a cancelled answer (the client left) closes the engine's stream at once, and the
            # engine marks the question cancelled.
            async with aclosing(self.otvet.engine.stream(turn)) as events:
                async for event in events:
                    if isinstance(event, Delta):
                        await self._send(protocol.delta(question_id, event.text))
                        # Let the sender write it now: a provider with its next token at hand would otherwise
                        # queue the whole answer before the first frame leaves (a token waits for all).
                        await asyncio.sleep(0)
                    elif isinstance(event, Final):
                        self.language = event.language
                        await self._send(protocol.answer(question_id, event))
                    elif isinstance(event, Failure):
                        self.language = event.language
                        error = protocol.error(event.code, event.message, question_id, event.retry_after)
                        await self._send(error)
        except Exception:
            log.exception("widget answer failed")
            await self._send(protocol.error("internal_error", messages.internal_error(self.t), question_id))

    async def _feedback(self, frame: protocol.FeedbackFrame, identity: Identity) -> None:
        store = self.otvet.store
        message = await store.get_message(frame.message_id)
        conversation = None if message is None else await store.get_conversation(message.conversation_id)
        # Someone else's answer is reported exactly like a missing one: ids must not be probeable.
        if (
            message is None
            or message.role != "assistant"
            or conversation is None
            or conversation.channel != CHANNEL
            or conversation.external_id != identity.external_id
        ):
            await self._send(protocol.error("not_found", messages.not_found(self.t)))
            return
        try:
            await self.otvet.engine.rate(CHANNEL, identity.external_id, frame.message_id, frame.value)
        except NotFound:  # deleted meanwhile
            await self._send(protocol.error("not_found", messages.not_found(self.t)))
            return
        await self._send(protocol.feedback_saved(frame.message_id, frame.value))


def _dump(frame: dict[str, Any]) -> str:
    return json.dumps(frame, ensure_ascii=False, separators=(",", ":"))
