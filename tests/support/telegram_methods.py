"""What the fake Bot API's methods do: Telegram's checks, error texts and results, over a per-chat store."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from tests.support.telegram_html import HtmlError, parse_html
from tests.support.telegram_updates import UpdateBuilders

MAX_TEXT = 4096
REJECTED_HTML = 'Bad Request: can\'t parse entities: Unsupported start tag "foo" at byte offset 0'
CHAT_ACTIONS = {
    "typing",
    "choose_sticker",
    "find_location",
    "record_video",
    "record_voice",
    "record_video_note",
}
CHAT_ACTIONS |= {"upload_photo", "upload_video", "upload_voice", "upload_document", "upload_video_note"}
# Telegram leaves these out of getUpdates unless allowed_updates asks for them.
_NOT_BY_DEFAULT = frozenset({"chat_member", "message_reaction", "message_reaction_count"})


class BotAPIError(Exception):
    """A failed call: Telegram's error_code (also the HTTP status), description and optional parameters."""

    def __init__(self, code: int, description: str, parameters: dict[str, Any] | None = None) -> None:
        super().__init__(description)
        self.code, self.description, self.parameters = code, description, parameters

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": False, "error_code": self.code, "description": self.description}
        return body | ({"parameters": self.parameters} if self.parameters else {})


def bad_request(description: str) -> BotAPIError:
    return BotAPIError(400, f"Bad Request: {description}")


