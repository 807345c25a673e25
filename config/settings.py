"""Otvet's settings: environment variables prefixed ``OTVET_``, a ``.env`` file, or ``otvet.toml``.

Nested sections use a double underscore: ``OTVET_EXTRACTIVE__MIN_RELEVANCE=0.4``. A third-party plugin reads
a section of its own, typed by its pydantic model, with :meth:`Settings.for_plugin`: ``OTVET_<PLUGIN>__KEY``
variables (``.env`` too) and the ``[<plugin>]`` table of ``otvet.toml``, the same way as the built-in
sections.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import os
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

M = TypeVar("M", bound=BaseModel)


def env_list(value: Any) -> Any:
    """A list setting as the environment gives it: ``"a,b"`` or a JSON list such as ``"[]"``; other values
    (a list from TOML or code) pass through to the field's own validation."""
    if isinstance(value, str):
        if value.lstrip().startswith("["):
            try:
                return json.loads(value)
            except RecursionError:
                # Pydantic reports a ValueError as a validation error naming the setting; not this one.
                raise ValueError("is a JSON list nested too deeply") from None
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def http_url(value: str) -> str:
    """A server's URL as a setting gives it: empty, or ``http(s)://host[...]``; anything else is refused
    now rather than found out at the first request."""
    value = value.strip()
    if not value:
        return value
    parsed = urlsplit(value)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ValueError(f"{value!r} is not an http:// or https:// URL with a host")
    return value


def normalised_origins(value: list[str]) -> list[str]:
    """Origins as browsers send them: ``https://host[:port]`` in lower case without a path; a trailing slash
    or upper case in a setting would otherwise never match."""
    return [origin.strip().rstrip("/").lower() for origin in value if origin.strip()]


class StorageRoles(BaseModel):
    """A storage backend per role; unset roles use ``storage``, except usage and feedback, which follow
    conversations (they read its messages)."""

    model_config = ConfigDict(extra="forbid")

    coordination: str | None = None
    conversations: str | None = None
    usage: str | None = None
    feedback: str | None = None
    jobs: str | None = None
    knowledge: str | None = None
    accounts: str | None = None


class ExtractiveSettings(BaseModel):
    """The built-in extractive answerer (no external service)."""

    #: Below this relevance (0..1) of the best passage Otvet says it does not know instead of guessing. Empty:
    #: the threshold calibrated for the retrieval in use (0.3 with the built-in embedder, 0.4 with BM25
    #: alone; docs/quality.md).
    min_relevance: float | None = Field(None, ge=0.0, le=1.0)
    #: A stored Q&A pair answers directly when its question covers at least this share of the user's.
    qa_min_relevance: float = Field(0.75, ge=0.0, le=1.0)
    #: How many sentences an extractive answer quotes at most.
    max_sentences: int = Field(3, ge=1, le=20)
    #: Simulated streaming: the answer is emitted in pieces of about this many characters.
    chunk_chars: int = Field(48, ge=1)


class RetrievalSettings(BaseModel):
    """Which retriever runs and how many passages reach the provider."""

    retriever: str = "bm25"
    top_k: int = Field(5, ge=1, le=100)
    #: BM25's term-frequency saturation and length normalisation (Lucene's defaults).
    bm25_k1: float = Field(1.5, ge=0.0, le=5.0)
    bm25_b: float = Field(0.75, ge=0.0, le=1.0)
    #: A file of synonym groups (one comma-separated group a line, ``#`` comments) added to the built-in
    #: ones: a question holding one word of a group also finds pages holding another. See docs/knowledge.md.
    synonyms_file: Path | None = None
    #: How often (seconds) a process that answers questions checks the database for a newly promoted
    #: knowledge version (in the background; at least every 0.1 s).
    refresh_seconds: float = Field(5.0, ge=0.0)
    #: The embedder (a name registered through ``register_embedders``) that gives chunks vectors for hybrid
    #: retrieval: ``use`` (on this machine, no service), ``openai``; empty: BM25 alone. See docs/knowledge.md.
    embedder: str = "use"
    #: How much a passage's similarity in meaning counts against the share of the question's words it holds:
    #: its relevance is (words + vector_weight × similarity) / (1 + vector_weight).
    vector_weight: float = Field(1.0, ge=0.0, le=10.0)
    #: How many of the best BM25 hits and of the nearest vectors are fused.
    vector_candidates: int = Field(50, ge=1, le=1000)
    #: Seconds a question waits for its own embedding; past that (or on an error) BM25 alone searches.
    embed_timeout: float = Field(2.0, gt=0)


