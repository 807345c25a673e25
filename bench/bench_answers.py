"""Benchmark the whole answer path on a large knowledge base stored in a real database.

Stores N synthetic chunks as a knowledge version (``create_version``), loads it the way every replica does
on start or after a new version is activated (``KnowledgeBase.refresh``: read the chunks, build the index),
then times ``Engine.ask`` with the extractive answerer: storage of both turns, language detection,
retrieval, answering. ``--database-url`` points it at PostgreSQL; the default is a temporary SQLite file.

    python bench/bench_answers.py [--chunks 100000] [--questions 200] [--database-url postgres://...]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench_retrieval import generate_chunks, generate_queries

from otvet.config.settings import Settings
from otvet.core.app import Otvet
from otvet.core.store import NewChunk
from otvet.core.types import Final, Turn


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def run(chunk_count: int, question_count: int, database_url: str, data_dir: Path) -> dict[str, object]:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=data_dir,
        database_url=database_url,
        plugins=[],
        load_demo=False,
    )
    otvet = Otvet(settings)
    async with otvet:
        store = otvet.store
        chunks = generate_chunks(chunk_count, seed=42)
        sources = chunk_count // 50 + 1
        for number in range(sources):
            await store.upsert_source(f"bench/{number}", "text", f"Source {number}", str(number), None, {})
        source_ids = {record.name: record.id for record in await store.list_sources()}
        new_chunks = [
            NewChunk(
                source_id=source_ids[f"bench/{chunk.chunk_id // 50}"],
                position=chunk.chunk_id % 50,
                text=chunk.text,
                kind=chunk.kind,
                question=chunk.question,
                title=chunk.title,
                language=chunk.language,
            )
            for chunk in chunks
        ]
        started = time.perf_counter()
        version = await store.create_version(new_chunks, source_count=sources, note="bench")
        await store.activate_version(version.id)
        store_seconds = time.perf_counter() - started

        started = time.perf_counter()
        await otvet.knowledge.refresh(force=True)
        load_seconds = time.perf_counter() - started

        questions = generate_queries(question_count, seed=7)
        latencies: list[float] = []
        grounded = 0
        for number, question in enumerate(questions):
            turn = Turn(channel="bench", user_id=str(number % 20), text=question)
            started = time.perf_counter()
            result = await otvet.engine.ask(turn)
            latencies.append((time.perf_counter() - started) * 1000)
            grounded += isinstance(result, Final) and result.grounded
    return {
        "database": database_url.split(":", 1)[0] or "sqlite",
        "chunks": chunk_count,
        "store_version_s": round(store_seconds, 2),
        "load_version_s": round(load_seconds, 2),
        "questions": question_count,
        "answered_from_kb": grounded,
        "ask_p50_ms": round(statistics.median(latencies), 2),
        "ask_p95_ms": round(_percentile(latencies, 0.95), 2),
        "ask_p99_ms": round(_percentile(latencies, 0.99), 2),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--database-url", default="", help="default: SQLite in a temporary folder")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="otvet-bench-") as tmp:
        report = asyncio.run(run(args.chunks, args.questions, args.database_url, Path(tmp)))
    if args.json:
        print(json.dumps(report))
    else:
        for key, value in report.items():
            print(f"{key:<18} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
