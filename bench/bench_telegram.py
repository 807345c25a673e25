"""Benchmark the Telegram webhook: updates answered per second with N concurrent chats, against a baseline.

Three processes on loopback, as in production minus the network: the fake Bot API of the test suite
(bench/fake_bot_api.py), ``otvet serve`` in webhook mode with the zero-latency ``instant`` provider
(bench/otvet_bench.py), and this script posting ``--updates`` private messages from ``--chats`` chats, one
keep-alive connection per chat, each chat posting its next update when the last POST was answered, as
Telegram does. An update counts once its final answer (the message with the 👍/👎 buttons) reached the fake
Bot API. The same traffic then goes to bench/baseline_telegram.py (one DB write and one sendMessage per
update) pointed at the same fake.

Otvet runs with its flood limiter off for the target (what the frontend itself can do, as against a
self-hosted Bot API server) and, as a second figure, on: Telegram's own limit of about 30 messages a second
per bot then caps what any bot can send.

    python bench/bench_telegram.py [--chats 50] [--updates 500] [--rows PATH] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

import baseline_telegram
from common import (
    BENCH,
    Row,
    add_rows_argument,
    calls_by_method,
    cpu_seconds,
    format_rows,
    free_port,
    latency_summary,
    otvet_argv,
    otvet_env,
    start_process,
    write_rows,
)
from lean_http import drive, post_request

from tests.support.telegram_updates import UpdateBuilders

SECRET = "bench-secret"
BENCHMARK = "telegram webhook"
TARGET_UPDATES_PER_SECOND = 300


@dataclass
class Figures:
    updates_per_second: float
    post_ms: dict[str, float]
    cpu_ms_per_update: float
    bot_calls_per_update: float
    #: Bot API calls per update by method, and Telegram's message limits broken meanwhile.
    calls_by_method: dict[str, float]
    violations: int
    violation_examples: list[str]


class FakeBotAPI:
    """The fake Bot API process's counters (bench/fake_bot_api.py)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.client = httpx.AsyncClient(timeout=10)

    async def stats(self) -> tuple[int, int]:
        """(final answers, Bot API calls) so far."""
        finals, calls = await self.detailed()
        return finals, sum(calls.values())

    async def detailed(self) -> tuple[int, dict[str, int]]:
        """(final answers, Bot API calls by method) so far."""
        stats = (await self.client.get(f"{self.base}/bench/stats")).json()
        return int(stats["finals"]), {str(k): int(v) for k, v in stats["calls"].items()}

    async def limits(self, forget: bool = False) -> dict[str, object]:
        """Telegram's message limits broken since they were last forgotten (``forget``: forget them now)."""
        response = await self.client.request("DELETE" if forget else "GET", f"{self.base}/bench/limits")
        return dict(response.json())

    async def wait_finals(self, count: int, timeout: float) -> None:  # noqa: ASYNC109
        deadline = time.perf_counter() + timeout
        while (await self.stats())[0] < count:
            if time.perf_counter() > deadline:
                raise TimeoutError(f"only {(await self.stats())[0]} of {count} answers arrived")
            await asyncio.sleep(0.01)


