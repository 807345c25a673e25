"""A fake OpenAI-compatible API on loopback for tests and benchmarks; the real ``openai`` client talks to it.

``async with FakeOpenAI() as fake:``, then ``openai.AsyncOpenAI(base_url=fake.base_url, api_key="k")`` or
``openai.AsyncAzureOpenAI(azure_endpoint=fake.url, api_version=..., api_key="k")``. It speaks the wire format
the ``openai`` 3.x client parses, so the client raises what it would raise against the real service:

* ``POST /v1/chat/completions`` with ``stream: true`` sends ``chat.completion.chunk`` server-sent events: a
  first chunk with ``delta.role="assistant"`` and empty content, one chunk per scripted delta, a chunk with
  ``finish_reason``, a ``choices: []`` chunk with ``usage`` when ``stream_options.include_usage`` is set, then
  ``data: [DONE]``. Without ``stream`` it answers one ``chat.completion``. Azure's
  ``/openai/deployments/{deployment}/chat/completions?api-version=...`` is handled the same way.
* ``POST /v1/embeddings`` returns deterministic bag-of-words vectors (:func:`embed_text`): texts that share
  words are close, unrelated texts are not; float lists or base64 float32 as ``encoding_format`` asks (the
  client asks for base64 unless told otherwise); ``dimensions`` honoured.
* Fine-tuning: ``POST /v1/files`` (multipart, ``purpose=fine-tune``; every line must be a JSON object with
  ``messages``, else a 400 as OpenAI's validation would give), ``GET /v1/files/{id}``, ``POST
  /v1/fine_tuning/jobs``, ``GET /v1/fine_tuning/jobs`` (newest first; ``metadata[k]=v`` filters, as the
  client sends ``metadata={...}``), ``GET /v1/fine_tuning/jobs/{id}`` and ``POST .../{id}/cancel``. A job is
  ``validating_files`` when created; each retrieve moves it on: ``running`` (with ``trained_tokens``), then
  after :attr:`FakeOpenAI.fine_tune_polls` retrieves ``succeeded`` with ``fine_tuned_model``
  ``ft:<base>:otvet::<id>``, or ``failed`` with the message :meth:`~FakeOpenAI.fail_fine_tune` scripted.
* ``POST /v1/audio/transcriptions`` (multipart: ``file``, ``model``, ``response_format``, ``language``)
  transcribes deterministically (:func:`speech_of`): the uploaded bytes, decoded as UTF-8, are the speech;
  a ``lang:<code>|`` prefix names its language, else Cyrillic text is ``russian`` and anything else
  ``english``. ``json`` answers ``{"text"}``, ``verbose_json`` adds ``language`` (a name, as Whisper gives
  it), ``duration`` and ``segments``, ``text`` answers the bare text. As OpenAI does, it refuses a file whose
  extension is not an audio format, and ``verbose_json`` from a ``gpt-4o-*-transcribe`` model. Every request
  is kept in :attr:`FakeOpenAI.transcriptions`; :meth:`~FakeOpenAI.fail_transcriptions` and
  :meth:`~FakeOpenAI.hang_transcriptions` script faults.
* Errors have OpenAI's shape: ``{"error": {"message", "type", "param", "code"}}``.

Chat answers are scripted in a FIFO queue, one script per chat request (streamed or not) in arrival order;
with the queue empty, every request gets :attr:`FakeOpenAI.default_deltas`. What the ``openai`` 3.57 client
(on httpx2) experiences for each fault, as tests/support/test_fake_openai.py checks:

* :meth:`~FakeOpenAI.fail`, :meth:`~FakeOpenAI.context_length_exceeded`: ``create()`` raises the matching
  ``APIStatusError`` subclass (``RateLimitError``, ``InternalServerError``, ``BadRequestError`` with
  ``.code == "context_length_exceeded"``...); ``exc.response.headers`` shows ``retry-after(-ms)``.
* :meth:`~FakeOpenAI.truncate`: the chunked body stops without its last chunk and the socket closes.
  ``create()`` succeeds, the deltas arrive, then iterating raises ``openai.APIConnectionError`` (its
  ``__cause__`` is httpx2's "incomplete chunked read"). Not streamed: half the ``Content-Length`` body, and
  ``create()`` raises ``APIConnectionError``.
* :meth:`~FakeOpenAI.invalid_chunk`: the deltas arrive, then iterating raises ``json.JSONDecodeError``, which
  the client does not wrap. Not streamed: a 200 whose body is not JSON; ``create()`` raises the same.
* :meth:`~FakeOpenAI.error_event`: the deltas arrive, then iterating raises ``openai.APIError`` carrying the
  message (not an ``APIStatusError``: the status was 200). Not streamed: a 500, ``InternalServerError``.
* :meth:`~FakeOpenAI.hang`: nothing at all, not even headers, for ``seconds``: a client timeout raises
  ``openai.APITimeoutError``. A client that waits it out gets the default answer.

``disconnects`` counts streamed responses the client left before the end (watched all along, so a client
that gives up during a ``first_delay`` or a ``hang`` counts too); ``completed_streams`` counts streams sent
through ``[DONE]``. When the fake shuts down, pending answers end at once (a hanging one with a bare 500).

Standalone, for manual ``otvet ask`` tries and benchmarks (serves the default answer until Ctrl-C)::

    python -m tests.support.fake_openai --port 8901 [--delay 0.02] [--deltas 200]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import itertools
import json
import math
import re
import struct
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import uvicorn
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from tests.support.loopback import LoopbackServer

if TYPE_CHECKING:
    import openai

DEFAULT_DELTAS = ("Answer ", "from the ", "knowledge base [1].")
DEFAULT_USAGE = (50, 8)

_WORD = re.compile(r"\w+")
_BUCKETS_PER_WORD = 3
_STATUS_MESSAGES = {
    400: "Invalid request.",
    401: "Incorrect API key provided.",
    403: "You are not allowed to use this model.",
    404: "The model does not exist or you do not have access to it.",
    429: "Rate limit reached for requests. Please try again later.",
    500: "The server had an error while processing your request. Sorry about that!",
    502: "Bad gateway.",
    503: "The engine is currently overloaded, please try again later.",
}


@dataclass(frozen=True, slots=True)
class Recorded:
    """One HTTP request as the fake received it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # names lower-case
    body: Any  # parsed JSON, or None when the body was empty or not JSON
    at: float  # time.monotonic()
    deployment: str | None = None  # Azure: the {deployment} of /openai/deployments/{deployment}/...


