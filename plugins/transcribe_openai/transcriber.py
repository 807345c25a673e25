"""The OpenAI transcriber: ``/v1/audio/transcriptions`` of OpenAI, Azure OpenAI or an OpenAI-compatible
server (a local faster-whisper server, for one).

The client is the chat provider's (llm_openai/client.py): the same settings, cleartext warning and error
sorting, with its own server and key when ``transcription.base_url`` or ``api_key`` is set. Failures worth
another try (429, 5xx, timeouts, dropped connections) are retried ``transcription.max_retries`` times with
the OpenAI section's backoff; what is left becomes a :class:`TranscriptionError` with a stable code.

Whisper models answer ``verbose_json``, which names the detected language (``russian``, mapped to ``ru``);
the ``gpt-4o-*-transcribe`` models only answer ``json``, without one.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import openai

from otvet.core.llm import ProviderError
from otvet.core.resilience import RetryableError, RetryPolicy, call_with_retries
from otvet.core.transcription import Transcriber, Transcript, TranscriptionError
from otvet.plugins.llm_openai.client import classify, describe, make_client
from otvet.plugins.transcribe_openai.languages import language_code

if TYPE_CHECKING:
    import httpx2

    from otvet.config.settings import OpenAISettings, TranscriptionSettings
    from otvet.core.app import Otvet

log = logging.getLogger(__name__)

#: How the failures the chat client sorts (llm_openai/client.py) read for a transcription.
_CODES = {
    "timeout": "timeout",
    "rate_limited": "rate_limited",
    "unauthorized": "unauthorized",
    "forbidden": "unauthorized",
    "not_found": "rejected",
    "rejected": "rejected",
}


def connection(openai_settings: OpenAISettings, settings: TranscriptionSettings) -> OpenAISettings:
    """The ``openai`` section's connection, or this section's own server and key when either is set (a key
    never goes to a server it was not given for), with the transcription timeout."""
    update: dict[str, Any] = {"read_timeout": settings.timeout_seconds}
    if settings.own_server:
        update |= {
            "api_key": settings.api_key,
            "base_url": settings.base_url,
            "azure_api_version": "",
            "organization": "",
            "project": "",
        }
    return openai_settings.model_copy(update=update)


class OpenAITranscriber(Transcriber):
    """Transcribes with ``settings.transcription.model`` (Azure: the deployment's name)."""

    name = "openai"

    def __init__(self, otvet: Otvet, *, http_client: httpx2.AsyncClient | None = None) -> None:
        settings = otvet.settings.transcription
        chat = otvet.settings.openai
        server = connection(chat, settings)
        if not server.configured:
            raise ValueError(
                "OTVET_TRANSCRIPTION__PROVIDER=openai needs OTVET_TRANSCRIPTION__API_KEY or __BASE_URL "
                "(or the OTVET_OPENAI__ ones)"
            )
        self.model = settings.model
        self.timeout = settings.timeout_seconds
        self.response_format = "verbose_json" if "whisper" in self.model.lower() else "json"
        # A client of its own: closing the chat provider must not close the transcriber's connections.
        self.client = make_client(server, http_client=http_client)
        self.policy = RetryPolicy(
            attempts=settings.max_retries + 1,
            base_delay=chat.retry_base_delay,
            max_delay=chat.retry_max_delay,
            max_retry_after=chat.max_retry_after,
        )
        self.label = describe("OpenAI transcription", self.model, self.client)

    async def transcribe(
        self, audio: bytes, *, filename: str, mime_type: str | None, language_hint: str | None
    ) -> Transcript:
        options: dict[str, Any] = {"response_format": self.response_format, "timeout": self.timeout}
        if language_hint:
            options["language"] = language_hint
        upload = (filename, audio, mime_type) if mime_type else (filename, audio)

        async def call() -> Any:
            try:
                return await self.client.audio.transcriptions.create(model=self.model, file=upload, **options)
            except openai.APIStatusError as exc:
                # The account is out of credit: no retry will change that.
                if _error_code(exc) == "insufficient_quota":
                    raise TranscriptionError(f"{self.label}: the account's quota is spent", "quota") from exc
                raise classify(exc) from exc
            except Exception as exc:
                raise classify(exc) from exc

        try:
            response = await call_with_retries(call, policy=self.policy, what=self.label)
        except TranscriptionError:
            raise
        except (RetryableError, ProviderError) as exc:
            raise TranscriptionError(f"{self.label}: {exc}", _CODES.get(exc.code, "upstream")) from exc
        except Exception as exc:
            raise TranscriptionError(f"{self.label}: {exc}", "upstream") from exc
        text = response if isinstance(response, str) else str(getattr(response, "text", "") or "")
        language = language_code(getattr(response, "language", None)) or language_hint
        return Transcript(text.strip(), language)

    async def aclose(self) -> None:
        await self.client.close()


def _error_code(exc: openai.APIStatusError) -> str | None:
    body = exc.body if isinstance(exc.body, dict) else {}
    inner = body.get("error", body)
    code = getattr(exc, "code", None) or (inner.get("code") if isinstance(inner, dict) else None)
    return str(code) if code else None
