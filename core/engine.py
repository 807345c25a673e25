"""The dialogue engine: one turn from a frontend's question to a stream of events, persisted on the way.

Pipeline: user and conversation → language → history window → retrieval → provider → persistence. Every
frontend drives :meth:`Engine.stream` (or :meth:`Engine.ask`, the same stream collected) and renders the
events; none of them holds business logic.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import TYPE_CHECKING

from otvet.core.llm import AnswerRequest, ProviderDone, ProviderError
from otvet.core.tokens import estimate_tokens
from otvet.core.types import Delta, Event, Failure, Final, HistoryMessage, Passage, SourceRef, Turn, Usage

if TYPE_CHECKING:
    from otvet.core.app import Otvet
    from otvet.core.i18n import Translator
    from otvet.core.store import StoredMessage, UserRecord

log = logging.getLogger(__name__)

#: Longer questions are refused: they are almost always pasted documents, not questions.
MAX_QUESTION_CHARS = 4000
PRIVATE_CHAT = "private"


class Engine:
    """Answers turns. Stateless itself: everything lives in storage and the knowledge base."""

    def __init__(self, otvet: Otvet) -> None:
        self.otvet = otvet

    async def ask(self, turn: Turn) -> Final | Failure:
        """Answer ``turn`` and return the final event (the stream, collected)."""
        last: Final | Failure | None = None
        async for event in self.stream(turn):
            if isinstance(event, Final | Failure):
                last = event
        assert last is not None, "Engine.stream always ends with Final or Failure"
        return last

    async def stream(self, turn: Turn) -> AsyncIterator[Event]:
        """Yield deltas as the answer is produced, then one :class:`Final` or :class:`Failure`."""
        started = time.monotonic()
        language = self.otvet.i18n.negotiate(turn.locale_hint) or self.otvet.settings.default_language
        try:
            text = turn.text.strip()
            if not text:
                yield self._failure("empty_question", language)
                return
            if len(text) > MAX_QUESTION_CHARS:
                # Refused before the user is looked up: answer in the language the text is written in.
                language = self.otvet.detect_language(text[:500], turn.locale_hint) or language
                yield self._failure("question_too_long", language)
                return
            store = self.otvet.store
            user = await store.get_or_create_user(turn.channel, turn.user_id, turn.display_name)
            owner = await self._owner(turn.channel, user, turn.chat_id, turn.shared)
            conversation = await store.current_conversation(owner.id, turn.chat_id or PRIVATE_CHAT)
            language = self.resolve_language(turn, user)
            history = await self._history_window(conversation.id)
            question_id = await store.add_message(conversation.id, "user", text, language=language)
        except Exception:
            log.exception("turn setup failed (channel=%s user=%s)", turn.channel, turn.user_id)
            yield self._failure("internal_error", language)
            return

        translator = self.otvet.i18n.get(language)
        answer = self._answer(text, language, translator, history, conversation.id, question_id, started)
        # aclosing: when our consumer leaves, the inner generator (and the provider's stream) closes now,
        # not whenever the garbage collector gets to it.
        async with aclosing(answer):
            async for event in answer:
                yield event

    async def _answer(
        self,
        question: str,
        language: str,
        translator: Translator,
        history: tuple[HistoryMessage, ...],
        conversation_id: int,
        question_id: int,
        started: float,
    ) -> AsyncIterator[Event]:
        store = self.otvet.store
        provider = self.otvet.provider
        parts: list[str] = []
        done = ProviderDone()
        finished = False
        in_provider = False
        try:
            passages = tuple(await self.otvet.knowledge.search(question, self.otvet.settings.retrieval.top_k))
            request = AnswerRequest(question, language, passages, history, translator)
            in_provider = True
            stream = provider.stream(request)
            # The deadline covers the provider's own work, not the time a frontend spends rendering deltas.
            deadline = asyncio.get_running_loop().time() + self.otvet.settings.answer_timeout
            try:
                while True:
                    async with asyncio.timeout_at(deadline):
                        try:
                            item = await anext(stream)
                        except StopAsyncIteration:
                            break
                    if isinstance(item, ProviderDone):
                        done = item
                    elif item:
                        parts.append(item)
                        yield Delta(item)
            finally:
                await _aclose(stream)
            in_provider = False
            answer = "".join(parts).strip()
            if not answer:
                raise ProviderError("the provider returned an empty answer", code="empty_answer")
            usage = done.usage
            if not usage.total_tokens:
                usage = Usage(
                    prompt_tokens=estimate_tokens(question) + sum(estimate_tokens(p.text) for p in passages),
                    completion_tokens=estimate_tokens(answer),
                )
            sources = _cited_sources(passages, done) if done.grounded else ()
            latency_ms = int((time.monotonic() - started) * 1000)
            message_id = await store.add_message(
                conversation_id,
                "assistant",
                answer,
                language=language,
                sources=sources,
                latency_ms=latency_ms,
                usage=usage,
                provider=provider.name,
            )
            finished = True
            log.info(
                "answered conversation=%s provider=%s passages=%d grounded=%s latency_ms=%d",
                conversation_id,
                provider.name,
                len(passages),
                done.grounded,
                latency_ms,
            )
            yield Final(
                text=answer,
                language=language,
                sources=sources,
                usage=usage,
                provider=provider.name,
                grounded=done.grounded,
                conversation_id=conversation_id,
                message_id=message_id,
                latency_ms=latency_ms,
            )
        except TimeoutError:
            log.warning(
                "provider %s timed out after %.1fs", provider.name, self.otvet.settings.answer_timeout
            )
            finished = True
            yield await self._fail_turn("provider_timeout", language, conversation_id, question_id)
        except Exception as exc:
            if isinstance(exc, ProviderError) or in_provider:
                reason = exc.code if isinstance(exc, ProviderError) else type(exc).__name__
                log.exception("provider %s failed (%s)", provider.name, reason)
                code = "provider_error"
            else:  # retrieval or storage: not the provider's fault, and the log should say so
                log.exception("answering failed outside the provider")
                code = "internal_error"
            finished = True
            yield await self._fail_turn(code, language, conversation_id, question_id)
        finally:
            if not finished:
                # The consumer went away mid-answer (a closed socket, a cancelled task): keep the question,
                # marked, so it neither vanishes nor pollutes the next history window.
                await _quietly(store.set_message_status(question_id, "cancelled"))

    async def _fail_turn(self, code: str, language: str, conversation_id: int, question_id: int) -> Failure:
        failure = self._failure(code, language, conversation_id)
        await _quietly(self.otvet.store.set_message_status(question_id, "failed"))
        return failure

    def resolve_language(self, turn: Turn, user: UserRecord) -> str:
        """Explicit choice (turn, then user), else the message's language, else the hint, else the default."""
        languages = self.otvet.i18n.languages
        if turn.language in languages:
            return turn.language  # type: ignore[return-value]
        if user.language in languages:
            return user.language  # type: ignore[return-value]
        detected = self.otvet.detect_language(turn.text, turn.locale_hint)
        if detected in languages:
            return detected  # type: ignore[return-value]
        return self.otvet.i18n.negotiate(turn.locale_hint) or self.otvet.settings.default_language

    async def _history_window(self, conversation_id: int) -> tuple[HistoryMessage, ...]:
        """The newest messages that fit both the message and the token budget, oldest first."""
        limits = self.otvet.settings.history
        if limits.max_messages == 0 or limits.max_tokens == 0:
            return ()
        messages = await self.otvet.store.history(conversation_id, limits.max_messages)
        kept: list[HistoryMessage] = []
        budget = limits.max_tokens
        for message in reversed(messages):
            cost = estimate_tokens(message.text)
            if cost > budget:
                break
            budget -= cost
            kept.append(message)
        return tuple(reversed(kept))

    async def _owner(self, channel: str, user: UserRecord, chat_id: str | None, shared: bool) -> UserRecord:
        """Whose conversation a turn joins: the user's own, or, in a shared chat, the chat's."""
        if not shared or not chat_id:
            return user
        return await self.otvet.store.get_or_create_user(channel, f"chat:{chat_id}")

    async def reset(
        self, channel: str, user_id: str, chat_id: str | None = None, *, shared: bool = False
    ) -> bool:
        """Start a fresh conversation for the user (or the shared chat); False if there was none to reset."""
        user = await self.otvet.store.get_or_create_user(channel, user_id)
        owner = await self._owner(channel, user, chat_id, shared)
        return await self.otvet.store.reset_conversation(owner.id, chat_id or PRIVATE_CHAT)

    async def language_for(self, channel: str, user_id: str, hint: str | None = None) -> str:
        """The language for replies that are not answers: the user's choice, else the client's hint."""
        user = await self.otvet.store.get_or_create_user(channel, user_id)
        if user.language in self.otvet.i18n.languages:
            return user.language  # type: ignore[return-value]
        return self.otvet.i18n.negotiate(hint) or self.otvet.settings.default_language

    async def last_answer(
        self, channel: str, user_id: str, chat_id: str | None = None, *, shared: bool = False
    ) -> StoredMessage | None:
        """The latest answer in the user's (or the shared chat's) current conversation (for "/sources")."""
        user = await self.otvet.store.get_or_create_user(channel, user_id)
        owner = await self._owner(channel, user, chat_id, shared)
        conversation = await self.otvet.store.current_conversation(owner.id, chat_id or PRIVATE_CHAT)
        answers = [
            m
            for m in await self.otvet.store.messages(conversation.id)
            if m.role == "assistant" and m.status == "ok"
        ]
        return answers[-1] if answers else None

    async def rate(self, channel: str, user_id: str, message_id: int, value: int) -> None:
        """Store the user's 👍 (+1) or 👎 (-1) on an answer; a second rating replaces the first."""
        user = await self.otvet.store.get_or_create_user(channel, user_id)
        await self.otvet.store.add_feedback(message_id, user.id, value)

    async def set_language(self, channel: str, user_id: str, language: str | None) -> str | None:
        """Store the user's language choice (None: follow what they write); returns the stored value."""
        if language is not None and language not in self.otvet.i18n.languages:
            raise ValueError(
                f"unknown language {language!r}; available: {', '.join(self.otvet.i18n.languages)}"
            )
        user = await self.otvet.store.get_or_create_user(channel, user_id)
        await self.otvet.store.set_user_language(user.id, language)
        return language

    def _failure(self, code: str, language: str, conversation_id: int | None = None) -> Failure:
        return Failure(
            message=failure_message(self.otvet.i18n.get(language), code),
            code=code,
            language=language,
            conversation_id=conversation_id,
        )


