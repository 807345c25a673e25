"""Realistic Update JSON for tests, built on the chats and messages the fake Bot API keeps.

Incoming messages take their ids from the same per-chat counter as the bot's own messages, as in Telegram, so
replies, edits and callback queries can point at real messages.
"""

from __future__ import annotations

import itertools
import re
import time
from typing import Any

from tests.support.telegram_html import utf16_len

USER_ID = 1001
GROUP_ID = -1001234567890
CHANNEL_ID = -1009876543210
_COMMAND = re.compile(r"(?<!\S)/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{5,32})?")
_MENTION = re.compile(r"(?<![\w@])@[A-Za-z0-9_]{5,32}\b")


def chat_for(chat_id: int) -> dict[str, Any]:
    """A chat nobody described: negative ids are supergroups, positive ones private chats."""
    if chat_id < 0:
        return {"id": chat_id, "type": "supergroup", "title": "Otvet test group"}
    return {"id": chat_id, "type": "private", "first_name": "User"}


def text_entities(text: str) -> list[dict[str, Any]]:
    """The entities Telegram adds to a user's text on its own: bot commands and @mentions."""
    found = [(match, "bot_command") for match in _COMMAND.finditer(text)]
    found += [(match, "mention") for match in _MENTION.finditer(text)]
    entities = [
        {"type": kind, "offset": utf16_len(text[: match.start()]), "length": utf16_len(match.group())}
        for match, kind in found
    ]
    return sorted(entities, key=lambda entity: entity["offset"])