class OpenAISettings(BaseModel):
    """The OpenAI provider and embedder: OpenAI itself, Azure OpenAI, or any OpenAI-compatible server."""

    #: The API key (Azure: the resource key). Empty, with no ``base_url`` either: the extractive default.
    api_key: SecretStr = SecretStr("")
    #: Empty for api.openai.com; a local server's ``http://127.0.0.1:11434/v1`` (Ollama), ``.../v1`` (vLLM,
    #: llama.cpp); for Azure OpenAI the resource endpoint ``https://NAME.openai.azure.com``.
    base_url: str = ""
    #: Set (e.g. ``2024-10-21``) to talk to Azure OpenAI; ``model`` is then the deployment name.
    azure_api_version: str = ""
    organization: str = ""
    project: str = ""
    #: The chat model (Azure: the deployment).
    model: str = "gpt-4o-mini"
    temperature: float = Field(0.2, ge=0.0, le=2.0)
    #: Upper bound on an answer's length, in tokens.
    max_tokens: int = Field(800, ge=1)
    #: The model's context window in tokens: the prompt (passages, history, question) is cut to fit it.
    context_tokens: int = Field(16000, ge=512)
    #: Seconds to establish a connection, and to wait for the next piece of a streamed answer.
    connect_timeout: float = Field(5.0, gt=0)
    read_timeout: float = Field(30.0, gt=0)
    #: Attempts per request (the first one included) on 429, 5xx, timeouts and dropped connections.
    max_attempts: int = Field(3, ge=1, le=10)
    retry_base_delay: float = Field(0.5, ge=0.0)
    retry_max_delay: float = Field(8.0, ge=0.0)
    #: A ``Retry-After`` longer than this is not waited for: the user gets the fallback answer instead.
    max_retry_after: float = Field(20.0, ge=0.0)
    #: Consecutive failures that open the circuit (0 disables it), and seconds before it is tried again.
    breaker_failures: int = Field(5, ge=0)
    breaker_reset_seconds: float = Field(30.0, ge=0.0)
    #: The embedding model (``OTVET_RETRIEVAL__EMBEDDER=openai`` turns embeddings on).
    embedding_model: str = "text-embedding-3-small"
    #: Shorter vectors for models that support it (``text-embedding-3-*``); 0 keeps the model's size.
    embedding_dimensions: int = Field(0, ge=0)
    #: Texts per embeddings request when building a knowledge version.
    embedding_batch_size: int = Field(128, ge=1, le=2048)
    #: The base model ``otvet finetune start`` fine-tunes on the approved Q&A pairs (docs/llm.md#fine-tuning).
    fine_tune_model: str = "gpt-4o-mini-2024-07-18"
    #: Seconds between two looks at a running fine-tuning job: it takes minutes to hours.
    fine_tune_poll_seconds: float = Field(30.0, gt=0)

    _base_url = field_validator("base_url")(http_url)

    @property
    def configured(self) -> bool:
        """True when there is something to talk to: a key, or a server of one's own."""
        return bool(self.api_key.get_secret_value() or self.base_url)


class TranscriptionSettings(BaseModel):
    """Voice questions: the speech-to-text service that turns a voice message into a question, its limits,
    and each user's daily allowance (docs/telegram.md#voice-and-audio-questions)."""

    #: The transcriber (a name registered through ``register_transcribers``); ``auto`` is ``openai`` once a
    #: key or server is configured here or in the ``openai`` section; empty: voice messages are not taken.
    provider: str = "auto"
    #: ``whisper-1``, ``gpt-4o-transcribe``, ``gpt-4o-mini-transcribe``, or a local server's model name.
    model: str = "whisper-1"
    #: The server and key for transcription. Both empty: those of the ``openai`` section. Either set: this
    #: server with this key (none for an empty key), e.g. a local faster-whisper server's ``.../v1``.
    base_url: str = ""
    api_key: SecretStr = SecretStr("")
    #: Seconds one transcription request may take, and how many times a failed one is tried again.
    timeout_seconds: float = Field(60.0, gt=0)
    max_retries: int = Field(2, ge=0, le=10)
    #: The longest voice message or audio file taken, in seconds, and the largest, in bytes (bots can
    #: download files of up to 20 MB from the Bot API). Longer or larger ones are refused before download.
    max_seconds: int = Field(300, ge=1)
    max_bytes: int = Field(20 * 1024 * 1024, ge=1)
    #: Seconds of audio one user may have transcribed per UTC day; 0: no limit.
    seconds_per_user_per_day: int = Field(1800, ge=0)

    _base_url = field_validator("base_url")(http_url)

    @property
    def own_server(self) -> bool:
        """True when this section names its own server or key rather than the ``openai`` section's."""
        return bool(self.api_key.get_secret_value() or self.base_url)


