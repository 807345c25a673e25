"""Benchmark the Telegram bot as its users meet it: long polling, a streamed LLM answer, Telegram's limits.

Processes on loopback: the fake Bot API (bench/fake_bot_api.py), a fake OpenAI-compatible server streaming
every answer as ``--deltas`` chunks of three words with no delay (``python -m tests.support.fake_openai``),
and ``otvet telegram`` with the ``openai`` provider on the demo knowledge base. ``--messages`` questions from
``--chats`` new private chats are handed to getUpdates at once; a message counts as answered when its final
reply (the message with the 👍/👎 buttons) reached the fake Bot API. Reported per configuration:

* answered per second (all messages over the time until the last final reply), final reply p50/p99 (from
  the moment the updates were queued; a chat's k-th reply is matched with its k-th question);
* Bot API calls per message, by method, and every break of Telegram's limits the fake saw (30 messages a
  second per bot, 3 in 3 seconds per private chat);
* CPU per message of the bot process, all threads.

Configurations: the production default (the flood limiter on) on SQLite and on PostgreSQL (the budget then
goes through the database, shared by replicas), and the limiter off on PostgreSQL (what the frontend itself
can do, as against a self-hosted Bot API server without limits). ``--runs`` repeats each, alternating, and
reports medians.

    python bench/bench_telegram_race.py [--messages 1000] [--chats 50] [--runs 1] [--rows PATH] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    BENCH,
    Row,
    add_rows_argument,
    calls_by_method,
    cpu_seconds,
    format_rows,
    free_port,
    otvet_argv,
    otvet_env,
    percentile,
    postgres,
    start_process,
    write_rows,
)

from tests.support.telegram_updates import UpdateBuilders

BENCHMARK = "telegram race"
TOKEN = "123:ABC"
#: Telegram's cap is 30 messages a second per bot: with one message per answer, what a bot can reach.
TARGET_LIMITED = 28.0
TARGET_UNLIMITED = 150.0
TARGET_P99_SECONDS = 40.0
TARGET_CPU_MS = 6.0
QUESTIONS = (
    "How do I connect Telegram?",
    "What is Otvet?",
    "Which languages does Otvet speak?",
    "Does Otvet need OpenAI?",
    "Where does Otvet store its data?",
    "How do I add training data?",
    "What is a knowledge version?",
    "Polling or webhook: which should I use?",
)


@dataclass
class Figures:
    answered_per_second: float
    p50_seconds: float
    p99_seconds: float
    cpu_ms: float
    calls_by_method: dict[str, float]
    violations: int
    examples: list[str]


@dataclass(frozen=True)
class Config:
    label: str
    rate_limit: bool
    postgres: bool
    peer: bool = False


CONFIGS = (
    Config("limiter on, SQLite", True, False),
    Config("limiter on, PostgreSQL", True, True),
    Config("limiter off, PostgreSQL", False, True),
)
PEER = Config("peer (n3d1117/chatgpt-telegram-bot), streaming", False, False, peer=True)


class Fake:
    """The fake Bot API process, driven over its /bench endpoints."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.client = httpx.AsyncClient(timeout=30)

    async def calls(self) -> dict[str, int]:
        return {
            str(k): int(v)
            for k, v in (await self.client.get(f"{self.base}/bench/stats")).json()["calls"].items()
        }

    async def queue(self, updates: list[dict[str, object]]) -> float:
        return float((await self.client.post(f"{self.base}/bench/queue", json=updates)).json()["at"])

    async def finals(self, forget: bool = False) -> list[tuple[int, float]]:
        response = await self.client.request("DELETE" if forget else "GET", f"{self.base}/bench/finals")
        return [(int(chat), float(at)) for chat, at in response.json()]

    async def limits(self, forget: bool = False) -> dict[str, object]:
        response = await self.client.request("DELETE" if forget else "GET", f"{self.base}/bench/limits")
        return dict(response.json())


def questions(builders: UpdateBuilders, count: int, chats: int, first_user: int) -> list[dict[str, object]]:
    return [
        builders.private_message(
            f"{QUESTIONS[n % len(QUESTIONS)]} ({n})", user_id=first_user + n % chats, language_code="en"
        )
        for n in range(count)
    ]


