"""Benchmark GraphQL ``ask``: answers per second and latency with 64 concurrent clients, against a baseline.

Starts ``otvet api`` as a real process (``bench/otvet_bench.py``: the ``instant`` provider, zero latency),
on SQLite and on a throwaway PostgreSQL cluster, with the demo knowledge base and an API key of scope
``ask`` made by ``otvet key create``. ``OTVET_API__REQUESTS_PER_MINUTE=0`` turns the per-key rate limit off
(one key carries all the load here; a real deployment gives each integrator its own); quotas are off by
default. ``otvet api --workers N`` with N = ``--workers``, by default one per core (2 on a 2-core machine),
as docs/services/api.md scales it on one machine; wrk shares those cores (it costs far less per request
than the server). CPU per answer and memory (PSS) are summed over the supervisor and its workers.

The load is wrk (bench/ask.lua) with ``--clients`` connections on 2 threads: each request a new question,
five questions per end user (``userId``), as an integrator relays its users' questions. A warm-up run first,
then ``--seconds`` measured. Answers/s counts 200 responses whose body is an ``Answer``; anything else is a
failure and reported. Latencies are wrk's, over all requests.

The baseline, in the same run and under the same load: bench/baseline.py, Starlette under uvicorn (one
process) answering ``POST /ask`` with ONE INSERT through the same driver (aiosqlite, asyncpg).

    python bench/bench_graphql.py [--clients 64] [--seconds 20] [--warmup 5] [--database sqlite|postgres|both]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import baseline
from common import (
    BENCH,
    Row,
    add_rows_argument,
    cpu_seconds,
    create_api_key,
    format_rows,
    free_port,
    otvet_argv,
    otvet_env,
    postgres,
    start_process,
    write_rows,
)

LUA = BENCH / "ask.lua"
#: Targets on a 2-core machine (the performance issue).
MIN_ANSWERS_PER_SECOND = 500
MAX_P99_MS = 100
MIN_BASELINE_SHARE = 0.5


@dataclass(frozen=True, slots=True)
class Load:
    """What one wrk run measured."""

    answers_per_second: float
    answers: int
    failures: int
    socket_errors: int
    p50_ms: float
    p99_ms: float
    sample_failure: str
    #: Proportional set size summed over the processes: the workers share the pages they were forked with,
    #: which summed RSS would count once per worker.
    pss_mb: float
    #: The server's CPU time (all threads) per answer during the measured run.
    cpu_ms_per_answer: float


def run_wrk(url: str, key: str, clients: int, seconds: float, workdir: Path) -> dict[str, object]:
    """One wrk run of bench/ask.lua against ``url``: its result line, parsed."""
    path = url.split("/", 3)[3]
    script = workdir / "ask.lua"
    script.write_text(LUA.read_text().replace("@KEY@", key).replace("@PATH@", "/" + path))
    duration = f"{max(1, round(seconds))}s"  # wrk takes whole seconds
    command = ["wrk", "-t", "2", "-c", str(clients), "-d", duration, "--timeout=10s", "-s", str(script)]
    result = subprocess.run([*command, url], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"wrk failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    parsed: dict[str, object] = {}
    for line in result.stdout.splitlines():
        if line.startswith("WRK_RESULT "):
            parsed.update(json.loads(line.removeprefix("WRK_RESULT ")))
        elif line.startswith("WRK_SAMPLE "):
            parsed["sample"] = line.removeprefix("WRK_SAMPLE ").strip()
    if "answers" not in parsed:
        raise RuntimeError(f"wrk printed no result:\n{result.stdout}\n{result.stderr}")
    return parsed


async def measure(url: str, key: str, pid: int, args: argparse.Namespace, workdir: Path) -> Load:
    """A warm-up run, then the measured one (wrk runs in a thread: the event loop is idle meanwhile)."""
    if args.warmup > 0:
        await asyncio.to_thread(run_wrk, url, key, args.clients, args.warmup, workdir)
    cpu_before = _tree(cpu_seconds, pid)
    r = await asyncio.to_thread(run_wrk, url, key, args.clients, args.seconds, workdir)
    cpu = _tree(cpu_seconds, pid) - cpu_before
    answers = int(r["answers"])  # type: ignore[call-overload]
    return Load(
        answers_per_second=round(answers / (int(r["duration_us"]) / 1e6), 1),  # type: ignore[call-overload]
        answers=answers,
        failures=int(r["failures"]),  # type: ignore[call-overload]
        socket_errors=int(r["socket_errors"]),  # type: ignore[call-overload]
        p50_ms=round(int(r["p50_us"]) / 1000, 2),  # type: ignore[call-overload]
        p99_ms=round(int(r["p99_us"]) / 1000, 2),  # type: ignore[call-overload]
        sample_failure=str(r.get("sample", "")),
        pss_mb=round(_tree(_pss_bytes, pid) / 2**20, 1),
        cpu_ms_per_answer=round(cpu * 1000 / max(answers, 1), 3),
    )


def _pss_bytes(pid: int) -> int:
    """The proportional set size of process ``pid`` (``Pss`` in /proc/PID/smaps_rollup; Linux only)."""
    with open(f"/proc/{pid}/smaps_rollup") as rollup:
        for line in rollup:
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    raise ValueError(f"no Pss for process {pid}")


def _tree(measure: Callable[[int], float], pid: int) -> float:
    """``measure`` summed over process ``pid`` and its children (``otvet api --workers``; Linux only)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return measure(pid) + sum(measure(int(child)) for child in children)


