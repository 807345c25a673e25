"""The extractive answerer: stored answers, quoted sentences with citations, and an honest "I don't know"."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from otvet.config.settings import ExtractiveSettings
from otvet.core.i18n import I18n
from otvet.core.llm import AnswerRequest, ProviderDone
from otvet.core.retrieval import SoughtTerm
from otvet.core.types import Passage, SourceRef
from otvet.plugins.llm_extractive.answerer import compose, question_match
from otvet.plugins.llm_extractive.provider import ExtractiveProvider, pieces
from otvet.plugins.locales import LOCALE_DIR

I18N = I18n([LOCALE_DIR], ("en", "ru"), "en")


def request(question: str, passages: list[Passage], language: str = "en") -> AnswerRequest:
    return AnswerRequest(question, language, tuple(passages), (), I18N.get(language))


def passage(text: str, score: float, title: str = "Doc", **kwargs: object) -> Passage:
    return Passage(text, score, SourceRef(title, source_id=hash(title) % 100), **kwargs)  # type: ignore[arg-type]


def test_a_matching_stored_question_returns_its_answer_verbatim() -> None:
    qa = passage("Run otvet ingest FILE.", 0.8, kind="qa", question="How do I add training data?")
    composed = compose(request("how to add training data", [qa]), ExtractiveSettings())
    assert composed.text == "Run otvet ingest FILE."
    assert composed.cited == (0,) and composed.grounded


def test_passages_give_the_most_relevant_sentences_with_numbered_citations() -> None:
    doc = passage(
        "Otvet is a bot framework. To connect Telegram, create a bot with BotFather. Cats are nice.",
        0.9,
        title="Telegram",
    )
    other = passage("The Telegram token goes into OTVET_TELEGRAM__TOKEN.", 0.85, title="Settings")
    composed = compose(request("How do I connect a Telegram bot token?", [doc, other]), ExtractiveSettings())
    assert "To connect Telegram, create a bot with BotFather. [1]" in composed.text
    assert "OTVET_TELEGRAM__TOKEN. [2]" in composed.text
    assert "Cats" not in composed.text
    assert composed.cited == (0, 1)


def test_below_the_threshold_it_says_it_does_not_know_in_the_users_language() -> None:
    weak = passage("Telegram bots are created with BotFather.", 0.2)
    english = compose(request("What is the boiling point of mercury?", [weak]), ExtractiveSettings())
    russian = compose(request("Какая температура кипения ртути?", [weak], "ru"), ExtractiveSettings())
    assert not english.grounded and english.cited == ()
    assert english.text.startswith("I don't know")
    assert russian.text.startswith("Я пока не знаю")
    assert compose(request("anything", []), ExtractiveSettings()).grounded is False


def test_passages_in_the_users_language_are_preferred() -> None:
    en = passage("Otvet speaks English.", 0.9, title="en", language="en")
    ru = passage("Otvet говорит по-русски.", 0.9, title="ru", language="ru")
    composed = compose(request("Otvet", [en, ru], "ru"), ExtractiveSettings())
    assert composed.text == "Otvet говорит по-русски. [1]" and composed.cited == (1,)


def test_question_match_is_symmetric_f1_of_terms() -> None:
    assert question_match("How do I add training data?", "Adding training data") == pytest.approx(1.0)
    assert question_match("connect telegram", "add training data") == 0.0
    assert 0 < question_match("add data", "add training data") < 1


def test_pieces_split_on_spaces_and_rejoin_exactly() -> None:
    text = "Один два три четыре пять шесть семь восемь девять десять"
    parts = pieces(text, 12)
    assert "".join(parts) == text
    assert all(len(p) <= 12 for p in parts)


async def test_the_provider_streams_pieces_then_done_with_usage(tmp_path: Path) -> None:
    provider = ExtractiveProvider(settings=ExtractiveSettings(chunk_chars=10))
    doc = passage("To connect Telegram, create a bot with BotFather.", 0.9)
    items = [item async for item in provider.stream(request("connect Telegram bot", [doc]))]
    *texts, done = items
    assert len(texts) > 2 and all(isinstance(t, str) for t in texts)
    assert isinstance(done, ProviderDone)
    assert done.cited == (0,) and done.usage.completion_tokens > 0


@pytest.mark.parametrize(
    ("message", "language", "reply"),
    [
        ("Hi!", "en", "Hello! I answer questions"),
        ("good morning", "en", "Hello! I answer questions"),
        ("Привет", "ru", "Здравствуйте! Я отвечаю на вопросы"),
        ("Добрый вечер!", "ru", "Здравствуйте! Я отвечаю на вопросы"),
        ("thanks a lot", "en", "You're welcome!"),
        ("Спасибо большое!", "ru", "Пожалуйста!"),
        ("bye", "en", "Goodbye!"),
        ("до свидания", "ru", "До свидания!"),
    ],
)
def test_greetings_thanks_and_goodbyes_get_a_short_reply(message: str, language: str, reply: str) -> None:
    composed = compose(request(message, [], language), ExtractiveSettings())
    assert composed.text.startswith(reply)
    assert composed.grounded is False and composed.cited == ()


@pytest.mark.parametrize(
    "message", ["Hi, how do I connect Telegram?", "Привет, как добавить данные?", "hello?"]
)
def test_a_greeting_with_a_question_is_treated_as_a_question(message: str) -> None:
    doc = passage("To connect Telegram, create a bot with BotFather.", 0.9)
    composed = compose(request(message, [doc]), ExtractiveSettings())
    assert not composed.text.startswith(("Hello!", "Здравствуйте!"))


def test_the_passage_with_the_best_sentence_leads_the_answer() -> None:
    holidays = passage("No: the office is closed on public holidays.", 1.0, title="FAQ")
    hours = passage("The office opens at nine.", 1.0, title="Hours")
    composed = compose(request("When does the office open?", [holidays, hours]), ExtractiveSettings())
    assert composed.text.startswith("The office opens at nine. [1]")
    assert composed.cited[0] == 1


@pytest.mark.parametrize("message", ["good", "Good!", "добрый"])
def test_good_alone_is_not_a_greeting(message: str) -> None:
    composed = compose(request(message, []), ExtractiveSettings())
    assert not composed.text.startswith(("Hello!", "Здравствуйте!"))


def test_a_sentence_shared_by_overlapping_passages_is_quoted_once() -> None:
    # Chunks cut from one paragraph with overlap both hold the sentence at their seam.
    first = passage("Refunds take five days. Refunds need the receipt number.", 0.9, title="Refunds")
    second = passage(
        "Refunds need the receipt  number. Refunds go to the original card.", 0.85, title="Refunds 2"
    )
    composed = compose(
        request("How do refunds work with a receipt number?", [first, second]), ExtractiveSettings()
    )
    assert composed.text.count("Refunds need the receipt") == 1
    assert "Refunds need the receipt number. [1]" in composed.text and composed.cited[0] == 0


def test_the_sentence_that_answers_leads_and_unrelated_ones_stay_out() -> None:
    section = passage(
        "Notello has four plans. Pro costs $9 per seat per month. Business adds single sign-on.",
        0.6,
        title="Pricing",
    )
    composed = compose(request("how much is the pro plan", [section]), ExtractiveSettings())
    # "how much" asks for an amount: the sentence with one leads; a sentence sharing no word is left out.
    assert composed.text.startswith("Pro costs $9 per seat per month. [1]")
    assert "single sign-on" not in composed.text


@pytest.mark.parametrize(
    ("question", "text", "price", "language"),
    [
        (
            "how much is pro",
            "Pro adds 10 GB of storage per seat. It keeps history. Pro costs $9 per seat per month.",
            "Pro costs $9",
            "en",
        ),
        (
            "сколько стоит тариф про",
            "Тариф Про даёт 10 ГБ на место. Историю хранит год. Тариф Про — 900 руб. за место в месяц.",
            "Тариф Про — 900 руб.",
            "ru",
        ),
    ],
)
def test_a_price_question_leads_with_the_price_not_another_number(
    question: str, text: str, price: str, language: str
) -> None:
    composed = compose(request(question, [passage(text, 0.6)], language), ExtractiveSettings())
    assert composed.text.startswith(price)


def test_a_page_that_mentions_the_question_in_passing_is_not_quoted() -> None:
    section = Passage(
        "To connect Telegram, create a bot with @BotFather.",
        0.77,
        SourceRef("Telegram", source_id=1, section="Connecting Telegram"),
    )
    example = Passage(
        'Run otvet ask with a question, for example: otvet ask "How do I connect Telegram?".',
        0.78,
        SourceRef("Asking", source_id=2, section="Asking from the terminal"),
    )
    composed = compose(request("How do I connect Telegram?", [example, section]), ExtractiveSettings())
    assert composed.text == "To connect Telegram, create a bot with @BotFather. [1]"
    assert composed.cited == (1,)


def test_the_threshold_is_the_indexs_unless_a_setting_names_one() -> None:
    doc = passage("Parking is behind the building.", 0.35)
    calibrated = AnswerRequest("where is parking", "en", (doc,), (), I18N.get("en"), min_relevance=0.3)
    assert compose(calibrated, ExtractiveSettings()).grounded
    assert not compose(dataclasses.replace(calibrated, min_relevance=0.4), ExtractiveSettings()).grounded
    assert not compose(calibrated, ExtractiveSettings(min_relevance=0.5)).grounded


def test_a_typo_counts_as_the_word_the_index_matched_it_to() -> None:
    doc = passage("Reset your password from the sign-in page. Sessions last 12 hours.", 0.5)
    sought = (SoughtTerm("pasword", ("password",), 3.0), SoughtTerm("reset", ("reset",), 2.0))
    typed = AnswerRequest("pasword reset", "en", (doc,), (), I18N.get("en"), sought=sought)
    assert compose(typed, ExtractiveSettings()).text == "Reset your password from the sign-in page. [1]"