class PromptSettings(BaseModel):
    """How an LLM provider is briefed: instructions, passages and what to do off-topic."""

    #: The deployment's own instructions; empty uses the built-in, localized ones (see docs/llm.md).
    system: str = ""
    #: A question is on the knowledge base's topic when its best passage reaches this relevance (0..1). Below
    #: it the model is not called: the user gets "I don't know" (or a reply to a greeting), unless
    #: ``answer_off_topic`` is set. Empty: the threshold calibrated for the retrieval in use, as for the
    #: extractive answerer.
    min_relevance: float | None = Field(None, ge=0.0, le=1.0)
    #: Passages below this relevance are not shown to the model; the model judges the weaker ones itself.
    context_min_relevance: float = Field(0.15, ge=0.0, le=1.0)
    #: At most this many tokens of passages go into a prompt.
    max_context_tokens: int = Field(3000, ge=100)
    #: When nothing relevant is found: False answers "I don't know" without calling the model; True lets the
    #: model answer from general knowledge (saying that the knowledge base does not cover it).
    answer_off_topic: bool = False


class HistorySettings(BaseModel):
    """How much of the conversation the provider sees."""

    max_messages: int = Field(12, ge=0)
    max_tokens: int = Field(1500, ge=0)


class QuotaSettings(BaseModel):
    """Limits on questions and tokens, per user and for everyone together (docs/operations.md#quotas).

    0 turns a limit off; all are off by default. Requests count the last 60 seconds; tokens (prompt plus
    completion) count since 00:00 UTC.
    """

    user_requests_per_minute: int = Field(0, ge=0)
    user_tokens_per_day: int = Field(0, ge=0)
    global_requests_per_minute: int = Field(0, ge=0)
    global_tokens_per_day: int = Field(0, ge=0)
    #: Seconds a process reuses everyone's token count before summing it again: a global token limit can be
    #: overshot by the answers other replicas finish in that time. Request limits are always exact.
    global_cache_seconds: float = Field(2.0, ge=0.0, le=60.0)


