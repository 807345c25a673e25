"""What an admin previews of a source: the knowledge versions holding it, and its chunks in one of them.

Both go by the name the chunks recorded, not by the link to the source row: a removed source's chunks keep
the name (and lose the link), and a source added again under that name is the same source to an admin.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from otvet.core.store import ChunkRecord
from otvet.plugins.storage.models import Chunk

#: Names per query: far below SQLite's bound-parameter limit.
NAMES_PER_QUERY = 500
_CHUNK_FIELDS = (
    "id",
    "version_id",
    "source_name",
    "position",
    "kind",
    "title",
    "text",
    "question",
    "language",
)


def _storable(names: Sequence[str]) -> list[str]:
    """The names a chunk could hold: a longer one names nothing (PostgreSQL would refuse to compare it)."""
    longest = Chunk._meta.fields_map["source_name"].max_length  # type: ignore[attr-defined]
    return sorted({name for name in names if len(name) <= longest})


async def versions_by_source(names: Sequence[str]) -> dict[str, list[int]]:
    found: dict[str, set[int]] = {name: set() for name in names}
    wanted = _storable(names)
    for start in range(0, len(wanted), NAMES_PER_QUERY):
        rows = await (
            Chunk.filter(source_name__in=wanted[start : start + NAMES_PER_QUERY])
            .distinct()
            .values_list("source_name", "version_id")
        )
        for name, version_id in rows:
            found[name].add(version_id)
    return {name: sorted(ids, reverse=True) for name, ids in found.items()}


async def chunk_page(name: str, version_id: int, after_position: int | None, limit: int) -> list[ChunkRecord]:
    if not _storable([name]) or limit <= 0:
        return []
    query = Chunk.filter(version_id=version_id, source_name=name)
    if after_position is not None:
        query = query.filter(position__gt=after_position)
    rows = await query.order_by("position", "id").limit(limit).values(*_CHUNK_FIELDS)
    return [_chunk_record(row) for row in rows]


def _chunk_record(row: dict[str, Any]) -> ChunkRecord:
    return ChunkRecord(
        id=row["id"],
        version_id=row["version_id"],
        source_name=row["source_name"],
        position=row["position"],
        kind=row["kind"],
        title=row["title"] or "",
        text=row["text"],
        question=row["question"],
        language=row["language"],
    )