@asynccontextmanager
async def databases(kind: str, workdir: Path) -> AsyncIterator[tuple[str, str]]:
    """Database URLs for Otvet and for the baseline, both on the same kind of database."""
    if kind == "sqlite":
        yield f"sqlite:///{workdir / 'otvet.db'}", f"sqlite:///{workdir / 'baseline.db'}"
        return
    with postgres() as server:
        yield await server.create_database("otvet_bench"), await server.create_database("baseline_bench")


async def bench_database(kind: str, args: argparse.Namespace) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix=f"otvet-bench-graphql-{kind}-") as tmp:
        workdir = Path(tmp)
        async with databases(kind, workdir) as (otvet_url, baseline_url):
            env = otvet_env(
                workdir / "data", provider="instant", database_url=otvet_url, api__requests_per_minute="0"
            )
            key = await asyncio.to_thread(create_api_key, env)
            port = free_port()
            ready = f"http://127.0.0.1:{port}/readyz"
            async with start_process(baseline.command(baseline_url, port), ready_url=ready) as base_process:
                base = await measure(f"http://127.0.0.1:{port}/ask", key, base_process.pid, args, workdir)
            port = free_port()
            argv = otvet_argv(
                "api", "--host", "127.0.0.1", "--port", str(port), "--workers", str(args.workers)
            )
            async with start_process(argv, env, f"http://127.0.0.1:{port}/readyz") as otvet:
                profiler = _start_profiler(args.profile, otvet.pid, kind, args)
                try:
                    load = await measure(f"http://127.0.0.1:{port}/graphql", key, otvet.pid, args, workdir)
                finally:
                    _stop_profiler(profiler)
    print(f"{kind}: otvet {load}\n{kind}: baseline {base}", file=sys.stderr)
    name = f"graphql ask ({kind})"
    failures = f"{load.failures} failed, {load.socket_errors} socket errors"
    note = failures if not load.failures else f"{failures}; e.g. {load.sample_failure[:120]}"
    share = load.answers_per_second / base.answers_per_second if base.answers_per_second else 0.0
    return [
        Row(name, "answers/s", load.answers_per_second, "1/s", base.answers_per_second, note=note).at_least(
            MIN_ANSWERS_PER_SECOND
        ),
        Row(name, "share of baseline", round(share, 3), "").at_least(MIN_BASELINE_SHARE),
        Row(name, "p50 latency", load.p50_ms, "ms", base.p50_ms),
        Row(name, "p99 latency", load.p99_ms, "ms", base.p99_ms).at_most(MAX_P99_MS),
        Row(name, "server CPU per answer", load.cpu_ms_per_answer, "ms", base.cpu_ms_per_answer),
        Row(name, "PSS after load", load.pss_mb, "MB", base.pss_mb),
    ]


def _start_profiler(
    directory: Path | None, pid: int, kind: str, args: argparse.Namespace
) -> subprocess.Popen[bytes] | None:
    """py-spy recording the Otvet process through warm-up and measurement (``--profile DIR``)."""
    if directory is None:
        return None
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    directory.mkdir(parents=True, exist_ok=True)
    output = directory / f"graphql-{kind}.txt"  # collapsed stacks: flamegraph.pl, speedscope
    seconds = int(args.warmup + args.seconds) + 2
    command = [
        py_spy,
        "record",
        "--pid",
        str(pid),
        "--duration",
        str(seconds),
        "--rate",
        "200",
        "--format",
        "raw",
        "--subprocesses",  # the workers of otvet api --workers
    ]
    return subprocess.Popen([*command, "--output", str(output)], stdout=subprocess.DEVNULL)


def _stop_profiler(profiler: subprocess.Popen[bytes] | None) -> None:
    if profiler is not None:
        profiler.wait(timeout=60)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=64, help="concurrent connections")
    parser.add_argument("--seconds", type=float, default=20, help="measured duration of each run")
    parser.add_argument("--warmup", type=float, default=5, help="warm-up before each measured run, seconds")
    parser.add_argument("--database", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="otvet api --workers (default: one per core)"
    )
    parser.add_argument(
        "--profile", type=Path, default=None, help="record the Otvet process with py-spy into this folder"
    )
    add_rows_argument(parser)
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        parser.error("wrk is not installed (make bench installs it: apt-get install wrk)")
    kinds = ("sqlite", "postgres") if args.database == "both" else (args.database,)
    rows = [row for kind in kinds for row in asyncio.run(bench_database(kind, args))]
    print(format_rows(rows))
    write_rows(rows, args.rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
