"""Benchmark Otvet's own overhead on a streamed LLM answer, against the raw ``openai`` client.

A fake OpenAI-compatible server (``tests/support/fake_openai.py``) runs in a process of its own and streams
every answer as ``--deltas`` pieces with no delay, so the model costs nothing and what remains is transport
plus whatever sits between the HTTP stream and the user. Each round times, back to back:

* **baseline**: ``openai.AsyncOpenAI`` streaming the same answer directly (request → first delta → last);
* **engine**: ``Engine.stream`` with the ``openai`` provider on SQLite and the demo knowledge base: storing
  the question, language detection, retrieval, the prompt, citation renumbering, every ``Delta`` event and
  storing the answer.

The difference of the medians is Otvet's overhead: the time to the first delta (setup before the model is
called) and the cost per delta (the streaming path). Rounds alternate, so both sides see the same noise.

It then measures the wire: ``otvet serve`` in a process of its own with the ``instant`` provider streaming
``--deltas`` stamped deltas (bench/instant.py, ``OTVET_BENCH_STAMP=1``), and this process timing each frame
from the provider's token to its arrival, over the widget's WebSocket and a GraphQL ``askStream``
subscription (bench/stamped.py), against bench/baseline_ws.py sending the same stamped tokens as frames.

    python bench/bench_stream.py [--rounds 100] [--deltas 200] [--rows PATH] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import openai

sys.path.insert(0, str(Path(__file__).resolve().parent))

import baseline_ws
import stamped
from common import (
    BENCH,
    Row,
    add_rows_argument,
    create_api_key,
    format_rows,
    free_port,
    otvet_argv,
    otvet_env,
    percentile,
    start_process,
    write_rows,
)

from otvet.config.settings import Settings
from otvet.core.app import Otvet
from otvet.core.types import Delta, Final, Turn

ROOT = Path(__file__).resolve().parents[1]
QUESTION = "How do I connect Telegram?"


@contextlib.contextmanager
def fake_server(deltas: int) -> Iterator[str]:
    """The fake OpenAI API in its own process (its CPU is not ours), until the block ends."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "tests.support.fake_openai",
        "--port",
        str(port),
        "--deltas",
        str(deltas),
    ]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("the fake OpenAI server did not start")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        process.terminate()
        process.wait(10)


async def baseline(client: openai.AsyncOpenAI) -> tuple[float, float, int]:
    """(seconds to the first delta, seconds to the end, deltas) for the raw client."""
    started = time.perf_counter()
    first = 0.0
    count = 0
    stream = await client.chat.completions.create(
        model="gpt-test",
        messages=[{"role": "user", "content": QUESTION}],
        stream=True,
        stream_options={"include_usage": True},
    )
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            count += 1
            if count == 1:
                first = time.perf_counter() - started
    return first, time.perf_counter() - started, count


async def through_engine(otvet: Otvet, number: int) -> tuple[float, float, int]:
    """The same through ``Engine.stream``; a new user each time, so prompts do not grow with history."""
    started = time.perf_counter()
    first = 0.0
    count = 0
    async for event in otvet.engine.stream(Turn(channel="bench", user_id=f"u{number}", text=QUESTION)):
        if isinstance(event, Delta):
            count += 1
            if count == 1:
                first = time.perf_counter() - started
        elif not isinstance(event, Final):
            raise RuntimeError(f"the engine failed: {event}")
    return first, time.perf_counter() - started, count


def _summary(samples: list[tuple[float, float, int]]) -> dict[str, float]:
    firsts = [s[0] * 1000 for s in samples]
    per_delta = [(s[1] - s[0]) * 1e6 / max(1, s[2] - 1) for s in samples]
    totals = [s[1] * 1000 for s in samples]
    return {
        "first_delta_p50_ms": round(statistics.median(firsts), 3),
        "per_delta_p50_us": round(statistics.median(per_delta), 2),
        "total_p50_ms": round(statistics.median(totals), 2),
        "deltas": samples[0][2],
    }


async def run(rounds: int, deltas: int, base_url: str, data_dir: Path) -> dict[str, object]:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=data_dir,
        plugins=[],
        load_demo=True,
        openai={"api_key": "sk-bench", "base_url": base_url, "model": "gpt-test"},
    )
    client = openai.AsyncOpenAI(api_key="sk-bench", base_url=base_url, max_retries=0)
    direct: list[tuple[float, float, int]] = []
    engine: list[tuple[float, float, int]] = []
    async with Otvet(settings) as otvet:
        for number in range(5):  # warm up connections, caches and the index
            await baseline(client)
            await through_engine(otvet, -1 - number)
        for number in range(rounds):
            direct.append(await baseline(client))
            engine.append(await through_engine(otvet, number))
    await client.close()
    raw, ours = _summary(direct), _summary(engine)
    return {
        "rounds": rounds,
        "baseline": raw,
        "engine": ours,
        "overhead_first_delta_ms": round(ours["first_delta_p50_ms"] - raw["first_delta_p50_ms"], 3),
        "overhead_per_delta_us": round(ours["per_delta_p50_us"] - raw["per_delta_p50_us"], 2),
        "ratio_total": round(ours["total_p50_ms"] / raw["total_p50_ms"], 2),
    }