async def measure(fake: Fake, pid: int, count: int, chats: int, first_user: int, timeout: float) -> Figures:  # noqa: ASYNC109
    """Queue ``count`` questions at once; wait for every final reply."""
    updates = questions(UpdateBuilders(first_update_id=first_user * 10), count, chats, first_user)
    await fake.finals(forget=True)
    await fake.limits(forget=True)
    calls_before = await fake.calls()
    cpu_before = cpu_seconds(pid)
    queued = await fake.queue(updates)
    deadline = time.monotonic() + timeout
    while len(finals := await fake.finals()) < count:
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"only {len(finals)} of {count} answers arrived within {timeout:.0f} s;"
                f" Bot API calls meanwhile: {await fake.calls()}"
            )
        await asyncio.sleep(0.2)
    cpu = cpu_seconds(pid) - cpu_before
    calls_after = await fake.calls()
    limits = await fake.limits()
    latencies = [at - queued for _, at in finals]
    by_method = {m: (n - calls_before.get(m, 0)) / count for m, n in calls_after.items()}
    return Figures(
        answered_per_second=count / max(latencies),
        p50_seconds=percentile(latencies, 50),
        p99_seconds=percentile(latencies, 99),
        cpu_ms=cpu * 1000 / count,
        calls_by_method={m: per for m, per in by_method.items() if per > 0 and m != "getUpdates"},
        violations=int(limits["violations"]),  # type: ignore[call-overload]
        examples=list(limits["examples"]),  # type: ignore[call-overload]
    )


async def run_config(
    config: Config, fake: Fake, openai_base: str, database: str, tmp: Path, args: argparse.Namespace, run: int
) -> Figures:
    argv, env, cwd = (
        peer_command(fake, openai_base, tmp, args)
        if config.peer
        else otvet_command(config, fake, openai_base, database, tmp, args)
    )
    async with start_process(argv, env, cwd=cwd) as bot:
        await wait_polling(fake, bot)
        # Warm up: one question per chat, on chats of their own (new users each measured run).
        await measure(fake, bot.pid, args.chats, args.chats, 100_000 + run * 10_000, timeout=30)
        first_user = 200_000 + run * 10_000 + (*CONFIGS, PEER).index(config) * 1_000
        return await measure(fake, bot.pid, args.messages, args.chats, first_user, timeout=60 + args.messages)


def otvet_command(
    config: Config, fake: Fake, openai_base: str, database: str, tmp: Path, args: argparse.Namespace
) -> tuple[list[str], dict[str, str], Path]:
    settings = {
        "provider": "openai",
        "openai__base_url": openai_base,
        "openai__api_key": "bench",
        "log_level": "WARNING",
        "worker__in_process": "false",
        "telegram__token": TOKEN,
        "telegram__base_url": f"{fake.base}/bot",
        "telegram__base_file_url": f"{fake.base}/file/bot",
        "telegram__rate_limit": str(config.rate_limit).lower(),
    }
    if database:
        settings["database_url"] = database
    env = otvet_env(tmp / f"data-{config.postgres}", **settings)
    argv = otvet_argv("telegram")
    if args.profile and not config.rate_limit:
        argv = [argv[0], "-m", "cProfile", "-o", args.profile, *argv[1:]]
    return argv, env, BENCH


def peer_command(
    fake: Fake, openai_base: str, tmp: Path, args: argparse.Namespace
) -> tuple[list[str], dict[str, str], Path]:
    """The peer bot with its defaults (streaming on), its own virtualenv, in a folder of its own (it keeps
    usage logs in the current one)."""
    folder = tmp / "peer"
    folder.mkdir(exist_ok=True)
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(BENCH / "peer"),  # sitecustomize.py: the fake Bot API's URL, offline tiktoken
        "PEER_TELEGRAM_BASE_URL": f"{fake.base}/bot",
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "OPENAI_API_KEY": "bench",
        "OPENAI_BASE_URL": openai_base,
        "OPENAI_MODEL": "gpt-4o",
    }
    python = args.peer / ".venv" / "bin" / "python"
    return [str(python), str(args.peer / "bot" / "main.py")], env, folder


async def wait_polling(fake: Fake, bot: object) -> None:
    """Until the bot's first getUpdates: ``otvet telegram`` has no readiness URL."""
    deadline = time.monotonic() + 60
    while (await fake.calls()).get("getUpdates", 0) == 0:
        if time.monotonic() > deadline or getattr(bot, "returncode", None) is not None:
            raise RuntimeError(f"otvet telegram did not start polling:\n{bot.stderr()}")  # type: ignore[attr-defined]
        await asyncio.sleep(0.05)
    # Every poll ends the previous one: give the first a moment, then start.
    await asyncio.sleep(0.5)


