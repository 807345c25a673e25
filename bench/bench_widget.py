"""Benchmark the widget's WebSocket (``/ws/chat``) holding thousands of idle visitors on one process.

``otvet serve`` runs as a user would start it (SQLite, the demo knowledge base, the extractive answerer: no
model latency), in a process of its own. This script, in another process, then:

1. asks ``--questions`` questions over one socket and times each from sending to the first ``delta`` and to
   the final ``answer`` (the baseline: the server holds nothing else);
2. opens ``--connections`` more sockets, each a new visitor that says ``hello`` and gets its ``welcome``,
   and reads the server's resident memory before and after (``/proc/<pid>/status``): memory per connection;
3. pings every idle socket at once and times the pongs (does the server still serve them all?);
4. asks the same questions again with every socket open: the answer latency under that load, as a ratio
   of the baseline measured in the same run.

The widget's per-address limits are switched off (every socket comes from 127.0.0.1).

    python bench/bench_widget.py [--connections 2000] [--questions 60]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = (
    "How do I connect Telegram?",
    "Как добавить обучающие данные?",
    "What is Otvet?",
    "Какие языки поддерживаются?",
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc status")


def _raise_fd_limit(wanted: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))


@contextlib.asynccontextmanager
async def otvet_serve(data_dir: Path, connections: int) -> AsyncIterator[tuple[str, int]]:
    """``otvet serve`` on a free port, ready with the demo; yields (base URL, pid)."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTVET_")}
    env.update(
        OTVET_DATA_DIR=str(data_dir),
        OTVET_PLUGINS="[]",
        OTVET_LOG_LEVEL="WARNING",
        OTVET_WORKER__IN_PROCESS="false",
        OTVET_WIDGET__CONNECTIONS_PER_MINUTE_PER_IP="0",
        OTVET_WIDGET__MESSAGES_PER_MINUTE_PER_IP="0",
        OTVET_WIDGET__QUESTIONS_PER_MINUTE="0",
    )
    # The server needs a descriptor per socket too: raise its limit the way an operator would (ulimit -n).
    command = [str(ROOT / ".venv/bin/otvet"), "serve", "--port", str(port)]
    limit = connections * 2 + 1024

    def raise_limit() -> None:
        _raise_fd_limit(limit)

    process = await asyncio.create_subprocess_exec(
        *command,
        env=env,
        cwd=data_dir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        preexec_fn=raise_limit,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient() as client:
            for _ in range(600):
                if process.returncode is not None:
                    raise RuntimeError((await process.stderr.read()).decode() if process.stderr else "exited")
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"{base}/readyz", timeout=1)).status_code == 200:
                        break
                await asyncio.sleep(0.1)
            else:
                raise TimeoutError("otvet serve did not become ready")
        yield base, process.pid
    finally:
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 30)
        except TimeoutError:
            process.kill()
            await process.wait()


async def _frame(ws: ClientConnection) -> dict[str, Any]:
    return json.loads(await ws.recv())  # type: ignore[no-any-return]


async def open_visitor(url: str) -> ClientConnection:
    ws = await connect(url, max_size=2**20, ping_interval=None, open_timeout=60)
    await ws.send(json.dumps({"type": "hello", "language": None, "visitor": None, "user": None}))
    welcome = await _frame(ws)
    if welcome.get("type") != "welcome":
        raise RuntimeError(f"expected welcome, got {welcome}")
    return ws


async def ask_all(ws: ClientConnection, questions: Sequence[str]) -> tuple[list[float], list[float]]:
    """Ask one by one; seconds to the first delta and to the answer, per question."""
    first: list[float] = []
    whole: list[float] = []
    for number, text in enumerate(questions):
        started = time.perf_counter()
        await ws.send(json.dumps({"type": "question", "id": f"q{number}", "text": text, "language": None}))
        seen_delta = False
        while True:
            frame = await _frame(ws)
            if frame["type"] == "delta" and not seen_delta:
                seen_delta = True
                first.append(time.perf_counter() - started)
            elif frame["type"] == "answer":
                whole.append(time.perf_counter() - started)
                if not seen_delta:
                    first.append(whole[-1])
                break
            elif frame["type"] == "error":
                raise RuntimeError(f"the server refused a question: {frame}")
    return first, whole


