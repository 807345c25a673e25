"""Answer quality, measured as a user meets it: knowledge bases ingested through ``otvet``'s own ingest path,
every question asked through the engine in a conversation of its own, answers scored against the facts.

The data sets (``bench/quality/``):

- ``xquad``: 24 Wikipedia articles of XQuAD in English and Russian (CC BY-SA 4.0, see its README), one
  source per paragraph; a question's gold answer is a span of its paragraph.
- ``demo``, ``notello``, ``volna``: questions typed the way users type them (lower case, synonyms, symptoms,
  colloquial Russian, brand names in Cyrillic, typos) about the demo knowledge base and two help centres
  written for this benchmark; each question names the article that answers it and the facts (any of them)
  a right answer holds, or is ``off_topic`` (the right answer is "I don't know").

Scores per question: the rank of the gold source among the retrieved passages' sources (``hit@k`` counts
*distinct sources*: two chunks of one paragraph are one hit), whether the answer holds a fact (after
casefolding, collapsing whitespace and removing citation markers such as ``[1]``), whether its first
sentence does, whether it was "I don't know" (an ungrounded answer), and whether a language model would be
shown the fact (the passages the prompt builder keeps).
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

DATA = Path(__file__).resolve().parent / "quality"
XQUAD = DATA / "xquad"


# --- data ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Question:
    text: str
    language: str
    #: The source (its name in the knowledge base) that answers it; None for an off-topic question.
    source: str | None
    #: Any of these in the answer shows the right fact was given.
    facts: tuple[str, ...] = ()
    #: Which part of the set: ``dev`` (may be looked at while tuning) or ``heldout`` (never).
    split: str = "dev"
    #: XQuAD's article, for splitting by article.
    article: str = ""

    @property
    def off_topic(self) -> bool:
        return self.source is None


@dataclass(frozen=True, slots=True)
class KnowledgeSet:
    """Files to ingest (name → bytes) and the questions asked of them."""

    name: str
    files: dict[str, bytes]
    questions: tuple[Question, ...]


def xquad_articles(language: str) -> list[dict[str, Any]]:
    return json.loads((XQUAD / f"xquad-dev.{language}.json").read_text(encoding="utf-8"))["data"]


def xquad(
    languages: Sequence[str] = ("en", "ru"),
    *,
    kb_articles: Iterable[int] | None = None,
    ask_articles: Iterable[int] | None = None,
) -> KnowledgeSet:
    """XQuAD as one source per paragraph (``xq<article><paragraph>-<lang>.txt``, names without article
    words); the knowledge base holds ``kb_articles`` (default: all), the questions come from
    ``ask_articles`` (default: the same). A question whose article is not in the knowledge base is off-topic.
    """
    files: dict[str, bytes] = {}
    questions: list[Question] = []
    for language in languages:
        articles = xquad_articles(language)
        in_kb = set(range(len(articles)) if kb_articles is None else kb_articles)
        asked = sorted(in_kb if ask_articles is None else set(ask_articles))
        for a, article in enumerate(articles):
            for p, paragraph in enumerate(article["paragraphs"]):
                name = f"xq{a:02d}{p}-{language}.txt"
                if a in in_kb:
                    files[name] = paragraph["context"].encode("utf-8")
                if a not in asked:
                    continue
                for qa in paragraph["qas"]:
                    questions.append(
                        Question(
                            text=qa["question"],
                            language=language,
                            source=name if a in in_kb else None,
                            facts=tuple(dict.fromkeys(answer["text"] for answer in qa["answers"])),
                            article=article["title"],
                        )
                    )
    return KnowledgeSet("xquad", files, tuple(questions))


def user_set(name: str, splits: Sequence[str] = ("dev", "heldout")) -> KnowledgeSet:
    """A user-phrased set: ``bench/quality/<name>/`` with ``kb/`` (or the demo knowledge base) and
    ``<split>.yaml`` question files (``questions.yaml`` is all held out)."""
    folder = DATA / name
    kb = folder / "kb"
    if not kb.is_dir():
        kb = Path(__file__).resolve().parent.parent / "plugins" / "demo" / "knowledge"
    files = {str(path.relative_to(kb)): path.read_bytes() for path in sorted(kb.rglob("*")) if path.is_file()}
    questions: list[Question] = []
    for split in splits:
        path = folder / f"{split}.yaml"
        if not path.exists() and split == "heldout":
            path = folder / "questions.yaml"
        if not path.exists():
            continue
        for item in yaml.safe_load(path.read_text(encoding="utf-8")):
            questions.append(
                Question(
                    text=str(item["q"]),
                    language=item["lang"],
                    source=None if item.get("off_topic") else item["source"],
                    facts=tuple(item.get("facts") or ()),
                    split=split,
                )
            )
    return KnowledgeSet(name, files, tuple(questions))


# --- asking -------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Record:
    question: Question
    #: Distinct source names of the retrieved passages, best first.
    retrieved: list[str]
    answer: str
    grounded: bool
    #: The text a language model would be shown (the prompt's passages), for "the fact reaches the model".
    shown: str = ""
    #: Whether a language-model provider would be called for it (False: answered without a paid call).
    model_call: bool = True
    #: The best retrieved passage's relevance.
    top_score: float = 0.0


_MARKER = re.compile(r"\[\d+\]")


def normalise(text: str) -> str:
    return " ".join(_MARKER.sub(" ", text).casefold().replace("ё", "е").split())


def holds(text: str, facts: Iterable[str]) -> bool:
    clean = normalise(text)
    return any(normalise(fact) in clean for fact in facts)


def first_sentence(answer: str) -> str:
    from otvet.core.chunking import split_sentences

    sentences = split_sentences(answer)
    return sentences[0] if sentences else ""


async def ask_all(
    knowledge: KnowledgeSet,
    questions: Sequence[Question] | None = None,
    *,
    settings: dict[str, Any] | None = None,
    depth: int = 5,
) -> list[Record]:
    """Ingest ``knowledge`` into a fresh Otvet (SQLite in a temporary folder) and ask every question."""
    from otvet.config.settings import Settings
    from otvet.core.app import Otvet
    from otvet.core.ingest import ingest_paths
    from otvet.core.types import Final, Turn

    with tempfile.TemporaryDirectory(prefix="otvet-quality-") as tmp:
        root = Path(tmp)
        kb = root / "kb"
        for name, data in knowledge.files.items():
            path = kb / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        config = Settings(
            _env_file=None,  # type: ignore[call-arg]
            data_dir=root / "data",
            plugins=[],
            load_demo=False,
            **(settings or {}),
        )
        otvet = Otvet(config)
        records: list[Record] = []
        async with otvet:
            await ingest_paths(otvet, [kb], base=kb, note=f"quality: {knowledge.name}")
            for number, question in enumerate(questions if questions is not None else knowledge.questions):
                result = await otvet.engine.ask(
                    Turn(channel="quality", user_id=f"q{number}", text=question.text)
                )
                passages = await otvet.knowledge.search(question.text, depth)
                retrieved = list(dict.fromkeys(p.source.name or "" for p in passages))
                answer = result.text if isinstance(result, Final) else ""
                grounded = isinstance(result, Final) and result.grounded
                shown, call = await _model_view(otvet, question.text, result.language, passages)
                records.append(
                    Record(
                        question,
                        retrieved,
                        answer,
                        grounded,
                        shown,
                        call,
                        max((p.score for p in passages), default=0.0),
                    )
                )
        return records


async def _model_view(otvet: Any, question: str, language: str, passages: Sequence[Any]) -> tuple[str, bool]:
    """What the OpenAI provider would show a model for these passages, and whether it would call one."""
    from otvet.core.llm import AnswerRequest
    from otvet.core.prompt import build_prompt
    from otvet.core.replies import covered

    settings = otvet.settings
    calibrated = (await otvet.knowledge.index()).min_relevance
    request = AnswerRequest(
        question, language, tuple(passages), (), otvet.i18n.get(language), min_relevance=calibrated
    )
    prompt = build_prompt(
        request,
        settings.prompt,
        context_tokens=settings.openai.context_tokens,
        answer_tokens=settings.openai.max_tokens,
    )
    shown = "\n".join(passages[i].text + "\n" + (passages[i].question or "") for i in prompt.shown)
    min_relevance = calibrated if settings.prompt.min_relevance is None else settings.prompt.min_relevance
    call = settings.prompt.answer_off_topic or covered(passages, min_relevance)
    return shown, call


# --- scores -------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Scores:
    answerable: int = 0
    off_topic: int = 0
    hits: dict[int, int] = field(default_factory=lambda: {1: 0, 3: 0, 5: 0})
    holds: int = 0
    first: int = 0
    dont_know: int = 0
    shown: int = 0
    off_topic_answered: int = 0
    off_topic_calls: int = 0

    def add(self, record: Record) -> None:
        q = record.question
        if q.off_topic:
            self.off_topic += 1
            self.off_topic_answered += record.grounded
            self.off_topic_calls += record.model_call
            return
        self.answerable += 1
        for k in self.hits:
            self.hits[k] += q.source in record.retrieved[:k]
        self.holds += record.grounded and holds(record.answer, q.facts)
        self.first += record.grounded and holds(first_sentence(record.answer), q.facts)
        self.dont_know += not record.grounded
        self.shown += holds(record.shown, q.facts)

    def as_dict(self) -> dict[str, float | int | None]:
        def share(count: int, total: int) -> float | None:
            return round(count / total, 3) if total else None

        n = self.answerable
        return {
            "answerable": n,
            "hit@1": share(self.hits[1], n),
            "hit@3": share(self.hits[3], n),
            "hit@5": share(self.hits[5], n),
            "holds fact": share(self.holds, n),
            "first sentence": share(self.first, n),
            "don't know": share(self.dont_know, n),
            "fact shown to a model": share(self.shown, n),
            "off-topic": self.off_topic,
            "off-topic answered": share(self.off_topic_answered, self.off_topic),
            "off-topic model calls": share(self.off_topic_calls, self.off_topic),
        }


def score(records: Iterable[Record], *, by: str = "language") -> dict[str, Scores]:
    out: dict[str, Scores] = {}
    for record in records:
        key = getattr(record.question, by)
        out.setdefault(key, Scores()).add(record)
    return out
