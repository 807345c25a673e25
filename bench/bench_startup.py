"""Benchmark start-up: from spawning ``otvet serve`` to ``/readyz`` answering 200, against a baseline.

Two cases, each the median of ``--runs`` starts:

* **first start**: a fresh data dir, so the time includes creating the SQLite database, every migration and
  loading the demo knowledge base (chunking, indexing, activating its version), as ``make run`` does;
* **restart**: the same data dir again: migrations are checked, the active version's index is loaded.

``/readyz`` is 200 once the database answers and a knowledge version is active (docs/services/serve.md), so
this is when the first question can be answered. The installed ``otvet`` script runs with a clean
``OTVET_*`` environment (the default extractive provider); readiness is polled every 10 ms.

The baseline: bench/baseline.py (Starlette under uvicorn) opening its own SQLite database and creating its
table, timed the same way; its fixed cost (the interpreter, importing Starlette and uvicorn, binding) is
what any Python web service pays.

    python bench/bench_startup.py [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import baseline
from common import Row, add_rows_argument, format_rows, free_port, otvet_env, start_process, write_rows

from tests.support.cli import otvet_command

#: The target on a 2-core machine (the performance issue).
MAX_START_SECONDS = 3.0


async def time_start(argv: list[str], env: dict[str, str] | None, port: int) -> float:
    """Seconds from spawning ``argv`` to its ``/readyz`` answering 200 (then it is stopped)."""
    async with start_process(argv, env, f"http://127.0.0.1:{port}/readyz", timeout=120) as running:
        return running.ready_seconds


async def otvet_starts(runs: int) -> tuple[list[float], list[float]]:
    """First starts (each on a fresh data dir) and restarts (each on the data dir of a first start)."""
    first, again = [], []
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="otvet-bench-start-") as tmp:
            env = otvet_env(Path(tmp) / "data")
            port = free_port()
            argv = [*otvet_command(), "serve", "--host", "127.0.0.1", "--port", str(port)]
            first.append(await time_start(argv, env, port))
            again.append(await time_start(argv, env, port))
    return first, again


async def baseline_starts(runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="otvet-bench-start-base-") as tmp:
            port = free_port()
            times.append(await time_start(baseline.command(f"sqlite:///{tmp}/base.db", port), None, port))
    return times


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5, help="starts per case (the median is reported)")
    add_rows_argument(parser)
    args = parser.parse_args(argv)
    base = statistics.median(asyncio.run(baseline_starts(args.runs)))
    first, again = asyncio.run(otvet_starts(args.runs))
    print(f"first starts {first}\nrestarts {again}\nbaseline {base}", file=sys.stderr)
    note = f"median of {args.runs}"
    rows = [
        Row(
            "startup",
            "first start to ready",
            round(statistics.median(first), 3),
            "s",
            round(base, 3),
            note=note,
        ).at_most(MAX_START_SECONDS),
        Row(
            "startup", "restart to ready", round(statistics.median(again), 3), "s", round(base, 3), note=note
        ).at_most(MAX_START_SECONDS),
    ]
    print(format_rows(rows))
    write_rows(rows, args.rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
