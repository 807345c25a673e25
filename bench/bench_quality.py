"""Answer quality on XQuAD (English and Russian) and on questions typed the way users type them.

    python bench/bench_quality.py            # everything (make quality; part of make bench)
    python bench/bench_quality.py --quick    # a few articles: a smoke run

Every knowledge base is ingested through ``otvet``'s ingest path and every question asked through the
engine, in a conversation of its own, with the default settings (bench/quality.py says how each answer is
scored). Printed, one table each:

1. **XQuAD, all 24 articles**: one source per paragraph. Abstention: the knowledge base holds the even
   articles and the odd articles' questions are asked, then the other way round; every such question should
   get "I don't know". The reference row is bm25s + PyStemmer (Snowball) on the same paragraphs.
2. **XQuAD by fold**: fold A (the even articles) is the data the defaults were developed on; fold B (the odd
   ones) was never looked at while tuning. Abstention inside a fold: half its articles form the knowledge
   base, the other half's questions are asked, and the other way round.
3. **Cross-validated**: the one setting fitted on data (the relevance below which Otvet says "I don't know")
   is calibrated on one fold and measured on the other, both ways.
4. **User-phrased sets** (bench/quality/): the demo knowledge base and two help centres written for this
   benchmark, by split. ``heldout`` questions and the whole ``volna`` set were never looked at while tuning.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from common import Row, add_rows_argument, write_rows
from quality import Record, ask_all, score, user_set, xquad

LANGUAGES = ("en", "ru")
FOLD_A = tuple(range(0, 24, 2))
FOLD_B = tuple(range(1, 24, 2))
#: The abstention thresholds a calibration chooses from.
THRESHOLDS = tuple(round(0.2 + 0.01 * i, 2) for i in range(21))
COLUMNS = (
    "hit@1",
    "hit@3",
    "hit@5",
    "holds fact",
    "first sentence",
    "don't know",
    "fact shown to a model",
    "off-topic answered",
    "off-topic model calls",
)


@dataclass(slots=True)
class Line:
    """One row of a printed table."""

    label: str
    language: str
    scores: dict[str, float | int | None]


def table(title: str, lines: Sequence[Line]) -> str:
    header = ["", "lang", "questions", *COLUMNS, "off-topic"]
    cells = [
        [
            line.label,
            line.language,
            str(line.scores.get("answerable", "")),
            *(_cell(line.scores.get(column)) for column in COLUMNS),
            str(line.scores.get("off-topic", "")),
        ]
        for line in lines
    ]
    out = [f"\n### {title}\n", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(row) + " |" for row in cells]
    return "\n".join(out)


def _cell(value: float | int | None) -> str:
    return "" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def lines_of(label: str, records: Sequence[Record]) -> list[Line]:
    return [Line(label, language, s.as_dict()) for language, s in sorted(score(records).items())]


# --- XQuAD --------------------------------------------------------------------------------------------------


async def answerable(articles: Sequence[int], settings: dict[str, object]) -> list[Record]:
    knowledge = xquad(LANGUAGES, kb_articles=articles)
    return await ask_all(knowledge, settings=settings)


async def abstention(
    pairs: Sequence[tuple[Sequence[int], Sequence[int]]], settings: dict[str, object]
) -> list[Record]:
    """Questions of articles the knowledge base does not hold: ``(kb articles, asked articles)`` pairs."""
    records: list[Record] = []
    for kb, asked in pairs:
        records += await ask_all(xquad(LANGUAGES, kb_articles=kb, ask_articles=asked), settings=settings)
    return records


def halves(fold: Sequence[int]) -> list[tuple[Sequence[int], Sequence[int]]]:
    first, second = fold[::2], fold[1::2]
    return [(first, second), (second, first)]


async def fold_records(fold: Sequence[int], settings: dict[str, object]) -> list[Record]:
    return await answerable(fold, settings) + await abstention(halves(fold), settings)


def with_threshold(settings: dict[str, object], threshold: float) -> dict[str, object]:
    return {
        **settings,
        "extractive": {"min_relevance": threshold},
        "prompt": {"min_relevance": threshold},
    }


def calibrate(records: Sequence[Record]) -> float:
    """The threshold that makes the fewest mistakes on ``records`` (answered with no threshold): the share of
    answerable questions left unanswered plus the share of off-topic ones answered, averaged over the
    languages. Ties go to the higher threshold (the cautious one)."""

    def mistakes(threshold: float) -> float:
        total = 0.0
        for language in LANGUAGES:
            mine = [r for r in records if r.question.language == language]
            on = [r.top_score for r in mine if not r.question.off_topic]
            off = [r.top_score for r in mine if r.question.off_topic]
            total += float(np.mean([s < threshold for s in on])) + float(
                np.mean([s >= threshold for s in off])
            )
        return total / len(LANGUAGES)

    return min(THRESHOLDS, key=lambda t: (round(mistakes(t), 6), -t))


def bm25s_reference(articles: Sequence[int]) -> list[Line]:
    """bm25s with PyStemmer's Snowball stemmer and stopwords, one document per paragraph: hit@k."""
    import bm25s
    import Stemmer
    from bm25s.stopwords import STOPWORDS_EN_PLUS, STOPWORDS_RUSSIAN

    lines = []
    for language, stemmer, stopwords in (
        ("en", Stemmer.Stemmer("english"), list(STOPWORDS_EN_PLUS)),
        ("ru", Stemmer.Stemmer("russian"), list(STOPWORDS_RUSSIAN)),
    ):
        knowledge = xquad((language,), kb_articles=articles)
        names = list(knowledge.files)
        corpus = [knowledge.files[name].decode("utf-8") for name in names]
        retriever = bm25s.BM25()
        retriever.index(
            bm25s.tokenize(corpus, stopwords=stopwords, stemmer=stemmer, show_progress=False),
            show_progress=False,
        )
        questions = list(knowledge.questions)
        tokens = bm25s.tokenize(
            [q.text for q in questions], stopwords=stopwords, stemmer=stemmer, show_progress=False
        )
        found, _ = retriever.retrieve(tokens, k=5, show_progress=False)
        hits = {1: 0, 3: 0, 5: 0}
        for question, row in zip(questions, found, strict=True):
            ranked = [names[int(i)] for i in row]
            for k in hits:
                hits[k] += question.source in ranked[:k]
        n = len(questions)
        lines.append(
            Line(
                "bm25s + PyStemmer",
                language,
                {"answerable": n, **{f"hit@{k}": v / n for k, v in hits.items()}},
            )
        )
    return lines


