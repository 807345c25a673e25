"""The dialogue engine: one turn from a frontend's question to a stream of events, persisted on the way.

Pipeline: user and conversation → language → history window → retrieval → provider → persistence. Every
frontend drives :meth:`Engine.stream` (or :meth:`Engine.ask`, the same stream collected) and renders the
events; none of them holds business logic.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from otvet.core.feedback import record_rating
from otvet.core.llm import AnswerRequest, Provider, ProviderDone, ProviderError
from otvet.core.logs import log_context
from otvet.core.quotas import QUOTA_CODES, quota_message
from otvet.core.sources import storable_text
from otvet.core.store import DatabaseUnavailable, TurnActivity
from otvet.core.text import plain
from otvet.core.tokens import estimate_tokens
from otvet.core.types import (
    Delta,
    Event,
    Failure,
    Final,
    HistoryMessage,
    Passage,
    Refusal,
    SourceRef,
    Turn,
    Usage,
)

if TYPE_CHECKING:
    from otvet.core.app import Otvet
    from otvet.core.i18n import Translator
    from otvet.core.store import StoredMessage, UserRecord
    from otvet.core.tracing import Span

log = logging.getLogger(__name__)

#: Longer questions are refused: they are almost always pasted documents, not questions.
MAX_QUESTION_CHARS = 4000
#: The failure code of a question a ``review_question`` plugin refused (unless it gives its own).
REFUSAL_CODES = frozenset({"refused"})
#: Questions refused for what they are (empty, too long): refusals, not failures of the service.
INPUT_CODES = frozenset({"empty_question", "question_too_long"})
PRIVATE_CHAT = "private"


@dataclass(frozen=True, slots=True)
class _Answering:
    """One turn, set up and stored, on its way to an answer."""

    question: str
    language: str
    translator: Translator
    history: tuple[HistoryMessage, ...]
    conversation_id: int
    question_id: int
    user_id: int
    started: float
    span: Span
    #: Whether the caller shows the answer as it is written (a stream); if not, a provider failing half way
    #: can still be replaced by the fallback's whole answer, since nobody has seen the half.
    shown: bool = True


@dataclass(slots=True)
class _Outcome:
    """What the provider produced so far; ``note`` is set when the fallback provider answers."""

    parts: list[str] = field(default_factory=list)
    done: ProviderDone = field(default_factory=ProviderDone)
    provider: str = ""
    model: str = ""
    note: str = ""
    #: Set when the provider stopped after the user saw part of its answer: the note that ends it.
    cut: str = ""

    def restart(self, *, note: str) -> None:
        """Forget what the failed provider produced: the fallback's answer follows ``note``."""
        self.parts.clear()
        self.done, self.provider, self.model, self.note, self.cut = ProviderDone(), "", "", note, ""


def storable_turn(turn: Turn) -> Turn:
    """``turn`` with texts and ids both databases can store (:func:`~otvet.core.sources.storable_text`).
    Without NULs, which PostgreSQL cannot store (SQLite can, so both would differ) and no language needs.
    Lone surrogates become U+FFFD: UTF-8 cannot encode them, and they do reach here. A command-line
    argument typed in a terminal that is not UTF-8 carries its bytes as surrogates. The JSON frontends
    refuse them before (frontends/untrusted.py). Every frontend's turn passes here."""
    texts = {
        name: clean
        for name in ("user_id", "text", "chat_id", "display_name")
        if isinstance(value := getattr(turn, name), str) and (clean := storable_text(value)) != value
    }
    return dataclasses.replace(turn, **texts) if texts else turn  # type: ignore[arg-type]  # only str fields