@dataclass(frozen=True, slots=True)
class TranscriptionRequest:
    """One ``/audio/transcriptions`` request as the fake received it."""

    model: str
    response_format: str
    language: str | None
    filename: str
    content_type: str | None
    audio: bytes


#: The audio formats ``/audio/transcriptions`` accepts, by file extension (OpenAI's list).
AUDIO_EXTENSIONS = ("flac", "m4a", "mp3", "mp4", "mpeg", "mpga", "oga", "ogg", "wav", "webm")
#: Language codes the fake's speech may name (``lang:ru|``), as Whisper names the languages.
LANGUAGE_NAMES = {"en": "english", "ru": "russian", "de": "german", "fr": "french", "uk": "ukrainian"}
_LANG_PREFIX = re.compile(r"lang:([A-Za-z-]+)\|")
_CYRILLIC = re.compile("[\u0400-\u04ff]")


def speech_of(audio: bytes) -> tuple[str, str]:
    """What the fake "hears" in ``audio``, and its language as Whisper names it: the bytes as UTF-8 text;
    ``lang:<code>|`` in front names the language, else Cyrillic letters make it ``russian``, else
    ``english``. Public so that tests can make the audio they need."""
    text = audio.decode("utf-8", "replace")
    prefix = _LANG_PREFIX.match(text)
    if prefix:
        code = prefix.group(1).lower()
        return text[prefix.end() :].strip(), LANGUAGE_NAMES.get(code, code)
    return text.strip(), "russian" if _CYRILLIC.search(text) else "english"


@dataclass(frozen=True, slots=True)
class _Script:
    kind: Literal["reply", "fail", "truncate", "invalid_chunk", "error_event"]
    deltas: tuple[str, ...] = ()
    usage: tuple[int, int] | None = DEFAULT_USAGE
    delay: float = 0.0
    first_delay: float = 0.0
    finish_reason: str = "stop"
    status: int = 200
    error: dict[str, Any] | None = None
    headers: tuple[tuple[str, str], ...] = ()


def embed_text(text: str, dimensions: int = 64) -> list[float]:
    """The fake's embedding of ``text``: a hashed bag of lower-cased words, L2-normalised.

    Every word adds ±1 to a few buckets picked by a stable hash (blake2b, not ``hash()``: vectors are the same
    in every process), so the cosine of two texts grows with the words they share. Public so that tests can
    compute the vectors they expect.
    """
    vector = [0.0] * dimensions
    words = _WORD.findall(text.lower()) or [text]  # punctuation only: still a vector, never all zeros
    for word in words:
        digest = hashlib.blake2b(word.encode(), digest_size=4 * _BUCKETS_PER_WORD).digest()
        for i in range(_BUCKETS_PER_WORD):
            value = int.from_bytes(digest[4 * i : 4 * i + 4], "little")
            vector[(value >> 1) % dimensions] += 1.0 if value & 1 else -1.0
    norm = math.sqrt(sum(x * x for x in vector))
    if norm == 0:  # the buckets cancelled out
        vector[0], norm = 1.0, 1.0
    return [x / norm for x in vector]


def loopback_http_client() -> openai.DefaultAsyncHttpxClient:
    """The ``openai`` client's default HTTP client minus TLS certificates, for ``http_client=``.

    Loading the CA bundle costs ~50 ms per client, which adds up in a suite that builds one per test; plain
    HTTP to the fake on loopback never needs it.
    """
    import openai  # here: the standalone server starts faster without it

    return openai.DefaultAsyncHttpxClient(verify=False)


