"""Benchmark training: ingestion and retrain throughput, and the time another process takes to swap versions.

Generates Markdown sources deterministically (``--seed``; half Russian, half English, a heading every ten
paragraphs, each paragraph long enough to become one chunk), about ``--chunks`` chunks in all; generation is
not timed. Then, on a real database (a temporary SQLite file, ``--postgres`` for a throwaway PostgreSQL
cluster, or ``--database-url``):

1. ingestion: every source parsed by the ``markdown`` source type (as ``otvet ingest`` does) and stored
   with ``add_sources(..., rebuild=False)``;
2. retrain: ``rebuild()`` chunks every stored source into a version, stores and activates it and loads its
   index; ``refresh(force=True)`` afterwards times the index load alone;
3. swap: a second process (this script with ``--probe``) opens the same database with
   ``OTVET_RETRIEVAL__REFRESH_SECONDS=0.2``, loads the active version and searches from a few concurrent
   tasks. This process changes one source and retrains; the swap time runs from the new version's
   activation (its ``activated_at``, wall clock) to the moment the probe's ``knowledge.version_id`` changes.
   The probe's search latency is reported idle, while this process builds the new version (the two share
   the machine) and during the swap: while the probe loads the new index, searches keep being answered from
   the old one (but the one search that noticed the new version waits for the load).

Sources declare no language, so retraining detects each chunk's; ``--declare-language`` gives every source
front matter with its language, which skips that.

    python bench/bench_training.py [--chunks 100000] [--postgres | --database-url postgres://...] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench_retrieval import Vocabulary, generate_queries, vocabularies

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository root: `tests.support`

from otvet.config.settings import Settings
from otvet.core.app import Otvet
from otvet.core.ingest import parse_data

#: Paragraphs per generated source; the source count follows from ``--chunks``.
PARAGRAPHS_PER_SOURCE = 100
#: Paragraph lengths in characters: two never fit in one 1,200-character chunk, one never needs cutting.
PARAGRAPH_CHARS = (610, 1000)
SCRIPT = Path(__file__).resolve()
#: How often the probe process looks for a newly activated version, in seconds.
PROBE_REFRESH_SECONDS = 0.2


# --- the corpus -------------------------------------------------------------------------------------------


def _paragraph(vocab: Vocabulary, rng: random.Random) -> str:
    """Sentences of 6–14 words, now and then with emphasis or a link, about as long as PARAGRAPH_CHARS."""
    target = rng.randint(*PARAGRAPH_CHARS)
    sentences: list[str] = []
    size = 0
    while size < target:
        words = vocab.sample(rng, rng.randint(6, 14))
        roll = rng.random()
        if roll < 0.05:
            words[-1] = f"**{words[-1]}**"
        elif roll < 0.08:
            words[-1] = f"[{words[-1]}](https://example.com/{words[-1]})"
        sentence = " ".join(words)
        sentences.append(sentence[:1].upper() + sentence[1:] + rng.choice((".", ".", ".", "?", "!")))
        size += len(sentences[-1]) + 1
    return " ".join(sentences)


def generate_sources(
    chunk_count: int, seed: int, *, declare_language: bool = False
) -> list[tuple[str, bytes]]:
    """(file name, Markdown bytes) of sources that chunk into about ``chunk_count`` chunks.

    With ``declare_language`` each source's front matter names its language, so retraining skips detecting
    the language of every chunk.
    """
    rng = random.Random(seed)
    ru, en = vocabularies(rng)
    sources: list[tuple[str, bytes]] = []
    remaining = chunk_count
    number = 0
    while remaining > 0:
        paragraphs = min(PARAGRAPHS_PER_SOURCE, remaining)
        vocab = ru if number % 2 == 0 else en
        title = " ".join(vocab.sample(rng, 3)).capitalize()
        lines = ["---", f"language: {'ru' if vocab is ru else 'en'}", "---"] if declare_language else []
        lines += [f"# {title}", ""]
        for index in range(paragraphs):
            if index and index % 10 == 0:
                lines += [f"## {' '.join(vocab.sample(rng, 2)).capitalize()}", ""]
            lines += [_paragraph(vocab, rng), ""]
        sources.append((f"bench/{number:05d}.md", "\n".join(lines).encode()))
        remaining -= paragraphs
        number += 1
    return sources


# --- measuring ---------------------------------------------------------------------------------------------


def _current_rss_mb() -> float | None:
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * resource.getpagesize() / (1024 * 1024)
    except OSError:
        return None


def _peak_rss_mb() -> float:
    # ru_maxrss is in KiB on Linux and in bytes on macOS.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _settings(data_dir: Path, database_url: str) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=data_dir,
        database_url=database_url,
        plugins=[],
        load_demo=False,
        # BM25 alone unless OTVET_BENCH_EMBEDDER names an embedder: the ingest and retrain figures are
        # the index's; embedding a new corpus is paid once, and a retrain embeds only changed chunks.
        retrieval={"embedder": os.environ.get("OTVET_BENCH_EMBEDDER", "")},
    )


@dataclass(frozen=True, slots=True)
class Sample:
    """One probe search: wall-clock start and end, and the version the probe answered from at its start."""

    started: float
    ended: float
    version: int | None


# --- the probe: a second process answering while this one retrains ------------------------------------------


async def probe(
    data_dir: Path, database_url: str, workers: int, rate: float, tail: float, give_up: float
) -> None:
    """Load the active version, search until the version changes (plus ``tail`` seconds), print the samples.

    Prints one JSON line when ready (this process's own load time and RSS) and one with the results.
    """
    queries = generate_queries(1000, seed=7)
    otvet = Otvet(_settings(data_dir, database_url))
    async with otvet:
        started = time.perf_counter()
        await otvet.knowledge.refresh(force=True)
        load_s = time.perf_counter() - started
        initial = otvet.knowledge.version_id
        await otvet.knowledge.search(queries[0], 5)  # warm the stem cache like a running replica has
        gc.collect()
        rss_before = _current_rss_mb()
        print(
            json.dumps({"ready": True, "version": initial, "load_s": load_s, "rss_mb": rss_before}),
            flush=True,
        )

        samples: list[Sample] = []
        done = asyncio.Event()
        pause = workers / rate

        async def search(worker: int) -> None:
            for number in range(worker, sys.maxsize, workers):
                if done.is_set():
                    return
                version = otvet.knowledge.version_id
                begun = time.time()
                await otvet.knowledge.search(queries[number % len(queries)], 5)
                samples.append(Sample(begun, time.time(), version))
                await asyncio.sleep(pause)

        tasks = [asyncio.create_task(search(worker)) for worker in range(workers)]
        swapped_at: float | None = None
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(give_up):
                while otvet.knowledge.version_id == initial:  # noqa: ASYNC110  (Otvet offers no event to wait on)
                    await asyncio.sleep(0.002)
                swapped_at = time.time()
        await asyncio.sleep(tail)
        done.set()
        await asyncio.gather(*tasks)
        gc.collect()
        print(
            json.dumps(
                {
                    "swapped_at": swapped_at,
                    "version": otvet.knowledge.version_id,
                    "rss_mb": _current_rss_mb(),
                    "peak_rss_mb": _peak_rss_mb(),
                    "samples": [[s.started, s.ended, s.version] for s in samples],
                }
            ),
            flush=True,
        )


@contextlib.asynccontextmanager
async def _probe_process(
    data_dir: Path, database_url: str, args: argparse.Namespace
) -> AsyncIterator[asyncio.subprocess.Process]:
    """This script in ``--probe`` mode, on the same database, looking for new versions every 0.2 s."""
    command = [
        sys.executable,
        str(SCRIPT),
        "--probe",
        "--data-dir",
        str(data_dir),
        "--database-url",
        database_url,
        "--probe-workers",
        str(args.probe_workers),
        "--probe-rate",
        str(args.probe_rate),
    ]
    env = {**os.environ, "OTVET_RETRIEVAL__REFRESH_SECONDS": str(PROBE_REFRESH_SECONDS)}
    process = await asyncio.create_subprocess_exec(
        *command, env=env, stdout=asyncio.subprocess.PIPE, limit=2**30
    )
    try:
        yield process
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def _read_json(process: asyncio.subprocess.Process) -> dict[str, Any]:
    assert process.stdout is not None
    line = await process.stdout.readline()
    if not line:
        raise RuntimeError(f"the probe process ended early (exit code {await process.wait()})")
    result: dict[str, Any] = json.loads(line)
    return result


# --- the run ---------------------------------------------------------------------------------------------


async def run(args: argparse.Namespace, database_url: str, data_dir: Path) -> dict[str, tuple[Any, str]]:
    started = time.perf_counter()
    files = generate_sources(args.chunks, args.seed, declare_language=args.declare_language)
    generate_s = time.perf_counter() - started
    report: dict[str, tuple[Any, str]] = {
        "cores": (os.cpu_count(), ""),
        "database": (database_url.split(":", 1)[0], ""),
        "language": ("declared" if args.declare_language else "detected per chunk", ""),
        "sources": (len(files), ""),
        "source bytes": (round(sum(len(data) for _, data in files) / 2**20, 1), "MB"),
        "corpus generation (not timed)": (round(generate_s, 2), "s"),
    }
    otvet = Otvet(_settings(data_dir, database_url))
    async with otvet:
        knowledge = otvet.knowledge
        markdown = otvet.source_types.get("markdown")

        gc.collect()
        started = time.perf_counter()
        sources = [parse_data(data, markdown, name) for name, data in files]
        parse_s = time.perf_counter() - started
        await knowledge.add_sources(sources, rebuild=False)
        ingest_s = time.perf_counter() - started

        started = time.perf_counter()
        version = await knowledge.rebuild(note="bench")
        retrain_s = time.perf_counter() - started
        started = time.perf_counter()
        await knowledge.refresh(force=True)
        load_s = time.perf_counter() - started
        chunks = version.chunk_count
        report |= {
            "chunks": (chunks, ""),
            "ingest: parse": (round(parse_s, 2), "s"),
            "ingest: parse + store": (round(ingest_s, 2), "s"),
            "ingest throughput": (round(len(sources) / ingest_s, 1), "sources/s"),
            "ingest throughput (chunks they yield)": (round(chunks / ingest_s), "chunks/s"),
            "retrain (chunk, store, activate, load)": (round(retrain_s, 2), "s"),
            "retrain throughput": (round(chunks / retrain_s), "chunks/s"),
            "  of which index load (refresh)": (round(load_s, 2), "s"),
            "  of which chunk + store + activate": (round(retrain_s - load_s, 2), "s"),
            "chunk + store throughput": (round(chunks / max(retrain_s - load_s, 1e-9)), "chunks/s"),
        }

        async with _probe_process(data_dir, database_url, args) as process:
            ready = await _read_json(process)
            await asyncio.sleep(args.baseline)
            name, data = files[0]
            changed = data + b"\nOne more paragraph, so that the source changed and a new version is built.\n"
            await knowledge.add_sources([parse_data(changed, markdown, name)], rebuild=False)
            retrain_started = time.time()
            started = time.perf_counter()
            await knowledge.rebuild(note="bench: one source changed")
            retrain2_s = time.perf_counter() - started
            active = await otvet.store.active_version()
            assert active is not None and active.activated_at is not None
            activated = active.activated_at.timestamp()
            result = await _read_json(process)
            await process.wait()

    swapped_at = result["swapped_at"]
    if swapped_at is None or result["version"] != active.id:
        raise RuntimeError(f"the probe never answered from version {active.id}: {result['version']}")
    samples = [Sample(*sample) for sample in result["samples"]]
    # Idle: before the retrain began; building: this process chunks and stores the new version (both share
    # the machine); swap: from its activation until the probe answers from it.
    idle = [s.ended - s.started for s in samples if s.ended < retrain_started]
    building = [s.ended - s.started for s in samples if retrain_started <= s.started < activated]
    swapping = [s for s in samples if activated <= s.started < swapped_at]
    during = [s.ended - s.started for s in swapping]
    from_old = sum(1 for s in swapping if s.version == ready["version"])

    report |= {
        "retrain after one source changed": (round(retrain2_s, 2), "s"),
        "probe: initial load of the version": (round(ready["load_s"], 2), "s"),
        "swap time (activation -> probe answers from it)": (round(swapped_at - activated, 2), "s"),
        "probe searches idle / building / swap": (f"{len(idle)} / {len(building)} / {len(during)}", ""),
        "  during swap, answered from the old version": (from_old, "searches"),
        "search p50 / p99, idle": (_ms(idle), "ms"),
        "search p50 / p99, while building": (_ms(building), "ms"),
        "search p50 / p99, during swap": (_ms(during), "ms"),
        "search max during swap": (round(max(during) * 1000, 1) if during else None, "ms"),
        "probe RSS before swap": (_mb(ready["rss_mb"]), "MB"),
        "probe RSS after swap": (_mb(result["rss_mb"]), "MB"),
        "probe peak RSS": (_mb(result["peak_rss_mb"]), "MB"),
    }
    return report


def _ms(seconds: Sequence[float]) -> str | None:
    """``p50 / p99`` in milliseconds."""
    if not seconds:
        return None
    return f"{statistics.median(seconds) * 1000:.2f} / {_percentile(seconds, 0.99) * 1000:.2f}"


def _mb(value: float | None) -> float | None:
    return None if value is None else round(value)


def _table(report: dict[str, tuple[Any, str]]) -> str:
    width = max(len(metric) for metric in report)
    lines = [f"{'metric':<{width}}  {'value':>18}  unit", "-" * (width + 30)]
    for metric, (value, unit) in report.items():
        shown = "n/a" if value is None else f"{value:,}" if isinstance(value, int) else str(value)
        lines.append(f"{metric:<{width}}  {shown:>18}  {unit}".rstrip())
    return "\n".join(lines)


@contextlib.contextmanager
def _database(args: argparse.Namespace, data_dir: Path) -> Iterator[str]:
    """The database URL to measure: given, a throwaway PostgreSQL cluster's, or a SQLite file's."""
    if args.database_url:
        yield args.database_url
    elif args.postgres:
        from tests.support.postgres import PostgresCluster

        cluster = PostgresCluster()
        server = cluster.start()
        try:
            yield asyncio.run(server.create_database("otvet_bench"))
        finally:
            cluster.stop()
    else:
        yield f"sqlite:///{data_dir / 'otvet.db'}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--chunks", type=int, default=100_000, help="about how many chunks the corpus yields")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--declare-language", action="store_true", help="sources declare their language (no detection)"
    )
    parser.add_argument("--postgres", action="store_true", help="run on a throwaway PostgreSQL cluster")
    parser.add_argument("--database-url", default="", help="default: SQLite in a temporary folder")
    parser.add_argument(
        "--baseline", type=float, default=3.0, help="seconds the probe searches before the swap"
    )
    parser.add_argument("--probe-workers", type=int, default=4, help="concurrent searches in the probe")
    parser.add_argument(
        "--probe-rate", type=float, default=200.0, help="the probe's searches per second, at most"
    )
    parser.add_argument("--json", action="store_true")
    # The probe process this script starts for the swap measurement.
    parser.add_argument("--probe", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.chunks < 1:
        parser.error("need at least 1 chunk")
    if args.probe:
        asyncio.run(probe(args.data_dir, args.database_url, args.probe_workers, args.probe_rate, 1.0, 600.0))
        return 0
    with tempfile.TemporaryDirectory(prefix="otvet-bench-train-") as tmp, _database(args, Path(tmp)) as url:
        report = asyncio.run(run(args, url, Path(tmp)))
    if args.json:
        print(json.dumps({metric.strip(): value for metric, (value, _unit) in report.items()}))
    else:
        print(_table(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