class Engine:
    """Answers turns. Stateless itself: everything lives in storage and the knowledge base."""

    def __init__(self, otvet: Otvet) -> None:
        self.otvet = otvet

    async def ask(self, turn: Turn) -> Final | Failure:
        """Answer ``turn`` and return the final event (the stream, collected: nobody sees the deltas)."""
        last: Final | Failure | None = None
        async for event in self.stream(turn, shown=False):
            if isinstance(event, Final | Failure):
                last = event
        assert last is not None, "Engine.stream always ends with Final or Failure"
        return last

    async def stream(self, turn: Turn, *, shown: bool = True) -> AsyncIterator[Event]:
        """Yield deltas as the answer is produced, then one :class:`Final` or :class:`Failure`.

        ``shown``: the caller shows the deltas as they come. If it only keeps the final event, a provider
        that fails after some text is replaced by the fallback's answer instead of being cut short.

        The turn counts as work in progress (a stopping service waits for it) and is measured: its outcome,
        time to the first delta and to the answer (core/metrics.py), and a trace span when tracing is on.
        """
        otvet = self.otvet
        turn = storable_turn(turn)
        metrics, channel = otvet.metrics, turn.channel
        started = time.monotonic()
        span = otvet.tracing.start("otvet.turn", channel=channel)
        outcome, first = "cancelled", True
        with otvet.lifecycle.busy():
            try:
                async with aclosing(self._stream(turn, started, span, shown)) as events:
                    async for event in events:
                        if isinstance(event, Delta):
                            if first:
                                first = False
                                metrics.first_delta.labels(channel).observe(time.monotonic() - started)
                        elif isinstance(event, Final):
                            outcome = "fallback" if event.fallback else "answered"
                            metrics.answer_duration.labels(channel).observe(time.monotonic() - started)
                            span.set(
                                language=event.language, provider=event.provider, grounded=event.grounded
                            )
                            await otvet.answer_finished(turn, event)
                            await _quietly(otvet.store.record_activity(_activity(channel, event)))
                        elif isinstance(event, Failure):
                            outcome = "rejected" if refused(event.code) else "failed"
                            metrics.answer_failures.labels(channel, event.code).inc()
                            span.fail(event.code)
                            await otvet.answer_finished(turn, event)
                            await _quietly(otvet.store.record_activity(_activity(channel, event)))
                        yield event
            finally:
                metrics.answers.labels(channel, outcome).inc()
                span.end(outcome=outcome)

    async def _stream(
        self, turn: Turn, started: float, span: Span, shown: bool = True
    ) -> AsyncGenerator[Event, None]:
        language = self.otvet.i18n.negotiate(turn.locale_hint) or self.otvet.settings.default_language
        try:
            text = turn.text.strip()
            if not text:
                yield self._failure("empty_question", language)
                return
            if len(text) > MAX_QUESTION_CHARS:
                # Refused before the user is looked up, in the user's own language when the client says it
                # (a pasted log or a row of "x" tells nothing reliable), else the language of the text.
                language = (
                    self.otvet.i18n.negotiate(turn.language or turn.locale_hint)
                    or self.otvet.detect_language(text[:500], None)
                    or language
                )
                yield self._failure("question_too_long", language)
                return
            store = self.otvet.store
            user = await store.get_or_create_user(turn.channel, turn.user_id, turn.display_name)
            owner = await self._owner(turn.channel, user, turn.chat_id, turn.shared)
            conversation = await store.current_conversation(owner.id, turn.chat_id or PRIVATE_CHAT)
            language = self.resolve_language(turn, user)
            review = await self.otvet.review_question(text, turn, language)
            if isinstance(review, Refusal):
                # Kept, like a quota refusal, so an admin sees it; it neither counts nor enters a history.
                await store.add_message(
                    conversation.id,
                    "user",
                    text,
                    language=language,
                    user_id=user.id,
                    status="rejected",
                    audio_seconds=turn.audio_seconds,
                )
                log.info("question refused by a plugin (%s) for user %s", review.code, user.id)
                yield Failure(review.message, review.code, language, conversation_id=conversation.id)
                return
            # What the plugins left is what is stored and answered: a plugin that masks personal data
            # keeps it out of the database too.
            text = review
            history = await self._history_window(conversation.id)
            quotas = self.otvet.quotas
            # The check and the question it lets in are one step for every replica: concurrent questions
            # cannot all pass a check that only the first of them should.
            async with store.serialized(quotas.lock_names(user.id)):
                verdict = await quotas.check(user.id)
                # A refused question is kept (an admin sees the demand) but marked, so it neither counts nor
                # enters any history.
                question_id = await store.add_message(
                    conversation.id,
                    "user",
                    text,
                    language=language,
                    user_id=user.id,
                    # Kept out of histories until its answer is stored (which makes it ``ok``): a question
                    # whose answering process dies is never taken as asked-and-answered.
                    status="answering" if verdict is None else "rejected",
                    # A voice question's seconds: the daily allowance of audio counts them.
                    audio_seconds=turn.audio_seconds,
                )
            if verdict is not None:
                log.info("quota %s reached by user %s (limit %d)", verdict.code, user.id, verdict.limit)
                yield Failure(
                    message=quota_message(self.otvet.i18n.get(language), verdict),
                    code=verdict.code,
                    language=language,
                    conversation_id=conversation.id,
                    retry_after=verdict.retry_after,
                )
                return
        except DatabaseUnavailable as exc:
            # Logged once per outage by the store, not once per question.
            yield dataclasses.replace(self._failure("unavailable", language), retry_after=exc.retry_after)
            return
        except Exception:
            log.exception("turn setup failed (channel=%s user=%s)", turn.channel, turn.user_id)
            yield self._failure("internal_error", language)
            return

        answering = _Answering(
            question=text,
            language=language,
            translator=self.otvet.i18n.get(language),
            history=history,
            conversation_id=conversation.id,
            question_id=question_id,
            user_id=user.id,
            started=started,
            span=span,
            shown=shown,
        )
        span.set(conversation_id=conversation.id, language=language)
        answer = self._answer(answering)
        # aclosing: when our consumer leaves, the inner generator (and the provider's stream) closes now,
        # not whenever the garbage collector gets to it.
        async with aclosing(answer):
            with log_context(conversation_id=conversation.id):
                async for event in answer:
                    yield event

    async def _answer(self, a: _Answering) -> AsyncGenerator[Event, None]:
        """Retrieve, let the provider (or the fallback) answer, store the answer; every failure becomes the
        turn's Failure event, and a consumer that leaves mid-answer leaves the question marked cancelled."""
        outcome = _Outcome()
        finished = False
        stage = "retrieval"
        try:
            request = await self._request(a)
            stage = "provider"
            # aclosing at every level: a consumer that leaves closes the provider's stream now, not when the
            # garbage collector's finalizer task gets to each generator.
            async with aclosing(self._provide_with_fallback(a, request, outcome)) as deltas:
                async for delta in deltas:
                    yield delta
            stage = "storage"
            final = await self._store_answer(a, request.passages, outcome)
            finished = True
            yield final
        except TimeoutError:
            log.warning(
                "provider %s timed out after %.1fs",
                self.otvet.provider.name,
                self.otvet.settings.answer_timeout,
            )
            finished = True
            yield await self._fail_turn("provider_timeout", a.language, a.conversation_id, a.question_id)
        except DatabaseUnavailable as exc:
            finished = True
            failure = await self._fail_turn("unavailable", a.language, a.conversation_id, a.question_id)
            yield dataclasses.replace(failure, retry_after=exc.retry_after)
        except Exception as exc:
            if stage == "provider":
                log.error("provider %s failed (%s)", self.otvet.provider.name, _reason(exc), exc_info=exc)
                code = "context_too_long" if _reason(exc) == "context_length" else "provider_error"
            else:  # retrieval or storage: not the provider's fault, and the log should say so
                log.exception("answering failed outside the provider (%s)", stage)
                code = "internal_error"
            finished = True
            yield await self._fail_turn(code, a.language, a.conversation_id, a.question_id)
        finally:
            if not finished:
                # The consumer went away mid-answer (a closed socket, a cancelled task): keep the question,
                # marked, so it neither vanishes nor pollutes the next history window.
                await _quietly(self.otvet.store.set_message_status(a.question_id, "cancelled"))

    async def _request(self, a: _Answering) -> AnswerRequest:
        """The question with its passages, ready for a provider; the deadline starts now."""
        searching = self.otvet.tracing.start("otvet.retrieve", a.span)
        searched = time.monotonic()
        passages = await self._retrieve(a.question, a.history)
        self.otvet.metrics.retrieval_duration.observe(time.monotonic() - searched)
        searching.end(passages=len(passages))
        # The deadline covers the provider's own work, not the time a frontend spends rendering deltas.
        return AnswerRequest(
            a.question,
            a.language,
            passages,
            a.history,
            a.translator,
            deadline=asyncio.get_running_loop().time() + self.otvet.settings.answer_timeout,
            min_relevance=await self.otvet.knowledge.min_relevance(),
            sought=await self.otvet.knowledge.sought(plain(a.question)),
        )

    async def _provide_with_fallback(
        self, a: _Answering, request: AnswerRequest, outcome: _Outcome
    ) -> AsyncGenerator[Delta, None]:
        """The provider's deltas into ``outcome``. When it fails: an answer the user has seen part of ends
        with a note; one they have not is given by the fallback provider instead, after a note saying so
        (``outcome`` then holds the fallback's answer); with no fallback, the failure is raised."""
        provider = self.otvet.provider
        try:
            async with aclosing(self._provide(provider, request, outcome, a.span)) as pieces:
                async for piece in pieces:
                    yield Delta(piece)
            if not "".join(outcome.parts).strip():
                self.otvet.metrics.provider_errors.labels(provider.name, "empty_answer").inc()
                raise ProviderError("the provider returned an empty answer", code="empty_answer")
        except Exception as exc:
            fallback = self.otvet.fallback_provider
            if outcome.parts and a.shown:
                # The user has seen part of this answer: another one would not follow on. End this one
                # saying it was cut short, rather than with an error that hides what was said.
                log.warning(
                    "provider %s stopped after %d pieces (%s): the answer ends with a note",
                    provider.name,
                    len(outcome.parts),
                    _reason(exc),
                )
                outcome.cut = "\n\n" + a.translator.gettext(
                    "(The answer was cut short: the AI model stopped responding. Please ask again.)"
                )
                outcome.provider, outcome.model = provider.name, provider.model
                yield Delta(outcome.cut)
                return
            if fallback is None:
                raise
            log.warning(
                "provider %s failed %s (%s): answering with %s instead",
                provider.name,
                "half way, unseen" if outcome.parts else "before answering",
                _reason(exc),
                fallback.name,
                exc_info=not isinstance(exc, ProviderError | TimeoutError),
            )
            note = a.translator.gettext(
                "The AI model is not available right now, so this answer is quoted from the knowledge base."
            )
            outcome.restart(note=f"{note}\n\n")
            yield Delta(outcome.note)
            timeout = self.otvet.settings.answer_timeout
            request = dataclasses.replace(request, deadline=asyncio.get_running_loop().time() + timeout)
            async with aclosing(self._provide(fallback, request, outcome, a.span)) as pieces:
                async for piece in pieces:
                    yield Delta(piece)

    async def _store_answer(self, a: _Answering, passages: tuple[Passage, ...], outcome: _Outcome) -> Final:
        """Store the answer (without the fallback's note: the next prompt's history should hold the answer
        itself) and count its tokens; the turn's Final event."""
        answer = "".join(outcome.parts).strip()
        if not answer:
            raise ProviderError("the provider returned an empty answer", code="empty_answer")
        done, provider = outcome.done, outcome.provider
        usage = done.usage
        if not usage.total_tokens:
            usage = Usage(
                prompt_tokens=estimate_tokens(a.question) + sum(estimate_tokens(p.text) for p in passages),
                completion_tokens=estimate_tokens(answer),
            )
        if done.usage.total_tokens:  # what the provider reported, not Otvet's estimate
            tokens = self.otvet.metrics.provider_tokens
            tokens.labels(provider, "prompt").inc(done.usage.prompt_tokens)
            tokens.labels(provider, "completion").inc(done.usage.completion_tokens)
        sources = _cited_sources(passages, done) if done.grounded else ()
        latency_ms = int((time.monotonic() - a.started) * 1000)
        message_id = await self.otvet.store.add_message(
            a.conversation_id,
            "assistant",
            answer,
            language=a.language,
            sources=sources,
            latency_ms=latency_ms,
            usage=usage,
            provider=provider,
            user_id=a.user_id,
            answers=a.question_id,
        )
        log.info(
            "answered conversation=%s provider=%s passages=%d grounded=%s fallback=%s latency_ms=%d",
            a.conversation_id,
            provider,
            len(passages),
            done.grounded,
            bool(outcome.note),
            latency_ms,
        )
        return Final(
            text=outcome.note + answer + outcome.cut,
            language=a.language,
            sources=sources,
            usage=usage,
            provider=provider,
            model=outcome.model,
            grounded=done.grounded,
            conversation_id=a.conversation_id,
            message_id=message_id,
            latency_ms=latency_ms,
            fallback=bool(outcome.note),
        )

    async def _retrieve(self, question: str, history: tuple[HistoryMessage, ...]) -> tuple[Passage, ...]:
        """Passages for ``question``; a follow-up ("where does it go?") is searched with the question before.

        Follow-ups name their subject by "it" and "there", which a word index cannot match. When the question
        alone finds nothing relevant, searching it together with the previous question usually does.
        """
        top_k = self.otvet.settings.retrieval.top_k
        threshold = self.otvet.settings.prompt.min_relevance
        if threshold is None:
            threshold = await self.otvet.knowledge.min_relevance()
        question = plain(question)  # formatting pasted along is not what the user asks about
        passages = tuple(await self.otvet.knowledge.search(question, top_k))
        previous = next((m.text for m in reversed(history) if m.role == "user"), None)
        if previous is None or (passages and passages[0].score >= threshold):
            return passages
        combined = tuple(await self.otvet.knowledge.search(f"{previous}\n{question}", top_k))
        if combined and (not passages or combined[0].score > passages[0].score):
            return combined
        return passages

    async def _provide(
        self, provider: Provider, request: AnswerRequest, outcome: _Outcome, parent: Span
    ) -> AsyncGenerator[str, None]:
        """Stream ``provider``'s deltas into ``outcome`` (and to the caller) within the request's deadline."""
        metrics = self.otvet.metrics
        span = self.otvet.tracing.start("otvet.provider", parent, provider=provider.name)
        started = time.monotonic()
        stream = provider.stream(request)
        settings = self.otvet.settings
        loop = asyncio.get_running_loop()
        try:
            while True:
                # A stalled model is given up after a few seconds without text, not the whole deadline.
                stall = settings.between_tokens_timeout if outcome.parts else settings.first_token_timeout
                until = loop.time() + stall
                if request.deadline is not None:
                    until = min(request.deadline, until)
                async with asyncio.timeout_at(until):
                    try:
                        item = await anext(stream)
                    except StopAsyncIteration:
                        break
                if isinstance(item, ProviderDone):
                    outcome.done = item
                elif item:
                    outcome.parts.append(item)
                    yield item
        except Exception as exc:
            metrics.provider_errors.labels(provider.name, _reason(exc)).inc()
            span.fail(_reason(exc))
            raise
        finally:
            await _aclose(stream)
            metrics.provider_duration.labels(provider.name).observe(time.monotonic() - started)
            span.end()
        outcome.provider, outcome.model = provider.name, provider.model

    async def _fail_turn(self, code: str, language: str, conversation_id: int, question_id: int) -> Failure:
        failure = self._failure(code, language, conversation_id)
        await _quietly(self.otvet.store.set_message_status(question_id, "failed"))
        return failure

    def resolve_language(self, turn: Turn, user: UserRecord) -> str:
        """Explicit choice (turn, then user), else the message's language, else the hint, else the default."""
        languages = self.otvet.i18n.languages
        if turn.language in languages:
            return turn.language
        if user.language in languages:
            return user.language
        detected = self.otvet.detect_language(turn.text, turn.locale_hint)
        if detected in languages:
            return detected
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
            return user.language
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
        await record_rating(self.otvet, message_id, user.id, value, rated_by=f"{channel}:{user_id}")

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
    if code == "unavailable":
        return t.gettext("The service is briefly unavailable. Please try again in a minute.")
    if code == "context_too_long":
        return t.gettext(
            "This conversation has grown too long for the model. Start a new one (/reset) or ask a shorter "
            "question."
        )
    return t.gettext("Sorry, I could not answer right now. Please try again in a minute.")


