"""The grounded prompt: numbered passages, instructions in the user's language, everything within budget."""

from __future__ import annotations

from pathlib import Path

from otvet.config.settings import PromptSettings
from otvet.core.i18n import I18n
from otvet.core.llm import AnswerRequest
from otvet.core.prompt import build_prompt, language_name
from otvet.core.tokens import estimate_tokens
from otvet.core.types import HistoryMessage, Passage, SourceRef

LOCALE_DIR = Path(__file__).resolve().parents[2] / "locales"
I18N = I18n([LOCALE_DIR], ("en", "ru"), "en")

TOKEN = Passage(
    "Talk to @BotFather and send /newbot to get a token.",
    0.9,
    SourceRef("Telegram setup", source_id=1, chunk_id=11, section="Token"),
)
WEBHOOK = Passage(
    "Webhooks need a public HTTPS URL.", 0.6, SourceRef("Telegram setup", source_id=1, chunk_id=12)
)
PRICE = Passage(
    "The hosted plan costs 10 EUR a month.",
    0.5,
    SourceRef("FAQ", source_id=2, chunk_id=20),
    kind="qa",
    question="How much does it cost?",
)
NOISE = Passage("Unrelated words.", 0.05, SourceRef("Noise", source_id=3, chunk_id=30))


def request(
    question: str = "How do I get a bot token?",
    passages: tuple[Passage, ...] = (TOKEN, NOISE, WEBHOOK, PRICE),
    history: tuple[HistoryMessage, ...] = (),
    language: str = "en",
) -> AnswerRequest:
    return AnswerRequest(question, language, passages, history, I18N.get(language))


def build(req: AnswerRequest, settings: PromptSettings | None = None, **kwargs: int):  # type: ignore[no-untyped-def]
    options = {"context_tokens": 8000, "answer_tokens": 500, **kwargs}
    return build_prompt(req, settings or PromptSettings(), **options)


def test_relevant_passages_are_numbered_in_rank_order_with_their_sources() -> None:
    prompt = build(request())
    system = prompt.messages[0]
    assert system["role"] == "system"
    assert prompt.shown == (0, 2, 3)  # NOISE is below min_relevance
    text = system["content"]
    assert "[1] Telegram setup › Token\nTalk to @BotFather" in text
    assert "[2] Telegram setup\nWebhooks need a public HTTPS URL." in text
    assert "[3] FAQ\nQ: How much does it cost?\nA: The hosted plan costs 10 EUR a month." in text
    assert "Unrelated words" not in text
    assert "square brackets" in text and "do not know" in text
    assert prompt.messages[-1] == {"role": "user", "content": "How do I get a bot token?"}


def test_history_comes_between_the_instructions_and_the_question() -> None:
    history = (
        HistoryMessage("user", "Hi, I run a shop."),
        HistoryMessage("assistant", "Hello! How can I help?"),
    )
    prompt = build(request(history=history))
    assert prompt.messages[1:3] == [
        {"role": "user", "content": "Hi, I run a shop."},
        {"role": "assistant", "content": "Hello! How can I help?"},
    ]
    assert prompt.history_used == 2


def test_without_relevant_passages_the_model_is_told_to_say_it_does_not_know() -> None:
    prompt = build(request(passages=(NOISE,)))
    assert prompt.shown == ()
    text = prompt.messages[0]["content"]
    assert "nothing on this question" in text and "do not answer from general knowledge" in text
    assert "Sources:" not in text


def test_a_deployment_may_let_off_topic_questions_be_answered() -> None:
    prompt = build(request(passages=()), PromptSettings(answer_off_topic=True))
    text = prompt.messages[0]["content"]
    assert "You may answer from general knowledge" in text and "does not cover it" in text


def test_a_custom_system_prompt_replaces_the_introduction_but_not_the_rules() -> None:
    settings = PromptSettings(system="You are Otto, the support bot of ACME Shop.")
    text = build(request(), settings).messages[0]["content"]
    assert text.startswith("You are Otto, the support bot of ACME Shop.")
    assert "square brackets" in text and "[1] Telegram setup" in text


def test_instructions_are_in_the_users_language_and_name_it() -> None:
    text = build(request("Как получить токен?", language="ru")).messages[0]["content"]
    assert "русский" in text
    assert "Источники:" in text
    assert language_name("en") == "English" and language_name("xx-invalid!") == "xx-invalid!"


def test_passages_are_cut_to_the_passage_budget_most_relevant_first() -> None:
    long = Passage("word " * 400, 0.8, SourceRef("Long", chunk_id=40))
    prompt = build(request(passages=(TOKEN, long, WEBHOOK)), PromptSettings(max_context_tokens=150))
    # The long passage does not fit; the smaller, less relevant one after it still does.
    assert prompt.shown == (0, 2)


def test_the_whole_prompt_fits_the_context_window_oldest_history_dropped_first() -> None:
    history = tuple(
        HistoryMessage("user" if i % 2 == 0 else "assistant", f"message {i} " + "filler " * 60)
        for i in range(20)
    )
    prompt = build(request(history=history), context_tokens=1500, answer_tokens=500)
    assert 0 < prompt.history_used < 20
    kept = [m["content"] for m in prompt.messages[1:-1]]
    assert kept[-1].startswith("message 19 ")  # the newest survives
    total = sum(estimate_tokens(m["content"]) + 4 for m in prompt.messages)
    assert total <= 1000 and prompt.estimated_tokens <= 1000


def test_shrinking_drops_history_and_halves_the_passages() -> None:
    history = (HistoryMessage("user", "earlier question"), HistoryMessage("assistant", "earlier answer"))
    passages = tuple(
        Passage(f"passage {i} " + "text " * 60, 0.9 - i / 100, SourceRef(f"S{i}", chunk_id=i))
        for i in range(8)
    )
    full = build(request(passages=passages, history=history), PromptSettings(max_context_tokens=800))
    smaller = build(
        request(passages=passages, history=history), PromptSettings(max_context_tokens=800), shrink=1
    )
    assert full.history_used == 2 and smaller.history_used == 0
    assert len(smaller.shown) < len(full.shown)
    assert smaller.shown == full.shown[: len(smaller.shown)]