class FakeOpenAI:
    """An OpenAI-compatible server, run by uvicorn inside the test's event loop on a free loopback port."""

    def __init__(self, *, model: str = "gpt-test", embed_dimensions: int = 64) -> None:
        self.model = model  # answered when a request names none, and listed by GET /v1/models
        self.embed_dimensions = embed_dimensions
        self.port = 0
        self.base_url = self.url = ""
        self.requests: list[Recorded] = []
        self.record_requests = True  # off for long benchmarks: the list would grow without bound
        self.disconnects = 0
        self.completed_streams = 0
        # The answer when no script is queued; benchmarks set e.g. ``["word "] * 500``.
        self.default_deltas: list[str] = list(DEFAULT_DELTAS)
        self.default_delay = 0.0
        self.default_usage: tuple[int, int] | None = DEFAULT_USAGE
        self._scripts: deque[_Script] = deque()
        self._embedding_faults: deque[_Script] = deque()
        self._transcription_faults: deque[_Script] = deque()
        self.transcriptions: list[TranscriptionRequest] = []
        self._ids = itertools.count(1)
        # Fine-tuning: uploaded files by id, jobs by id (in creation order), and scripted failures.
        self.files: dict[str, _File] = {}
        self.fine_tuning_jobs: dict[str, dict[str, Any]] = {}
        self.fine_tune_polls = 2  # retrieves before a job succeeds (or fails, when scripted)
        self._fine_tune_failures: deque[str] = deque()
        self._polls: dict[str, int] = {}
        self._closing = False
        self._interrupts: set[asyncio.Event] = set()  # of the responses in flight: set to wake them
        routes = []
        for prefix in ("/v1", "/openai/deployments/{deployment}"):
            routes += [
                Route(f"{prefix}/chat/completions", self._chat, methods=["POST"]),
                Route(f"{prefix}/embeddings", self._embeddings, methods=["POST"]),
                Route(f"{prefix}/audio/transcriptions", self._transcribe, methods=["POST"]),
            ]
        routes.append(Route("/v1/models", self._models, methods=["GET"]))
        routes += [
            Route("/v1/files", self._upload, methods=["POST"]),
            Route("/v1/files/{file_id}", self._file, methods=["GET"]),
            Route("/v1/fine_tuning/jobs", self._create_fine_tune, methods=["POST"]),
            Route("/v1/fine_tuning/jobs", self._list_fine_tunes, methods=["GET"]),
            Route("/v1/fine_tuning/jobs/{job_id}", self._retrieve_fine_tune, methods=["GET"]),
            Route("/v1/fine_tuning/jobs/{job_id}/cancel", self._cancel_fine_tune, methods=["POST"]),
        ]
        handlers = {404: self._not_found, 405: self._not_found}
        self.app = Starlette(routes=routes, exception_handlers=handlers)

    async def __aenter__(self) -> FakeOpenAI:
        self._server = LoopbackServer(self.app, "the fake OpenAI server")
        self.port = await self._server.start()
        self.url = f"http://127.0.0.1:{self.port}"
        self.base_url = f"{self.url}/v1"
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        # Responses that hang or pause answer now instead of holding up uvicorn's graceful shutdown.
        self._closing = True
        for interrupt in self._interrupts:
            interrupt.set()
        await self._server.stop()

    # What tests look at.

    @property
    def chat_requests(self) -> list[dict[str, Any]]:
        """Bodies of the chat completion requests, in arrival order."""
        return [r.body for r in self.requests if r.path.endswith("/chat/completions") and r.method == "POST"]

    @property
    def embedding_requests(self) -> list[dict[str, Any]]:
        """Bodies of the embedding requests, in arrival order."""
        return [r.body for r in self.requests if r.path.endswith("/embeddings") and r.method == "POST"]

    @property
    def uploads(self) -> list[Recorded]:
        """The file uploads (``POST /v1/files``), in arrival order."""
        return [r for r in self.requests if r.path == "/v1/files" and r.method == "POST"]

    @property
    def fine_tune_creates(self) -> list[dict[str, Any]]:
        """Bodies of the requests that started a fine-tuning job, in arrival order."""
        return [r.body for r in self.requests if r.path == "/v1/fine_tuning/jobs" and r.method == "POST"]

    def examples(self, file_id: str) -> list[dict[str, Any]]:
        """The training examples of an uploaded JSONL file."""
        return [json.loads(line) for line in self.files[file_id].data.decode().splitlines() if line.strip()]

    async def wait_for_disconnects(self, count: int = 1, timeout: float = 5) -> None:  # noqa: ASYNC109
        """Wait until ``count`` streams have been abandoned by the client (it notices a moment after)."""
        deadline = time.monotonic() + timeout
        while self.disconnects < count:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"expected {count} disconnect(s) within {timeout}s, saw {self.disconnects}"
                )
            await asyncio.sleep(0.01)

    def reset(self) -> None:
        """Forget queued scripts, faults, recorded requests and counters (the default answer stays)."""
        self._scripts.clear()
        self._embedding_faults.clear()
        self._transcription_faults.clear()
        self.transcriptions.clear()
        self._fine_tune_failures.clear()
        self.requests.clear()
        self.disconnects = self.completed_streams = 0

    # Scripting chat answers: each call queues the answer to one chat request (fail: ``times`` of them).

    def reply(
        self,
        *deltas: str,
        usage: tuple[int, int] | None = DEFAULT_USAGE,
        delay: float = 0.0,
        first_delay: float = 0.0,
        finish_reason: str = "stop",
    ) -> FakeOpenAI:
        """Answer with these deltas; ``delay`` between them, ``first_delay`` before anything (headers too).

        ``usage`` is (prompt, completion) tokens, or None for a server that reports none. Not streamed, the
        answer waits ``first_delay + delay * len(deltas)``, as long as the stream would take.
        """
        return self._queue(
            _Script("reply", deltas, usage, delay, first_delay, finish_reason),
        )

    def reply_many(self, deltas: int, text: str = "word ", delay: float = 0.0) -> FakeOpenAI:
        """A long answer: ``deltas`` times ``text``, for benchmarks."""
        return self.reply(*[text] * deltas, usage=(50, deltas), delay=delay)

    def fail(
        self,
        status: int,
        *,
        message: str | None = None,
        code: str | None = None,
        type: str = "server_error",
        retry_after: str | None = None,
        retry_after_ms: str | None = None,
        times: int = 1,
    ) -> FakeOpenAI:
        """The next ``times`` chat requests get HTTP ``status`` with an OpenAI error body."""
        headers = (("retry-after", retry_after), ("retry-after-ms", retry_after_ms))
        script = _Script(
            "fail",
            status=status,
            error=_error(message or _STATUS_MESSAGES.get(status, f"HTTP {status}"), type, code),
            headers=tuple((name, value) for name, value in headers if value is not None),
        )
        for _ in range(times):
            self._queue(script)
        return self

    def context_length_exceeded(self, times: int = 1) -> FakeOpenAI:
        """A 400 ``context_length_exceeded``, as OpenAI answers a prompt longer than the model's window."""
        message = (
            "This model's maximum context length is 8192 tokens. However, your messages resulted in "
            "9000 tokens. Please reduce the length of the messages."
        )
        return self.fail(
            400, message=message, code="context_length_exceeded", type="invalid_request_error", times=times
        )

    def truncate(self, *deltas: str) -> FakeOpenAI:
        """Stream these deltas, then close the connection mid-body: no finish chunk, no ``[DONE]``."""
        return self._queue(_Script("truncate", deltas))

    def invalid_chunk(self, *deltas: str) -> FakeOpenAI:
        """Stream these deltas, then ``data: {not json``, then end the body."""
        return self._queue(_Script("invalid_chunk", deltas))

    def hang(self, seconds: float = 3600) -> FakeOpenAI:
        """Accept the request and send nothing, not even headers, for ``seconds``."""
        return self._queue(
            _Script("reply", tuple(self.default_deltas), self.default_usage, first_delay=seconds)
        )

    def error_event(self, *deltas: str, message: str = "overloaded") -> FakeOpenAI:
        """Stream these deltas, then ``data: {"error": {...}}``, as OpenAI does when it fails mid-stream."""
        return self._queue(_Script("error_event", deltas, error=_error(message, "server_error", None)))

    def fail_embeddings(
        self, status: int, *, times: int = 1, retry_after: str | None = None, message: str | None = None
    ) -> FakeOpenAI:
        """The next ``times`` embedding requests get HTTP ``status`` with an OpenAI error body."""
        script = _Script(
            "fail",
            status=status,
            error=_error(message or _STATUS_MESSAGES.get(status, f"HTTP {status}"), "server_error", None),
            headers=(("retry-after", retry_after),) if retry_after is not None else (),
        )
        self._embedding_faults.extend([script] * times)
        return self

    def fail_transcriptions(
        self,
        status: int,
        *,
        times: int = 1,
        code: str | None = None,
        message: str | None = None,
        retry_after: str | None = None,
    ) -> FakeOpenAI:
        """The next ``times`` transcription requests get HTTP ``status`` with an OpenAI error body (``code``:
        its error code, e.g. ``insufficient_quota`` with a 429)."""
        script = _Script(
            "fail",
            status=status,
            error=_error(message or _STATUS_MESSAGES.get(status, f"HTTP {status}"), "server_error", code),
            headers=(("retry-after", retry_after),) if retry_after is not None else (),
        )
        self._transcription_faults.extend([script] * times)
        return self

    def hang_transcriptions(self, seconds: float = 3600, *, times: int = 1) -> FakeOpenAI:
        """The next ``times`` transcription requests get no answer for ``seconds`` (then the usual one)."""
        self._transcription_faults.extend([_Script("reply", first_delay=seconds)] * times)
        return self

    def fail_fine_tune(self, message: str = "The job failed due to an internal error.") -> FakeOpenAI:
        """The next fine-tuning job created ends ``failed`` with this error message."""
        self._fine_tune_failures.append(message)
        return self

    def _queue(self, script: _Script) -> FakeOpenAI:
        self._scripts.append(script)
        return self

    # HTTP.

    async def _record(self, request: Request) -> Any:
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        if self.record_requests:
            self.requests.append(
                Recorded(
                    method=request.method,
                    path=request.url.path,
                    query=dict(request.query_params),
                    headers=dict(request.headers),
                    body=body,
                    at=time.monotonic(),
                    deployment=request.path_params.get("deployment"),
                )
            )
        return body

    async def _chat(self, request: Request) -> Response:
        body = await self._record(request)
        if not isinstance(body, dict):
            return _error_response(400, "We could not parse the JSON body of your request.", param=None)
        if not isinstance(body.get("messages"), list) or not body["messages"]:
            return _error_response(400, "'messages' is a required property", param="messages")
        if self._scripts:
            script = self._scripts.popleft()
        else:
            script = _Script("reply", tuple(self.default_deltas), self.default_usage, self.default_delay)
        if script.kind == "fail":
            return _error_response(script.status, error=script.error, headers=script.headers)
        return _Answer(self, script, body, request_id=f"fake{next(self._ids)}")

    async def _embeddings(self, request: Request) -> Response:
        body = await self._record(request)
        if not isinstance(body, dict):
            return _error_response(400, "We could not parse the JSON body of your request.", param=None)
        if self._embedding_faults:
            fault = self._embedding_faults.popleft()
            return _error_response(fault.status, error=fault.error, headers=fault.headers)
        texts = _embedding_inputs(body.get("input"))
        if texts is None:
            return _error_response(400, "'input' must be a non-empty string or array of them.", param="input")
        dimensions = body.get("dimensions", self.embed_dimensions)
        if not isinstance(dimensions, int) or isinstance(dimensions, bool) or dimensions < 1:
            return _error_response(400, "'dimensions' must be a positive integer.", param="dimensions")
        encoding = body.get("encoding_format") or "float"
        if encoding not in ("float", "base64"):
            return _error_response(
                400, "'encoding_format' must be 'float' or 'base64'.", param="encoding_format"
            )
        data = []
        for index, text in enumerate(texts):
            vector = embed_text(text, dimensions)
            embedding: Any = vector
            if encoding == "base64":  # little-endian float32, which the client decodes with numpy/array
                embedding = base64.b64encode(struct.pack(f"<{dimensions}f", *vector)).decode()
            data.append({"object": "embedding", "index": index, "embedding": embedding})
        tokens = sum(max(1, len(_WORD.findall(text))) for text in texts)
        return JSONResponse(
            {
                "object": "list",
                "data": data,
                "model": body.get("model") or self.model,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            },
            headers={"x-request-id": f"req_fake{next(self._ids)}"},
        )

    async def _transcribe(self, request: Request) -> Response:
        await self._record(request)
        async with request.form() as form:  # closes the spooled upload
            upload = form.get("file")
            fields = {name: form.get(name) for name in ("model", "response_format", "language")}
            if not isinstance(upload, UploadFile):
                return _error_response(400, "'file' is a required property", param="file")
            audio, filename, content_type = await upload.read(), upload.filename or "", upload.content_type
        model, language = str(fields["model"] or ""), fields["language"]
        response_format = str(fields["response_format"] or "json")
        self.transcriptions.append(
            TranscriptionRequest(
                model, response_format, str(language) if language else None, filename, content_type, audio
            )
        )
        if self._transcription_faults:
            fault = self._transcription_faults.popleft()
            if fault.kind == "fail":
                return _error_response(fault.status, error=fault.error, headers=fault.headers)
            if not await self._wait(fault.first_delay):
                return Response(status_code=500)  # the fake is shutting down
        if not model:
            return _error_response(400, "'model' is a required property", param="model")
        if filename.rsplit(".", 1)[-1].lower() not in AUDIO_EXTENSIONS:
            supported = ", ".join(f"'{ext}'" for ext in AUDIO_EXTENSIONS)
            return _error_response(
                400, f"Invalid file format. Supported formats: [{supported}]", param="file"
            )
        if response_format not in ("json", "text", "srt", "vtt", "verbose_json"):
            return _error_response(
                400, f"Invalid response_format {response_format!r}", param="response_format"
            )
        if response_format not in ("json", "text") and "transcribe" in model:
            message = f"response_format '{response_format}' is not compatible with model '{model}'."
            return _error_response(400, message, param="response_format")
        text, heard = speech_of(audio)
        if language:
            heard = LANGUAGE_NAMES.get(str(language), str(language))
        if response_format in ("text", "srt", "vtt"):
            return Response(text, media_type="text/plain")
        if response_format == "json":
            return JSONResponse({"text": text, "usage": {"type": "duration", "seconds": 1}})
        duration = round(max(1.0, len(text) / 15), 2)  # about fifteen characters a second of speech
        segment = {"id": 0, "seek": 0, "start": 0.0, "end": duration, "text": text, "tokens": []}
        segment |= {"temperature": 0.0, "avg_logprob": -0.2, "compression_ratio": 1.0, "no_speech_prob": 0.01}
        body = {"task": "transcribe", "language": heard, "duration": duration, "text": text}
        return JSONResponse(body | {"segments": [segment] if text else []})

    async def _wait(self, seconds: float) -> bool:
        """Wait ``seconds`` unless the fake shuts down meanwhile; False if it did."""
        interrupt = asyncio.Event()
        self._interrupts.add(interrupt)
        if self._closing:
            interrupt.set()
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(interrupt.wait(), seconds)
        finally:
            self._interrupts.discard(interrupt)
        return not interrupt.is_set()

    async def _models(self, request: Request) -> Response:
        await self._record(request)
        model = {"id": self.model, "object": "model", "created": 0, "owned_by": "otvet-tests"}
        return JSONResponse({"object": "list", "data": [model]})

    # Files and fine-tuning.

    async def _upload(self, request: Request) -> Response:
        await self._record(request)
        async with request.form() as form:  # closes the spooled upload
            upload, purpose = form.get("file"), form.get("purpose")
            if not isinstance(upload, UploadFile):
                return _error_response(400, "'file' is a required property", param="file")
            data, filename = await upload.read(), upload.filename or "upload.jsonl"
        if purpose != "fine-tune":
            return _error_response(400, f"'purpose' {purpose!r} is not supported here", param="purpose")
        for number, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
            try:
                example = json.loads(line) if line.strip() else {"messages": []}
            except ValueError:
                example = None
            if not isinstance(example, dict) or not isinstance(example.get("messages"), list):
                return _error_response(
                    400, f"Invalid file format: line {number} has no 'messages'", param="file"
                )
        file = _File(f"file-fake{next(self._ids)}", filename, str(purpose), data)
        self.files[file.id] = file
        return JSONResponse(file.json())

    async def _file(self, request: Request) -> Response:
        await self._record(request)
        file = self.files.get(request.path_params["file_id"])
        if file is None:
            return _error_response(404, "No such File object", param="id")
        return JSONResponse(file.json())

    async def _create_fine_tune(self, request: Request) -> Response:
        body = await self._record(request)
        if not isinstance(body, dict) or not body.get("model"):
            return _error_response(400, "'model' is a required property", param="model")
        if body.get("training_file") not in self.files:
            return _error_response(400, "invalid training_file", param="training_file")
        job_id = f"ftjob-fake{next(self._ids)}"
        failure = self._fine_tune_failures.popleft() if self._fine_tune_failures else None
        self.fine_tuning_jobs[job_id] = {
            "id": job_id,
            "object": "fine_tuning.job",
            "created_at": int(time.time()),
            "error": None,
            "fine_tuned_model": None,
            "finished_at": None,
            "hyperparameters": {"n_epochs": "auto", "batch_size": "auto", "learning_rate_multiplier": "auto"},
            "model": body["model"],
            "organization_id": "org-fake",
            "result_files": [],
            "seed": 42,
            "status": "validating_files",
            "trained_tokens": None,
            "training_file": body["training_file"],
            "validation_file": None,
            "metadata": body.get("metadata"),
            "suffix": body.get("suffix"),
            "_failure": failure,
        }
        self._polls[job_id] = 0
        return JSONResponse(self._public(job_id))

    async def _list_fine_tunes(self, request: Request) -> Response:
        await self._record(request)
        wanted = {
            key[len("metadata[") : -1]: value
            for key, value in request.query_params.items()
            if key.startswith("metadata[") and key.endswith("]")
        }
        found = [
            self._public(job_id)
            for job_id, job in reversed(self.fine_tuning_jobs.items())
            if all((job["metadata"] or {}).get(key) == value for key, value in wanted.items())
        ]
        return JSONResponse({"object": "list", "data": found, "has_more": False})

    async def _retrieve_fine_tune(self, request: Request) -> Response:
        await self._record(request)
        job_id = request.path_params["job_id"]
        job = self.fine_tuning_jobs.get(job_id)
        if job is None:
            return _error_response(404, f"Could not find fine tune job: {job_id}", param="fine_tune_id")
        if job["status"] in ("validating_files", "queued", "running"):
            self._polls[job_id] += 1
            polls = self._polls[job_id]
            job["status"], job["trained_tokens"] = "running", 1000 * polls
            if polls >= self.fine_tune_polls:
                job["finished_at"] = int(time.time())
                if job["_failure"] is not None:
                    job["status"], job["trained_tokens"] = "failed", None
                    job["error"] = {
                        "code": "invalid_training_file",
                        "message": job["_failure"],
                        "param": None,
                    }
                else:
                    job["status"] = "succeeded"
                    job["fine_tuned_model"] = f"ft:{job['model']}:otvet:{job['suffix'] or ''}:{job_id}"
        return JSONResponse(self._public(job_id))

    async def _cancel_fine_tune(self, request: Request) -> Response:
        await self._record(request)
        job = self.fine_tuning_jobs.get(request.path_params["job_id"])
        if job is None:
            return _error_response(404, "Could not find fine tune job", param="fine_tune_id")
        if job["status"] in ("succeeded", "failed", "cancelled"):
            return _error_response(400, f"Job has already {job['status']}", param=None)
        job["status"], job["finished_at"] = "cancelled", int(time.time())
        return JSONResponse(self._public(job["id"]))

    def _public(self, job_id: str) -> dict[str, Any]:
        return {
            k: v for k, v in self.fine_tuning_jobs[job_id].items() if not k.startswith("_") and k != "suffix"
        }

    async def _not_found(self, request: Request, exc: Exception) -> Response:
        await self._record(request)
        status = exc.status_code if isinstance(exc, HTTPException) else 404
        message = f"Invalid URL ({request.method} {request.url.path})"
        return _error_response(status, message, type="invalid_request_error", param=None)


