"""Errors in the GraphQL spec's format, each with a stable ``extensions.code`` and never a stack trace.

Resolvers raise :class:`ApiError` (or let :class:`~otvet.core.accounts.AuthError` through); the
:class:`StableErrorCodes` extension rewrites every error of a result before it leaves the server, for HTTP
and WebSocket alike. Anything unexpected becomes ``INTERNAL_SERVER_ERROR`` with a fixed message: the
exception and its traceback go to the server's log (:func:`log_errors`), never to the client.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import Any

from graphql import ExecutionResult as GraphQLExecutionResult
from graphql import GraphQLError, GraphQLSyntaxError
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionResult

from otvet.core.accounts import AuthError
from otvet.core.store import DatabaseUnavailable

log = logging.getLogger("otvet.frontends.graphql")

# Request errors (nothing was executed): the whole document or request is refused.
GRAPHQL_PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
GRAPHQL_VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
BAD_REQUEST = "BAD_REQUEST"
PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
PREFLIGHT_REQUIRED = "PREFLIGHT_REQUIRED"
QUERY_TOO_DEEP = "QUERY_TOO_DEEP"
TOO_MANY_ALIASES = "TOO_MANY_ALIASES"
QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX"
QUERY_TOO_LARGE = "QUERY_TOO_LARGE"
INTROSPECTION_DISABLED = "INTROSPECTION_DISABLED"
# Access.
UNAUTHENTICATED = "UNAUTHENTICATED"
FORBIDDEN = "FORBIDDEN"
RATE_LIMITED = "RATE_LIMITED"
# Field errors.
BAD_USER_INPUT = "BAD_USER_INPUT"
NOT_FOUND = "NOT_FOUND"
NOT_IMPLEMENTED = "NOT_IMPLEMENTED"
SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
#: The database is down: nothing is wrong with the request, try it again after ``retryAfter`` seconds (the
#: response is HTTP 503 with ``Retry-After``).
UNAVAILABLE = "UNAVAILABLE"
#: The message a client sees then.
UNAVAILABLE_MESSAGE = "The service is briefly unavailable (its database does not answer): try again shortly."
INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"

#: What a client sees instead of an unexpected exception.
INTERNAL_MESSAGE = "Internal server error: the server's log has the details."

_AUTH_CODES = {"unauthenticated": UNAUTHENTICATED, "forbidden": FORBIDDEN, "rate_limited": RATE_LIMITED}


class ApiError(Exception):
    """An expected failure a client can act on: ``code`` is stable, ``message`` says what to change.

    ``extensions`` add machine-readable details next to the code (``retryAfter``, ``problems``...).
    """

    def __init__(self, code: str, message: str, **extensions: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.extensions = extensions


def bad_input(message: str, **extensions: Any) -> ApiError:
    return ApiError(BAD_USER_INPUT, message, **extensions)


def from_auth_error(exc: AuthError) -> ApiError:
    """The API error of a refused caller, with ``retryAfter`` (seconds) when rate limited."""
    extra: dict[str, Any] = {}
    if exc.retry_after is not None:
        extra["retryAfter"] = round(exc.retry_after, 3)
    return ApiError(_AUTH_CODES.get(exc.code, UNAUTHENTICATED), exc.message, **extra)


def unavailable(exc: DatabaseUnavailable) -> ApiError:
    return ApiError(UNAVAILABLE, UNAVAILABLE_MESSAGE, retryAfter=round(exc.retry_after, 3))


def is_unexpected(error: GraphQLError) -> bool:
    """True for an error nobody meant to show a client: a bug, a crash, a broken dependency."""
    original = error.original_error
    if isinstance(original, ApiError | AuthError | DatabaseUnavailable):
        return False
    if error.path is None:
        # Nothing ran yet: parse, validation and variable coercion errors describe the request. An
        # exception from a subscription's source stream has no path either, and is unexpected.
        return not (
            original is None or isinstance(original, GraphQLError) or error.message.startswith("Variable '$")
        )
    # A field error graphql-core raised itself (a resolver returned null for a non-null field) is a bug.
    return original is None or not isinstance(original, GraphQLError)


def _request_error_code(error: GraphQLError) -> str:
    if error.extensions and isinstance(error.extensions.get("code"), str):
        return error.extensions["code"]
    if isinstance(error, GraphQLSyntaxError):
        # graphql-core stops parsing at the token limit with a syntax error that says so.
        return QUERY_TOO_LARGE if "tokens. Parsing aborted" in error.message else GRAPHQL_PARSE_FAILED
    if error.message.startswith("Variable '$"):
        return BAD_USER_INPUT
    return GRAPHQL_VALIDATION_FAILED


def with_code(error: GraphQLError) -> GraphQLError:
    """``error`` as a client may see it: a stable code, a safe message, no original exception."""
    if error.original_error is None and error.extensions and "code" in error.extensions:
        return error  # already ours (this runs at most twice on one error)
    original = error.original_error
    extensions: dict[str, Any]
    if isinstance(original, AuthError):
        original = from_auth_error(original)
    elif isinstance(original, DatabaseUnavailable):  # logged once per outage by the store
        original = unavailable(original)
    if isinstance(original, ApiError):
        message, extensions = original.message, {"code": original.code, **original.extensions}
    elif is_unexpected(error):
        message, extensions = INTERNAL_MESSAGE, {"code": INTERNAL_SERVER_ERROR}
    elif error.path is None:
        message, extensions = error.message, {**(error.extensions or {}), "code": _request_error_code(error)}
    else:  # a GraphQLError a resolver or strawberry raised on purpose
        assert isinstance(original, GraphQLError)
        extensions = {**(original.extensions or {})}
        extensions.setdefault("code", BAD_REQUEST)
        message = error.message
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=None,
        extensions=extensions,
    )


def with_codes(errors: Sequence[GraphQLError]) -> list[GraphQLError]:
    return [with_code(error) for error in errors]


def log_errors(errors: Sequence[GraphQLError]) -> None:
    """Log unexpected errors with their traceback; expected ones are routine and only debug-logged."""
    for error in errors:
        if is_unexpected(error):
            where = ".".join(str(p) for p in error.path) if error.path else "(operation)"
            log.error("GraphQL %s failed: %s", where, error.message, exc_info=error.original_error)
        else:
            log.debug("GraphQL error: %s", error.message)


def is_request_error(data: object, errors: Sequence[GraphQLError] | None) -> bool:
    """True when the request failed before execution: no data, and no error belongs to a field."""
    return data is None and bool(errors) and all(error.path is None for error in errors or ())


class StableErrorCodes(SchemaExtension):
    """Rewrite each result's errors with :func:`with_code`, for every transport (HTTP, WebSocket)."""

    def __init__(self) -> None:
        self._streamed = False

    def _rewrite(self, result: object) -> None:
        if isinstance(result, GraphQLExecutionResult | ExecutionResult) and result.errors:
            result.errors = with_codes(result.errors)

    def on_operation(self) -> Iterator[None]:
        self._streamed = False
        yield
        # A streamed operation had each of its results rewritten already (on_stream_result).
        if not self._streamed:
            self._rewrite(self.execution_context.result)

    def on_stream_result(self, result: Any) -> Iterator[None]:
        self._streamed = True
        self._rewrite(result)
        yield None
