"""Errors in OpenAI's shape, ``{"error": {"message", "type", "param", "code"}}``, with the HTTP status an
OpenAI SDK turns into the matching exception (400 BadRequestError, 401 AuthenticationError, ...).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.responses import JSONResponse

from otvet.core.accounts import AuthError
from otvet.core.quotas import QUOTA_CODES
from otvet.core.types import Failure
from otvet.frontends.http_auth import auth_error_response, retry_after

#: Engine failure codes that are quotas (core/quotas.py): waiting ``Retry-After`` seconds is enough.
#: Engine failure codes caused by the question itself: asking the same again fails the same way.
REQUEST_CODES = {
    "empty_question": "empty_question",
    "question_too_long": "question_too_long",
    # OpenAI's own code for it, which client libraries know (LangChain trims the history on it).
    "context_too_long": "context_length_exceeded",
    # A plugin's moderation refused it: OpenAI's code for a request its moderation refuses.
    "refused": "content_policy_violation",
}
MISSING_KEY = (
    "You didn't provide an API key: send 'Authorization: Bearer <Otvet API key>' "
    "(create one with `otvet key create NAME --scope ask`)."
)
#: openai-python waits out a Retry-After of up to two minutes and tries again; it retries a longer one
#: at once, in vain.
SDK_MAX_RETRY_AFTER = 120


@dataclass(eq=False)  # an exception compares (and hashes) by identity
class ApiError(Exception):
    """A refused request, raised anywhere in a handler and answered by :meth:`response`."""

    status: int
    message: str
    type: str = "invalid_request_error"
    code: str | None = None
    param: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def body(self) -> dict[str, object]:
        return error_body(self.message, self.type, self.code, self.param)

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


def error_body(
    message: str, type: str, code: str | None = None, param: str | None = None
) -> dict[str, object]:
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


def invalid(message: str, *, param: str | None = None, code: str | None = None) -> ApiError:
    """A 400 ``invalid_request_error``: the request itself is wrong."""
    return ApiError(400, message, code=code, param=param)


def auth_response(exc: AuthError) -> JSONResponse:
    """A refused credential: the accounts helper picks the status and headers, this the OpenAI body."""
    return auth_error_response(exc, _auth_body)


def _auth_body(exc: AuthError) -> dict[str, object]:
    if exc.code == "rate_limited":
        return error_body(exc.message, "rate_limit_error", "rate_limit_exceeded")
    if exc.code == "forbidden":
        return error_body(exc.message, "permission_error", "insufficient_permissions")
    return error_body(exc.message, "invalid_request_error", "invalid_api_key")


def failure_error(failure: Failure) -> ApiError:
    """The HTTP error for an engine failure that happened before any of the answer was sent.

    Quotas are 429 with ``Retry-After``; problems of the question are 400; the rest (the model failed or
    timed out and no fallback answered, a storage error) are 503. The message is the engine's calm,
    localized text, the code its stable one.
    """
    if failure.code in QUOTA_CODES:
        headers = retry_after(failure.retry_after)
        if int(headers["Retry-After"]) > SDK_MAX_RETRY_AFTER:
            # openai-python honours this header: retrying in seconds cannot pass a limit reset in hours.
            headers["x-should-retry"] = "false"
        return ApiError(429, failure.message, "rate_limit_error", failure.code, headers=headers)
    if failure.code in REQUEST_CODES:
        return ApiError(400, failure.message, code=REQUEST_CODES[failure.code], param="messages")
    if failure.code == "unavailable":
        return unavailable(failure.retry_after, failure.message)
    # Not retried by the SDK at once: the engine has already retried the model and tried its fallback.
    return ApiError(503, failure.message, "server_error", failure.code, headers={"x-should-retry": "false"})


def unavailable(seconds: float | None, message: str) -> ApiError:
    """503 with ``Retry-After`` while the database is down: the SDK may retry after that long."""
    return ApiError(503, message, "server_error", "unavailable", headers=retry_after(seconds))
