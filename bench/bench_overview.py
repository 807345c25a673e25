"""Benchmark the admin overview on PostgreSQL with a million stored messages.

A throwaway cluster gets ``--messages`` messages (half questions, half answers, over ``--days`` days, four
channels, 5,000 users, 2% of answers rated), written with ``generate_series``. The daily activity the
overview reads is then built from them by the same code an upgrade runs (``activity.backfill``, timed).
``otvet api`` serves the database, and the console's overview query (the period's activity and the active
version) is sent ``--requests`` times one after the other over HTTP:

* **otvet**: the overview of the last 30 days and of the whole period (the console's longest choice);
* **baseline**: the same 30 days summed from the messages themselves, as the ``usage(by: DAY)`` report does
  (one ``GROUP BY`` over the messages of the period, on the ``created_at`` index): what the overview would
  cost without its daily counts.

Medians and 95th percentiles of the whole request (HTTP, GraphQL, database); target: the 30-day overview
≤ 200 ms.

    python bench/bench_overview.py [--messages 1000000] [--days 90] [--requests 30]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
from common import (
    Row,
    add_rows_argument,
    create_api_key,
    format_rows,
    free_port,
    otvet_argv,
    otvet_env,
    percentile,
    postgres,
    start_process,
    write_rows,
)

from tests.support.postgres import _asyncpg_dsn

TARGET_MS = 200.0
USERS = 5000
CHANNELS = ("telegram", "graphql", "web", "openai")

OVERVIEW = """query Overview($since: Date, $until: Date) {
  activeVersion { id chunkCount sourceCount evaluation { hitAt1 checks } }
  activity(since: $since, until: $until) {
    channels days { day byChannel { channel questions } counts { questions answered unknown failed refused } }
    totals { questions answered unknown failed refused thumbsUp thumbsDown promptTokens completionTokens }
    answerTimes { answers p50Ms p95Ms }
    models { provider model answers promptTokens completionTokens estimatedCostUsd }
    estimatedCostUsd costComplete
  }
}"""

USAGE = """query Usage($since: DateTime, $until: DateTime) {
  usage(since: $since, until: $until, by: DAY) { key questions answers failed rejected totalTokens }
}"""


async def fill(dsn: str, messages: int, days: int) -> float:
    """Store the users, conversations, messages and ratings; seconds it took."""
    started = time.perf_counter()
    connection = await asyncpg.connect(dsn)
    try:
        channels = "ARRAY[" + ", ".join(f"'{c}'" for c in CHANNELS) + "]"
        conversations = max(messages // 20, 1)
        seconds = days * 86400
        await connection.execute(
            f"INSERT INTO otvet_user (channel, external_id, created_at) SELECT ({channels})[1 + i % 4],"
            f" 'u' || i, now() FROM generate_series(1, {USERS}) i"
        )
        await connection.execute(
            "INSERT INTO otvet_conversation (user_id, chat_id, started_at)"
            f" SELECT 1 + i % {USERS}, 'private', now() - interval '{days} days'"
            f" FROM generate_series(0, {conversations - 1}) i"
        )
        # Message i of the period: questions at even i, answers at odd; the time spreads them evenly.
        await connection.execute(
            "INSERT INTO otvet_message (conversation_id, user_id, role, text, language, status, sources,"
            " latency_ms, prompt_tokens, completion_tokens, provider, created_at)"
            f" SELECT 1 + (i / 2) % {conversations}, 1 + ((i / 2) % {conversations}) % {USERS},"
            " CASE WHEN i % 2 = 0 THEN 'user' ELSE 'assistant' END,"
            " 'How do I reset my password on the website?', 'en',"
            " CASE WHEN i % 2 = 0 AND i % 50 = 0 THEN 'failed' ELSE 'ok' END,"
            ' CASE WHEN i % 2 = 1 AND i % 7 <> 1 THEN \'[{"name": "faq.md", "title": "FAQ"}]\''
            " ELSE '[]' END::jsonb,"
            " CASE WHEN i % 2 = 1 THEN 300 + (i::bigint * 7919) % 4000 END,"
            " CASE WHEN i % 2 = 1 THEN 900 ELSE 0 END, CASE WHEN i % 2 = 1 THEN 120 ELSE 0 END,"
            " CASE WHEN i % 2 = 1 THEN 'openai' END,"
            f" now() - make_interval(secs => {seconds} - {seconds}.0 * i / {messages})"
            f" FROM generate_series(0, {messages - 1}) i"
        )
        await connection.execute(
            "INSERT INTO otvet_feedback (message_id, user_id, value, comment, created_at)"
            " SELECT id, user_id, CASE WHEN id % 3 = 0 THEN -1 ELSE 1 END, '', created_at"
            " FROM otvet_message WHERE role = 'assistant' AND id % 50 = 1"
        )
        await connection.execute("ANALYZE")
    finally:
        await connection.close()
    return time.perf_counter() - started


async def count_activity(url: str) -> float:
    """Build the daily activity from the stored messages, as an upgrade does; seconds it took."""
    from otvet.plugins.storage import activity
    from otvet.plugins.storage.store import TortoiseStore
    from tests.support.fixtures import store_host

    store = TortoiseStore(store_host(url))
    await store.connect()
    try:
        connection = store.context.db(store.connection_name)
        await connection.execute_script("DELETE FROM otvet_activity; DELETE FROM otvet_answer_times;")
        started = time.perf_counter()
        await activity.backfill(connection)
        return time.perf_counter() - started
    finally:
        await store.close()


async def timed(
    client: httpx.AsyncClient, query: str, variables: dict[str, str], requests: int
) -> list[float]:
    times = []
    for _ in range(requests + 2):  # the first two warm the connection and the database's caches
        started = time.perf_counter()
        response = await client.post("/graphql", json={"query": query, "variables": variables})
        elapsed = (time.perf_counter() - started) * 1000
        body = response.json()
        if response.status_code != 200 or body.get("errors"):
            raise RuntimeError(f"the query failed: {response.status_code} {body}")
        times.append(elapsed)
    return times[2:]


async def run(messages: int, days: int, requests: int) -> list[Row]:
    with postgres() as server, tempfile.TemporaryDirectory(prefix="otvet-bench-overview-") as tmp:
        url = await server.create_database("otvet_overview")
        env = otvet_env(Path(tmp) / "data", database_url=url, api__requests_per_minute="0")
        key = create_api_key(env, scopes=("read", "admin"))  # migrates the empty database first
        filled = await fill(_asyncpg_dsn(url), messages, days)
        counted = await count_activity(url)
        print(f"stored {messages:,} messages in {filled:.1f} s; counted their activity in {counted:.1f} s")
        port = free_port()
        argv = otvet_argv("api", "--host", "127.0.0.1", "--port", str(port))
        today = datetime.now(UTC)
        month = {"since": (today - timedelta(days=29)).date().isoformat()}
        everything = {"since": (today - timedelta(days=days)).date().isoformat()}
        raw_month = {"since": (today - timedelta(days=29)).replace(hour=0, minute=0, second=0).isoformat()}
        async with (
            start_process(argv, env, f"http://127.0.0.1:{port}/readyz", timeout=120),
            httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {key}"}, timeout=120
            ) as client,
        ):
            overview = await timed(client, OVERVIEW, month, requests)
            whole = await timed(client, OVERVIEW, everything, requests)
            baseline = await timed(client, USAGE, raw_month, max(requests // 3, 3))
    label = f"{messages / 1e6:g}M messages, PostgreSQL"
    median, base = statistics.median(overview), statistics.median(baseline)
    return [
        Row("overview", f"30-day overview p50 ({label})", median, "ms", base).at_most(TARGET_MS),
        Row("overview", "30-day overview p95", percentile(overview, 95), "ms", percentile(baseline, 95)),
        Row("overview", f"{days}-day overview p50", statistics.median(whole), "ms"),
        Row("overview", "activity built from the stored messages", counted, "s", note="once, on upgrade"),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--requests", type=int, default=30)
    add_rows_argument(parser)
    args = parser.parse_args(argv)
    rows = asyncio.run(run(args.messages, args.days, args.requests))
    print(format_rows(rows))
    write_rows(rows, args.rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
