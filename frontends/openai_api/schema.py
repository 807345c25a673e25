"""The body of ``POST /v1/chat/completions``: OpenAI's request shape, reduced to what Otvet answers.

SDKs send many parameters Otvet has no use for (``temperature``, ``max_tokens``, ``seed``, ``tools``...): the
models allow extra fields and ignore them, so code written for OpenAI works unchanged. What Otvet cannot
honour (images, tool results, several choices) is refused with a 400 naming the field, never guessed at.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import PydanticCustomError

from otvet.frontends.openai_api.errors import invalid
from otvet.frontends.untrusted import load_json

#: Larger bodies are refused with 413 before they are parsed: a conversation of questions is far smaller.
MAX_BODY_BYTES = 1 << 20

#: Roles Otvet reads; system and developer instructions are accepted and ignored (Otvet answers with its
#: own instructions, from its knowledge base).
INSTRUCTION_ROLES = frozenset({"system", "developer"})
CONVERSATION_ROLES = frozenset({"user", "assistant"})


class _Open(BaseModel):
    """Tolerates the fields of newer API versions and of other vendors' SDKs."""

    model_config = ConfigDict(extra="allow")


class ChatMessage(_Open):
    role: str
    #: A string, or a list of content parts (``{"type": "text", "text": ...}``); None on tool-call messages.
    #: Checked by :func:`read_dialogue`, whose errors name the part instead of pydantic's union branches.
    content: Any = None


class StreamOptions(_Open):
    include_usage: bool = False


class ChatCompletionRequest(_Open):
    model: str
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    n: int = 1
    #: The end user on the client's side: keeps that user's conversations apart from others on one key.
    user: str | None = Field(None, max_length=256)
    metadata: dict[str, str] | None = None

    @field_validator("user")
    @classmethod
    def _storable_user(cls, user: str | None) -> str | None:
        # An identity, unlike a question, cannot lose a character: "a\x00b" without its NUL is user "ab",
        # someone else. PostgreSQL cannot store the character, so it is refused on both databases.
        if user is not None and "\x00" in user:
            raise PydanticCustomError("nul", "must not contain NUL characters (U+0000)")
        return user


@dataclass(frozen=True, slots=True)
class Dialogue:
    """What a request asks: the question (the last user message) and the user/assistant turns before it."""

    question: str
    earlier: tuple[tuple[Literal["user", "assistant"], str], ...]


def parse_request(body: bytes) -> ChatCompletionRequest:
    """The validated request, or a 400 saying what is wrong and where."""
    try:
        data = load_json(body)
    except json.JSONDecodeError as exc:
        raise invalid(f"The request body is not valid JSON: {exc}.") from None
    if not isinstance(data, dict):
        raise invalid("The request body must be a JSON object.")
    try:
        return ChatCompletionRequest.model_validate(data)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        param = _param(error["loc"])
        raise invalid(f"Invalid '{param}': {error['msg']}.", param=param) from None


def read_dialogue(request: ChatCompletionRequest) -> Dialogue:
    """The question and the history, or a 400 for what Otvet cannot answer (images, tools, no question)."""
    if request.n != 1:
        raise invalid("Otvet gives one answer per request: 'n' must be 1.", param="n")
    turns: list[tuple[int, Literal["user", "assistant"], str]] = []
    for index, message in enumerate(request.messages):
        if message.role in INSTRUCTION_ROLES:
            continue
        if message.role not in CONVERSATION_ROLES:
            raise invalid(
                f"Messages with role '{message.role}' are not supported: Otvet answers conversations of "
                "system, developer, user and assistant messages and does not call tools.",
                param=f"messages[{index}].role",
                code="unsupported_role",
            )
        if message.role == "assistant" and (message.model_extra or {}).get("tool_calls"):
            raise invalid(
                "Assistant messages with tool calls are not supported: Otvet does not call tools.",
                param=f"messages[{index}].tool_calls",
                code="unsupported_content",
            )
        role: Literal["user", "assistant"] = "user" if message.role == "user" else "assistant"
        turns.append((index, role, _text(message, index)))
    if not turns or turns[-1][1] != "user":
        raise invalid(
            "The last message must be the user's question (role 'user').",
            param="messages",
            code="no_question",
        )
    index, _, question = turns[-1]
    if not question.strip():
        raise invalid(
            "The question (the last user message) is empty.",
            param=f"messages[{index}].content",
            code="empty_question",
        )
    return Dialogue(question, tuple((role, text) for _, role, text in turns[:-1]))


def _text(message: ChatMessage, index: int) -> str:
    content = message.content
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise invalid(
            "Message content must be a string or a list of content parts.", param=f"messages[{index}].content"
        )
    texts = []
    for number, part in enumerate(content):
        if not isinstance(part, dict):
            raise invalid("Content parts must be objects.", param=f"messages[{index}].content[{number}]")
        kind = part.get("type")
        # An assistant's earlier refusal is text the client shows; anything else (images, audio, files) is
        # not something a text knowledge base can answer about.
        if kind == "text" or (kind == "refusal" and message.role == "assistant"):
            value = part.get(kind)
            if not isinstance(value, str):
                raise invalid(
                    f"Content parts of type '{kind}' need a string '{kind}'.",
                    param=f"messages[{index}].content[{number}].{kind}",
                )
            texts.append(value)
        else:
            raise invalid(
                f"Content parts of type '{kind}' are not supported: Otvet answers text questions only.",
                param=f"messages[{index}].content[{number}].type",
                code="unsupported_content",
            )
    return "\n".join(texts)


def _param(loc: tuple[int | str, ...]) -> str:
    """``messages[0].content`` from pydantic's ``("messages", 0, "content")``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "body"


__all__ = ["MAX_BODY_BYTES", "ChatCompletionRequest", "Dialogue", "parse_request", "read_dialogue"]