class _Answer(Response):
    """A scripted chat answer, streamed or whole, watching for the client going away all the while."""

    def __init__(self, fake: FakeOpenAI, script: _Script, body: dict[str, Any], *, request_id: str) -> None:
        self.fake, self.script, self.request_id = fake, script, request_id
        self.stream = bool(body.get("stream"))
        options = body.get("stream_options")
        self.include_usage = isinstance(options, dict) and bool(options.get("include_usage"))
        self.model = body.get("model") or fake.model
        self.created = int(time.time())
        self.interrupt = asyncio.Event()  # the client left, or the fake is shutting down
        self.client_gone = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The request body has been read: the next message uvicorn delivers is http.disconnect.
        watcher = asyncio.create_task(self._watch(receive))
        self.fake._interrupts.add(self.interrupt)
        if self.fake._closing:  # arrived while the fake was stopping: no waiting
            self.interrupt.set()
        try:
            if not await self._pause(self.script.first_delay):
                if self.stream and self.client_gone:
                    self.fake.disconnects += 1
                return
            if self.stream:
                await self._send_stream(send)
            else:
                await self._send_whole(scope, receive, send)
        finally:
            self.fake._interrupts.discard(self.interrupt)
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher

    async def _watch(self, receive: Receive) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        self.client_gone = True
        self.interrupt.set()

    async def _pause(self, seconds: float) -> bool:
        """Wait ``seconds`` (at least one turn of the loop); False if the response should be abandoned."""
        if seconds > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.interrupt.wait(), seconds)
        else:
            await asyncio.sleep(0)  # let uvicorn notice a closed socket between two chunks
        return not self.interrupt.is_set()

    def _headers(self, content_type: bytes) -> list[tuple[bytes, bytes]]:
        return [(b"content-type", content_type), (b"x-request-id", f"req_{self.request_id}".encode())]

    # Streamed.

    async def _send_stream(self, send: Send) -> None:
        script = self.script
        headers = [*self._headers(b"text/event-stream; charset=utf-8"), (b"cache-control", b"no-cache")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await self._event(send, self._chunk({"role": "assistant", "content": "", "refusal": None}))
        for number, delta in enumerate(script.deltas):
            if number and not await self._pause(script.delay):
                await self._abandon(send)
                return
            await self._event(send, self._chunk({"content": delta}))
        if not await self._pause(0):
            await self._abandon(send)
        elif script.kind == "truncate":
            return  # without more_body=False: uvicorn closes the socket mid-body
        elif script.kind == "invalid_chunk":
            await send({"type": "http.response.body", "body": b"data: {not json\n\n", "more_body": False})
        elif script.kind == "error_event":
            await self._event(send, {"error": script.error}, more_body=False)
        else:
            await self._event(send, self._chunk({}, finish_reason=script.finish_reason))
            if self.include_usage and script.usage is not None:
                await self._event(send, self._usage_chunk(script.usage))
            await send({"type": "http.response.body", "body": b"data: [DONE]\n\n", "more_body": False})
            self.fake.completed_streams += 1

    async def _abandon(self, send: Send) -> None:
        if self.client_gone:
            self.fake.disconnects += 1
        else:  # the fake is shutting down: end the body so that the client is not left waiting
            await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _event(self, send: Send, data: dict[str, Any], *, more_body: bool = True) -> None:
        line = b"data: " + json.dumps(data, separators=(",", ":")).encode() + b"\n\n"
        await send({"type": "http.response.body", "body": line, "more_body": more_body})

    def _chunk(self, delta: dict[str, Any], *, finish_reason: str | None = None) -> dict[str, Any]:
        chunk = self._envelope("chat.completion.chunk")
        chunk["choices"] = [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}]
        if self.include_usage:
            chunk["usage"] = None  # as OpenAI: every chunk but the last has a null usage
        return chunk

    def _usage_chunk(self, usage: tuple[int, int]) -> dict[str, Any]:
        chunk = self._envelope("chat.completion.chunk")
        chunk["choices"] = []
        chunk["usage"] = _usage(usage)
        return chunk

    def _envelope(self, kind: str) -> dict[str, Any]:
        return {
            "id": f"chatcmpl-{self.request_id}",
            "object": kind,
            "created": self.created,
            "model": self.model,
            "system_fingerprint": "fp_fake",
        }

    # Whole.

    async def _send_whole(self, scope: Scope, receive: Receive, send: Send) -> None:
        script = self.script
        if not await self._pause(script.delay * len(script.deltas)):
            return
        if script.kind == "error_event":
            await _error_response(500, error=script.error)(scope, receive, send)
            return
        if script.kind == "invalid_chunk":
            payload = b"{not json"
        else:
            answer = self._envelope("chat.completion")
            message = {"role": "assistant", "content": "".join(script.deltas), "refusal": None}
            answer["choices"] = [
                {"index": 0, "message": message, "logprobs": None, "finish_reason": script.finish_reason}
            ]
            if script.usage is not None:
                answer["usage"] = _usage(script.usage)
            payload = json.dumps(answer).encode()
        headers = [*self._headers(b"application/json"), (b"content-length", str(len(payload)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        if script.kind == "truncate":  # half the promised body, then uvicorn closes the socket
            await send(
                {"type": "http.response.body", "body": payload[: len(payload) // 2], "more_body": True}
            )
            return
        await send({"type": "http.response.body", "body": payload, "more_body": False})


@dataclass(frozen=True, slots=True)
class _File:
    id: str
    filename: str
    purpose: str
    data: bytes

    def json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "file",
            "bytes": len(self.data),
            "created_at": int(time.time()),
            "filename": self.filename,
            "purpose": self.purpose,
            "status": "processed",
        }


def _usage(usage: tuple[int, int]) -> dict[str, int]:
    prompt, completion = usage
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _error(message: str, type: str, code: str | None, param: str | None = None) -> dict[str, Any]:
    return {"message": message, "type": type, "param": param, "code": code}


def _error_response(
    status: int,
    message: str = "",
    *,
    type: str = "invalid_request_error",
    param: str | None = None,
    error: dict[str, Any] | None = None,
    headers: Sequence[tuple[str, str]] = (),
) -> Response:
    body = {"error": error if error is not None else _error(message, type, None, param)}
    return JSONResponse(body, status_code=status, headers=dict(headers))


def _embedding_inputs(value: Any) -> list[str] | None:
    """The texts to embed: a string, a list of strings, or token arrays (a token's id stands for a word)."""
    if isinstance(value, str):
        return [value] if value else None
    if not isinstance(value, list) or not value:
        return None
    if all(isinstance(token, int) for token in value):
        return [" ".join(f"t{token}" for token in value)]
    texts: list[str] = []
    for item in value:
        if isinstance(item, str) and item:
            texts.append(item)
        elif isinstance(item, list) and item and all(isinstance(token, int) for token in item):
            texts.append(" ".join(f"t{token}" for token in item))
        else:
            return None
    return texts


# Standalone.


async def serve(
    host: str, port: int, *, delay: float, deltas: int | None, model: str, verbose: bool, text: str = "word "
) -> None:
    """Serve the default answer until Ctrl-C (uvicorn's own signal handling)."""
    fake = FakeOpenAI(model=model)
    fake.record_requests = False
    fake.default_delay = delay
    if deltas is not None:
        fake.default_deltas = [text] * deltas
        fake.default_usage = (50, deltas * max(len(text.split()), 1))
    config = uvicorn.Config(
        fake.app, host=host, port=port, lifespan="off", access_log=verbose, log_level="info"
    )
    print(f"fake OpenAI API on http://{host}:{port}/v1 (model {model!r}; any API key)", flush=True)
    await uvicorn.Server(config).serve()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m tests.support.fake_openai",
        description="A fake OpenAI-compatible API that streams the same answer to every chat request.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8901)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds between two streamed deltas")
    parser.add_argument("--deltas", type=int, default=None, help="answer with this many deltas of --text")
    parser.add_argument("--text", default="word ", help="the text of each delta (default 'word ')")
    parser.add_argument("--model", default="gpt-test")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    asyncio.run(
        serve(
            args.host,
            args.port,
            delay=args.delay,
            deltas=args.deltas,
            model=args.model,
            verbose=args.verbose,
            text=args.text,
        )
    )


if __name__ == "__main__":
    main()