class TelegramSettings(BaseModel):
    """The Telegram bot (``otvet telegram`` for long polling, or the webhook inside ``otvet serve``)."""

    #: The token @BotFather gives; empty disables the Telegram frontend.
    token: SecretStr = SecretStr("")
    #: ``polling`` (``otvet telegram``) or ``webhook`` (``/telegram/webhook`` in ``otvet serve``).
    mode: Literal["polling", "webhook"] = "polling"
    #: The public HTTPS URL Telegram posts updates to, e.g. ``https://bot.example.com/telegram/webhook``.
    webhook_url: str = ""
    #: Checked against the ``X-Telegram-Bot-Api-Secret-Token`` header of every webhook request.
    secret_token: SecretStr = SecretStr("")
    #: Only these users / chats may talk to the bot (empty: everyone).
    allowed_user_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    allowed_chat_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    #: Users allowed to run the bot-side admin commands.
    admin_user_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    #: Seconds between edits of a streamed answer: Telegram allows about one message per second per chat
    #: and twenty per minute in a group.
    private_edit_interval: float = Field(1.0, ge=0.0)
    group_edit_interval: float = Field(3.0, ge=0.0)
    #: Keep messages within Telegram's flood limits (per bot, per private chat, per group) and wait out
    #: RetryAfter (frontends/telegram/flood.py). Off only for a self-hosted Bot API server without limits.
    rate_limit: bool = True
    #: Messages a second the bot may send in all chats together: Telegram's 30, or more once raised for
    #: the bot (paid broadcasts).
    messages_per_second: int = Field(30, ge=1)
    #: Share that budget (and each chat's) with every replica through the database, so N webhook replicas
    #: of one bot still send at most ``messages_per_second`` together. Unset: shared unless the database is
    #: SQLite (one machine, one process answering the bot).
    shared_limits: bool | None = None
    #: Seconds an answer may take before the user is shown "typing…": a quick answer is one message alone.
    typing_delay: float = Field(0.5, ge=0.0)
    #: The Bot API server (change for a self-hosted Bot API server, or a fake one in tests).
    base_url: str = "https://api.telegram.org/bot"
    base_file_url: str = "https://api.telegram.org/file/bot"

    _urls = field_validator("base_url", "base_file_url")(http_url)

    @field_validator("allowed_user_ids", "allowed_chat_ids", "admin_user_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: Any) -> Any:
        return env_list(value)


class ApiSettings(BaseModel):
    """Access to the HTTP API: login tokens of admins, API keys' rate limit (docs/security.md)."""

    #: Signs admin login tokens and widget tokens (HMAC-SHA256); use a long random value, the same on every
    #: replica. Empty: a random key kept in ``<data_dir>/secret.key`` (a warning is logged), so tokens survive
    #: restarts on this machine but no other replica accepts them.
    secret_key: SecretStr = SecretStr("")
    #: How long a login token is valid, in seconds.
    token_ttl_seconds: int = Field(3600, ge=1, le=30 * 24 * 3600)
    #: Requests a minute per admin or API key, counted for every replica together (0: no limit).
    requests_per_minute: int = Field(120, ge=0)
    #: Login attempts a minute from one client address, counted for every replica together (0: no limit).
    login_attempts_per_minute: int = Field(10, ge=0)
    #: Failed logins one username may have in ``login_failure_window_seconds`` before further attempts are
    #: refused, even with the right password and from any address, until the window slides on (0: no limit).
    login_failures_per_account: int = Field(10, ge=0)
    login_failure_window_seconds: int = Field(900, ge=60, le=86400)
    #: Password hashes (Argon2id, 64 MiB each) computed at once; more logins wait their turn, so a burst of
    #: logins cannot take the process's memory.
    password_hash_concurrency: int = Field(2, ge=1, le=64)
    #: Processes ``otvet api`` serves its port with (one core each; docs/services/api.md#scaling).
    workers: int = Field(1, ge=1, le=64)
    #: Origins (``https://app.example``) whose pages may call ``/graphql`` and ``/v1`` from a browser (CORS);
    #: ``*`` allows any. Empty: no CORS headers at all, so browsers keep other sites' scripts out.
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        return env_list(value)

    @field_validator("cors_origins")
    @classmethod
    def _normalised_origins(cls, value: list[str]) -> list[str]:
        return normalised_origins(value)


class OpenAIApiSettings(BaseModel):
    """The OpenAI-compatible endpoint ``/v1/chat/completions`` (docs/openai_api.md)."""

    #: The one model ``/v1/models`` lists and requests must name (``model="otvet"`` in an OpenAI SDK).
    model_name: str = Field("otvet", min_length=1, max_length=200)


class PrivacySettings(BaseModel):
    """How long personal data is kept (docs/operations.md#personal-data)."""

    #: Conversations with no message in this many days are deleted, with their messages and ratings; 0
    #: keeps them for ever. Usage reports then count only what is kept.
    conversation_retention_days: int = Field(0, ge=0)


class ModelPrice(BaseModel):
    """What a model costs, in US dollars per million tokens, or per minute of audio for a transcription
    model (docs/admin.md#overview)."""

    input: float = Field(0.0, ge=0)
    output: float = Field(0.0, ge=0)
    per_minute: float | None = Field(None, ge=0)


class ConsoleSettings(BaseModel):
    """The admin console at ``/admin`` (docs/admin.md)."""

    #: Serve the console on ``otvet serve`` and ``otvet api``; off: 404, and no session cookies are issued.
    enabled: bool = True


class GraphQLSettings(BaseModel):
    """The GraphQL API at ``/graphql`` and its abuse limits (docs/graphql.md#limits)."""

    #: Serve the GraphiQL IDE to a browser opening ``/graphql``. Turn off in production if you like.
    graphiql: bool = True
    #: Answer introspection (``__schema``, ``__type``): IDEs and code generators need it. ``__typename``
    #: always works.
    introspection: bool = True
    #: Deepest nesting of fields a document may have (``{ a { b } }`` is 2; introspection fields excluded).
    max_depth: int = Field(10, ge=1, le=100)
    #: Most aliases a document may use (each alias can run its field once more).
    max_aliases: int = Field(15, ge=0, le=1000)
    #: Most a document may cost: every field 1, a page (``first: N``) multiplies its items by N, another
    #: list by 10. The default allows 20 conversations with 50 messages each, with their sources.
    max_cost: int = Field(20000, ge=1)
    #: Most lexical tokens a document may have: bounds the parser's work before anything else is checked.
    max_tokens: int = Field(2000, ge=100)
    #: Largest body of a GraphQL request (JSON or a query string), in bytes; larger ones get 413 unread.
    max_body_bytes: int = Field(131072, ge=1024)
    #: Largest multipart request (``uploadSources``, the GraphQL multipart request spec), in bytes.
    max_upload_bytes: int = Field(20 * 1024 * 1024, ge=1024)
    #: Seconds a subscription message may wait for a client that does not read before that client's
    #: WebSocket is dropped (with its subscriptions, whose provider streams are closed).
    send_timeout_seconds: float = Field(10.0, gt=0)


class WorkerSettings(BaseModel):
    """Background jobs and ``otvet worker`` (docs/operations.md#workers)."""

    #: Seconds an idle worker waits before looking for a job again.
    poll_seconds: float = Field(2.0, gt=0)
    #: Seconds a claimed job stays a worker's without a heartbeat (sent every third of it); a job whose
    #: worker died is claimed again once its lease has run out.
    lease_seconds: float = Field(60.0, ge=1.0)
    #: Runs a job gets, the first included, before it is marked ``failed``.
    max_attempts: int = Field(3, ge=1, le=100)
    #: Backoff before a failed job runs again: doubling from the base, capped, with jitter.
    retry_base_delay: float = Field(10.0, ge=0.0)
    retry_max_delay: float = Field(600.0, ge=0.0)
    #: ``otvet serve`` also runs a worker in its own process, so a single machine needs nothing else; turn
    #: it off when ``otvet worker`` processes run the jobs (several API replicas).
    in_process: bool = True


class InboxSettings(BaseModel):
    """Webhook updates kept in the database from the moment they are acknowledged until they are handled
    (docs/operations.md#the-webhook-inbox)."""

    #: Seconds an update stays a replica's while it handles it (renewed every third of it); the update of a
    #: replica that died is handled by another one (or the restarted one) once its lease has run out.
    lease_seconds: float = Field(30.0, ge=1.0)
    #: Seconds between looks for updates other replicas left behind or that wait for the database.
    poll_seconds: float = Field(1.0, gt=0)
    #: Tries an update gets, the first included: one that kills its handler every time is given up after.
    max_attempts: int = Field(5, ge=1, le=100)
    #: Hours a handled update is remembered, so that Telegram resending it does not answer it twice.
    keep_hours: float = Field(24.0, gt=0)


class TrainingSettings(BaseModel):
    """Chunking, the evaluation gate and the versions kept (docs/knowledge.md#versions-and-the-check-set)."""

    #: Longest chunk in characters (a single longer sentence stays whole).
    chunk_chars: int = Field(1200, ge=100, le=20000)
    #: When a paragraph is cut between sentences, the next chunk repeats up to this many characters of the
    #: previous one's last sentences, so a fact split across the cut is still found whole.
    chunk_overlap: int = Field(150, ge=0, le=5000)
    #: Passages searched per check question: hit@1 and hit@k count the expected source among them.
    eval_k: int = Field(3, ge=1, le=20)
    #: A candidate version is promoted when no score (hit@1, hit@k, answers) is lower than the active
    #: version's by more than this (0: not worse at all).
    tolerance: float = Field(0.0, ge=0.0, le=1.0)
    #: Share of an expected answer's words a check's passages must contain for the answer check to pass.
    answer_recall: float = Field(0.6, gt=0.0, le=1.0)
    #: Versions kept for rollback besides the active one; older ones (and their chunks) are deleted.
    keep_versions: int = Field(10, ge=1)


class FetchSettings(BaseModel):
    """Fetching web pages for ``otvet ingest URL`` (docs/knowledge.md#urls): limits, and the private
    addresses an operator lets it reach. Everything else must resolve to public addresses only."""

    #: Hosts that may resolve to loopback, private or link-local addresses, as written in the URL:
    #: ``wiki.intranet`` (any port) or ``127.0.0.1:8080`` (that port only).
    allow_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list)
    #: Networks that may be reached whatever the host's name, e.g. ``10.20.0.0/16``.
    allow_networks: Annotated[list[str], NoDecode] = Field(default_factory=list)
    #: A page larger than this (in bytes, after decompression) is refused.
    max_bytes: int = Field(20 * 1024 * 1024, ge=1)
    #: Seconds a whole fetch (every redirect included) may take.
    timeout_seconds: float = Field(30.0, gt=0)
    user_agent: str = "Otvet/0.1 (knowledge-base ingestion)"

    @field_validator("allow_hosts", "allow_networks", mode="before")
    @classmethod
    def _split_list(cls, value: Any) -> Any:
        return env_list(value)

    @field_validator("allow_networks")
    @classmethod
    def _valid_networks(cls, value: list[str]) -> list[str]:
        for network in value:
            # A typo here would silently allow nothing; refuse it at start instead, naming the entry.
            ipaddress.ip_network(network, strict=False)
        return value


