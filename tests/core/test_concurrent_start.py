"""Replicas starting together on one empty database: the demo is loaded once, an interrupted ingest is
rebuilt once, and the store's exclusive sections really exclude each other."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from otvet.core.app import Otvet
from tests.conftest import make_settings
from tests.support.replicas import replicas as replicas_of


@pytest.mark.postgres
async def test_replicas_starting_at_once_load_the_demo_once(postgres_cluster: Any, tmp_path: Path) -> None:
    url = await postgres_cluster.create_database()
    replicas = [Otvet(make_settings(tmp_path / str(n), url, load_demo=True)) for n in range(4)]
    await asyncio.gather(*(replica.start() for replica in replicas))
    try:
        versions = await replicas[0].store.list_versions()
        sources = await replicas[0].store.list_sources()
        assert [v.status for v in versions] == ["active"]
        assert len(sources) == len({s.name for s in sources}) > 0
    finally:
        await asyncio.gather(*(replica.stop() for replica in replicas))


@pytest.mark.postgres
async def test_an_exclusive_section_runs_in_one_task_at_a_time(postgres_cluster: Any, tmp_path: Path) -> None:
    otvet = Otvet(make_settings(tmp_path, await postgres_cluster.create_database()))
    inside: list[int] = []
    peak = 0

    async def section(n: int) -> None:
        nonlocal peak
        async with otvet.store.exclusive("test-section"):
            inside.append(n)
            peak = max(peak, len(inside))
            await asyncio.sleep(0.05)
            inside.remove(n)

    async with otvet:
        await asyncio.gather(*(section(n) for n in range(3)))
    assert peak == 1


@pytest.mark.postgres
async def test_a_serialized_block_excludes_the_same_name_in_every_replica(
    postgres_cluster: Any, tmp_path: Path
) -> None:
    url = await postgres_cluster.create_database()
    replicas = [Otvet(make_settings(tmp_path / str(n), url)) for n in range(2)]
    inside: dict[str, list[int]] = {"quota:user:1": [], "quota:user:2": []}
    peaks = dict.fromkeys(inside, 0)
    together = 0

    async def block(n: int, name: str) -> None:
        nonlocal together
        # Each replica has its own connection pool and its own in-process locks: only the database's lock
        # keeps the two apart.
        async with replicas[n % 2].store.serialized([name]):
            inside[name].append(n)
            peaks[name] = max(peaks[name], len(inside[name]))
            together = max(together, sum(map(len, inside.values())))
            await asyncio.sleep(0.05)
            inside[name].remove(n)

    for replica in replicas:
        await replica.start()
    try:
        await asyncio.gather(*(block(n, name) for n in range(4) for name in inside))
    finally:
        await asyncio.gather(*(replica.stop() for replica in replicas))
    assert peaks == dict.fromkeys(inside, 1)
    assert together == 2  # one user's lock does not hold up another's


@pytest.mark.postgres
async def test_first_turns_at_once_on_two_replicas_share_one_conversation(
    postgres_cluster: Any, tmp_path: Path
) -> None:
    async with replicas_of(postgres_cluster, tmp_path, 2) as replicas:
        user = await replicas[0].store.get_or_create_user("cli", "first-turns")

        async def first_turn(n: int) -> int:
            store = replicas[n % 2].store
            conversation = await store.current_conversation(user.id, "private")
            # The conversation handed out must still be there when the question is stored.
            await store.add_message(conversation.id, "user", f"question {n}", user_id=user.id)
            return conversation.id

        opened: list[int] = []
        for _ in range(5):
            await replicas[0].store.reset_conversation(user.id, "private")
            ids = await asyncio.gather(*(first_turn(n) for n in range(20)))
            assert len(set(ids)) == 1
            assert len(await replicas[0].store.messages(ids[0])) == 20
            opened.append(ids[0])
        # Each burst created exactly one conversation: none was made only to be thrown away, which is what
        # once let a turn be handed a conversation that another turn was deleting.
        assert opened == list(range(opened[0], opened[0] + 5))