WIRE = "stream: provider token to client frame"
TARGET_FIRST_MS, TARGET_PER_TOKEN_MS = 2.0, 0.2


async def _time(ask: Any, rounds: int) -> stamped.Timings:
    timings = stamped.Timings()
    for number in range(5):  # warm up: connections, caches, the index
        await ask(-1 - number)
    for number in range(rounds):
        timings.add(await ask(number))
    return timings


async def run_wire(rounds: int, deltas: int, tmp: Path) -> dict[str, stamped.Timings]:
    """The stamped-token latencies over the widget, askStream, and the baseline's WebSocket."""
    stamping = {"OTVET_BENCH_STAMP": "1", "OTVET_BENCH_DELTAS": str(deltas)}
    env = (
        otvet_env(
            tmp / "wire",
            provider="instant",
            log_level="WARNING",
            worker__in_process="false",
            api__requests_per_minute="0",
            widget__connections_per_minute_per_ip="0",
            widget__messages_per_minute_per_ip="0",
            widget__questions_per_minute="0",
        )
        | stamping
    )
    key = await asyncio.to_thread(create_api_key, env)
    port = free_port()
    results: dict[str, stamped.Timings] = {}
    argv = otvet_argv("serve", "--host", "127.0.0.1", "--port", str(port))
    async with start_process(argv, env, f"http://127.0.0.1:{port}/readyz", cwd=BENCH):
        async with stamped.widget(f"ws://127.0.0.1:{port}/ws/chat") as ask:
            results["widget"] = await _time(ask, rounds)
        async with stamped.graphql(f"ws://127.0.0.1:{port}/graphql", key) as ask:
            results["graphql"] = await _time(ask, rounds)
    port = free_port()
    base_env = {**os.environ, **stamping}
    argv = baseline_ws.command(f"sqlite://{tmp / 'baseline.db'}", port)
    async with (
        start_process(argv, base_env, f"http://127.0.0.1:{port}/readyz"),
        stamped.widget(f"ws://127.0.0.1:{port}/ws/chat") as ask,
    ):
        results["baseline"] = await _time(ask, rounds)
    return results


def wire_rows(results: dict[str, stamped.Timings], rounds: int, deltas: int) -> list[Row]:
    base = results["baseline"]
    rows = []
    for name, label in (("widget", "widget /ws/chat"), ("graphql", "GraphQL askStream")):
        ours = results[name]
        note = f"{rounds} answers of {deltas} deltas; baseline: a bare Starlette WebSocket"
        rows.append(
            Row(WIRE, f"{label}: first token to first frame p50", round(percentile(ours.first_ms, 50), 3),
                "ms", round(percentile(base.first_ms, 50), 3), note=note).at_most(TARGET_FIRST_MS)
        )  # fmt: skip
        rows.append(
            Row(WIRE, f"{label}: first token to first frame p99", round(percentile(ours.first_ms, 99), 3),
                "ms", round(percentile(base.first_ms, 99), 3))
        )  # fmt: skip
        rows.append(
            Row(WIRE, f"{label}: time per token p50", round(percentile(ours.per_token_ms, 50), 4), "ms",
                round(percentile(base.per_token_ms, 50), 4), note="first frame to last / tokens")
            .at_most(TARGET_PER_TOKEN_MS)
        )  # fmt: skip
        rows.append(
            Row(WIRE, f"{label}: every token to its frame p50", round(percentile(ours.every_ms, 50), 3), "ms",
                round(percentile(base.every_ms, 50), 3), note="includes waiting behind earlier frames")
        )  # fmt: skip
    return rows


def engine_rows(report: dict[str, Any]) -> list[Row]:
    """The in-process engine-overhead figures (against the raw openai client) as rows."""
    raw, ours = report["baseline"], report["engine"]
    name = "stream: engine vs raw openai client"
    note = f"in process, fake OpenAI server, {ours['deltas']} deltas"
    return [
        Row(name, "first delta p50", ours["first_delta_p50_ms"], "ms", raw["first_delta_p50_ms"], note=note),
        Row(name, "per delta p50", round(ours["per_delta_p50_us"] / 1000, 4), "ms",
            round(raw["per_delta_p50_us"] / 1000, 4), note=note),
        Row(name, "whole answer p50", ours["total_p50_ms"], "ms", raw["total_p50_ms"], note=note),
    ]  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--deltas", type=int, default=200)
    parser.add_argument("--skip-engine", action="store_true", help="only the wire measurement")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 10 rounds of 20 deltas")
    parser.add_argument("--json", action="store_true", help="print the engine figures as JSON")
    add_rows_argument(parser)
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.deltas = 10, 20
    os.environ.setdefault("PYTHONPATH", str(ROOT))
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="otvet-bench-") as tmp:
        rows += wire_rows(
            asyncio.run(run_wire(args.rounds, args.deltas, Path(tmp))), args.rounds, args.deltas
        )
        if not args.skip_engine:
            with fake_server(args.deltas) as base_url:
                report = asyncio.run(run(args.rounds, args.deltas, base_url, Path(tmp) / "engine"))
            if args.json:
                print(json.dumps(report))
            rows += engine_rows(report)
    print(format_rows(rows))
    write_rows(rows, args.rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