class WidgetSettings(BaseModel):
    """The web widget: its chat WebSocket ``/ws/chat``, the script ``/widget.js`` and the demo page ``/``
    (docs/widget.md)."""

    #: Serve the widget's routes (``/``, ``/widget.js``, ``/widget.css``, ``/ws/chat``).
    enabled: bool = True
    #: Origins (``https://shop.example``) whose pages may open the chat socket; ``*`` allows any. The page
    #: Otvet serves itself (same origin) is always allowed, and so are clients that send no ``Origin``.
    allowed_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    #: Largest frame a client may send, in bytes; a larger one closes the socket (1009).
    max_message_bytes: int = Field(8192, ge=256, le=1024 * 1024)
    #: Longest question, in characters (the engine itself refuses more than 4000).
    max_question_chars: int = Field(2000, ge=1, le=4000)
    #: Questions a minute per visitor (or per integrator's user); 0: no limit. Counted in each process.
    questions_per_minute: int = Field(10, ge=0)
    #: New sockets a minute from one client address; 0: no limit. Counted in each process.
    connections_per_minute_per_ip: int = Field(30, ge=0)
    #: Frames a minute from one client address, over all its sockets; 0: no limit. Counted in each process.
    messages_per_minute_per_ip: int = Field(120, ge=0)
    #: Seconds without a frame from the client (and no answer being written) before the socket is closed.
    idle_timeout_seconds: float = Field(300.0, gt=0)
    #: Seconds a new socket may take to send its ``hello``.
    hello_timeout_seconds: float = Field(10.0, gt=0)
    #: Seconds a frame may wait for a client that does not read before that client is disconnected.
    send_timeout_seconds: float = Field(10.0, gt=0)
    #: Days a visitor token stays valid without a visit (each visit renews it).
    visitor_days: int = Field(365, ge=1, le=3650)

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        return env_list(value)

    @field_validator("allowed_origins")
    @classmethod
    def _normalised_origins(cls, value: list[str]) -> list[str]:
        return normalised_origins(value)


