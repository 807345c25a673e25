"""The Tortoise store beyond the contract suite (tests/plugins/test_storage_contract.py runs that on SQLite
and PostgreSQL): its rows, its knowledge versions and chunks, its connections and its migrations."""

from __future__ import annotations

import asyncio
import dataclasses
import pkgutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from tortoise.exceptions import IntegrityError

from otvet.core.store import NewChunk, NotFound
from otvet.core.types import SourceRef, Usage
from otvet.plugins.storage import migrations, plugin, schema
from otvet.plugins.storage.chunks import INSERT_BATCH
from otvet.plugins.storage.config import APP_LABEL, MIGRATIONS_MODULE, MODELS_MODULE, collect_model_apps
from otvet.plugins.storage.models import Chunk, Conversation, Feedback, Message, Source, User
from otvet.plugins.storage.store import TortoiseStore
from tests.support.fixtures import store_host

CONTENT = {
    "sections": [{"title": "Часы работы", "text": "С 9 до 18."}],
    "qa_pairs": [{"question": "Q", "answer": "A"}],
}


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[TortoiseStore]:
    instance = TortoiseStore(store_host(db_url))
    await instance.connect()
    try:
        yield instance
    finally:
        await instance.close()


async def add_source(store: TortoiseStore, name: str = "faq.md", title: str = "FAQ") -> int:
    record, _ = await store.upsert_source(name, "markdown", title, f"sha-{name}", "en", CONTENT)
    return record.id


def new_chunks(source_ids: list[int], count: int) -> list[NewChunk]:
    return [
        NewChunk(
            source_id=source_ids[i % len(source_ids)],
            position=i,
            text=f"text {i}",
            kind="qa" if i % 7 == 0 else "text",
            question=f"question {i}?" if i % 7 == 0 else None,
            title=f"section {i % 13}" if i % 5 else "",
            language="ru" if i % 2 else "en",
        )
        for i in range(count)
    ]


async def all_chunks(store: TortoiseStore, version_id: int, batch_size: int = 5000) -> list[Any]:
    return [chunk async for batch in store.iter_chunks(version_id, batch_size) for chunk in batch]


# --- connection ---------------------------------------------------------------------------------------------


async def test_ping_after_connect_and_after_close(db_url: str) -> None:
    store = TortoiseStore(store_host(db_url))
    assert await store.ping() is False
    await store.connect()
    assert await store.ping() is True
    await store.close()
    assert await store.ping() is False