def updates(port: int, count: int, chats: int, first_user: int) -> list[bytes]:
    """``count`` webhook POSTs of private messages, round-robin over ``chats`` users."""
    builders = UpdateBuilders(first_update_id=first_user * 1_000)  # a new id for every update of the run
    headers = {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": SECRET}
    bodies = (
        builders.private_message(f"question {n}", user_id=first_user + n % chats, language_code="en")
        for n in range(count)
    )
    return [
        post_request("127.0.0.1", port, "/telegram/webhook", json.dumps(b).encode(), headers) for b in bodies
    ]


async def measure(port: int, pid: int, fake: FakeBotAPI, count: int, chats: int, first_user: int) -> Figures:
    """Post ``count`` updates over ``chats`` connections; time until every answer reached the Bot API."""
    requests = updates(port, count, chats, first_user)
    finals_before, methods_before = await fake.detailed()
    await fake.limits(forget=True)
    cpu_before = cpu_seconds(pid)
    started = time.perf_counter()
    result = await drive("127.0.0.1", port, requests, chats, check=_ok)
    await fake.wait_finals(finals_before + count, timeout=60 + count / 5)
    elapsed = time.perf_counter() - started
    cpu = cpu_seconds(pid) - cpu_before
    _, methods_after = await fake.detailed()
    limits = await fake.limits()
    by_method = {m: (n - methods_before.get(m, 0)) / count for m, n in methods_after.items()}
    by_method = {m: per for m, per in by_method.items() if per > 0}
    return Figures(
        updates_per_second=count / elapsed,
        post_ms=latency_summary(result.latencies_ms),
        cpu_ms_per_update=cpu * 1000 / count,
        bot_calls_per_update=sum(by_method.values()),
        calls_by_method=by_method,
        violations=int(limits["violations"]),  # type: ignore[call-overload]
        violation_examples=list(limits["examples"]),  # type: ignore[call-overload]
    )


def _ok(response: object) -> None:
    status = getattr(response, "status", 0)
    if status != 200:
        raise RuntimeError(f"the webhook answered {status}: {getattr(response, 'body', b'')[:200]!r}")


async def run_otvet(fake: FakeBotAPI, tmp: Path, args: argparse.Namespace, rate_limit: bool) -> Figures:
    port = free_port()
    env = otvet_env(
        tmp / f"otvet-{rate_limit}",
        provider="instant",
        log_level="WARNING",
        worker__in_process="false",
        telegram__token=baseline_telegram.TOKEN,
        telegram__mode="webhook",
        telegram__secret_token=SECRET,
        telegram__base_url=f"{fake.base}/bot",
        telegram__base_file_url=f"{fake.base}/file/bot",
        telegram__rate_limit=str(rate_limit).lower(),
    )
    argv = otvet_argv("serve", "--host", "127.0.0.1", "--port", str(port))
    async with start_process(argv, env, f"http://127.0.0.1:{port}/readyz", cwd=BENCH) as otvet:
        count = args.updates if not rate_limit else min(args.updates, args.rate_limited_updates)
        await measure(port, otvet.pid, fake, args.chats, args.chats, 10_000)  # warm up: one per chat
        return await measure(port, otvet.pid, fake, count, args.chats, 20_000)


async def run_baseline(fake: FakeBotAPI, tmp: Path, args: argparse.Namespace) -> Figures:
    port = free_port()
    database = f"sqlite://{tmp / 'baseline.db'}"
    argv = baseline_telegram.command(database, f"{fake.base}/bot", SECRET, port)
    async with start_process(argv, None, f"http://127.0.0.1:{port}/readyz") as base:
        await measure(port, base.pid, fake, args.chats, args.chats, 30_000)
        return await measure(port, base.pid, fake, args.updates, args.chats, 40_000)


async def run(args: argparse.Namespace) -> list[Row]:
    fake_port = free_port()
    fake_argv = [sys.executable, str(BENCH / "fake_bot_api.py"), "--port", str(fake_port)]
    base_url = f"http://127.0.0.1:{fake_port}"
    with tempfile.TemporaryDirectory(prefix="otvet-bench-tg-") as tmp_name:
        tmp = Path(tmp_name)
        async with start_process(fake_argv, None, f"{base_url}/bench/stats"):
            fake = FakeBotAPI(base_url)
            base = await run_baseline(fake, tmp, args)
            ours = await run_otvet(fake, tmp, args, rate_limit=False)
            limited = await run_otvet(fake, tmp, args, rate_limit=True) if args.rate_limited_updates else None
            await fake.client.aclose()
    note = f"{args.chats} chats, {args.updates} updates, rate limiter off"
    rows = [
        Row(BENCHMARK, "updates answered", round(ours.updates_per_second, 1), "/s",
            round(base.updates_per_second, 1), note=note).at_least(TARGET_UPDATES_PER_SECOND),
        Row(BENCHMARK, "webhook POST p50", ours.post_ms["p50"], "ms", base.post_ms["p50"], note=note),
        Row(BENCHMARK, "webhook POST p99", ours.post_ms["p99"], "ms", base.post_ms["p99"], note=note),
        Row(BENCHMARK, "CPU per update (server process)", round(ours.cpu_ms_per_update, 2), "ms",
            round(base.cpu_ms_per_update, 2), note="all threads; the fake Bot API's not included"),
        Row(BENCHMARK, "Bot API calls per update", round(ours.bot_calls_per_update, 2), "",
            round(base.bot_calls_per_update, 2), note=calls_by_method(ours.calls_by_method)),
    ]  # fmt: skip
    if limited is not None:
        rows += [
            Row(BENCHMARK, "updates answered, rate limiter on", round(limited.updates_per_second, 1), "/s",
                note="Otvet's flood limiter: Telegram's ~30 messages/s per bot, 1/s per chat"),
            Row(BENCHMARK, "Telegram limits broken, rate limiter on", limited.violations, "",
                note="; ".join(limited.violation_examples) or calls_by_method(limited.calls_by_method)),
        ]  # fmt: skip
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--chats", type=int, default=50, help="concurrent chats (default 50)")
    parser.add_argument("--updates", type=int, default=500, help="updates timed (default 500)")
    parser.add_argument(
        "--rate-limited-updates",
        type=int,
        default=150,
        help="updates timed with the rate limiter on (0: skip)",
    )
    parser.add_argument("--quick", action="store_true", help="a smoke run: 10 chats, 50 updates")
    add_rows_argument(parser)
    args = parser.parse_args(argv)
    if args.quick:
        args.chats, args.updates, args.rate_limited_updates = 10, 50, 20
    rows = asyncio.run(run(args))
    print(format_rows(rows))
    write_rows(rows, args.rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