class TlsSettings(BaseModel):
    """HTTPS and WSS on the services' own listeners (docs/security.md#tls). Off until a certificate is set;
    behind a load balancer or an ingress that terminates TLS, leave it off and set ``forwarded_allow_ips``."""

    #: The server certificate (PEM, the chain after the leaf) and its private key.
    cert_file: Path | None = None
    key_file: Path | None = None
    #: The key file's passphrase, when it has one.
    key_password: SecretStr = SecretStr("")
    #: CA certificates (PEM) that sign the client certificates ``client_cert`` asks for (mutual TLS).
    ca_file: Path | None = None
    #: ``none``: no client certificate; ``optional``: checked when sent; ``required``: no connection without.
    client_cert: Literal["none", "optional", "required"] = "none"
    #: ``Strict-Transport-Security`` max-age sent with every response over TLS (0: no header).
    hsts_seconds: int = Field(31536000, ge=0)

    @property
    def enabled(self) -> bool:
        return self.cert_file is not None


class DatabaseTimeoutSettings(BaseModel):
    """How long Otvet waits for PostgreSQL, so that an outage gets users a quick "unavailable" instead of a
    hang (docs/operations.md#database-outages)."""

    #: Seconds to open a connection.
    connect_seconds: float = Field(5.0, gt=0, le=600)
    #: Seconds one statement may take before it is given up (the whole ``otvet migrate`` of a large table
    #: may need more: raise it for that run).
    statement_seconds: float = Field(15.0, gt=0, le=3600)
    #: Seconds between background checks that the database answers (0: none; then requests find an outage
    #: themselves, each after its own timeout).
    check_seconds: float = Field(1.0, ge=0, le=60)
    #: Seconds a check (and ``/readyz``) waits for the database's answer before calling it unavailable.
    ready_seconds: float = Field(1.5, gt=0, le=60)


class DatabaseSslSettings(BaseModel):
    """TLS to PostgreSQL, as libpq names it (docs/storage.md#tls). ``sslmode``, ``sslrootcert``,
    ``sslcert`` and ``sslkey`` in the database URL's query work too; these settings win over them."""

    #: ``disable``, ``allow``, ``prefer``, ``require``, ``verify-ca`` or ``verify-full``; empty: the URL's
    #: ``sslmode``, else ``prefer`` (TLS when the server offers it, unverified), as libpq does.
    mode: Literal["", "disable", "allow", "prefer", "require", "verify-ca", "verify-full"] = ""
    #: CA certificates (PEM) the server's certificate must chain to (``verify-ca``, ``verify-full``).
    root_cert: Path | None = None
    #: A client certificate and key, for servers that authenticate clients by certificate.
    cert: Path | None = None
    key: Path | None = None
    key_password: SecretStr = SecretStr("")


class OpsSettings(BaseModel):
    """The health and metrics listener of ``otvet worker`` and ``otvet telegram``: ``/healthz``, ``/readyz``
    and ``/metrics`` for probes and Prometheus (docs/services/). ``otvet serve`` and ``otvet api`` answer
    them on their own port."""

    host: str = "127.0.0.1"
    #: Empty: no listener (a worker on a laptop needs none); containers set 9000.
    port: int | None = Field(None, ge=0, le=65535)


class MetricsSettings(BaseModel):
    """Prometheus metrics at ``/metrics`` (docs/operations.md#metrics)."""

    enabled: bool = True
    #: When set, ``/metrics`` answers only requests with ``Authorization: Bearer <token>``.
    token: SecretStr = SecretStr("")


