"""Answer quality floors: the answers users get from the default configuration (BM25 with the local
embedder, the extractive answerer) on a slice of XQuAD and on the README's questions. These measure
quality, not speed; bench/bench_quality.py measures it in full (docs/quality.md).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from otvet.core.app import Otvet
from otvet.core.chunking import split_sentences
from otvet.core.ingest import ingest_paths
from otvet.core.types import Final, Turn
from tests.conftest import make_settings

XQUAD = Path(__file__).resolve().parents[2] / "bench" / "quality" / "xquad"
#: Four articles form the knowledge base; two others ask what it cannot answer.
KNOWN = (0, 3, 6, 9)
UNKNOWN = (12, 15)


def normalised(text: str) -> str:
    return " ".join(text.casefold().split())


def xquad_slice(language: str, kb: Path) -> tuple[list[tuple[str, str, tuple[str, ...]]], list[str]]:
    """Write the known articles' paragraphs as files; return (question, file, answers) and off-topic ones."""
    articles = json.loads((XQUAD / f"xquad-dev.{language}.json").read_text(encoding="utf-8"))["data"]
    kb.mkdir(parents=True, exist_ok=True)
    answerable, off_topic = [], []
    for a in KNOWN + UNKNOWN:
        for p, paragraph in enumerate(articles[a]["paragraphs"]):
            name = f"xq{a:02d}{p}.txt"
            if a in KNOWN:
                (kb / name).write_text(paragraph["context"], encoding="utf-8")
            for qa in paragraph["qas"]:
                if a in KNOWN:
                    answers = tuple(answer["text"] for answer in qa["answers"])
                    answerable.append((qa["question"], name, answers))
                else:
                    off_topic.append(qa["question"])
    return answerable, off_topic


@pytest.mark.slow
@pytest.mark.parametrize(
    ("language", "floors"),
    [
        # Measured on this slice: see docs/quality.md. A change that drops below these made answers worse.
        ("en", {"hit@1": 0.93, "holds": 0.85, "dont_know": 0.05, "off_topic": 0.08}),
        ("ru", {"hit@1": 0.90, "holds": 0.78, "dont_know": 0.08, "off_topic": 0.08}),
    ],
)
async def test_xquad_slice_keeps_its_quality(tmp_path: Path, language: str, floors: dict[str, float]) -> None:
    answerable, off_topic = xquad_slice(language, tmp_path / "kb")
    async with Otvet(make_settings(tmp_path)) as otvet:
        await ingest_paths(otvet, [tmp_path / "kb"], base=tmp_path / "kb")
        hits = holds = dont_know = answered = 0
        for number, (question, source, answers) in enumerate(answerable):
            passages = await otvet.knowledge.search(question, 1)
            hits += bool(passages) and passages[0].source.name == source
            result = await otvet.engine.ask(Turn("test", f"a{number}", question))
            assert isinstance(result, Final)
            dont_know += not result.grounded
            holds += result.grounded and any(normalised(a) in normalised(result.text) for a in answers)
        for number, question in enumerate(off_topic):
            result = await otvet.engine.ask(Turn("test", f"o{number}", question))
            assert isinstance(result, Final)
            answered += result.grounded
    n = len(answerable)
    measured = {
        "hit@1": hits / n,
        "holds": holds / n,
        "dont_know": dont_know / n,
        "off_topic": answered / len(off_topic),
    }
    assert measured["hit@1"] >= floors["hit@1"], measured
    assert measured["holds"] >= floors["holds"], measured
    assert measured["dont_know"] <= floors["dont_know"], measured
    assert measured["off_topic"] <= floors["off_topic"], measured


@pytest.mark.parametrize(
    ("question", "first", "absent"),
    [
        ("Как добавить обучающие данные?", "otvet ingest", "Попросите администратора"),
        ("How do I connect Telegram?", "@BotFather", "Run otvet ask"),
        ("как подключить телеграм?", "@BotFather", "otvet ask"),
        ("<b>What is Otvet?</b>", "question-answering bot framework", "I don't know"),
    ],
)
async def test_the_readmes_questions_lead_with_the_sentence_that_answers(
    tmp_path: Path, question: str, first: str, absent: str
) -> None:
    async with Otvet(make_settings(tmp_path, load_demo=True)) as otvet:
        result = await otvet.engine.ask(Turn("test", "reader", question))
    assert isinstance(result, Final) and result.grounded
    assert first in split_sentences(result.text)[0], result.text
    assert absent not in result.text


async def test_the_readmes_off_topic_question_gets_i_dont_know(tmp_path: Path) -> None:
    async with Otvet(make_settings(tmp_path, load_demo=True)) as otvet:
        result = await otvet.engine.ask(Turn("test", "reader", "What is the boiling point of mercury?"))
    assert isinstance(result, Final) and not result.grounded
    assert result.text.startswith("I don't know")