# --- the report ---------------------------------------------------------------------------------------------


async def run(quick: bool, sets: Sequence[str], *, dev: bool = False) -> tuple[list[str], list[Row]]:
    settings: dict[str, object] = {}
    fold_a, fold_b = (FOLD_A[:4], FOLD_B[:4]) if quick else (FOLD_A, FOLD_B)
    everything = tuple(sorted(fold_a + fold_b))
    out: list[str] = []
    rows: list[Row] = []
    if dev:  # what tuning may look at: fold A and the dev questions
        out.append(table("XQuAD fold A (defaults)", lines_of("fold A", await fold_records(fold_a, settings))))
        user = [await ask_all(user_set(name, splits=("dev",)), settings=settings) for name in sets]
        out.append(table("Dev questions as users type them", [x for r in user for x in lines_of("dev", r)]))
        return out, rows

    started = time.perf_counter()
    dev = await answerable(everything, settings)
    dev += await abstention([(fold_a, fold_b), (fold_b, fold_a)], settings)
    out.append(table("XQuAD, all articles (defaults)", lines_of("Otvet", dev) + bm25s_reference(everything)))

    by_fold = {"A": await fold_records(fold_a, settings), "B": await fold_records(fold_b, settings)}
    out.append(
        table(
            "XQuAD by fold (defaults; fold B never seen while tuning)",
            [line for name, records in by_fold.items() for line in lines_of(f"fold {name}", records)],
        )
    )

    # Calibrate the threshold on one fold with every answer given (threshold 0), measure on the other.
    loose = with_threshold(settings, 0.0)
    crossed: list[Record] = []
    notes = []
    for fit, measure, name in ((fold_a, fold_b, "B"), (fold_b, fold_a, "A")):
        threshold = calibrate(await fold_records(fit, loose))
        notes.append(f"fitted on the other fold: {threshold:.2f} for fold {name}")
        crossed += await fold_records(measure, with_threshold(settings, threshold))
    out.append(table(f"XQuAD cross-validated ({'; '.join(notes)})", lines_of("CV", crossed)))
    rows += _rows(crossed, "quality xquad CV", XQUAD_TARGETS)
    print(f"(XQuAD: {time.perf_counter() - started:.0f} s)", file=sys.stderr)

    user_lines: list[Line] = []
    heldout: list[Record] = []
    for name in sets:
        knowledge = user_set(name)
        records = await ask_all(knowledge, settings=settings)
        for split in ("dev", "heldout"):
            part = [r for r in records if r.question.split == split]
            if part:
                user_lines += lines_of(f"{name} {split}", part)
            if split == "heldout":
                heldout += part
    out.append(table("Questions as users type them (defaults)", user_lines))
    rows += _rows(heldout, "quality users held out", USER_TARGETS)
    return out, rows


#: (metric as the table names it, column of ``Scores.as_dict``, at least or at most, the target).
XQUAD_TARGETS = (
    ("gold paragraph 1st", "hit@1", "at_least", {"en": 0.97, "ru": 0.96}),
    ("gold paragraph in 3", "hit@3", "at_least", 0.99),
    ("answer holds gold", "holds fact", "at_least", 0.90),
    ("don't know, answerable", "don't know", "at_most", 0.05),
    ("off-topic answered", "off-topic answered", "at_most", 0.05),
)
USER_TARGETS = (
    ("answer holds the fact", "holds fact", "at_least", 0.85),
    ("don't know, answerable", "don't know", "at_most", 0.10),
    ("off-topic answered", "off-topic answered", "at_most", 0.10),
    ("fact shown to a model", "fact shown to a model", "at_least", 0.95),
)


def _rows(
    records: Sequence[Record], bench: str, targets: Sequence[tuple[str, str, str, object]]
) -> list[Row]:
    rows = []
    for language, s in sorted(score(records).items()):
        figures = s.as_dict()
        for metric, column, direction, target in targets:
            limit = target[language] if isinstance(target, dict) else target
            row = Row(f"{bench} {language}", metric, float(figures[column] or 0), "")
            rows.append(getattr(row, direction)(limit))
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a few XQuAD articles: a smoke run")
    parser.add_argument(
        "--set", action="append", dest="sets", help="user-phrased sets to ask (default: demo, notello, volna)"
    )
    parser.add_argument(
        "--dev",
        action="store_true",
        help="only the dev questions and fold A (tuning never looks at the rest)",
    )
    add_rows_argument(parser)
    args = parser.parse_args(argv)
    sets = args.sets or ["demo", "notello", "volna"]
    out, rows = asyncio.run(run(args.quick, sets, dev=args.dev))
    print("\n".join(out))
    write_rows(rows, args.rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
