"""``otvet usage``, run as a real process on a database with recorded questions, answers and tokens."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from otvet.core.types import Usage
from otvet.plugins.storage.models import Message
from otvet.plugins.storage.store import TortoiseStore
from tests.support.cli import clean_env, run_otvet
from tests.support.fixtures import store_host

TODAY = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
#: Noon yesterday and noon five days ago (UTC): whole days away from now, so no test runs across them.
RECENT = TODAY - timedelta(hours=12)
OLD = RECENT - timedelta(days=4)


async def turn(
    store: TortoiseStore,
    channel: str,
    external_id: str,
    at: datetime,
    *,
    tokens: tuple[int, int] | None = (0, 0),
    provider: str = "openai",
    name: str | None = None,
) -> None:
    """A question at ``at`` and, unless ``tokens`` is None (a failure), its answer."""
    user = await store.get_or_create_user(channel, external_id, name)
    conversation = await store.current_conversation(user.id, "private")
    ids = [
        await store.add_message(
            conversation.id, "user", "q?", status="ok" if tokens else "failed", user_id=user.id
        )
    ]
    if tokens:
        ids.append(
            await store.add_message(
                conversation.id, "assistant", "a.", usage=Usage(*tokens), provider=provider, user_id=user.id
            )
        )
    with store._current():
        await Message.filter(id__in=ids).update(created_at=at)


@pytest.fixture
async def usage_db(db_url: str, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    store = TortoiseStore(store_host(db_url))
    await store.connect()
    try:
        await turn(store, "telegram", "100", RECENT, tokens=(1200, 300), name="Alice")
        await turn(store, "telegram", "100", RECENT + timedelta(minutes=1), tokens=None)
        await turn(store, "cli", "bob", RECENT, tokens=(40, 10), provider="extractive")
        await turn(store, "cli", "bob", OLD, tokens=(5000, 5000))
    finally:
        await store.close()
    return tmp_path, clean_env(tmp_path / "data", OTVET_DATABASE_URL=db_url)


def test_usage_by_user_is_a_table_with_a_total(usage_db: tuple[Path, dict[str, str]]) -> None:
    work, env = usage_db
    result = run_otvet("usage", "--since", "3d", env=env, cwd=work)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Usage from ") and lines[0].endswith("UTC, by user:")
    assert lines[1].split() == [
        "user", "questions", "answers", "failed", "rejected", "prompt", "completion", "tokens"
    ]  # fmt: skip
    # Alice first (the most tokens); the old turn is outside the period.
    assert lines[2].split() == ["telegram:100", "(Alice)", "2", "1", "1", "0", "1,200", "300", "1,500"]
    assert lines[3].split() == ["cli:bob", "1", "1", "0", "0", "40", "10", "50"]
    assert set(lines[4]) == {"-", " "}
    assert lines[5].split() == ["total", "3", "2", "1", "0", "1,240", "310", "1,550"]


def test_usage_as_json_by_day_over_explicit_days(usage_db: tuple[Path, dict[str, str]]) -> None:
    work, env = usage_db
    since, until = f"{OLD:%Y-%m-%d}", f"{RECENT:%Y-%m-%d}"
    result = run_otvet(
        "usage", "--since", since, "--until", until, "--by", "day", "--json", env=env, cwd=work
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["by"] == "day"
    # A bare --until day is included: the report ends at the midnight after it.
    assert report["since"] == f"{since}T00:00:00+00:00"
    assert report["until"] == f"{TODAY:%Y-%m-%d}T00:00:00+00:00"
    assert [(r["key"], r["questions"], r["answers"], r["total_tokens"]) for r in report["rows"]] == [
        (since, 1, 1, 10000),
        (until, 3, 2, 1550),
    ]
    assert report["total"]["prompt_tokens"] == 6240 and report["total"]["failed"] == 1


def test_usage_by_provider_and_an_empty_period(usage_db: tuple[Path, dict[str, str]]) -> None:
    work, env = usage_db
    result = run_otvet("usage", "--since", "3d", "--by", "provider", "--json", env=env, cwd=work)
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)["rows"]
    assert [(r["label"], r["answers"], r["total_tokens"]) for r in rows] == [
        ("(no provider)", 0, 0),
        ("extractive", 1, 50),
        ("openai", 1, 1500),
    ]
    empty = run_otvet("usage", "--since", "30m", env=env, cwd=work)
    assert empty.returncode == 0, empty.stderr
    assert empty.stdout.startswith("No questions or answers from ")


@pytest.mark.parametrize("since", ["yesterday", "2026-13-01", "7w"])
def test_a_bad_since_is_a_clear_usage_error(tmp_path: Path, since: str) -> None:
    result = run_otvet("usage", "--since", since, env=clean_env(tmp_path / "data"), cwd=tmp_path)
    assert result.returncode == 2
    assert "Invalid value for '--since'" in result.stderr
    assert "7d, 24h" in result.stderr and "Traceback" not in result.stderr


def test_since_after_until_is_refused(tmp_path: Path) -> None:
    result = run_otvet(
        "usage",
        "--since",
        "2026-02-01",
        "--until",
        "2026-01-01",
        env=clean_env(tmp_path / "data"),
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert "--since" in result.stderr and "before --until" in result.stderr
