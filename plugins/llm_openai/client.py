"""The ``openai`` client built from settings, and its exceptions sorted into "retry" and "give up".

The client's own retries are off (``max_retries=0``): :mod:`otvet.core.resilience` retries instead, so that
retries know the answer's deadline, feed the circuit breaker and log in one format for every provider.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import httpx2
import openai

from otvet.core.llm import ProviderError
from otvet.core.resilience import RetryableError
from otvet.core.transport import warn_if_cleartext

if TYPE_CHECKING:
    from otvet.config.settings import OpenAISettings

log = logging.getLogger(__name__)

#: The API key sent to servers that need none (a local Ollama): the client refuses to start without one.
NO_KEY = "no-key-needed"


def make_client(
    settings: OpenAISettings, *, http_client: httpx2.AsyncClient | None = None
) -> openai.AsyncOpenAI:
    """An async client for OpenAI, Azure OpenAI (``azure_api_version`` set) or an OpenAI-compatible server."""
    timeout = httpx2.Timeout(
        connect=settings.connect_timeout,
        read=settings.read_timeout,  # also the longest pause between two chunks of a stream
        write=settings.read_timeout,
        pool=settings.connect_timeout,
    )
    key = settings.api_key.get_secret_value()
    if key:
        warn_if_cleartext(settings.base_url, "OTVET_OPENAI__BASE_URL", "the API key")
    common: dict[str, Any] = {"timeout": timeout, "max_retries": 0, "http_client": http_client}
    if settings.azure_api_version:
        if not settings.base_url:
            raise ValueError("Azure OpenAI needs OTVET_OPENAI__BASE_URL: the resource endpoint")
        return openai.AsyncAzureOpenAI(
            api_key=key or None,
            azure_endpoint=settings.base_url,
            api_version=settings.azure_api_version,
            **common,
        )
    if not key and not settings.base_url:
        raise ValueError(
            "the openai provider needs OTVET_OPENAI__API_KEY (or OTVET_OPENAI__BASE_URL for a local server)"
        )
    return openai.AsyncOpenAI(
        api_key=key or NO_KEY,
        base_url=settings.base_url or None,
        organization=settings.organization or None,
        project=settings.project or None,
        **common,
    )


def describe(what: str, model: str, client: openai.AsyncOpenAI) -> str:
    """``OpenAI chat (gpt-4o-mini at https://api.openai.com/v1)``: how logs and errors name a call, with
    the server it goes to, so an unreachable or mistyped base URL shows in the first warning."""
    return f"{what} ({model} at {str(client.base_url).rstrip('/')})"


def classify(exc: BaseException) -> Exception:
    """The exception to raise for a failed call: :class:`RetryableError` when another try may succeed.

    429 and 5xx (and 408/409, which OpenAI documents as transient), timeouts and connection errors are worth a
    retry; the rest of 4xx will fail the same way again. A too-long prompt gets its own code, so the provider
    can retry with a shorter one.
    """
    if isinstance(exc, openai.APITimeoutError):
        return RetryableError("the request timed out", code="timeout")
    if isinstance(exc, openai.APIConnectionError):
        return RetryableError(f"cannot reach the server: {exc}", code="unavailable")
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        if status in (408, 409, 429) or status >= 500:
            code = "rate_limited" if status == 429 else "unavailable"
            return RetryableError(
                f"HTTP {status}: {_error_message(exc)}", retry_after=retry_after(exc.response), code=code
            )
        if _error_code(exc) == "context_length_exceeded":
            return ProviderError(_error_message(exc), code="context_length")
        code = {401: "unauthorized", 403: "forbidden", 404: "not_found"}.get(status, "rejected")
        return ProviderError(f"HTTP {status}: {_error_message(exc)}", code=code)
    if isinstance(exc, openai.APIError):  # an error event inside a stream, an unparsable body
        return RetryableError(f"the server sent an error: {exc}", code="bad_response")
    # Raised while a stream is read, where the client does not wrap them.
    if isinstance(exc, httpx2.TimeoutException):
        return RetryableError("the server stopped sending", code="timeout")
    if isinstance(exc, httpx2.TransportError):
        return RetryableError(f"the connection broke: {exc}", code="truncated")
    if isinstance(exc, ValueError):  # json.JSONDecodeError from a malformed stream chunk
        return RetryableError(f"the server sent malformed data: {exc}", code="bad_response")
    return exc if isinstance(exc, Exception) else RuntimeError(repr(exc))


def retry_after(response: httpx2.Response) -> float | None:
    """Seconds from ``retry-after-ms`` or ``retry-after`` (seconds or an HTTP date), when sent."""
    headers = response.headers
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value) / divisor
        except ValueError:
            seconds = _http_date_delay(value)
        if seconds is not None and seconds >= 0:
            return seconds
    return None


def _http_date_delay(value: str) -> float | None:
    import email.utils
    import time

    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())


def _error_code(exc: openai.APIStatusError) -> str | None:
    code = getattr(exc, "code", None)
    if code:
        return str(code)
    body = exc.body if isinstance(exc.body, dict) else {}
    inner = body.get("error", body) if isinstance(body.get("error", body), dict) else {}
    return inner.get("code")


def _error_message(exc: openai.APIStatusError) -> str:
    body = exc.body if isinstance(exc.body, dict) else {}
    inner = body.get("error", body)
    if isinstance(inner, dict) and inner.get("message"):
        return str(inner["message"])[:300]
    return str(exc)[:300]