async def run(args: argparse.Namespace) -> list[Row]:
    fake_port, openai_port = free_port(), free_port()
    answer = ("lorem ipsum dolor " * args.deltas).strip()  # the peer's final reply: the model's text alone
    fake_argv = [
        sys.executable, str(BENCH / "fake_bot_api.py"), "--port", str(fake_port), "--token", TOKEN,
        "--final-text", answer,
    ]  # fmt: skip
    openai_argv = [
        sys.executable, "-m", "tests.support.fake_openai", "--port", str(openai_port),
        "--deltas", str(args.deltas), "--text", "lorem ipsum dolor ",
    ]  # fmt: skip
    base = f"http://127.0.0.1:{fake_port}"
    results: dict[str, list[Figures]] = defaultdict(list)
    with tempfile.TemporaryDirectory(prefix="otvet-bench-race-") as tmp_name, postgres() as server:
        tmp = Path(tmp_name)
        database = await server.create_database("race")
        async with (
            start_process(fake_argv, None, f"{base}/bench/stats"),
            start_process(openai_argv, None, f"http://127.0.0.1:{openai_port}/v1/models", cwd=BENCH.parent),
        ):
            fake = Fake(base)
            configs = (*CONFIGS, PEER) if args.peer else CONFIGS
            for n in range(args.runs):
                for config in configs if n % 2 == 0 else tuple(reversed(configs)):
                    if args.only in config.label:
                        figures = await run_config(
                            config, fake, f"http://127.0.0.1:{openai_port}/v1",
                            database if config.postgres else "", tmp, args, n,
                        )  # fmt: skip
                        results[config.label].append(figures)
                        print(f"  {config.label}: {summary(figures)}", file=sys.stderr)
            await fake.client.aclose()
    return rows(results, args)


def summary(figures: Figures) -> str:
    return (
        f"{figures.answered_per_second:.1f}/s, p50 {figures.p50_seconds:.1f} s,"
        f" p99 {figures.p99_seconds:.1f} s, {figures.cpu_ms:.1f} ms CPU,"
        f" {calls_by_method(figures.calls_by_method)}, {figures.violations} over the limits"
    )


def rows(results: dict[str, list[Figures]], args: argparse.Namespace) -> list[Row]:
    note = (
        f"{args.messages} messages / {args.chats} chats, {args.deltas} streamed chunks, median of {args.runs}"
    )
    out: list[Row] = []
    for label, runs in results.items():
        median = statistics.median
        per_second = round(median(f.answered_per_second for f in runs), 1)
        target = TARGET_LIMITED if "on" in label.split(",")[0] or "peer" in label else TARGET_UNLIMITED
        cpu = Row(BENCHMARK, f"CPU per message, {label}", round(median(f.cpu_ms for f in runs), 2), "ms",
                  note="the bot process, all threads")  # fmt: skip
        out += [
            Row(BENCHMARK, f"answered, {label}", per_second, "/s", note=note).at_least(target),
            Row(BENCHMARK, f"final reply p50, {label}", round(median(f.p50_seconds for f in runs), 1), "s"),
            Row(BENCHMARK, f"final reply p99, {label}", round(median(f.p99_seconds for f in runs), 1), "s")
            .at_most(TARGET_P99_SECONDS),
            cpu.at_most(TARGET_CPU_MS) if "off" in label else cpu,
            Row(BENCHMARK, f"Bot API calls per message, {label}",
                round(median(sum(f.calls_by_method.values()) for f in runs), 2), "",
                note=calls_by_method(runs[-1].calls_by_method)),
            Row(BENCHMARK, f"Telegram limits broken, {label}", max(f.violations for f in runs), "",
                note="; ".join(runs[-1].examples)),
        ]  # fmt: skip
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=1000, help="questions timed per run (default 1000)")
    parser.add_argument("--chats", type=int, default=50, help="private chats they come from (default 50)")
    parser.add_argument("--deltas", type=int, default=20, help="streamed chunks per answer (default 20)")
    parser.add_argument("--runs", type=int, default=1, help="runs of each configuration (default 1)")
    parser.add_argument("--only", default="", help="only the configurations whose name has this, e.g. 'off'")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 100 messages from 10 chats")
    parser.add_argument("--profile", help="write a cProfile of the bot, limiter off, to this file")
    parser.add_argument(
        "--peer",
        type=Path,
        help="also race n3d1117/chatgpt-telegram-bot: a checkout of it with its requirements in DIR/.venv",
    )
    add_rows_argument(parser)
    args = parser.parse_args(argv)
    if args.quick:
        args.messages, args.chats = 100, 10
    if args.profile:
        args.profile = str(Path(args.profile).resolve())  # the bot runs in another folder
    if args.peer:
        args.peer = args.peer.resolve()
    rows_ = asyncio.run(run(args))
    print(format_rows(rows_))
    write_rows(rows_, args.rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