def failure_message(t: Translator, code: str) -> str:
    """The calm, localized text a user sees for a failure ``code``."""
    if code == "empty_question":
        return t.gettext("Please write your question as text.")
    if code == "question_too_long":
        return t.gettext(
            "Your message is too long (more than %(limit)d characters). Please ask a shorter question.",
            limit=MAX_QUESTION_CHARS,
        )
    if code == "provider_timeout":
        return t.gettext("Answering took too long. Please try again in a minute.")
    return t.gettext("Sorry, I could not answer right now. Please try again in a minute.")


def _cited_sources(passages: tuple[Passage, ...], done: ProviderDone) -> tuple[SourceRef, ...]:
    indexes = range(len(passages)) if done.cited is None else done.cited
    seen: dict[tuple[object, ...], SourceRef] = {}
    for index in indexes:
        if 0 <= index < len(passages):
            source = passages[index].source
            seen.setdefault((source.source_id, source.chunk_id, source.title), source)
    return tuple(seen.values())


async def _aclose(stream: AsyncIterator[object]) -> None:
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        await aclose()


async def _quietly(awaitable: object) -> None:
    """Await a best-effort bookkeeping write; its failure is logged, never shown to the user."""
    try:
        await awaitable  # type: ignore[misc]
    except Exception:
        log.exception("bookkeeping write failed")