def _cited_sources(passages: tuple[Passage, ...], done: ProviderDone) -> tuple[SourceRef, ...]:
    indexes = range(len(passages)) if done.cited is None else done.cited
    seen: dict[tuple[object, ...], SourceRef] = {}
    for index in indexes:
        if 0 <= index < len(passages):
            source = passages[index].source
            seen.setdefault((source.source_id, source.chunk_id, source.title), source)
    return tuple(seen.values())


def _reason(exc: BaseException) -> str:
    """A short machine reason for the log: the provider's error code, or the exception's type."""
    if isinstance(exc, ProviderError):
        return exc.code
    return "timeout" if isinstance(exc, TimeoutError) else type(exc).__name__


async def _aclose(stream: AsyncIterator[object]) -> None:
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        await aclose()


def refused(code: str) -> bool:
    """Whether a failure ``code`` refused the question (a quota, a plugin, an empty or too long question)
    rather than failing to answer it: the metrics' ``rejected`` and the overview's ``refused`` alike."""
    return code in QUOTA_CODES or code in REFUSAL_CODES or code in INPUT_CODES


def _activity(channel: str, event: Final | Failure) -> TurnActivity:
    """How the admin overview counts a finished turn."""
    now = datetime.now(UTC)
    if isinstance(event, Failure):
        return TurnActivity(now, channel, "refused" if refused(event.code) else "failed")
    return TurnActivity(
        now,
        channel,
        "answered" if event.grounded and event.sources else "unknown",
        provider=event.provider,
        model=event.model,
        latency_ms=event.latency_ms,
        prompt_tokens=event.usage.prompt_tokens,
        completion_tokens=event.usage.completion_tokens,
    )


async def _quietly(awaitable: object) -> None:
    """Await a best-effort bookkeeping write; its failure is logged, never shown to the user."""
    try:
        await awaitable  # type: ignore[misc]
    except DatabaseUnavailable as exc:
        log.debug("bookkeeping write skipped: %s", exc)  # the outage itself is logged once, by the store
    except Exception:
        log.exception("bookkeeping write failed")
