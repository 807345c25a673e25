"""Logging for every service: text for a terminal or one JSON object a line for a log collector, with the
request, conversation and job a line belongs to, and every configured secret masked.

The ids travel in a context variable, so a line logged deep inside the engine still says which HTTP request
or Telegram update it belongs to. Question and answer texts are never logged at INFO
(docs/operations.md#logs); secrets are masked in whatever a library prints, at every level, because a URL
with a bot token or a database password in it can turn up in a third-party debug line.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import quote, quote_plus, unquote

from pydantic import BaseModel, SecretStr

if TYPE_CHECKING:
    from otvet.config.settings import Settings

#: The ids of what the current task is doing: request_id, conversation_id, job_id, update_id...
_context: ContextVar[dict[str, Any] | None] = ContextVar("otvet_log_context", default=None)
#: Libraries whose routine lines stay at WARNING unless the level is DEBUG.
NOISY_LOGGERS = ("tortoise", "aiosqlite", "asyncpg", "httpx", "httpx2", "httpcore", "httpcore2")
#: Parsers that warn about every flaw of a file they read anyway ("EOF marker not found"): only their
#: errors are news, unless debugging. A file they cannot read is reported by its source type.
PARSER_LOGGERS = ("pypdf",)
MASK = "***"
#: Credentials in URLs (``scheme://user:password@host``) and bearer tokens, masked even when not configured.
_URL_PASSWORD = re.compile(r"(?<=://)([^:/@\s]*):([^@/\s]+)@")
_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}")
#: Secrets shorter than this are not masked: replacing "1" everywhere would garble every line.
MIN_SECRET_CHARS = 6


def current_context() -> dict[str, Any]:
    return _context.get() or {}


@contextmanager
def log_context(**values: Any) -> Iterator[None]:
    """Add ``values`` to every line logged inside the ``with`` block (and in tasks it starts)."""
    token = _context.set({**current_context(), **values})
    try:
        yield
    finally:
        # ValueError: left in another context (an async generator closed by another task), which ends soon.
        with suppress(ValueError):
            _context.reset(token)


def bind(**values: Any) -> None:
    """Add ``values`` to the current context until it ends (for code that cannot wrap a ``with`` block)."""
    _context.set({**current_context(), **values})


def settings_secrets(settings: Settings) -> list[str]:
    """Every secret value in ``settings``: SecretStr fields anywhere, and the database URL's password."""
    found: list[str] = []

    def walk(model: BaseModel) -> None:
        for name in type(model).model_fields:
            value = getattr(model, name)
            if isinstance(value, SecretStr) and name != "database_url":  # its password alone, below
                found.append(value.get_secret_value())
            elif isinstance(value, BaseModel):
                walk(value)

    walk(settings)
    match = _URL_PASSWORD.search(settings.database_url.get_secret_value())
    if match:
        # As written in the URL (percent-encoded) and as the driver uses it (decoded).
        found += [match.group(2), unquote(match.group(2))]
    return sorted({s for s in found if len(s) >= MIN_SECRET_CHARS}, key=len, reverse=True)


#: How a library may escape a text it writes: inside JSON (either way for non-ASCII), a ``repr()`` (an
#: exception's args, a dict it prints), a URL.
_ESCAPES: tuple[Callable[[str], str], ...] = (
    lambda text: json.dumps(text)[1:-1],
    lambda text: json.dumps(text, ensure_ascii=False)[1:-1],
    lambda text: repr(text)[1:-1],
    lambda text: quote(text, safe=""),
    lambda text: quote_plus(text, safe=""),
)


def written_forms(secret: str) -> set[str]:
    """``secret`` as it can appear in a log line: plain, escaped once, or escaped twice (a ``repr()`` in an
    exception's traceback, inside a JSON line)."""
    once = {secret} | {escape(secret) for escape in _ESCAPES}
    return once | {escape(form) for form in once for escape in _ESCAPES}


class Redactor:
    """Masks the configured secrets, URL passwords and bearer tokens in a formatted line."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # Each secret also as it looks inside a JSON line, a repr() and a URL: a quote or backslash in it is
        # escaped there, and the plain form would no longer match. Longest first, so a secret that contains
        # another is masked whole.
        forms = {form for s in secrets if len(s) >= MIN_SECRET_CHARS for form in written_forms(s)}
        self.secrets = sorted(forms, key=len, reverse=True)
        # One pass over the line for all of them, however many forms: every line at DEBUG goes through here.
        self._pattern = re.compile("|".join(map(re.escape, self.secrets))) if self.secrets else None

    def __call__(self, text: str) -> str:
        if self._pattern is not None:
            text = self._pattern.sub(MASK, text)
        text = _URL_PASSWORD.sub(lambda m: f"{m.group(1)}:{MASK}@", text)
        return _BEARER.sub(lambda m: f"{m.group(1)}{MASK}", text)


class TextFormatter(logging.Formatter):
    """``time LEVEL logger: message [key=value ...]``, secrets masked. Without ``tracebacks`` (a one-shot
    command, not debugging) an exception is its type and message on the same line, not a traceback."""

    def __init__(self, redact: Redactor, *, tracebacks: bool = True) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self.redact = redact
        self.tracebacks = tracebacks

    def format(self, record: logging.LogRecord) -> str:
        if record.exc_info and not self.tracebacks:
            exc = record.exc_info[1]
            record = logging.makeLogRecord({**record.__dict__, "exc_info": None, "exc_text": None})
            record.msg, record.args = f"{record.getMessage()} ({type(exc).__name__}: {exc})", None
        line = super().format(record)
        context = getattr(record, "otvet", None) or {}
        if context:
            head, newline, rest = line.partition("\n")  # keep a traceback below the ids
            ids = " ".join(f"{key}={value}" for key, value in context.items())
            line = f"{head} [{ids}]{newline}{rest}"
        return self.redact(line)


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, the context's ids, the exception if any."""

    def __init__(self, redact: Redactor, service: str) -> None:
        super().__init__()
        self.redact = redact
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "service": self.service,
        }
        entry.update(getattr(record, "otvet", None) or {})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        return self.redact(json.dumps(entry, ensure_ascii=False, default=str))


class _ContextFilter(logging.Filter):
    """Copies the context's ids onto each record when it is made (the formatter may run later)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "otvet"):
            record.otvet = current_context()
        return True


def configure_logging(
    level: str,
    *,
    fmt: str = "text",
    secrets: Iterable[str] = (),
    service: str = "cli",
    stream: TextIO | None = None,
    tracebacks: bool = True,
) -> None:
    """Send every logger's lines to ``stream`` (stderr) in ``fmt`` (``text`` or ``json``) at ``level``;
    ``tracebacks=False`` keeps each text line one line (an exception's type and message only)."""
    redact = Redactor(secrets)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(_ContextFilter())
    text = TextFormatter(redact, tracebacks=tracebacks or level.upper() == "DEBUG")
    handler.setFormatter(JsonFormatter(redact, service) if fmt == "json" else text)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    debugging = level.upper() == "DEBUG"
    for noisy in NOISY_LOGGERS:
        logging.getLogger(noisy).setLevel(logging.DEBUG if debugging else logging.WARNING)
    for parser in PARSER_LOGGERS:
        logging.getLogger(parser).setLevel(logging.DEBUG if debugging else logging.ERROR)
    # Otvet writes its own access line (frontends/middleware.py) without query strings, which can carry
    # tokens; uvicorn's would repeat it with them.
    logging.getLogger("uvicorn.access").disabled = True