class TracingSettings(BaseModel):
    """OpenTelemetry traces of turns, retrieval and provider calls (needs ``pip install otvet[tracing]``)."""

    #: Empty: no tracing; ``otlp``: OTLP over HTTP to ``endpoint``; ``console``: spans printed on stderr.
    exporter: Literal["", "otlp", "console"] = ""
    #: The collector's OTLP/HTTP traces URL, e.g. ``http://otel-collector:4318/v1/traces``; empty: the
    #: ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_ENDPOINT`` environment variables.
    endpoint: str = ""
    service_name: str = "otvet"
    #: Share of turns traced (a trace's children follow its root's decision).
    sample_ratio: float = Field(1.0, ge=0.0, le=1.0)


class Settings(BaseSettings):
    """All of Otvet's configuration. Every field can be set as ``OTVET_<NAME>``."""

    model_config = SettingsConfigDict(
        env_prefix="OTVET_",
        env_nested_delimiter="__",
        env_file=".env",
        env_file_encoding="utf-8",
        toml_file="otvet.toml",
        extra="ignore",
    )

    #: Where the SQLite database and other local state live.
    data_dir: Path = Path("data")
    #: ``sqlite:///abs/path.db`` or ``postgres://user:password@host:5432/db``; empty means SQLite in data_dir.
    database_url: SecretStr = SecretStr("")
    #: Apply pending migrations on start (convenient on one machine; run ``otvet migrate`` in production).
    auto_migrate: bool = True
    #: The storage backend (a name registered through the ``register_storage`` hook) for every role that
    #: ``storage_roles`` does not give one of its own.
    storage: str = "tortoise"
    #: A backend for one role of storage (docs/storage.md#roles), e.g. ``OTVET_STORAGE_ROLES__CONVERSATIONS``.
    storage_roles: StorageRoles = Field(default_factory=StorageRoles)
    #: The LLM provider answering questions (a name registered through ``register_providers``); ``auto``
    #: is ``openai`` once an OpenAI key or server is configured, else ``extractive``.
    provider: str = "auto"
    #: Answers from this provider, marked as such, when the main one fails before saying anything (an outage,
    #: a timeout, an open circuit); empty shows a calm failure message instead.
    fallback_provider: str = "extractive"
    #: Languages Otvet answers in; each needs a catalog in ``locales/``.
    languages: Annotated[tuple[str, ...], NoDecode] = ("en", "ru")
    #: The language used when a message gives no clue (and for messages before a user is known).
    default_language: str = "en"
    #: Load the bundled demo knowledge base when no knowledge version is active yet.
    load_demo: bool = True
    #: External plugins to load from the ``otvet`` entry-point group; None loads all installed ones,
    #: an empty list loads none.
    plugins: Annotated[list[str] | None, NoDecode] = None
    #: Built-in or external plugins to leave out, by name (see ``otvet plugins``).
    disable_plugins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    #: Seconds a provider may take for a whole answer before the user gets a calm failure message.
    answer_timeout: float = Field(60.0, gt=0)
    #: Seconds a provider may take to its first piece of text, and between two pieces, before it counts as
    #: stalled: the fallback answers instead, or (when the user has seen part of it) the answer ends with
    #: a note. A hung model costs a user seconds, not the whole ``answer_timeout``.
    first_token_timeout: float = Field(8.0, gt=0)
    between_tokens_timeout: float = Field(10.0, gt=0)
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    #: Addresses of proxies (a load balancer, an ingress) whose ``X-Forwarded-For`` and ``X-Forwarded-Proto``
    #: are believed: client addresses for rate limits, ``https`` for links and HSTS. ``*`` trusts any.
    forwarded_allow_ips: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["127.0.0.1"])
    #: Seconds a stopping service (SIGTERM) waits for answers in progress and a running job to finish before
    #: it stops them; a stopped job is queued again for another worker.
    shutdown_seconds: float = Field(30.0, ge=0.0)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    #: ``text`` for a terminal, ``json`` (one object a line, with request and conversation ids) for a log
    #: collector.
    log_format: Literal["text", "json"] = "text"

    extractive: ExtractiveSettings = Field(default_factory=ExtractiveSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    history: HistorySettings = Field(default_factory=HistorySettings)
    openai: OpenAISettings = Field(default_factory=OpenAISettings)
    transcription: TranscriptionSettings = Field(default_factory=TranscriptionSettings)
    prompt: PromptSettings = Field(default_factory=PromptSettings)
    quotas: QuotaSettings = Field(default_factory=QuotaSettings)
    telegram: TelegramSettings = Field(default_factory=TelegramSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    openai_api: OpenAIApiSettings = Field(default_factory=OpenAIApiSettings)
    graphql: GraphQLSettings = Field(default_factory=GraphQLSettings)
    console: ConsoleSettings = Field(default_factory=ConsoleSettings)
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)
    fetch: FetchSettings = Field(default_factory=FetchSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    inbox: InboxSettings = Field(default_factory=InboxSettings)
    training: TrainingSettings = Field(default_factory=TrainingSettings)
    widget: WidgetSettings = Field(default_factory=WidgetSettings)
    tls: TlsSettings = Field(default_factory=TlsSettings)
    database_ssl: DatabaseSslSettings = Field(default_factory=DatabaseSslSettings)
    database_timeouts: DatabaseTimeoutSettings = Field(default_factory=DatabaseTimeoutSettings)
    ops: OpsSettings = Field(default_factory=OpsSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    tracing: TracingSettings = Field(default_factory=TracingSettings)
    #: Sections for third-party plugins as Otvet first read them (``OTVET_PLUGIN_SETTINGS__<PLUGIN>__KEY``,
    #: ``[plugin_settings.<plugin>]``): still read by :meth:`for_plugin`, under its own names.
    plugin_settings: dict[str, dict[str, Any]] = Field(default_factory=dict)
    #: Prices of the models you use, by model name (a name also prices its dated versions: ``gpt-4o-mini``
    #: prices ``gpt-4o-mini-2024-07-18``), for the overview's cost estimates. Added to the built-in list
    #: of OpenAI's list prices (otvet.core.activity.LIST_PRICES, and LIST_MINUTE_PRICES for transcription
    #: models' ``per_minute``), and replacing its entries.
    pricing: dict[str, ModelPrice] = Field(default_factory=dict)

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("languages", "plugins", "disable_plugins", "forwarded_allow_ips", mode="before")
    @classmethod
    def _split_names(cls, value: Any) -> Any:
        return env_list(value)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=config_file())
        # Explicit arguments beat the environment, which beats .env, which beats otvet.toml.
        return (init_settings, env_settings, dotenv_settings, toml, file_secret_settings)

    @property
    def resolved_database_url(self) -> str:
        """The database URL to connect to, with the SQLite default filled in."""
        url = self.database_url.get_secret_value()
        if url:
            return url
        return f"sqlite:///{(self.data_dir / 'otvet.db').resolve()}"

    def for_plugin(self, name: str, model: type[M]) -> M:
        """Plugin ``name``'s settings as its pydantic ``model``, read as the built-in sections are: from
        ``OTVET_<NAME>__<FIELD>`` variables (nested with ``__``), then ``.env``, then the ``[<name>]``
        table of the config file, then the older ``plugin_settings`` section. A wrong value raises
        pydantic's ``ValidationError`` naming the field."""
        reader = _plugin_reader(name, model)
        toml = _toml_table(name)
        # Lowest first: the older section, then the config file's table; the environment beats both.
        values = _merged(self.plugin_settings.get(name, {}), toml)
        read = reader(_env_file=self.model_config.get("env_file"), **values)
        return model.model_validate(read.model_dump())


def config_file() -> Path:
    """The TOML config file: ``OTVET_CONFIG_FILE``, else ``otvet.toml`` in the current folder."""
    return Path(os.environ.get("OTVET_CONFIG_FILE", "otvet.toml"))


def _merged(low: dict[str, Any], high: dict[str, Any]) -> dict[str, Any]:
    """``high`` over ``low``, table by table (a nested section set in both keeps the keys of each)."""
    merged = dict(low)
    for key, value in high.items():
        below = merged.get(key)
        both = isinstance(value, dict) and isinstance(below, dict)
        merged[key] = _merged(below, value) if both else value  # type: ignore[arg-type]
    return merged


def _toml_table(name: str) -> dict[str, Any]:
    path = config_file()
    if not path.is_file():
        return {}
    with path.open("rb") as file:
        table = tomllib.load(file).get(name, {})
    return table if isinstance(table, dict) else {}


@functools.cache
def _plugin_reader(name: str, model: type[BaseModel]) -> type[BaseSettings]:
    """A settings class with ``model``'s fields reading ``OTVET_<NAME>__*`` (named after ``model``, so a
    validation error names the plugin's model)."""

    def sources(
        cls: type[BaseSettings],
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (env_settings, dotenv_settings, init_settings)

    config = SettingsConfigDict(
        env_prefix=f"OTVET_{name.upper()}__",
        env_nested_delimiter="__",
        env_file_encoding="utf-8",
        extra="ignore",
    )
    namespace = {"model_config": config, "settings_customise_sources": classmethod(sources)}
    return type(model.__name__, (BaseSettings, model), namespace)
