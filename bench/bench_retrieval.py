"""Benchmark the BM25 retriever on a synthetic bilingual knowledge base: build time, query latency, memory.

Run it as ``python bench/bench_retrieval.py [--chunks 100000] [--queries 500] [--json]`` with ``otvet``
importable (installed, or on ``PYTHONPATH``). The corpus is generated deterministically (``--seed``), so
runs are comparable. Peak memory is ``ru_maxrss`` read before and after the build in this fresh process
(tracemalloc would slow the build several times over). The current RSS after the build (Linux only) also
holds memory the allocator keeps for reuse; "index arrays" is what the index itself holds.

The baseline, measured in the same run after Otvet's figures: bm25s's own ``retrieve`` (the library
Otvet's index is built on, with its plain tokenizer: no stemming, no stopwords, no language handling) over
the same chunks and queries, timed the same way, one query at a time; ``--no-baseline`` skips it.
``--rows PATH`` appends the figures as result rows for ``bench/run.py``.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import platform
import random
import resource
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace

from common import Row, add_rows_argument, write_rows

from otvet.core.retrieval import IndexedChunk
from otvet.core.types import SourceRef
from otvet.plugins.retrieval_bm25.index import BM25Retriever


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


# Roots and affixes combine into a few thousand real-looking inflected words per language, so stemming
# collapses them into a few hundred stems, as in a real knowledge base.
_RU_PREFIXES = ("", *_words("по пере при от за вы на"))
_RU_ROOTS = _words("""
    ключ строй бот сообщ польз запрос ответ дан сет файл текст поиск провер работ смотр план счет клиент
    сервер договор оплат достав заказ регистр удал измен сохран отправ получ загруз обнов ошибк довер
    лиценз вопрос поддерж интеграц уведомл доступ пароль аккаунт тариф канал групп
""")
_RU_ENDINGS = ("", *_words("а ы у ов ение ения ать ить ает ают ом ами ный ная ного ке ой ием ки"))
_EN_PREFIXES = ("", *_words("re un pre over sub"))
_EN_ROOTS = _words("""
    connect config deploy index search token serv messag handl build load user answer question stream
    cach rout updat schedul report account bill deliver order regist delet chang sav send receiv upload
    error trust licens support integrat notif access password plan channel group webhook
