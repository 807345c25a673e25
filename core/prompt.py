"""The grounded prompt: instructions, numbered passages, the conversation so far and the question.

Provider-neutral (a list of ``{"role", "content"}`` chat messages), so any chat-model plugin can reuse it.
Everything is bounded by tokens, estimated without a tokenizer download (:mod:`otvet.core.tokens`):
passages by ``prompt.max_context_tokens``, the whole prompt by the model's context window less the room
kept for the answer. When something has to go, the oldest history goes first, then the least relevant
passages; the instructions and the question always stay.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from babel import Locale, UnknownLocaleError

from otvet.core.replies import covered, threshold
from otvet.core.tokens import estimate_tokens

if TYPE_CHECKING:
    from otvet.config.settings import PromptSettings
    from otvet.core.i18n import Translator
    from otvet.core.llm import AnswerRequest
    from otvet.core.types import Passage

#: Tokens each chat message costs beyond its text (role, separators), as OpenAI counts them.
MESSAGE_OVERHEAD = 4


@dataclass(frozen=True, slots=True)
class Prompt:
    """Chat messages for the model, and which passages it was shown (marker ``[m]`` is ``shown[m - 1]``)."""

    messages: list[dict[str, str]]
    shown: tuple[int, ...]
    history_used: int
    estimated_tokens: int


def build_prompt(
    request: AnswerRequest,
    settings: PromptSettings,
    *,
    context_tokens: int,
    answer_tokens: int,
    shrink: int = 0,
) -> Prompt:
    """Build the prompt for ``request``.

    ``shrink`` > 0 asks for a smaller prompt after the model said the last one was too long: no history, and
    each step halves the room for passages.
    """
    t = request.translator
    relevant = [
        i for i, passage in enumerate(request.passages) if passage.score >= settings.context_min_relevance
    ]
    if not covered(request.passages, threshold(settings.min_relevance, request)):
        relevant = []  # off the knowledge base's topic (asked anyway: ``answer_off_topic``): no sources
    budget = context_tokens - answer_tokens
    question_cost = estimate_tokens(request.question) + MESSAGE_OVERHEAD
    base_cost = (
        estimate_tokens(instructions(t, settings, request.language, grounded=True)) + 2 * MESSAGE_OVERHEAD
    )

    passage_room = min(settings.max_context_tokens >> shrink, budget - base_cost - question_cost)
    # Shrinking also halves how many passages go in: a window too small for the prompt is often too small
    # for the few, short passages of a precise question as well.
    most = max(1, len(relevant) >> shrink)
    shown: list[int] = []
    blocks: list[str] = []
    for index in relevant[: most if shrink else None]:  # best first: retrieval ranks them
        block = _passage_block(len(shown) + 1, request.passages[index])
        cost = estimate_tokens(block)
        if cost > passage_room:
            continue  # a smaller, less relevant passage may still fit
        passage_room -= cost
        shown.append(index)
        blocks.append(block)

    system = instructions(t, settings, request.language, grounded=bool(shown))
    if blocks:
        system += "\n\n" + t.gettext("Sources:") + "\n\n" + "\n\n".join(blocks)
    used = estimate_tokens(system) + MESSAGE_OVERHEAD + question_cost

    history: list[dict[str, str]] = []
    if not shrink:
        room = budget - used
        for message in reversed(request.history):  # newest first: they matter most to the next question
            cost = estimate_tokens(message.text) + MESSAGE_OVERHEAD
            if cost > room:
                break
            room -= cost
            used += cost
            history.append({"role": message.role, "content": message.text})
        history.reverse()

    messages = [
        {"role": "system", "content": system},
        *history,
        {"role": "user", "content": request.question},
    ]
    return Prompt(messages=messages, shown=tuple(shown), history_used=len(history), estimated_tokens=used)


def persona(t: Translator, settings: PromptSettings) -> str:
    """Who the assistant is: the deployment's own system text, or the built-in one."""
    return settings.system.strip() or t.gettext(
        "You are a helpful assistant that answers questions using the knowledge base provided to you."
    )


def instructions(t: Translator, settings: PromptSettings, language: str, *, grounded: bool) -> str:
    """The system instructions: the deployment's own or the built-in ones, then the rules for sources."""
    parts = [persona(t, settings)]
    if grounded:
        parts.append(
            t.gettext(
                "Answer only from the numbered sources below. After each statement, cite the sources "
                "it rests on by their numbers in square brackets, like [1] or [2][3]. If the sources do "
                "not contain the answer, say plainly that you do not know and suggest rephrasing the "
                "question. Never invent facts, names, numbers or links. Keep the answer short and clear."
            )
        )
    elif settings.answer_off_topic:
        parts.append(
            t.gettext(
                "The knowledge base has nothing on this question. You may answer from general knowledge, "
                "but say first that the knowledge base does not cover it, and cite no sources."
            )
        )
    else:
        parts.append(
            t.gettext(
                "The knowledge base has nothing on this question. Say briefly that you do not know the "
                "answer and suggest rephrasing the question; do not answer from general knowledge. You may "
                "reply briefly to greetings and thanks."
            )
        )
    parts.append(answer_in(t, language))
    return "\n\n".join(parts)


def answer_in(t: Translator, language: str) -> str:
    return t.gettext("Always answer in %(language)s.", language=language_name(language))


def language_name(code: str) -> str:
    """``ru`` → ``русский``: the language's own name, which models follow more reliably than a code."""
    try:
        locale = Locale.parse(code)
    except (UnknownLocaleError, ValueError):
        return code
    return locale.get_display_name(locale) or code


def _passage_block(number: int, passage: Passage) -> str:
    label = passage.source.label()
    if passage.kind == "qa" and passage.question:
        body = f"Q: {passage.question}\nA: {passage.text}"
    else:
        body = passage.text
    return f"[{number}] {label}\n{body}"
