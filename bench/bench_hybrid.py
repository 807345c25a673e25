"""Benchmark hybrid search (BM25 fused with vectors) against BM25 alone on the same synthetic corpus.

Uses ``bench_retrieval``'s deterministic bilingual corpus and gives every chunk a random unit vector of
``--dims`` dimensions (1536 is OpenAI's ``text-embedding-3-small``). The question's vector is random too:
what is measured is the cost of the search (one matrix-vector product, a partial sort, the fusion), not the
quality of a model. Both searches run in the same process on the same queries, alternating.

    python bench/bench_hybrid.py [--chunks 100000] [--dims 1536] [--queries 300]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Sequence

import numpy as np
from bench_retrieval import generate_chunks, generate_queries

from otvet.core.hybrid import HybridIndex
from otvet.plugins.retrieval_bm25.index import BM25Retriever


def run(chunk_count: int, dims: int, query_count: int, k: int) -> dict[str, object]:
    chunks = generate_chunks(chunk_count, seed=42)
    queries = generate_queries(query_count, seed=42)
    rng = np.random.default_rng(7)
    matrix = rng.standard_normal((chunk_count, dims), dtype=np.float32)
    lexical = BM25Retriever().build(chunks)
    started = time.perf_counter()
    hybrid = HybridIndex(lexical, chunks, matrix)
    wrap_s = time.perf_counter() - started
    vectors = rng.standard_normal((query_count, dims), dtype=np.float32)
    bm25_ms: list[float] = []
    hybrid_ms: list[float] = []
    for query, vector in zip(queries, vectors, strict=True):
        started = time.perf_counter()
        lexical.search(query, k)
        bm25_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        hybrid.search(query, k, query_vector=vector)
        hybrid_ms.append((time.perf_counter() - started) * 1000)
    bm25_p50, hybrid_p50 = statistics.median(bm25_ms), statistics.median(hybrid_ms)
    return {
        "chunks": chunk_count,
        "dims": dims,
        "queries": query_count,
        "vectors_mb": round(matrix.nbytes / 2**20, 1),
        "hybrid_index_build_s": round(wrap_s, 3),
        "bm25_p50_ms": round(bm25_p50, 2),
        "bm25_p95_ms": round(statistics.quantiles(bm25_ms, n=20)[-1], 2),
        "hybrid_p50_ms": round(hybrid_p50, 2),
        "hybrid_p95_ms": round(statistics.quantiles(hybrid_ms, n=20)[-1], 2),
        "hybrid_over_bm25": round(hybrid_p50 / bm25_p50, 2),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--dims", type=int, default=1536)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    report = run(args.chunks, args.dims, args.queries, args.k)
    if args.json:
        print(json.dumps(report))
    else:
        for key, value in report.items():
            print(f"{key:<22} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