class UpdateBuilders:
    """Update builders and the chat/message store they share with the fake server (a mixin for FakeBotAPI)."""

    bot_user: dict[str, Any]

    def __init__(self, first_update_id: int = 700_000_001) -> None:
        # Telegram numbers a bot's updates in sequence, never twice: a repeated id is a resend.
        self._update_ids = itertools.count(first_update_id)
        self._callback_ids = itertools.count(4_382_000_000_000_001)
        self._last_message_id: dict[int, int] = {}
        self.messages: dict[tuple[int, int], dict[str, Any]] = {}
        self.chats: dict[int, dict[str, Any]] = {}
        self.open_callback_queries: set[str] = set()

    # The store.

    def chat(self, chat_id: int) -> dict[str, Any]:
        return self.chats.get(chat_id) or chat_for(chat_id)

    def message(self, chat_id: int, message_id: int) -> dict[str, Any]:
        return self.messages[(chat_id, message_id)]

    def message_text(self, chat_id: int, message_id: int) -> str:
        """The message's current text as users see it (HTML already parsed)."""
        return str(self.messages[(chat_id, message_id)].get("text", ""))

    def bot_messages(self, chat_id: int) -> list[dict[str, Any]]:
        """The bot's messages in a chat, oldest first, as they are now (after edits)."""
        found = [
            m for (chat, _), m in self.messages.items() if chat == chat_id and m.get("from") == self.bot_user
        ]
        return sorted(found, key=lambda message: message["message_id"])

    def _next_message_id(self, chat_id: int) -> int:
        self._last_message_id[chat_id] = self._last_message_id.get(chat_id, 0) + 1
        return self._last_message_id[chat_id]

    def _remember(self, message: dict[str, Any]) -> dict[str, Any]:
        self.messages[(message["chat"]["id"], message["message_id"])] = message
        return message

    # Users and chats.

    def user(
        self, user_id: int = USER_ID, first_name: str = "Ivan", language_code: str | None = "ru", **extra: Any
    ) -> dict[str, Any]:
        user = {"id": user_id, "is_bot": False, "first_name": first_name, **extra}
        if language_code is not None:
            user["language_code"] = language_code
        return user

    def _private_chat(self, user: dict[str, Any]) -> dict[str, Any]:
        chat = {"id": user["id"], "type": "private", "first_name": user["first_name"]}
        chat |= {key: user[key] for key in ("last_name", "username") if key in user}
        self.chats[user["id"]] = chat
        return chat

    def _group_chat(self, chat_id: int, title: str, *, is_forum: bool = False) -> dict[str, Any]:
        chat = {"id": chat_id, "type": "supergroup" if str(chat_id).startswith("-100") else "group"}
        chat |= {"title": title} | ({"is_forum": True} if is_forum else {})
        self.chats[chat_id] = chat
        return chat

    def _text_message(self, chat: dict[str, Any], sender: dict[str, Any], text: str) -> dict[str, Any]:
        message = {
            "message_id": self._next_message_id(chat["id"]),
            "from": sender,
            "chat": chat,
            "date": int(time.time()),
            "text": text,
        }
        if entities := text_entities(text):
            message["entities"] = entities
        return message

    def _update(self, **body: Any) -> dict[str, Any]:
        return {"update_id": next(self._update_ids), **body}

    # Updates.

    def private_message(
        self, text: str, *, user_id: int = USER_ID, first_name: str = "Ivan", language_code: str | None = "ru"
    ) -> dict[str, Any]:
        """A user writes to the bot in a private chat (commands get their bot_command entity)."""
        sender = self.user(user_id, first_name, language_code)
        return self._update(
            message=self._remember(self._text_message(self._private_chat(sender), sender, text))
        )

    def group_message(
        self,
        text: str,
        *,
        chat_id: int = GROUP_ID,
        user_id: int = USER_ID,
        first_name: str = "Ivan",
        language_code: str | None = "ru",
        reply_to_bot: bool = False,
        message_thread_id: int | None = None,
        is_topic_message: bool = False,
        title: str = "Otvet test group",
    ) -> dict[str, Any]:
        """A message in a (super)group; ``@otvet_test_bot`` in the text becomes a mention entity."""
        chat = self._group_chat(chat_id, title, is_forum=is_topic_message)
        sender = self.user(user_id, first_name, language_code)
        message = self._text_message(chat, sender, text)
        if message_thread_id is not None:
            message["message_thread_id"] = message_thread_id
        if is_topic_message:
            message["is_topic_message"] = True
        if reply_to_bot:
            earlier = self.bot_messages(chat_id)
            message["reply_to_message"] = (
                earlier[-1] if earlier else self._bot_message(chat, "Earlier answer")
            )
        elif is_topic_message and message_thread_id is not None:
            # Telegram makes every message in a forum topic a "reply" to the topic's creation message: a
            # classic trap for "is this a reply to the bot?" checks.
            message["reply_to_message"] = {
                "message_id": message_thread_id,
                "from": sender,
                "chat": chat,
                "date": int(time.time()) - 3600,
                "message_thread_id": message_thread_id,
                "is_topic_message": True,
                "forum_topic_created": {"name": "Questions", "icon_color": 7322096},
            }
        return self._update(message=self._remember(message))

    def _bot_message(self, chat: dict[str, Any], text: str) -> dict[str, Any]:
        message_id = self._next_message_id(chat["id"])
        return self._remember(
            {
                "message_id": message_id,
                "from": self.bot_user,
                "chat": chat,
                "date": int(time.time()),
                "text": text,
            }
        )

    def callback_query(
        self,
        data: str,
        *,
        message_id: int,
        chat_id: int,
        user_id: int | None = None,
        first_name: str = "Ivan",
    ) -> dict[str, Any]:
        """A user presses an inline button under a bot message; answerCallbackQuery may answer it once."""
        sender = self.user(
            user_id if user_id is not None else (chat_id if chat_id > 0 else USER_ID), first_name
        )
        message = self.messages.get((chat_id, message_id)) or {
            "message_id": message_id,
            "from": self.bot_user,
            "chat": self.chat(chat_id),
            "date": int(time.time()),
            "text": "An older message",
        }
        query_id = str(next(self._callback_ids))
        self.open_callback_queries.add(query_id)
        body = {
            "id": query_id,
            "from": sender,
            "message": message,
            "chat_instance": f"-{abs(chat_id)}77",
            "data": data,
        }
        return self._update(callback_query=body)

    def sticker_message(
        self,
        *,
        emoji: str = "👍",
        user_id: int = USER_ID,
        chat_id: int | None = None,
        first_name: str = "Ivan",
    ) -> dict[str, Any]:
        """A sticker (no text at all) in a private chat, or in ``chat_id``'s group."""
        sender = self.user(user_id, first_name)
        chat = self._private_chat(sender) if chat_id is None or chat_id > 0 else self.chat(chat_id)
        sticker = {
            "file_id": "CAACAgIAAxkBAAEBb2ZlZmFrZXN0aWNrZXIAAgIAAzQ",
            "file_unique_id": "AgADAgADf3BGHA",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
            "set_name": "OtvetTestStickers",
        }
        message_id = self._next_message_id(chat["id"])
        message = {"message_id": message_id, "from": sender, "chat": chat, "date": int(time.time())}
        return self._update(message=self._remember(message | {"sticker": sticker}))

    def document_message(
        self,
        file_id: str,
        file_name: str,
        *,
        file_size: int,
        caption: str | None = None,
        user_id: int = USER_ID,
        language_code: str | None = "en",
    ) -> dict[str, Any]:
        """A user sends a file in a private chat (``add_file`` makes its content downloadable)."""
        sender = self.user(user_id, "Ivan", language_code)
        chat = self._private_chat(sender)
        document = {
            "file_id": file_id,
            "file_unique_id": f"u{file_id}",
            "file_name": file_name,
            "mime_type": "application/octet-stream",
            "file_size": file_size,
        }
        message = {"message_id": self._next_message_id(chat["id"]), "from": sender, "chat": chat}
        message |= {"date": int(time.time()), "document": document}
        if caption is not None:
            message["caption"] = caption
            if entities := text_entities(caption):
                message["caption_entities"] = entities
        return self._update(message=self._remember(message))

    def private_reply(
        self, text: str, replied: dict[str, Any], *, user_id: int = USER_ID, language_code: str | None = "en"
    ) -> dict[str, Any]:
        """A user replies with ``text`` to ``replied`` (a message of the chat, the bot's or their own)."""
        sender = self.user(user_id, "Ivan", language_code)
        message = self._text_message(self._private_chat(sender), sender, text) | {"reply_to_message": replied}
        return self._update(message=self._remember(message))

    def edited_message(
        self, text: str, *, message_id: int | None = None, chat_id: int | None = None, user_id: int = USER_ID
    ) -> dict[str, Any]:
        """A user edits an earlier message (by default the last one they sent in the chat)."""
        chat_id = user_id if chat_id is None else chat_id
        if message_id is None:
            mine = [
                m
                for (c, _), m in self.messages.items()
                if c == chat_id and m.get("from", {}).get("id") == user_id
            ]
            if not mine:
                raise LookupError(f"user {user_id} has no message in chat {chat_id} to edit")
            message_id = max(m["message_id"] for m in mine)
        original = self.messages[(chat_id, message_id)]
        edited = original | {"text": text, "edit_date": int(time.time())}
        edited.pop("entities", None)
        if entities := text_entities(text):
            edited["entities"] = entities
        return self._update(edited_message=self._remember(edited))

    def recording_message(
        self,
        file_id: str,
        *,
        kind: str = "voice",
        duration: int = 3,
        file_size: int | None = 4096,
        chat_id: int | None = None,
        user_id: int = USER_ID,
        first_name: str = "Ivan",
        language_code: str | None = "ru",
        caption: str | None = None,
        reply_to_bot: bool = False,
        file_name: str = "question.mp3",
    ) -> dict[str, Any]:
        """A voice message (``kind="voice"``), a round video note (``video_note``) or an audio file
        (``audio``) in a private chat, or in ``chat_id``'s group; ``add_file`` makes its content
        downloadable. ``file_size=None`` leaves the size out, as Telegram may."""
        sender = self.user(user_id, first_name, language_code)
        if chat_id is None or chat_id > 0:
            chat = self._private_chat(sender)
        else:
            chat = self._group_chat(chat_id, "Otvet test group")
        media: dict[str, Any] = {
            "file_id": file_id,
            "file_unique_id": f"u{file_id}"[:16],
            "duration": duration,
        }
        if kind == "voice":
            media["mime_type"] = "audio/ogg"
        elif kind == "video_note":
            media["length"] = 240
        elif kind == "audio":
            media |= {"mime_type": "audio/mpeg", "file_name": file_name, "title": "Question"}
        else:
            raise ValueError(f"a recording is a voice, video_note or audio, not {kind!r}")
        if file_size is not None:
            media["file_size"] = file_size
        message = {"message_id": self._next_message_id(chat["id"]), "from": sender, "chat": chat}
        message |= {"date": int(time.time()), kind: media}
        if caption is not None:
            message["caption"] = caption
            if entities := text_entities(caption):
                message["caption_entities"] = entities
        if reply_to_bot:
            earlier = self.bot_messages(chat["id"])
            message["reply_to_message"] = (
                earlier[-1] if earlier else self._bot_message(chat, "Earlier answer")
            )
        return self._update(message=self._remember(message))

    def channel_post(
        self, text: str, *, chat_id: int = CHANNEL_ID, title: str = "Otvet channel"
    ) -> dict[str, Any]:
        """A post in a channel where the bot is an administrator: no ``from``, the channel is the sender."""
        chat = {"id": chat_id, "type": "channel", "title": title}
        self.chats[chat_id] = chat
        post = {
            "message_id": self._next_message_id(chat_id),
            "sender_chat": chat,
            "chat": chat,
            "date": int(time.time()),
            "text": text,
        }
        return self._update(channel_post=self._remember(post))

    def my_chat_member(
        self,
        *,
        chat_id: int = GROUP_ID,
        new_status: str = "member",
        old_status: str = "left",
        user_id: int = USER_ID,
    ) -> dict[str, Any]:
        """The bot was added to, removed from or blocked in a chat (``kicked`` in a private chat: blocked)."""
        chat = (
            self._private_chat(self.user(chat_id))
            if chat_id > 0
            else self.chats.get(chat_id) or chat_for(chat_id)
        )
        body = {
            "chat": chat,
            "from": self.user(user_id),
            "date": int(time.time()),
            "old_chat_member": self._member(old_status),
            "new_chat_member": self._member(new_status),
        }
        return self._update(my_chat_member=body)

    def _member(self, status: str) -> dict[str, Any]:
        member: dict[str, Any] = {"user": self.bot_user, "status": status}
        if status == "kicked":
            member["until_date"] = 0
        elif status == "administrator":
            rights = [
                "can_manage_chat",
                "can_delete_messages",
                "can_manage_video_chats",
                "can_restrict_members",
            ]
            rights += ["can_promote_members", "can_change_info", "can_invite_users", "can_post_stories"]
            rights += ["can_edit_stories", "can_delete_stories"]
            member |= {"can_be_edited": False, "is_anonymous": False} | dict.fromkeys(rights, False)
        elif status == "creator":
            member["is_anonymous"] = False
        elif status not in {"member", "left"}:
            raise ValueError(f"unsupported chat member status {status!r}")
        return member
