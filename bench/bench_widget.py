"""Benchmark the widget's WebSocket (``/ws/chat``) holding thousands of idle visitors on one process.

``otvet serve`` runs as a user starts it (SQLite, the demo knowledge base, the ``instant`` provider), in a
process of its own; in the same run, so does bench/baseline_ws.py (a minimal Starlette WebSocket doing one
database write per hello). For each, this script, in another process:

1. opens ``--connections`` sockets, each a new visitor that says ``hello`` and gets its ``welcome``, then
   as many again, reading the server's resident memory (VmRSS) before, at N and at 2N. The figure reported
   is the slope from N to 2N: the first N also pay for the allocator's arenas growing and caches warming,
   which a further N sockets no longer do. Both figures are shown;
2. pings every idle socket at once and times the pongs (does the server still serve them all?);
3. (Otvet only) asks ``--questions`` questions over one more socket before the sockets are opened and
   again with all of them open: the answer latency under that load, as a ratio of the first.

The widget's per-address limits are switched off (every socket comes from 127.0.0.1).

    python bench/bench_widget.py [--connections 2000] [--questions 60] [--rows PATH] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

sys.path.insert(0, str(Path(__file__).resolve().parent))

import baseline_ws
from common import (
    BENCH,
    Row,
    add_rows_argument,
    format_rows,
    free_port,
    latency_summary,
    otvet_argv,
    otvet_env,
    rss_bytes,
    start_process,
    write_rows,
)

BENCHMARK = "widget sockets"
TARGET_KB_PER_SOCKET = 50
QUESTIONS = ("How do I connect Telegram?", "Как добавить обучающие данные?", "What is Otvet?")


@dataclass
class Held:
    """What holding the sockets cost one server."""

    rss_start: int = 0
    rss_n: int = 0
    rss_2n: int = 0
    open_seconds: float = 0.0
    pong_ms: dict[str, float] = field(default_factory=dict)
    still_open: int = 0
    answer_alone_ms: list[float] = field(default_factory=list)
    answer_loaded_ms: list[float] = field(default_factory=list)

    def kb_per_socket(self, connections: int) -> tuple[float, float]:
        """(slope from N to 2N, average over the first N) in KB per socket."""
        return (self.rss_2n - self.rss_n) / connections / 1024, (
            self.rss_n - self.rss_start
        ) / connections / 1024


def _raise_fd_limit(wanted: int) -> None:
    # The servers inherit it: each socket is a descriptor on both sides.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))


async def _frame(ws: ClientConnection) -> dict[str, Any]:
    return json.loads(await ws.recv())  # type: ignore[no-any-return]


async def open_visitor(url: str) -> ClientConnection:
    ws = await connect(url, max_size=2**20, ping_interval=None, open_timeout=60)
    await ws.send(json.dumps({"type": "hello", "language": None, "visitor": None, "user": None}))
    welcome = await _frame(ws)
    if welcome.get("type") != "welcome":
        raise RuntimeError(f"expected welcome, got {welcome}")
    return ws


async def open_many(url: str, count: int, parallel: int) -> list[ClientConnection]:
    gate = asyncio.Semaphore(parallel)

    async def one() -> ClientConnection:
        async with gate:
            return await open_visitor(url)

    return list(await asyncio.gather(*(one() for _ in range(count))))


async def ask_all(ws: ClientConnection, count: int) -> list[float]:
    """Ask ``count`` questions one by one; milliseconds from sending each to its ``answer``."""
    took: list[float] = []
    for number in range(count):
        started = time.perf_counter()
        text = QUESTIONS[number % len(QUESTIONS)]
        await ws.send(json.dumps({"type": "question", "id": f"q{number}", "text": text, "language": None}))
        while (frame := await _frame(ws))["type"] != "answer":
            if frame["type"] == "error":
                raise RuntimeError(f"the server refused a question: {frame}")
        took.append((time.perf_counter() - started) * 1000)
    return took


async def ping_all(sockets: Sequence[ClientConnection]) -> list[float]:
    async def one(ws: ClientConnection) -> float:
        started = time.perf_counter()
        await ws.send('{"type":"ping"}')
        while (await _frame(ws))["type"] != "pong":
            pass
        return (time.perf_counter() - started) * 1000

    return list(await asyncio.gather(*(one(ws) for ws in sockets)))


async def _settled_rss(pid: int) -> int:
    await asyncio.sleep(1.0)  # the last welcomes' garbage collected, the server idle
    return rss_bytes(pid)


async def hold(url: str, pid: int, args: argparse.Namespace, questions: int) -> Held:
    held = Held()
    asker = await open_visitor(url)
    warm = await open_many(url, 50, args.parallel_opens)  # first sockets: code paths and caches warm
    if questions:
        await ask_all(asker, 4)
        held.answer_alone_ms = await ask_all(asker, questions)
    held.rss_start = await _settled_rss(pid)
    started = time.perf_counter()
    first = await open_many(url, args.connections, args.parallel_opens)
    held.open_seconds = time.perf_counter() - started
    held.rss_n = await _settled_rss(pid)
    second = await open_many(url, args.connections, args.parallel_opens)
    held.rss_2n = await _settled_rss(pid)
    sockets = [*first, *second]
    held.pong_ms = latency_summary(await ping_all(sockets))
    if questions:
        held.answer_loaded_ms = await ask_all(asker, questions)
    held.still_open = sum(1 for ws in sockets if ws.close_code is None)
    await asyncio.gather(*(ws.close() for ws in [*sockets, *warm, asker]), return_exceptions=True)
    return held


async def run(args: argparse.Namespace) -> list[Row]:
    _raise_fd_limit(args.connections * 4 + 1024)
    with tempfile.TemporaryDirectory(prefix="otvet-bench-widget-") as tmp_name:
        tmp = Path(tmp_name)
        port = free_port()
        env = otvet_env(
            tmp / "otvet",
            provider="instant",
            log_level="WARNING",
            worker__in_process="false",
            widget__connections_per_minute_per_ip="0",
            widget__messages_per_minute_per_ip="0",
            widget__questions_per_minute="0",
        )
        argv = otvet_argv("serve", "--host", "127.0.0.1", "--port", str(port))
        async with start_process(argv, env, f"http://127.0.0.1:{port}/readyz", cwd=BENCH) as otvet:
            ours = await hold(f"ws://127.0.0.1:{port}/ws/chat", otvet.pid, args, args.questions)
        port = free_port()
        argv = baseline_ws.command(f"sqlite://{tmp / 'baseline.db'}", port)
        async with start_process(argv, None, f"http://127.0.0.1:{port}/readyz") as base:
            theirs = await hold(f"ws://127.0.0.1:{port}/ws/chat", base.pid, args, 0)
    n = args.connections
    slope, average = ours.kb_per_socket(n)
    base_slope, base_average = theirs.kb_per_socket(n)
    note = f"VmRSS slope from {n:,} to {2 * n:,} idle sockets"
    rows = [
        Row(BENCHMARK, "memory per idle socket", round(slope, 1), "KB", round(base_slope, 1), note=note)
        .at_most(TARGET_KB_PER_SOCKET),
        Row(BENCHMARK, "memory per socket, first N", round(average, 1), "KB", round(base_average, 1),
            note=f"VmRSS from 50 to {n:,} sockets: includes arena growth"),
        Row(BENCHMARK, "sockets still open", ours.still_open, "", theirs.still_open, note=f"of {2 * n:,}"),
        Row(BENCHMARK, "server RSS with all sockets", round(ours.rss_2n / 2**20), "MB",
            round(theirs.rss_2n / 2**20)),
        Row(BENCHMARK, f"open {n:,} (hello + welcome each)", round(ours.open_seconds, 2), "s",
            round(theirs.open_seconds, 2), note=f"{args.parallel_opens} at a time"),
        Row(BENCHMARK, "ping every socket at once: p50", ours.pong_ms["p50"], "ms", theirs.pong_ms["p50"]),
        Row(BENCHMARK, "ping every socket at once: p99", ours.pong_ms["p99"], "ms", theirs.pong_ms["p99"]),
    ]  # fmt: skip
    if ours.answer_alone_ms:
        alone, loaded = latency_summary(ours.answer_alone_ms), latency_summary(ours.answer_loaded_ms)
        rows.append(
            Row(BENCHMARK, "answer p50 with the sockets open", loaded["p50"], "ms", alone["p50"],
                note="baseline column: the same questions with no other socket open")
        )  # fmt: skip
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--connections", type=int, default=2000, help="idle visitors per step (default 2000)")
    parser.add_argument("--questions", type=int, default=60, help="questions timed alone and under load")
    parser.add_argument("--parallel-opens", type=int, default=100, help="sockets opened at a time")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 100 sockets, 10 questions")
    add_rows_argument(parser)
    args = parser.parse_args(argv)
    if args.quick:
        args.connections, args.questions = 100, 10
    rows = asyncio.run(run(args))
    print(format_rows(rows))
    write_rows(rows, args.rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
