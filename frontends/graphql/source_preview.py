"""A source's place in the knowledge versions, as the ``Source`` type shows it: the versions holding it and
its chunks in one of them. The versions of every source in a list come from one store call."""

from __future__ import annotations

from enum import Enum

import strawberry
from strawberry.dataloader import DataLoader
from strawberry.types import Info

from otvet.core import store as records
from otvet.frontends.graphql.context import context_of
from otvet.frontends.graphql.pagination import PageInfo, decode_cursor, page, page_size, parse_id

#: The name of the loader of the versions holding each source, in ``GraphQLContext.loaders``.
VERSIONS_LOADER = "source_versions"


@strawberry.enum(description="What a chunk holds: a passage of text, or a question with its answer.")
class ChunkKind(Enum):
    TEXT = "text"
    QA = "qa"


@strawberry.type(description="A piece of a source as a knowledge version stores and searches it.")
class Chunk:
    id: strawberry.ID
    version_id: strawberry.ID
    position: int = strawberry.field(
        description="Its place among the source's chunks, from 0; a passage left out as a duplicate of an "
        "earlier one leaves a gap."
    )
    kind: ChunkKind
    title: str = strawberry.field(description="The heading of the section it comes from; empty if none.")
    text: str = strawberry.field(description="The passage; for a `QA` chunk, the answer.")
    question: str | None = strawberry.field(description="The question of a `QA` chunk; null for text.")
    language: str | None

    @classmethod
    def from_record(cls, record: records.ChunkRecord) -> Chunk:
        return cls(
            id=strawberry.ID(str(record.id)),
            version_id=strawberry.ID(str(record.version_id)),
            position=record.position,
            kind=ChunkKind(record.kind),
            title=record.title,
            text=record.text,
            question=record.question,
            language=record.language,
        )


@strawberry.type(description="A page of a source's chunks, in position order.")
class ChunkConnection:
    nodes: list[Chunk]
    page_info: PageInfo


def _versions_loader(info: Info) -> DataLoader[str, list[int]]:
    context = context_of(info)
    loader = context.loaders.get(VERSIONS_LOADER)
    if loader is None:
        store = context.otvet.store

        async def load(names: list[str]) -> list[list[int]]:
            found = await store.source_versions(names)
            return [found.get(name, []) for name in names]

        loader = context.loaders[VERSIONS_LOADER] = DataLoader(load_fn=load, cache=False)
    return loader


async def versions_of(info: Info, name: str) -> list[strawberry.ID]:
    """The ids of the versions holding the source called ``name``, newest first."""
    return [strawberry.ID(str(version_id)) for version_id in await _versions_loader(info).load(name)]


async def chunks_of(
    info: Info, name: str, version_id: strawberry.ID | None, first: int, after: str | None
) -> ChunkConnection:
    """A page of the source's chunks in the version, or in the active one when ``version_id`` is null."""
    limit = page_size(first)
    after_position = decode_cursor("chunk", after)
    store = context_of(info).otvet.store
    if version_id is not None:
        wanted: int | None = parse_id(version_id, "versionId")
    else:
        active = await store.active_version()
        wanted = None if active is None else active.id
    rows = (
        []
        if wanted is None
        else await store.source_chunks(name, wanted, after_position=after_position, limit=limit + 1)
    )
    items, page_info = page(rows, limit, "chunk", lambda c: c.position)
    return ChunkConnection(nodes=[Chunk.from_record(c) for c in items], page_info=page_info)
