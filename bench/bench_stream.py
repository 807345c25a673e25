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

    python bench/bench_stream.py [--rounds 100] [--deltas 200]
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

import openai

from otvet.config.settings import Settings
from otvet.core.app import Otvet
from otvet.core.types import Delta, Final, Turn

ROOT = Path(__file__).resolve().parents[1]
QUESTION = "How do I connect Telegram?"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def fake_server(deltas: int) -> Iterator[str]:
    """The fake OpenAI API in its own process (its CPU is not ours), until the block ends."""
    port = _free_port()
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--deltas", type=int, default=200)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    os.environ.setdefault("PYTHONPATH", str(ROOT))
    with fake_server(args.deltas) as base_url, tempfile.TemporaryDirectory(prefix="otvet-bench-") as tmp:
        report = asyncio.run(run(args.rounds, args.deltas, base_url, Path(tmp)))
    if args.json:
        print(json.dumps(report))
    else:
        for key, value in report.items():
            print(f"{key:<26} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