async def test_connect_creates_the_sqlite_folder(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "otvet.db"
    store = TortoiseStore(store_host(f"sqlite:///{path}"))
    await store.connect()
    try:
        assert await store.migrate() == expected_migrations()
        assert path.exists()
    finally:
        await store.close()


async def test_the_default_url_is_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    store = TortoiseStore(store_host("", data_dir=tmp_path / "data"))
    assert store.url == f"sqlite:///{(tmp_path / 'data' / 'otvet.db').resolve()}"


async def test_in_memory_sqlite_is_migrated_on_the_same_connection() -> None:
    # Tortoise's migrate() API would open a second connection: a different, empty in-memory database.
    store = TortoiseStore(store_host("sqlite://:memory:"))
    await store.connect()
    try:
        assert await store.migrate() == expected_migrations()
        user = await store.get_or_create_user("cli", "me")
        assert user.id > 0
    finally:
        await store.close()


async def test_other_tasks_reach_the_store_and_the_models(store: TortoiseStore) -> None:
    user = await asyncio.create_task(store.get_or_create_user("telegram", "42"))

    async def count() -> int:
        return await User.filter(id=user.id).count()

    # Plugin code may use the models directly in any task: the store offers its context as the fallback.
    assert await asyncio.create_task(count()) == 1


async def test_two_stores_side_by_side_keep_to_their_own_database(tmp_path: Path) -> None:
    first, second = (TortoiseStore(store_host(f"sqlite:///{tmp_path / name}")) for name in ("1.db", "2.db"))
    for store in (first, second):
        await store.connect()
        await store.migrate()
    try:
        await first.get_or_create_user("telegram", "only-in-first")
        await asyncio.gather(*(second.get_or_create_user("telegram", f"u{i}") for i in range(3)))
        assert [u.external_id for u in await all_users(first)] == ["only-in-first"]
        assert sorted(u.external_id for u in await all_users(second)) == ["u0", "u1", "u2"]
    finally:
        await first.close()
        await second.close()


async def all_users(store: TortoiseStore) -> list[User]:
    with store._current():
        return await User.all()


# --- users and conversations --------------------------------------------------------------------------------


async def test_first_messages_at_once_create_one_user(store: TortoiseStore) -> None:
    users = await asyncio.gather(*(store.get_or_create_user("telegram", "7") for _ in range(8)))
    assert len({user.id for user in users}) == 1
    assert await User.filter(channel="telegram", external_id="7").count() == 1


async def test_channel_and_external_id_are_unique(store: TortoiseStore) -> None:
    await User.create(channel="telegram", external_id="1")
    with pytest.raises(IntegrityError):
        await User.create(channel="telegram", external_id="1")


async def test_concurrent_first_turns_share_one_open_conversation(store: TortoiseStore) -> None:
    user = await store.get_or_create_user("telegram", "42")
    conversations = await asyncio.gather(*(store.current_conversation(user.id, "private") for _ in range(8)))
    assert len({c.id for c in conversations}) == 1
    assert await Conversation.filter(user_id=user.id, closed_at__isnull=True).count() == 1


# --- messages and feedback ----------------------------------------------------------------------------------


async def assert_stored_alike(
    model: type[Any], ours: int, theirs: int, time_column: str, unlike: str | None = None
) -> None:
    """Rows ``ours`` (written by the store's own INSERT, plugins/storage/turns.py) and ``theirs`` (by the
    ORM's ``create``) hold the same values in the same database representation, ids, times and the column
    ``unlike`` (a unique key the two rows cannot share) aside."""
    _, rows = await model._meta.db.execute_query(
        f"SELECT * FROM {model._meta.db_table} WHERE id IN ({ours}, {theirs}) ORDER BY id"
    )
    mine, orm = (dict(row) for row in rows)
    assert (mine.pop("id"), orm.pop("id")) == (ours, theirs)
    mine_at, orm_at = mine.pop(time_column), orm.pop(time_column)
    if unlike is not None:
        assert type(mine.pop(unlike)) is type(orm.pop(unlike))
    assert mine == orm
    # An ISO string with its offset on SQLite, timestamptz on PostgreSQL; read back as an aware time.
    assert type(mine_at) is type(orm_at)
    if isinstance(mine_at, str):
        assert len(mine_at) == len(orm_at) and mine_at[-6:] == orm_at[-6:], (mine_at, orm_at)
    read = getattr(await model.get(id=ours), time_column)
    assert read.tzinfo is not None
    assert abs((read - getattr(await model.get(id=theirs), time_column)).total_seconds()) < 60


async def test_users_conversations_and_messages_are_stored_exactly_as_the_orm_stores_them(
    store: TortoiseStore,
) -> None:
    """The rows of every turn are written with the store's own INSERTs: each must hold what ``create``
    stores for the same values."""
    user = await store.get_or_create_user("telegram", "42", display_name="Анна «А»")
    orm_user = await User.create(channel="telegram", external_id="43", display_name="Анна «А»")
    await assert_stored_alike(User, user.id, orm_user.id, "created_at", unlike="external_id")
    assert (await store.get_or_create_user("telegram", "42")).id == user.id

    conversation = await store.current_conversation(user.id, "private")
    orm_conversation = await Conversation.create(user_id=orm_user.id, chat_id="private")
    await assert_stored_alike(
        Conversation, conversation.id, orm_conversation.id, "started_at", unlike="user_id"
    )
    assert (await store.current_conversation(user.id, "private")).id == conversation.id

    sources = (SourceRef("Часы «работы»", source_id=3, chunk_id=9, section='a "b"\\'), SourceRef("Guide"))
    for values in (
        {"role": "user", "text": "Когда? 🙂", "language": None, "status": "ok", "sources": ()},
        {"role": "assistant", "text": "С 9 до 18.", "language": "ru", "status": "failed", "sources": sources},
    ):
        extra = {"latency_ms": 120, "provider": "extractive"} if values["role"] == "assistant" else {}
        usage = Usage(prompt_tokens=50, completion_tokens=7) if extra else Usage()
        ours = await store.add_message(
            conversation.id,
            user_id=user.id,
            usage=usage,
            **values,  # type: ignore[arg-type]
            **extra,  # type: ignore[arg-type]
        )
        orm = await Message.create(
            conversation_id=conversation.id,
            user_id=user.id,
            **{**values, "sources": [dataclasses.asdict(source) for source in values["sources"]]},  # type: ignore[attr-defined]
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            **extra,
        )
        await assert_stored_alike(Message, ours, orm.id, "created_at")


# --- sources and versions -----------------------------------------------------------------------------------


async def test_upsert_source_adds_updates_and_skips_unchanged(store: TortoiseStore) -> None:
    added, status = await store.upsert_source("faq.md", "markdown", "FAQ", "c1", "ru", CONTENT)
    assert status == "added" and added.content == CONTENT and added.language == "ru"
    same, status = await store.upsert_source("faq.md", "markdown", "FAQ", "c1", "ru", CONTENT)
    assert status == "unchanged" and same == added
    changed = {"sections": [], "qa_pairs": [{"question": "Новое?", "answer": "Да"}]}
    updated, status = await store.upsert_source("faq.md", "qa", "FAQ v2", "c2", None, changed)
    assert status == "updated" and updated.id == added.id
    assert (updated.type, updated.title, updated.checksum, updated.language) == ("qa", "FAQ v2", "c2", None)
    assert updated.updated_at >= added.updated_at
    await store.upsert_source("guide.txt", "text", "Guide", "g1", "en", {"sections": [], "qa_pairs": []})
    assert [(s.name, s.content) for s in await store.list_sources()] == [
        ("faq.md", changed),
        ("guide.txt", {"sections": [], "qa_pairs": []}),
    ]


async def test_source_names_are_unique(store: TortoiseStore) -> None:
    await Source.create(name="a.md", type="markdown", title="A", checksum="x")
    with pytest.raises(IntegrityError):
        await Source.create(name="a.md", type="markdown", title="A", checksum="y")


async def test_versions_activate_retire_and_roll_back(store: TortoiseStore) -> None:
    source = await add_source(store)
    assert await store.active_version() is None
    v1 = await store.create_version(new_chunks([source], 3), source_count=1, note="first")
    assert (v1.status, v1.chunk_count, v1.source_count, v1.note) == ("ready", 3, 1, "first")
    assert v1.activated_at is None
    assert await store.active_version() is None  # built is not yet active

    active1 = await store.activate_version(v1.id)
    assert active1.status == "active" and active1.activated_at is not None
    assert await store.active_version() == active1

    v2 = await store.create_version(new_chunks([source], 2), source_count=1)
    await store.activate_version(v2.id)
    statuses = {v.id: v.status for v in await store.list_versions()}
    assert statuses == {v2.id: "active", v1.id: "retired"}
    assert [v.id for v in await store.list_versions()] == [v2.id, v1.id]  # newest first

    rolled_back = await store.activate_version(v1.id)
    assert rolled_back.status == "active"
    assert {v.id: v.status for v in await store.list_versions()} == {v2.id: "retired", v1.id: "active"}
    assert await store.activate_version(v1.id) == rolled_back  # activating the active one changes nothing
    with pytest.raises(NotFound):
        await store.activate_version(v2.id + 100)


async def test_concurrent_activations_leave_exactly_one_active(store: TortoiseStore) -> None:
    source = await add_source(store)
    versions = [await store.create_version(new_chunks([source], 1), source_count=1) for _ in range(6)]
    await asyncio.gather(*(store.activate_version(v.id) for v in versions))
    assert [v.status for v in await store.list_versions()].count("active") == 1


async def test_a_failed_version_leaves_nothing_behind(store: TortoiseStore) -> None:
    source = await add_source(store)
    with pytest.raises(ValueError, match="unknown source"):
        await store.create_version(new_chunks([source, source + 99], 4), source_count=2)
    # A chunk the database refuses, after a whole batch went in: the transaction takes the batch back.
    chunks = new_chunks([source], INSERT_BATCH + 10)
    chunks[INSERT_BATCH + 5] = NewChunk(source_id=source, position=0, text=None)  # type: ignore[arg-type]
    with pytest.raises(IntegrityError):  # NOT NULL text
        await store.create_version(chunks, source_count=1)
    assert await store.list_versions() == []
    assert await Chunk.all().count() == 0


async def test_chunks_round_trip_in_id_order_20k(store: TortoiseStore) -> None:
    sources = [await add_source(store, f"s{i}.md", f"Source {i}") for i in range(3)]
    other = await store.create_version(new_chunks(sources, 10), source_count=3)
    chunks = new_chunks(sources, 20_000)
    version = await store.create_version(chunks, source_count=3)
    assert version.chunk_count == 20_000

    batches = [batch async for batch in store.iter_chunks(version.id, batch_size=3000)]
    assert [len(b) for b in batches] == [3000] * 6 + [2000]
    loaded = [chunk for batch in batches for chunk in batch]
    ids = [chunk.chunk_id for chunk in loaded]
    assert ids == sorted(ids) and len(set(ids)) == 20_000
    titles = {sources[i]: f"Source {i}" for i in range(3)}
    for new, got in zip(chunks, loaded, strict=True):
        assert (got.text, got.kind, got.question, got.language, got.title) == (
            new.text,
            new.kind,
            new.question,
            new.language,
            new.title,
        )
        assert got.source == SourceRef(
            titles[new.source_id],
            source_id=new.source_id,
            chunk_id=got.chunk_id,
            section=new.title or None,
            name=f"s{sources.index(new.source_id)}.md",
        )
    assert len(await all_chunks(store, other.id)) == 10
    assert await all_chunks(store, version.id + 100) == []


async def test_chunks_keep_their_source_title_through_source_edits_and_deletion(store: TortoiseStore) -> None:
    source = await add_source(store, "faq.md", "FAQ")
    version = await store.create_version(new_chunks([source], 3), source_count=1)
    await store.upsert_source("faq.md", "markdown", "Renamed FAQ", "c2", "en", CONTENT)
    assert {c.source.title for c in await all_chunks(store, version.id)} == {"FAQ"}
    await Source.filter(id=source).delete()
    loaded = await all_chunks(store, version.id)
    assert {(c.source.title, c.source.source_id) for c in loaded} == {("FAQ", None)}


# --- migrations ---------------------------------------------------------------------------------------------


def expected_migrations() -> list[str]:
    names = sorted(m.name for m in pkgutil.iter_modules(migrations.__path__) if m.name[0] not in "_~")
    return [f"{APP_LABEL}.{name}" for name in names]


async def table_names(store: TortoiseStore) -> set[str]:
    connection = store.context.db()
    if connection.capabilities.dialect == "sqlite":
        rows = await connection.execute_query_dict("SELECT name FROM sqlite_master WHERE type = 'table'")
    else:
        rows = await connection.execute_query_dict(
            "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema()"
        )
    return {row["name"] for row in rows}


async def test_a_fresh_database_is_migrated_once(empty_db_url: str) -> None:
    store = TortoiseStore(store_host(empty_db_url))
    await store.connect()
    try:
        assert not {t for t in await table_names(store) if t.startswith("otvet_")}
        assert await store.migrate() == expected_migrations()
        models = store.context.apps[APP_LABEL].values() if store.context.apps else []
        tables = {model._meta.db_table for model in models}
        assert len(tables) == 20 and all(t.startswith("otvet_") for t in tables)
        assert tables <= await table_names(store)
        assert await store.migrate() == []
    finally:
        await store.close()


async def test_the_models_match_the_migrations() -> None:
    """Fails when a model changed without a migration: run ``tortoise ... makemigrations`` (see config.py)."""
    store = TortoiseStore(store_host("sqlite://:memory:"))
    await store.connect()
    try:
        assert store.context.apps is not None
        assert await schema.unmigrated_changes(store.context.apps, store.config["apps"]) == []
    finally:
        await store.close()


# --- the plugin ---------------------------------------------------------------------------------------------


def test_the_plugin_registers_the_backend_for_every_role_and_adds_the_models_hook() -> None:
    backends: dict[str, Any] = {}
    plugin.register_storage(backends.__setitem__)
    assert backends == {"tortoise": TortoiseStore}  # no roles given: every role
    assert plugin.otvet_hookspecs.register_models.otvet_spec  # type: ignore[attr-defined]
    assert collect_model_apps(None) == {APP_LABEL: (MODELS_MODULE, MIGRATIONS_MODULE)}


async def test_upgrading_keeps_the_newest_of_duplicate_ratings(empty_db_url: str) -> None:
    """Migration 0002 makes a rating unique per user and message, cleaning up duplicates first."""
    from tortoise.migrations.executor import MigrationExecutor, MigrationTarget

    store = TortoiseStore(store_host(empty_db_url))
    await store.connect()
    try:
        connection = store.context.db(store.connection_name)
        executor = MigrationExecutor(connection, store.config["apps"])
        await executor.migrate([MigrationTarget(app_label=APP_LABEL, name="0001_initial")])
        user = await store.get_or_create_user("telegram", "42")
        conversation = await store.current_conversation(user.id, "private")
        # Raw SQL: the models already have columns that later migrations add.
        await connection.execute_query(
            "INSERT INTO otvet_message (conversation_id, role, text, status, sources, prompt_tokens, "
            f"completion_tokens, created_at) VALUES ({conversation.id}, 'assistant', 'answer', 'ok', '[]', "
            "0, 0, CURRENT_TIMESTAMP)"
        )
        message = (await connection.execute_query_dict("SELECT MAX(id) AS id FROM otvet_message"))[0]["id"]
        for value in (1, -1):  # two rows, as two simultaneous taps could leave them before 0002
            await connection.execute_query(
                "INSERT INTO otvet_feedback (message_id, user_id, value, comment, created_at) "
                f"VALUES ({message}, {user.id}, {value}, '', CURRENT_TIMESTAMP)"
            )
        assert await store.migrate() == [
            f"{APP_LABEL}.0002_feedback_once_per_user",
            f"{APP_LABEL}.0003_llm_usage_and_embeddings",
            f"{APP_LABEL}.0004_job_leases",
            f"{APP_LABEL}.0005_training_checks_and_candidates",
            f"{APP_LABEL}.0006_shared_rate_limits",
            f"{APP_LABEL}.0007_webhook_inbox",
            f"{APP_LABEL}.0008_shared_send_slots",
            f"{APP_LABEL}.0009_daily_activity",
            f"{APP_LABEL}.0010_signed_out_tokens_voice_and_admin_links",
        ]
        rows = await Feedback.filter(message_id=message).values_list("value", flat=True)
        assert list(rows) == [-1]
        # 0003 adds who asked; rows from before it keep a null user and stay readable.
        (stored,) = await store.messages(conversation.id)
        assert (stored.text, stored.user_id) == ("answer", None)
    finally:
        await store.close()


async def test_upgrading_counts_the_stored_messages_into_the_activity(empty_db_url: str) -> None:
    """Migration 0009 starts the overview's daily counts from the messages and ratings already stored."""
    from tortoise.migrations.executor import MigrationExecutor, MigrationTarget

    store = TortoiseStore(store_host(empty_db_url))
    await store.connect()
    try:
        connection = store.context.db(store.connection_name)
        executor = MigrationExecutor(connection, store.config["apps"])
        await executor.migrate([MigrationTarget(app_label=APP_LABEL, name="0008_shared_send_slots")])
        ann = await store.get_or_create_user("telegram", "1")
        bob = await store.get_or_create_user("graphql", "2")
        annc = (await store.current_conversation(ann.id, "private")).id
        bobc = (await store.current_conversation(bob.id, "api")).id
        # Raw SQL: the models already have columns that later migrations add.
        cited = '[{"name": "faq.md", "title": "FAQ"}]'
        rows = [
            (annc, ann.id, "user", "ok", "[]", None, 0, 0, None),
            (annc, None, "assistant", "ok", cited, 1300, 30, 5, "openai"),
            (annc, None, "assistant", "ok", "[]", 12, 0, 0, "extractive"),
            (annc, ann.id, "user", "failed", "[]", None, 0, 0, None),
            (bobc, bob.id, "user", "rejected", "[]", None, 0, 0, None),
        ]
        p = [f"${i}" if store.url.startswith("postgres") else "?" for i in range(1, 10)]
        for row in rows:
            await connection.execute_query(
                "INSERT INTO otvet_message (conversation_id, user_id, role, text, status, sources, "
                "latency_ms, prompt_tokens, completion_tokens, provider, created_at) "
                f"VALUES ({p[0]}, {p[1]}, {p[2]}, 'x', {p[3]}, {p[4]}, {p[5]}, {p[6]}, {p[7]}, {p[8]}, "
                "CURRENT_TIMESTAMP)",
                list(row),
            )
        answer = (await connection.execute_query_dict("SELECT MIN(id) + 1 AS id FROM otvet_message"))[0]["id"]
        await Feedback.create(message_id=answer, user_id=bob.id, value=1)  # the table the store wrote then
        assert await store.migrate() == [
            f"{APP_LABEL}.0009_daily_activity",
            f"{APP_LABEL}.0010_signed_out_tokens_voice_and_admin_links",
        ]
        today = datetime.now(UTC).date()
        report = await store.activity(today - timedelta(days=1), today)
        rows = [
            (r.channel, r.provider, r.answered, r.unknown, r.failed, r.refused, r.thumbs_up, r.prompt_tokens)
            for r in report.rows
        ]
        assert sorted(rows) == [
            ("graphql", "", 0, 0, 0, 1, 1, 0),
            ("telegram", "", 0, 0, 1, 0, 0, 0),
            ("telegram", "extractive", 0, 1, 0, 0, 0, 0),
            ("telegram", "openai", 1, 0, 0, 0, 0, 30),
        ]
        assert sorted((t.channel, t.bucket_ms, t.count) for t in report.latency) == [
            ("telegram", 12, 1),
            ("telegram", 1500, 1),
        ]
    finally:
        await store.close()