""")
_EN_SUFFIXES = ("", *_words("s ed ing er ers ion ions able ment ly"))
# Stopwords are the most frequent words of real text: terms() drops them, but the tokenizer reads them.
_RU_STOPWORDS = _words("и в на не что с как для по это к из или")
_EN_STOPWORDS = _words("the of to and a in is for on with it how or")


@dataclass(frozen=True, slots=True)
class Report:
    """The figures one run produces (``--json`` prints exactly these)."""

    chunks: int
    queries: int
    corpus_words: int
    generate_s: float
    build_s: float
    query_p50_ms: float
    query_p95_ms: float
    query_p99_ms: float
    query_max_ms: float
    mean_hits: float
    rss_before_build_mb: float
    rss_peak_mb: float
    rss_after_build_mb: float | None
    index_mb: float
    python: str
    #: bm25s's own build and query latency on the same corpus (None: not measured).
    baseline_build_s: float | None = None
    baseline_p50_ms: float | None = None
    baseline_p99_ms: float | None = None


class Vocabulary:
    """Zipf-distributed words of one language, sampled in bulk with cumulative weights."""

    def __init__(self, words: Sequence[str], stopwords: Sequence[str], rng: random.Random) -> None:
        shuffled = list(words)
        rng.shuffle(shuffled)
        self.words = [*stopwords, *shuffled]
        weights = (1.0 / (rank + 1) ** 1.05 for rank in range(len(self.words)))
        self.cum_weights = list(itertools.accumulate(weights))

    def sample(self, rng: random.Random, n: int) -> list[str]:
        return rng.choices(self.words, cum_weights=self.cum_weights, k=n)


def vocabularies(rng: random.Random) -> tuple[Vocabulary, Vocabulary]:
    """The Russian and English vocabularies, built from roots and affixes."""
    russian = sorted({p + r + e for p in _RU_PREFIXES for r in _RU_ROOTS for e in _RU_ENDINGS})
    english = sorted({p + r + s for p in _EN_PREFIXES for r in _EN_ROOTS for s in _EN_SUFFIXES})
    return Vocabulary(russian, _RU_STOPWORDS, rng), Vocabulary(english, _EN_STOPWORDS, rng)


def _sentences(words: list[str], rng: random.Random) -> str:
    out: list[str] = []
    start = 0
    while start < len(words):
        end = start + rng.randint(6, 14)
        sentence = " ".join(words[start:end])
        out.append(sentence[:1].upper() + sentence[1:] + rng.choice((".", ".", ".", "?", "!")))
        start = end
    return " ".join(out)


def generate_chunks(n: int, seed: int) -> list[IndexedChunk]:
    """``n`` chunks: half Russian, a third English, the rest mixed; every tenth a Q&A pair."""
    rng = random.Random(seed)
    ru, en = vocabularies(rng)
    chunks: list[IndexedChunk] = []
    for i in range(n):
        length = rng.randint(40, 120)
        roll = rng.random()
        if roll < 0.5:
            words, language = ru.sample(rng, length), "ru"
        elif roll < 0.85:
            words, language = en.sample(rng, length), "en"
        else:
            half = length // 2
            words, language = ru.sample(rng, half) + en.sample(rng, length - half), "ru"
            rng.shuffle(words)
        vocab = ru if language == "ru" else en
        section = " ".join(vocab.sample(rng, 2))
        source = SourceRef(title=f"Source {i // 50}", source_id=i // 50, section=section)
        if i % 10 == 0:
            question = " ".join(vocab.sample(rng, rng.randint(4, 8))).capitalize() + "?"
            chunks.append(IndexedChunk(i, _sentences(words, rng), source, "qa", question, language))
        else:
            chunks.append(IndexedChunk(i, _sentences(words, rng), source, "text", None, language, section))
    return chunks


def generate_queries(n: int, seed: int) -> list[str]:
    """``n`` questions of 3–6 words from the corpus distribution; one in ten has a word no chunk contains."""
    rng = random.Random(seed + 1)
    ru, en = vocabularies(random.Random(seed))  # the same vocabulary order as the corpus
    queries: list[str] = []
    for _ in range(n):
        length = rng.randint(3, 6)
        roll = rng.random()
        if roll < 0.45:
            words = ru.sample(rng, length)
        elif roll < 0.9:
            words = en.sample(rng, length)
        else:
            words = [*ru.sample(rng, length - 1), "квантовый" if rng.random() < 0.5 else "quantum"]
        queries.append(" ".join(words) + "?")
    return queries


def _peak_rss_mb() -> float:
    # ru_maxrss is in KiB on Linux and in bytes on macOS.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def _current_rss_mb() -> float | None:
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * resource.getpagesize() / (1024 * 1024)
    except OSError:
        return None


def _percentile(sorted_values: list[float], q: float) -> float:
    return statistics.quantiles(sorted_values, n=1000, method="inclusive")[int(q * 10) - 1]


def run(chunk_count: int, query_count: int, seed: int, k: int) -> Report:
    started = time.perf_counter()
    chunks = generate_chunks(chunk_count, seed)
    queries = generate_queries(query_count, seed)
    generate_s = time.perf_counter() - started
    corpus_words = sum(len(c.text.split()) + len((c.question or c.title).split()) for c in chunks)
    gc.collect()
    rss_before = _peak_rss_mb()

    started = time.perf_counter()
    index = BM25Retriever().build(chunks)
    build_s = time.perf_counter() - started
    rss_peak = _peak_rss_mb()
    gc.collect()
    rss_after = _current_rss_mb()

    index.search(queries[0], k)  # warm the stem cache for the query path like a running bot has
    latencies: list[float] = []
    hits = 0
    for query in queries:
        started = time.perf_counter()
        hits += len(index.search(query, k))
        latencies.append((time.perf_counter() - started) * 1000)
    latencies.sort()
    return Report(
        chunks=len(index),
        queries=query_count,
        corpus_words=corpus_words,
        generate_s=round(generate_s, 3),
        build_s=round(build_s, 3),
        query_p50_ms=round(statistics.median(latencies), 3),
        query_p95_ms=round(_percentile(latencies, 95), 3),
        query_p99_ms=round(_percentile(latencies, 99), 3),
        query_max_ms=round(latencies[-1], 3),
        mean_hits=round(hits / query_count, 2),
        rss_before_build_mb=round(rss_before, 1),
        rss_peak_mb=round(rss_peak, 1),
        rss_after_build_mb=None if rss_after is None else round(rss_after, 1),
        index_mb=round(index.nbytes / (1024 * 1024), 1),
        python=platform.python_version(),
    )


def bm25s_baseline(chunks: Sequence[IndexedChunk], queries: Sequence[str], k: int) -> dict[str, float]:
    """Build time and query latencies of a plain bm25s index of the same texts (the baseline)."""
    import bm25s

    def tokens(texts: list[str]) -> list[list[str]]:
        return bm25s.tokenize(texts, stopwords=None, return_ids=False, show_progress=False)  # type: ignore[no-any-return]

    started = time.perf_counter()
    index = bm25s.BM25()
    index.index(tokens([f"{c.question or c.title} {c.text}" for c in chunks]), show_progress=False)
    build_s = time.perf_counter() - started
    latencies: list[float] = []
    for query in queries:
        started = time.perf_counter()
        query_tokens = tokens([query])
        if query_tokens[0]:
            index.retrieve(query_tokens, k=k, show_progress=False, n_threads=0)
        latencies.append((time.perf_counter() - started) * 1000)
    latencies.sort()
    return {
        "build_s": round(build_s, 3),
        "p50_ms": round(statistics.median(latencies), 3),
        "p99_ms": round(_percentile(latencies, 99), 3),
    }


def rows(report: Report) -> list[Row]:
    """The figures as result rows with the targets of a 2-core machine (the performance issue)."""
    name = f"retrieval ({report.chunks:,} chunks)"
    no_baseline = "" if report.baseline_p50_ms is not None else "no baseline: --no-baseline"
    rss = report.rss_after_build_mb or report.rss_peak_mb
    return [
        Row(name, "query p50", report.query_p50_ms, "ms", report.baseline_p50_ms, note=no_baseline).at_most(
            2
        ),
        Row(name, "query p99", report.query_p99_ms, "ms", report.baseline_p99_ms).at_most(10),
        Row(name, "index build", report.build_s, "s", report.baseline_build_s).at_most(60),
        Row(name, "RSS after build", rss, "MB", note=f"index arrays {report.index_mb:.0f} MB; no target"),
    ]


def _table(report: Report) -> str:
    rows = [
        ("chunks", f"{report.chunks:,}"),
        ("corpus words", f"{report.corpus_words:,}"),
        ("index build", f"{report.build_s:.2f} s"),
        (
            "query p50 / p95 / p99",
            f"{report.query_p50_ms:.2f} / {report.query_p95_ms:.2f} / {report.query_p99_ms:.2f} ms",
        ),
        ("query max", f"{report.query_max_ms:.2f} ms"),
        ("queries (mean hits)", f"{report.queries} ({report.mean_hits})"),
        ("peak RSS before build", f"{report.rss_before_build_mb:.0f} MB"),
        (
            "peak RSS after build",
            f"{report.rss_peak_mb:.0f} MB (+{report.rss_peak_mb - report.rss_before_build_mb:.0f} MB)",
        ),
        (
            "RSS kept after build",
            "n/a" if report.rss_after_build_mb is None else f"{report.rss_after_build_mb:.0f} MB",
        ),
        ("index arrays", f"{report.index_mb:.0f} MB"),
        *(
            [
                ("bm25s baseline build", f"{report.baseline_build_s:.2f} s"),
                (
                    "bm25s baseline p50 / p99",
                    f"{report.baseline_p50_ms:.2f} / {report.baseline_p99_ms:.2f} ms",
                ),
            ]
            if report.baseline_p50_ms is not None
            else []
        ),
        ("corpus generation", f"{report.generate_s:.2f} s"),
    ]
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=100_000, help="synthetic chunks to index")
    parser.add_argument("--queries", type=int, default=500, help="queries to time")
    parser.add_argument("--k", type=int, default=5, help="passages per query (the engine's top_k)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--no-baseline", action="store_true", help="skip the bm25s baseline")
    add_rows_argument(parser)
    args = parser.parse_args(argv)
    if args.chunks < 1 or args.queries < 2:
        parser.error("need at least 1 chunk and 2 queries")
    report = run(args.chunks, args.queries, args.seed, args.k)
    if not args.no_baseline:
        # After Otvet's figures: its RSS readings must not include the baseline's index.
        base = bm25s_baseline(
            generate_chunks(args.chunks, args.seed), generate_queries(args.queries, args.seed), args.k
        )
        report = replace(
            report,
            baseline_build_s=base["build_s"],
            baseline_p50_ms=base["p50_ms"],
            baseline_p99_ms=base["p99_ms"],
        )
    write_rows(rows(report), args.rows)
    print(json.dumps(asdict(report), indent=2) if args.json else _table(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
