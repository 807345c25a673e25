"""Bulk reads and writes of a knowledge version's chunks, below the ORM's per-row cost.

A version can hold 100,000 chunks. Building a Model instance per chunk costs Tortoise about 10 s of CPU to
store them and its row conversion about a second more to read them back, so both directions use plain
rows. The SQL stays Tortoise's where it can (its INSERT for the dialect, its parameter style), and
PostgreSQL gets ``COPY``, about twice as fast again as batched INSERTs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError

from otvet.core.retrieval import IndexedChunk
from otvet.core.store import NewChunk
from otvet.core.types import SourceRef
from otvet.plugins.storage.models import Chunk

#: Rows per INSERT batch (or COPY) when storing a version's chunks.
INSERT_BATCH = 5000
#: The columns written for each chunk, in the order rows are built.
COLUMNS = (
    "version_id",
    "source_id",
    "source_name",
    "source_title",
    "position",
    "kind",
    "text",
    "question",
    "title",
    "language",
    "embedding",
)
_READ_COLUMNS = "id, text, kind, question, title, language, source_id, source_name, source_title, embedding"


async def insert_chunks(
    connection: BaseDBAsyncClient,
    version_id: int,
    chunks: Sequence[NewChunk],
    labels: dict[int, tuple[str, str]],
) -> None:
    """Store ``chunks`` in version ``version_id``; ``labels`` maps source id → (name, title) to copy on them.

    Call inside a transaction (``connection`` is its client), so that a failure leaves no partial version.
    """
    executor = connection.executor_class(model=Chunk, db=connection)
    columns = list(executor.regular_columns)
    if sorted(columns) != sorted(COLUMNS):  # a column was added to Chunk but not here
        raise RuntimeError(f"otvet_chunk columns {columns} differ from {COLUMNS}")
    order = [COLUMNS.index(column) for column in columns]
    use_copy = "asyncpg" in type(connection).__module__
    for start in range(0, len(chunks), INSERT_BATCH):
        rows = _rows(version_id, chunks[start : start + INSERT_BATCH], labels)
        if use_copy:
            await _copy(connection, rows)
        else:
            ordered = [[row[i] for i in order] for row in rows]
            await connection.execute_many(executor.insert_query, ordered)


async def fetch_chunks(
    connection: BaseDBAsyncClient, version_id: int, after_id: int, limit: int
) -> list[IndexedChunk]:
    """Up to ``limit`` chunks of the version with an id above ``after_id``, in id order."""
    executor = connection.executor_class(model=Chunk, db=connection)
    context = connection.query_class.SQL_CONTEXT
    version, after = (executor.parameter(i).get_sql(context) for i in range(2))
    sql = (
        f"SELECT {_READ_COLUMNS} FROM {Chunk._meta.db_table} "  # identifiers are ours, values are parameters
        f"WHERE version_id = {version} AND id > {after} ORDER BY id LIMIT {int(limit)}"
    )
    _, rows = await connection.execute_query(sql, [version_id, after_id])
    return [_indexed_chunk(tuple(row)) for row in rows]


def _rows(
    version_id: int, chunks: Sequence[NewChunk], labels: dict[int, tuple[str, str]]
) -> list[tuple[Any, ...]]:
    rows = []
    for chunk in chunks:
        if chunk.kind not in ("text", "qa"):
            raise ValueError(f"unknown chunk kind {chunk.kind!r}")
        source_name, source_title = labels[chunk.source_id]
        rows.append(
            (
                version_id,
                chunk.source_id,
                source_name,
                source_title,
                chunk.position,
                chunk.kind,
                chunk.text,
                chunk.question,
                chunk.title,
                chunk.language,
                chunk.embedding,
            )
        )
    return rows


async def _copy(connection: BaseDBAsyncClient, rows: list[tuple[Any, ...]]) -> None:
    import asyncpg

    async with connection.acquire_connection() as raw:
        try:
            await raw.copy_records_to_table(Chunk._meta.db_table, records=rows, columns=COLUMNS)
        except asyncpg.IntegrityConstraintViolationError as exc:  # as Tortoise reports it for INSERTs
            raise IntegrityError(exc) from exc


def _indexed_chunk(row: tuple[Any, ...]) -> IndexedChunk:
    chunk_id, text, kind, question, title, language, source_id, source_name, source_title, embedding = row
    url = source_name if source_name.startswith(("https://", "http://")) else None
    return IndexedChunk(
        chunk_id=chunk_id,
        text=text,
        source=SourceRef(
            title=source_title,
            source_id=source_id,
            url=url,
            chunk_id=chunk_id,
            section=title or None,
            name=source_name,
        ),
        kind=kind,
        question=question,
        language=language,
        title=title,
        embedding=bytes(embedding) if embedding is not None else None,
    )
