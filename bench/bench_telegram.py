"""Benchmark the Telegram webhook: updates handled per second, instant provider, N concurrent chats.

Runs ``otvet``'s Starlette app (webhook mode) under uvicorn and the fake Bot API of the test suite, both on
loopback, and posts ``--updates`` private messages spread over ``--chats`` chats, ``--chats`` at a time, as
Telegram would. An update counts as handled when its final answer (the message with the feedback buttons)
has reached the fake Bot API. Everything runs on this machine, so the figure includes both fakes' cost.

    python bench/bench_telegram.py [--chats 50] [--updates 500]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository root: `tests.support`

from otvet.config.settings import Settings
from otvet.core.app import Otvet
from otvet.core.llm import AnswerRequest, Provider, ProviderDone
from otvet.frontends.app import create_app
from tests.support.fake_telegram import FakeBotAPI

SECRET = "bench-secret"


class InstantProvider(Provider):
    """Answers at once: the benchmark measures Otvet and the Telegram frontend, not a model."""

    name = "instant"

    async def stream(self, request: AnswerRequest) -> AsyncIterator[str | ProviderDone]:
        yield f"Answer to: {request.question}"
        yield ProviderDone(cited=())


async def run(chats: int, updates: int, rate_limit: bool) -> dict[str, object]:
    async with FakeBotAPI() as api:
        with tempfile.TemporaryDirectory(prefix="otvet-bench-tg-") as tmp:
            settings = Settings(
                _env_file=None,  # type: ignore[call-arg]
                data_dir=Path(tmp),
                plugins=[],
                load_demo=False,
                provider="instant",
                telegram={
                    "token": api.token,
                    "mode": "webhook",
                    "secret_token": SECRET,
                    "base_url": api.base_url,
                    "base_file_url": api.base_file_url,
                    "private_edit_interval": 0.0,
                    "rate_limit": rate_limit,
                },
            )
            otvet = Otvet(settings)
            otvet.providers.register("instant", lambda _otvet: InstantProvider(), owner="bench")
            config = uvicorn.Config(create_app(otvet), host="127.0.0.1", port=0, log_level="warning")
            server = uvicorn.Server(config)
            serving = asyncio.create_task(server.serve())
            while not server.started:  # noqa: ASYNC110  (uvicorn offers no event to wait on)
                await asyncio.sleep(0.05)
            port = server.servers[0].sockets[0].getsockname()[1]
            url = f"http://127.0.0.1:{port}/telegram/webhook"
            batch = [
                api.private_message(f"question {n}", user_id=10_000 + n % chats, language_code="en")
                for n in range(updates)
            ]

            def finals() -> int:
                return sum(1 for c in api.calls if "fb:" in json.dumps(c.params.get("reply_markup", "")))

            limits = httpx.Limits(max_connections=chats)
            post_latencies: list[float] = []
            async with httpx.AsyncClient(limits=limits) as client:
                semaphore = asyncio.Semaphore(chats)

                async def post(update: dict[str, object]) -> None:
                    async with semaphore:
                        started = time.perf_counter()
                        response = await client.post(
                            url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
                        )
                        post_latencies.append((time.perf_counter() - started) * 1000)
                        response.raise_for_status()

                started = time.perf_counter()
                await asyncio.gather(*(post(update) for update in batch))
                while finals() < updates:  # noqa: ASYNC110  (a cheap poll; the bench measures the total)
                    await asyncio.sleep(0.01)
                elapsed = time.perf_counter() - started
            server.should_exit = True
            await serving
    return {
        "rate_limit": rate_limit,
        "chats": chats,
        "updates": updates,
        "seconds": round(elapsed, 2),
        "updates_per_second": round(updates / elapsed, 1),
        "webhook_post_p50_ms": round(statistics.median(post_latencies), 2),
        "webhook_post_p99_ms": round(sorted(post_latencies)[int(0.99 * (len(post_latencies) - 1))], 2),
        "bot_api_calls": len(api.calls),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--chats", type=int, default=50)
    parser.add_argument("--updates", type=int, default=500)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    # With Telegram's flood limits (what production sees: about 30 requests a second per bot) and
    # without them (what the frontend itself can do, as with a self-hosted Bot API server).
    reports = [asyncio.run(run(args.chats, args.updates, rate_limit)) for rate_limit in (True, False)]
    if args.json:
        print(json.dumps(reports))
    else:
        for key in reports[0]:
            print(f"{key:<22} " + "  ".join(f"{r[key]!s:>10}" for r in reports))
    return 0


if __name__ == "__main__":
    sys.exit(main())