async def ping_all(sockets: Sequence[ClientConnection]) -> list[float]:
    async def one(ws: ClientConnection) -> float:
        started = time.perf_counter()
        await ws.send('{"type":"ping"}')
        while (await _frame(ws))["type"] != "pong":
            pass
        return time.perf_counter() - started

    return list(await asyncio.gather(*(one(ws) for ws in sockets)))


def _ms(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def run(args: argparse.Namespace) -> dict[str, tuple[Any, str]]:
    _raise_fd_limit(args.connections + 1024)
    questions = [QUESTIONS[i % len(QUESTIONS)] for i in range(args.questions)]
    with tempfile.TemporaryDirectory(prefix="otvet-bench-widget-") as tmp:
        async with otvet_serve(Path(tmp), args.connections) as (base, pid):
            url = base.replace("http://", "ws://") + "/ws/chat"
            asker = await open_visitor(url)
            await ask_all(asker, questions[:4])  # warm up: first searches, caches
            first_idle, whole_idle = await ask_all(asker, questions)
            await asyncio.sleep(0.5)
            rss_before = _rss_kb(pid)

            started = time.perf_counter()
            sockets: list[ClientConnection] = []
            gate = asyncio.Semaphore(args.parallel_opens)

            async def opened() -> None:
                async with gate:
                    sockets.append(await open_visitor(url))

            await asyncio.gather(*(opened() for _ in range(args.connections)))
            open_s = time.perf_counter() - started
            await asyncio.sleep(1.0)
            rss_after = _rss_kb(pid)

            pongs = await ping_all(sockets)
            first_busy, whole_busy = await ask_all(asker, questions)
            still_open = sum(1 for ws in sockets if ws.close_code is None)
            for ws in [*sockets, asker]:
                await ws.close()

    per_connection_kb = (rss_after - rss_before) / args.connections
    p50 = statistics.median
    return {
        "cores": (os.cpu_count(), ""),
        "idle connections held": (f"{still_open:,} of {args.connections:,}", ""),
        "opened (hello + welcome each)": (round(open_s, 2), "s"),
        "server RSS before / after": (f"{rss_before / 1024:.0f} / {rss_after / 1024:.0f}", "MB"),
        "memory per connection": (round(per_connection_kb, 1), "KB"),
        "ping all at once: p50 / p99": (f"{_ms(pongs, 0.5):.1f} / {_ms(pongs, 0.99):.1f}", "ms"),
        "first delta p50, alone (baseline)": (round(p50(first_idle) * 1000, 2), "ms"),
        "first delta p50, with the idle sockets": (round(p50(first_busy) * 1000, 2), "ms"),
        "answer p50 / p99, alone (baseline)": (
            f"{_ms(whole_idle, 0.5):.2f} / {_ms(whole_idle, 0.99):.2f}",
            "ms",
        ),
        "answer p50 / p99, with the idle sockets": (
            f"{_ms(whole_busy, 0.5):.2f} / {_ms(whole_busy, 0.99):.2f}",
            "ms",
        ),
        "answer p50 ratio (loaded / baseline)": (round(p50(whole_busy) / p50(whole_idle), 2), "x"),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--connections", type=int, default=2000, help="idle visitors to hold (default 2000)")
    parser.add_argument("--questions", type=int, default=60, help="questions timed alone and under load")
    parser.add_argument("--parallel-opens", type=int, default=100, help="sockets opened at a time")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    report = asyncio.run(run(args))
    if args.json:
        print(json.dumps({name: value for name, (value, _) in report.items()}, ensure_ascii=False))
        return 0
    width = max(len(name) for name in report)
    print(f"{'metric':<{width}}  {'value':>20}  unit")
    print("-" * (width + 30))
    for name, (value, unit) in report.items():
        print(f"{name:<{width}}  {value!s:>20}  {unit}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
