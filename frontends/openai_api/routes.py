"""The handlers: ``POST /v1/chat/completions``, ``GET /v1/models`` and ``GET /v1/models/{model}``.

Every request needs an Otvet API key (or an admin's login token) with the ``ask`` scope, sent as
``Authorization: Bearer ...``, the way OpenAI SDKs send their key.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import TYPE_CHECKING, cast

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from otvet.core.accounts import AuthError, Principal
from otvet.core.engine import failure_message
from otvet.core.store import DatabaseUnavailable
from otvet.core.types import Event, Failure, Turn
from otvet.frontends import untrusted
from otvet.frontends.http_auth import request_principal
from otvet.frontends.openai_api import conversation, wire
from otvet.frontends.openai_api.errors import (
    MISSING_KEY,
    ApiError,
    auth_response,
    failure_error,
    unavailable,
)
from otvet.frontends.openai_api.schema import (
    MAX_BODY_BYTES,
    ChatCompletionRequest,
    parse_request,
    read_dialogue,
)
from otvet.frontends.openai_api.stream import EventStreamResponse, chunks

if TYPE_CHECKING:
    from otvet.core.app import Otvet

log = logging.getLogger(__name__)

Handler = Callable[[Request], Awaitable[Response]]


def openai_errors(handler: Handler) -> Handler:
    """Answer every refusal, and any unexpected error, in OpenAI's error shape: never a traceback."""

    @functools.wraps(handler)
    async def wrapper(request: Request) -> Response:
        try:
            return await handler(request)
        except ApiError as exc:
            return exc.response()
        except AuthError as exc:
            return auth_response(exc)
        except DatabaseUnavailable as exc:  # before the engine ran: checking the key, storing the chat
            otvet: Otvet = request.app.state.otvet
            message = failure_message(otvet.i18n.get(None), "unavailable")  # the engine's own words
            return unavailable(exc.retry_after, message).response()
        except Exception:
            log.exception("%s %s failed", request.method, request.url.path)
            return ApiError(
                500, "The server had an error while processing your request.", "server_error"
            ).response()

    return wrapper


async def caller(request: Request) -> Principal:
    """The authenticated caller with the ``ask`` scope; AuthError (401/403/429) otherwise."""
    principal = await request_principal(request)
    if principal is None:
        raise AuthError("unauthenticated", MISSING_KEY)
    principal.require("ask")
    return principal


@openai_errors
async def chat_completions(request: Request) -> Response:
    otvet: Otvet = request.app.state.otvet
    principal = await caller(request)
    body = parse_request(await read_body(request))
    check_model(otvet, body.model)
    dialogue = read_dialogue(body)
    chat = conversation.chat_id(body, dialogue)
    # The request's ``user`` is the integrator's end user: quotas and usage count them, as in GraphQL.
    user_id = principal.end_user_id(body.user.strip() if body.user and body.user.strip() else None)
    await conversation.prepare(otvet, user_id, chat, dialogue, principal.name)
    turn = Turn(
        channel=conversation.CHANNEL,
        user_id=user_id,
        text=dialogue.question,
        chat_id=chat,
        locale_hint=request.headers.get("accept-language"),
        display_name=principal.name,
    )
    meta = wire.Meta(model=otvet.settings.openai_api.model_name)
    if body.stream:
        return await _stream(otvet, turn, meta, body)
    result = await otvet.engine.ask(turn)
    if isinstance(result, Failure):
        raise failure_error(result)
    return JSONResponse(wire.completion(meta, result))


async def _stream(otvet: Otvet, turn: Turn, meta: wire.Meta, body: ChatCompletionRequest) -> Response:
    # An async generator (annotated as an iterator): closed explicitly, never left to the garbage collector.
    events = cast(AsyncGenerator[Event, None], otvet.engine.stream(turn))
    try:
        # The first event decides the status: a refusal before any answer (a quota, a failed model) is an
        # HTTP error the SDK raises as such, not a 200 stream that fails on its first chunk.
        first = await anext(events)
        if isinstance(first, Failure):
            raise failure_error(first)
    except BaseException:
        await events.aclose()
        raise
    include_usage = bool(body.stream_options and body.stream_options.include_usage)
    return EventStreamResponse(chunks(meta, first, events, include_usage=include_usage))


@openai_errors
async def list_models(request: Request) -> Response:
    otvet: Otvet = request.app.state.otvet
    await caller(request)
    return JSONResponse({"object": "list", "data": [await _model(otvet)]})


@openai_errors
async def retrieve_model(request: Request) -> Response:
    otvet: Otvet = request.app.state.otvet
    await caller(request)
    check_model(otvet, request.path_params["model"])
    return JSONResponse(await _model(otvet))


def check_model(otvet: Otvet, name: str) -> None:
    """404 ``model_not_found`` (as OpenAI answers) unless ``name`` is the model this server lists."""
    ours = otvet.settings.openai_api.model_name
    if name != ours:
        raise ApiError(
            404,
            f"The model '{name}' does not exist: this server answers as '{ours}' (see GET /v1/models).",
            code="model_not_found",
            param="model",
        )


async def _model(otvet: Otvet) -> dict[str, object]:
    # "Created" is when the knowledge answering now was activated: what a new model would mean here.
    version = await otvet.store.active_version()
    moment = version and (version.activated_at or version.created_at)
    return wire.model(otvet.settings.openai_api.model_name, int(moment.timestamp()) if moment else 0)


async def read_body(request: Request) -> bytes:
    """The request body, refused with 413 past :data:`MAX_BODY_BYTES` without reading all of it."""
    try:
        return await untrusted.read_body(request, MAX_BODY_BYTES)
    except ClientDisconnect:  # gone mid-body: the answer reaches nobody, but no traceback is logged either
        raise ApiError(400, "The request body did not arrive in full.") from None
    except untrusted.BodyTooLarge:
        raise ApiError(
            413, f"The request body is larger than {MAX_BODY_BYTES} bytes.", code="request_too_large"
        ) from None
