"""The ASGI app at ``/graphql``: strawberry's Starlette integration, made to follow GraphQL-over-HTTP.

On top of strawberry it adds:

* ``application/graphql-response+json`` when ``Accept`` asks for it, with the spec's status codes: a
  request error (parse, validation, variable coercion, a limit) is 400 and has no ``data`` entry. With
  ``application/json`` such errors keep status 200, as the spec wants for that older type.
* Authentication (``Authorization: Bearer``) before anything runs: a bad credential is 401, over the rate
  limit 429 with ``Retry-After``; no credential is anonymous, and every field needing a scope says so.
* A body size limit: 413 as soon as ``Content-Length`` (or the bytes received) exceed it, before parsing.
* Errors of the transport itself (bad JSON, a mutation over GET: 405) in the ``{"errors": [...]}`` shape
  with a stable ``extensions.code``, instead of plain text.
* Multipart uploads, which need a preflight header (``Apollo-Require-Preflight``) so that a plain HTML
  form on another site cannot post one (the CSRF protection strawberry's docs ask for).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from cross_web import HTTPException
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET

from otvet.core.accounts import AuthError
from otvet.core.app import Otvet
from otvet.core.store import DatabaseUnavailable
from otvet.frontends.graphql import errors, media
from otvet.frontends.graphql.context import GraphQLContext
from otvet.frontends.graphql.ide import ide_response
from otvet.frontends.http_auth import auth_headers, auth_status, request_principal, retry_after
from otvet.frontends.untrusted import load_json

log = logging.getLogger("otvet.frontends.graphql")

#: Any of these headers on a multipart request proves it did not come from a plain cross-site HTML form.
PREFLIGHT_HEADERS = ("apollo-require-preflight", "graphql-require-preflight", "x-apollo-operation-name")
_REQUEST_ERROR = "otvet_graphql_request_error"
#: Set on the request when an error says the database is down: seconds for ``Retry-After``.
_UNAVAILABLE = "otvet_graphql_unavailable"


_HTTP_CODES = {
    404: errors.NOT_FOUND,
    405: "METHOD_NOT_ALLOWED",
    413: errors.PAYLOAD_TOO_LARGE,
    414: errors.PAYLOAD_TOO_LARGE,
}


#: The close code for a WebSocket frame over the size limit (RFC 6455's "message too big").
FRAME_TOO_BIG = 1009
#: graphql-transport-ws's close code for a message that is not one of the protocol's.
BAD_MESSAGE = 4400


class BodyTooLarge(Exception):
    """The body grew past the limit while being read (not a ValueError, which the parsers would catch)."""


def _limited(receive: Receive, limit: int) -> Receive:
    received = 0

    async def wrapped() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise BodyTooLarge
        return message

    return wrapped


def _frames_limited(
    receive: Receive, send: Send, limit: int, send_timeout: float, on_stuck: Callable[[], None]
) -> tuple[Receive, Send]:
    """A WebSocket whose frames over ``limit`` bytes close it with 1009, as a body over it gets 413, whose
    text frames that are not a JSON object close it with 4400, and whose client is dropped when a message
    for it waits ``send_timeout`` seconds to be written.

    Without the size check a ``subscribe`` message could be as large as the server's WebSocket limit (16 MiB
    in uvicorn) and would be parsed whole. After closing, the app is told the client left (so its
    subscriptions stop) and whatever it still sends is dropped: the socket is gone.

    A client that stops reading fills the socket's buffers, and then every send waits. Without the timeout
    its subscription would hold a task and the provider's open stream for as long as the TCP connection
    lives. ``on_stuck`` ends the whole connection (its subscriptions are cancelled, which closes their
    provider streams and marks their questions cancelled), and the send that waited in vain waits for that.
    """
    closed = stuck = False

    async def limited_receive() -> Message:
        message = await receive()
        if message["type"] == "websocket.receive":
            text, data = message.get("text"), message.get("bytes")
            # Characters first: a text over the limit in characters is over it in bytes, and is not encoded.
            size = len(data) if data is not None else len(text or "")
            if size <= limit and text:
                size = len(text.encode("utf-8"))
            if size > limit:
                log.info("WebSocket frame of %d bytes refused (graphql.max_body_bytes is %d)", size, limit)
                return await close(FRAME_TOO_BIG, "frame too large")
            if text is not None and not text.lstrip().startswith("{"):
                # Every graphql-transport-ws message is an object; strawberry fails on any other JSON value.
                return await close(BAD_MESSAGE, "WebSocket message must be a JSON object")
        return message

    async def close(code: int, reason: str) -> Message:
        await guarded_send({"type": "websocket.close", "code": code, "reason": reason})
        return {"type": "websocket.disconnect", "code": code}

    async def guarded_send(message: Message) -> None:
        nonlocal closed, stuck
        if closed:
            return
        if message["type"] == "websocket.close":
            closed = True
        try:
            async with asyncio.timeout(send_timeout):
                await send(message)
        except TimeoutError:
            if not stuck:  # once: several sends (a subscription's, a pong) may be waiting
                stuck = closed = True
                log.info("GraphQL WebSocket client stopped reading its messages: disconnected")
                on_stuck()
            # on_stuck cancels this task too (the connection's, or the subscription's with it): wait for that.
            await asyncio.Event().wait()

    return limited_receive, guarded_send


def _is_multipart(headers: Mapping[str, str]) -> bool:
    return headers.get("content-type", "").lower().startswith("multipart/")


class GraphQLApp(GraphQL[GraphQLContext, None]):
    """``/graphql`` for one Otvet: GET and POST, and WebSocket subscriptions (``graphql-transport-ws``)."""

    def __init__(self, otvet: Otvet, schema: Any) -> None:
        self.otvet = otvet
        self.limits = otvet.settings.graphql
        super().__init__(
            schema,
            graphql_ide="graphiql" if self.limits.graphiql else None,
            multipart_uploads_enabled=True,
            # The current protocol only: the legacy subscriptions-transport-ws one is unmaintained.
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            connection_init_wait_timeout=timedelta(seconds=10),
            max_subscriptions_per_connection=20,
        )

    # --- HTTP -------------------------------------------------------------------------------------------

    async def render_graphql_ide(self, request: Request) -> Response:
        # Otvet's own GraphiQL page, its assets served from the package (frontends/graphql/ide.py).
        return ide_response()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self._socket(scope, receive, send)
            return
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        headers = Request(scope).headers
        chosen = media.negotiate(headers.get("accept"))
        limit = self.limits.max_upload_bytes if _is_multipart(headers) else self.limits.max_body_bytes
        request = Request(scope, receive=_limited(receive, limit))
        declared = headers.get("content-length") or "0"
        longest = self.limits.max_body_bytes
        try:
            if not declared.isdigit():
                response = self._refusal(chosen, 400, "the Content-Length header is not a number")
            elif len(scope.get("query_string", b"")) > longest:
                response = self._refusal(chosen, 414, f"the query string is longer than {longest} bytes")
            elif int(declared) > limit:
                response = self._too_large(chosen, limit)
            else:
                response = await self.run(request)
        except ClientDisconnect:
            # Gone before its body arrived (a slow client giving up, or one trickling on purpose): nobody is
            # left to answer, and a traceback per dropped connection would let anyone flood the log.
            log.debug("client disconnected before its request body arrived")
            await request.close()
            return
        except BodyTooLarge:
            response = self._too_large(chosen, limit)
        except HTTPException as exc:
            response = self._http_error(chosen, exc.status_code, exc.reason, exc.__cause__)
        except StarletteHTTPException as exc:  # the multipart parser's limits (too many parts...)
            response = self._http_error(chosen, exc.status_code, str(exc.detail))
        try:
            await response(scope, receive, send)
        finally:
            await request.close()  # uploaded files spooled to disk go now

    def _refusal(self, chosen: str, status: int, message: str, code: str | None = None) -> Response:
        code = code or _HTTP_CODES.get(status, errors.BAD_REQUEST)
        headers = {"Allow": "GET, POST"} if status == 405 else {}
        return media.error_response(chosen, status, [media.error(message, code)], headers)

    def _too_large(self, chosen: str, limit: int) -> Response:
        return self._refusal(chosen, 413, f"the request body is larger than {limit} bytes")

    def _http_error(
        self, chosen: str, status: int, reason: str, cause: BaseException | None = None
    ) -> Response:
        if status == 404 and not self.limits.graphiql:
            reason = "GraphiQL is turned off on this server (graphql.graphiql): send a query instead"
        if isinstance(cause, json.JSONDecodeError):
            # Strawberry's "Unable to parse request body as JSON" alone leaves the client guessing what.
            reason = f"{reason}: {cause}"
        return self._refusal(chosen, status, reason)

    async def run(
        self, request: Request | WebSocket, context: Any = UNSET, root_value: Any = UNSET
    ) -> Response | WebSocket:
        if isinstance(request, WebSocket):
            return await super().run(request, context, root_value)
        chosen = media.negotiate(request.headers.get("accept"))
        preflighted = any(request.headers.get(name) for name in PREFLIGHT_HEADERS)
        if request.method == "POST" and _is_multipart(request.headers) and not preflighted:
            return self._refusal(
                chosen,
                400,
                "multipart requests need a non-empty 'Apollo-Require-Preflight' header (CSRF protection)",
                errors.PREFLIGHT_REQUIRED,
            )
        try:
            principal = await request_principal(request)
        except AuthError as exc:
            refused = errors.from_auth_error(exc)
            body = media.error(refused.message, refused.code, **refused.extensions)
            return media.error_response(chosen, auth_status(exc), [body], auth_headers(exc))
        except DatabaseUnavailable as exc:  # the API key could not be looked up
            down = errors.unavailable(exc)
            body = media.error(down.message, down.code, **down.extensions)
            return media.error_response(chosen, 503, [body], retry_after(exc.retry_after))
        context = GraphQLContext(otvet=self.otvet, request=request, principal=principal)
        response = await super().run(request, context, root_value)
        return self._finish(request, response, chosen)

    def _finish(self, request: Request, response: Response, chosen: str) -> Response:
        """The negotiated media type on a GraphQL response; 400 for a request error under the new type."""
        if not response.headers.get("content-type", "").startswith(media.JSON):
            return response  # GraphiQL's page
        response.headers["content-type"] = media.content_type(chosen)
        if chosen == media.GRAPHQL_RESPONSE_JSON and getattr(request.state, _REQUEST_ERROR, False):
            response.status_code = 400
        seconds = getattr(request.state, _UNAVAILABLE, None)
        if seconds is not None:
            # The database was down for part of it: 503 tells proxies and clients to try again later.
            response.status_code = 503
            response.headers.update(retry_after(seconds))
        return response

    def decode_json(self, data: str | bytes) -> object:
        # Bytes that are not UTF-8 and nesting deeper than the parser recurses raise JSONDecodeError too, so
        # strawberry answers them as bad JSON (400; 4400 on a WebSocket) instead of failing with a 500. So
        # does a bare string, number or null, which strawberry would fail on: a body (and variables) must be
        # an object, or a list (batching, which is then refused by name).
        value = load_json(data)
        if not isinstance(value, dict | list):
            raise json.JSONDecodeError("expected a JSON object", "", 0)
        return value

    async def parse_http_body(self, request: Any) -> GraphQLRequestData | list[GraphQLRequestData]:
        data = await super().parse_http_body(request)
        if isinstance(data, GraphQLRequestData) and not isinstance(data.operation_name, str | None):
            raise HTTPException(400, "The GraphQL operation's `operationName` must be a string or null.")
        return data

    async def execute_single(self, *args: Any, **kwargs: Any) -> ExecutionResult:
        try:
            return await super().execute_single(*args, **kwargs)
        except HTTPException as exc:
            # GraphQL-over-HTTP: a mutation sent with GET is 405 Method Not Allowed, not 400.
            wrong_type = isinstance(exc.__cause__, InvalidOperationTypeError)
            if wrong_type and kwargs["request_adapter"].method == "GET":
                raise HTTPException(405, "mutations need POST; GET runs queries only") from exc
            raise

    async def process_result(self, request: Request, result: ExecutionResult) -> GraphQLHTTPResponse:
        # Errors normally have their codes already (StableErrorCodes); not when an extension itself failed.
        found = errors.with_codes(result.errors) if result.errors else []
        response: GraphQLHTTPResponse = {"data": result.data}
        if errors.is_request_error(result.data, found):
            # Nothing ran: the spec's request error has no ``data`` entry at all.
            del response["data"]
            setattr(request.state, _REQUEST_ERROR, True)
        if found:
            response["errors"] = [error.formatted for error in found]
            down = [
                float((e.extensions or {}).get("retryAfter", 5))
                for e in found
                if (e.extensions or {}).get("code") == errors.UNAVAILABLE
            ]
            if down:
                setattr(request.state, _UNAVAILABLE, max(down))
        if result.extensions:
            response["extensions"] = result.extensions
        return response

    # --- WebSocket --------------------------------------------------------------------------------------

    async def _socket(self, scope: Scope, receive: Receive, send: Send) -> None:
        # No deadline until a client stops reading; then one that has passed, which cancels the connection.
        deadline = asyncio.timeout(None)
        guarded = _frames_limited(
            receive,
            send,
            self.limits.max_body_bytes,
            self.limits.send_timeout_seconds,
            lambda: deadline.reschedule(asyncio.get_running_loop().time()),
        )
        try:
            async with deadline:
                await super().__call__(scope, *guarded)
        except TimeoutError:
            if not deadline.expired():
                raise
            # Dropped for not reading: returning lets the server close the connection.

    async def get_context(self, request: Request | WebSocket, response: Any) -> GraphQLContext:
        return GraphQLContext(otvet=self.otvet, request=request)

    async def on_ws_connect(self, context: GraphQLContext) -> Any:
        """Authenticate ``connection_init``'s ``authorization``: a bad credential closes with 4403."""
        try:
            context.principal = await self.otvet.accounts.authenticate(context.credential())
        except AuthError as exc:
            log.info("WebSocket connection refused: %s", exc.message)
            raise ConnectionRejectionError({"code": errors.from_auth_error(exc).code}) from None
        return UNSET