class BotAPIMethods(UpdateBuilders):
    """The Bot API methods the fake implements; FakeBotAPI adds HTTP, recording and faults on top."""

    def __init__(self, token: str, *, first_name: str, username: str, strict_ampersand: bool) -> None:
        super().__init__()
        self.token = token
        self.strict_ampersand = strict_ampersand
        self.bot_user = {"id": int(token.split(":")[0]), "is_bot": True, "first_name": first_name}
        self.bot_user["username"] = username
        self.pending_updates: list[dict[str, Any]] = []
        self.webhook: dict[str, Any] = {}  # the parameters of the last setWebhook, {} when none is set
        self.commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.files: dict[str, bytes] = {}  # file_path -> content
        self._file_paths: dict[str, str] = {}  # file_id -> file_path
        self._allowed_updates: frozenset[str] | None = None
        self._html_rejections = 0
        self._poll_generation = 0
        self._closing = False
        self._changed = asyncio.Event()
        self._handlers: dict[str, Callable[[dict[str, Any]], Awaitable[Any]]] = {
            name.removeprefix("_api_").lower(): getattr(self, name)
            for name in dir(self)
            if name.startswith("_api_")
        }

    def command_list(
        self, scope: dict[str, Any] | None = None, language_code: str = ""
    ) -> list[dict[str, Any]]:
        return self.commands.get(_commands_key(scope, language_code), [])

    def add_file(self, file_id: str, content: bytes, file_path: str | None = None) -> str:
        """Make a file downloadable through getFile and ``base_file_url``; returns its file_path."""
        path = file_path or f"documents/{file_id}"
        self.files[path] = content
        self._file_paths[file_id] = path
        return path

    def _notify(self) -> None:
        """Wake whatever waits on the fake's state (long polls, ``wait_for``); sync, so tests can call it."""
        self._changed.set()
        self._changed = asyncio.Event()

    async def _wait_until(self, predicate: Callable[[], bool], seconds: float) -> bool:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                while not predicate():
                    await self._changed.wait()
        return predicate()

    # Bot API methods. Each takes the decoded parameters and returns the "result" or raises BotAPIError.

    async def _api_getMe(self, p: dict[str, Any]) -> dict[str, Any]:
        flags = {
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }
        return self.bot_user | flags | {"can_connect_to_business": False, "has_main_web_app": False}

    async def _api_sendMessage(self, p: dict[str, Any]) -> dict[str, Any]:
        chat_id = _chat_id(p)
        text, entities = self._formatted(p)
        markup, replied = _inline_markup(p), self._replied(chat_id, p)
        message_id = self._next_message_id(chat_id)
        message = {
            "message_id": message_id,
            "from": self.bot_user,
            "chat": self.chat(chat_id),
            "date": _now(),
        }
        if p.get("message_thread_id") is not None:
            message |= {"message_thread_id": p["message_thread_id"], "is_topic_message": True}
        if replied is not None:
            message["reply_to_message"] = replied
        return self._remember(_with_content(message, text, entities, markup))

    async def _api_editMessageText(self, p: dict[str, Any]) -> dict[str, Any] | bool:
        text, entities = self._formatted(p)
        markup = _inline_markup(p)
        if p.get("inline_message_id"):
            return True
        current = self._own_message(p, "message to edit not found")
        if (text, entities, markup) == (
            current.get("text"),
            current.get("entities", []),
            current.get("reply_markup"),
        ):
            raise _not_modified()
        return self._remember(_with_content(current | {"edit_date": _now()}, text, entities, markup))

    async def _api_editMessageReplyMarkup(self, p: dict[str, Any]) -> dict[str, Any] | bool:
        markup = _inline_markup(p)
        if p.get("inline_message_id"):
            return True
        current = self._own_message(p, "message to edit not found")
        if current.get("reply_markup") == markup:
            raise _not_modified()
        edited = current | {"edit_date": _now()}
        return self._remember(_with_content(edited, current.get("text"), current.get("entities", []), markup))

    async def _api_deleteMessage(self, p: dict[str, Any]) -> bool:
        key = (_chat_id(p), p.get("message_id"))
        if key not in self.messages:
            raise bad_request("message to delete not found")
        del self.messages[key]  # type: ignore[arg-type]
        return True

    async def _api_sendChatAction(self, p: dict[str, Any]) -> bool:
        _chat_id(p)
        if p.get("action") not in CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        return True

    async def _api_answerCallbackQuery(self, p: dict[str, Any]) -> bool:
        query_id = str(p.get("callback_query_id", ""))
        if query_id not in self.open_callback_queries:
            raise bad_request("query is too old and response timeout expired or query ID is invalid")
        self.open_callback_queries.discard(query_id)
        return True

    async def _api_setWebhook(self, p: dict[str, Any]) -> bool:
        secret = p.get("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            raise bad_request("secret token contains unallowed characters")
        if p.get("drop_pending_updates"):
            self.pending_updates.clear()
        if "allowed_updates" in p:
            self._set_allowed_updates(p["allowed_updates"])
        self.webhook = dict(p) if p.get("url") else {}
        return True

    async def _api_deleteWebhook(self, p: dict[str, Any]) -> bool:
        if p.get("drop_pending_updates"):
            self.pending_updates.clear()
        self.webhook = {}
        return True

    async def _api_getWebhookInfo(self, p: dict[str, Any]) -> dict[str, Any]:
        info = {"url": self.webhook.get("url", ""), "has_custom_certificate": False}
        info["pending_update_count"] = len(self.pending_updates)
        if self.webhook:
            info |= {"max_connections": self.webhook.get("max_connections", 40), "ip_address": "127.0.0.1"}
        if self._allowed_updates is not None:
            info["allowed_updates"] = sorted(self._allowed_updates)
        return info

    async def _api_setMyCommands(self, p: dict[str, Any]) -> bool:
        commands = p.get("commands") or []
        for command in commands:
            if not re.fullmatch(r"[a-z0-9_]{1,32}", str(command.get("command", ""))):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", "")).strip()) <= 256:
                raise bad_request("command description must be non-empty")
        self.commands[_commands_key(p.get("scope"), p.get("language_code", ""))] = list(commands)
        return True

    async def _api_getMyCommands(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        return self.command_list(p.get("scope"), p.get("language_code", ""))

    async def _api_deleteMyCommands(self, p: dict[str, Any]) -> bool:
        self.commands.pop(_commands_key(p.get("scope"), p.get("language_code", "")), None)
        return True

    async def _api_getUpdates(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        if self.webhook:
            raise BotAPIError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to "
                "delete the webhook first",
            )
        offset, limit = int(p.get("offset", 0)), min(max(int(p.get("limit", 100)), 1), 100)
        if "allowed_updates" in p:
            self._set_allowed_updates(p["allowed_updates"])
        if offset > 0:  # confirms everything before it
            self.pending_updates = [u for u in self.pending_updates if u["update_id"] >= offset]
        self._poll_generation += 1
        generation = self._poll_generation
        self._notify()
        await self._wait_until(
            lambda: bool(self._deliverable()) or self._closing or self._poll_generation != generation,
            float(p.get("timeout", 0)),
        )
        if self._poll_generation != generation and not self._closing:
            raise BotAPIError(
                409,
                "Conflict: terminated by other getUpdates request; make sure that only one bot instance "
                "is running",
            )
        updates = self._deliverable()
        return updates[offset:] if offset < 0 else updates[:limit]

    async def _api_getFile(self, p: dict[str, Any]) -> dict[str, Any]:
        file_id = str(p.get("file_id", ""))
        if file_id not in self._file_paths:
            raise bad_request("invalid file_id")
        path = self._file_paths[file_id]
        return {
            "file_id": file_id,
            "file_unique_id": file_id[:16],
            "file_size": len(self.files[path]),
            "file_path": path,
        }

    async def _api_close(self, p: dict[str, Any]) -> bool:
        return True

    async def _api_logOut(self, p: dict[str, Any]) -> bool:
        return True

    # Helpers for the methods above.

    def _formatted(self, p: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
        """The text users would see and its entities, validated the way Telegram validates them."""
        text = "" if p.get("text") is None else str(p["text"])
        entities: list[dict[str, Any]] = p.get("entities") or []
        mode = str(p.get("parse_mode") or "").lower()
        if mode == "html":
            if self._html_rejections:
                self._html_rejections -= 1
                raise BotAPIError(400, REJECTED_HTML)
            try:
                text, entities = parse_html(text, strict_ampersand=self.strict_ampersand)
            except HtmlError as exc:
                raise bad_request(f"can't parse entities: {exc}") from None
        elif mode not in {"", "markdown", "markdownv2"}:
            raise bad_request("unsupported parse_mode")
        if not text.strip():
            raise bad_request("message text is empty")
        if len(text) > MAX_TEXT:
            raise bad_request("message is too long")
        return text, entities

    def _own_message(self, p: dict[str, Any], missing: str) -> dict[str, Any]:
        current = self.messages.get((_chat_id(p), p.get("message_id")))  # type: ignore[arg-type]
        if current is None:
            raise bad_request(missing)
        if current.get("from") != self.bot_user:
            raise bad_request("message can't be edited")
        return current

    def _replied(self, chat_id: int, p: dict[str, Any]) -> dict[str, Any] | None:
        reference = p.get("reply_parameters") or {}
        if not reference and p.get("reply_to_message_id") is not None:
            reference = {"message_id": p["reply_to_message_id"]}
        if not reference:
            return None
        replied = self.messages.get((reference.get("chat_id", chat_id), reference.get("message_id")))
        if replied is None and not (
            reference.get("allow_sending_without_reply") or p.get("allow_sending_without_reply")
        ):
            raise bad_request("message to be replied not found")
        return None if replied is None else {k: v for k, v in replied.items() if k != "reply_to_message"}

    def _set_allowed_updates(self, allowed: list[str] | None) -> None:
        self._allowed_updates = frozenset(allowed) if allowed else None

    def _deliverable(self) -> list[dict[str, Any]]:
        def wanted(update: dict[str, Any]) -> bool:
            kind = next(key for key in update if key != "update_id")
            return (
                kind not in _NOT_BY_DEFAULT
                if self._allowed_updates is None
                else kind in self._allowed_updates
            )

        return sorted(filter(wanted, self.pending_updates), key=lambda update: update["update_id"])


def _now() -> int:
    return int(time.time())


def _not_modified() -> BotAPIError:
    return bad_request(
        "message is not modified: specified new message content and reply markup are exactly the same as a "
        "current content and reply markup of the message"
    )


def _chat_id(p: dict[str, Any]) -> int:
    chat_id = p.get("chat_id")
    if chat_id is None or chat_id == "":
        raise bad_request("chat_id is empty")
    if not isinstance(chat_id, int) or isinstance(chat_id, bool):
        raise bad_request("chat not found")  # @usernames would need a directory of public chats
    return chat_id


def _inline_markup(p: dict[str, Any]) -> dict[str, Any] | None:
    """The inline keyboard a message keeps (reply keyboards are not part of the message Telegram returns)."""
    markup = p.get("reply_markup")
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" not in markup:
        return None
    for button in (button for row in markup["inline_keyboard"] for button in row):
        data = button.get("callback_data")
        if data is not None and not 1 <= len(str(data).encode()) <= 64:
            raise bad_request("BUTTON_DATA_INVALID")
    return markup


def _with_content(
    message: dict[str, Any], text: str, entities: list[dict[str, Any]], markup: dict[str, Any] | None
) -> dict[str, Any]:
    message = {key: value for key, value in message.items() if key not in {"entities", "reply_markup"}}
    message["text"] = text
    if entities:
        message["entities"] = entities
    if markup is not None:
        message["reply_markup"] = markup
    return message


def _commands_key(scope: dict[str, Any] | None, language_code: str) -> tuple[str, str]:
    return json.dumps(scope or {"type": "default"}, sort_keys=True), language_code or ""
