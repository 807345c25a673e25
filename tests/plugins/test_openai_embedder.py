"""The OpenAI embedder against a fake OpenAI-compatible server on loopback: the real ``openai`` client, our
batching, retries and circuit breaker; and a knowledge base built and searched with it end to end.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx2
import pytest

from otvet.core.app import Otvet
from otvet.core.embeddings import EmbeddingError, unpack
from otvet.core.hybrid import HybridIndex
from otvet.core.ingest import ingest_paths
from otvet.core.vectors import chunk_input
from otvet.plugins.llm_openai.embedder import MAX_INPUT_CHARS, OpenAIEmbedder
from tests.conftest import make_settings
from tests.support.fake_openai import FakeOpenAI, embed_text, loopback_http_client

TEXTS = [
    "Tickets cost five euros.",
    "The museum opens at ten.",
    "Parking is behind.",
    "Dogs on Fridays.",
    "Hi",
]


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as server:
        yield server


def openai_settings(base_url: str, **overrides: Any) -> dict[str, Any]:
    return {
        "api_key": "sk-test",
        "base_url": base_url,
        "retry_base_delay": 0.01,
        "retry_max_delay": 0.05,
        **overrides,
    }


def make_embedder(tmp_path: Path, base_url: str, http_client: Any = None, **overrides: Any) -> OpenAIEmbedder:
    host = SimpleNamespace(settings=make_settings(tmp_path, openai=openai_settings(base_url, **overrides)))
    return OpenAIEmbedder(host, http_client=http_client or loopback_http_client())  # type: ignore[arg-type]


async def test_texts_are_embedded_in_batches_and_come_back_in_order(fake: FakeOpenAI, tmp_path: Path) -> None:
    embedder = make_embedder(tmp_path, fake.base_url, embedding_batch_size=2)
    try:
        vectors = await embedder.embed(TEXTS)
    finally:
        await embedder.aclose()
    requests = fake.embedding_requests
    assert sorted(len(r["input"]) for r in requests) == [1, 2, 2]
    assert sorted(text for r in requests for text in r["input"]) == sorted(TEXTS)
    assert all(r["model"] == "text-embedding-3-small" and "dimensions" not in r for r in requests)
    assert len(vectors) == len(TEXTS)
    for text, vector in zip(TEXTS, vectors, strict=True):
        assert vector == pytest.approx(embed_text(text, 64), abs=1e-6)
    assert embedder.key == "openai:text-embedding-3-small"


async def test_shortened_vectors_are_asked_for_and_change_the_key(fake: FakeOpenAI, tmp_path: Path) -> None:
    embedder = make_embedder(tmp_path, fake.base_url, embedding_dimensions=16)
    vectors = await embedder.embed(["Tickets cost five euros."])
    await embedder.aclose()
    assert fake.embedding_requests[0]["dimensions"] == 16
    assert len(vectors[0]) == 16
    # Not comparable with full-length vectors of the same model: a version records the difference.
    assert embedder.key == "openai:text-embedding-3-small:16"


async def test_vectors_are_matched_to_texts_by_index_not_by_position(tmp_path: Path) -> None:
    def reversed_answer(request: httpx2.Request) -> httpx2.Response:
        texts = json.loads(request.content)["input"]
        data = [{"object": "embedding", "index": i, "embedding": [float(i), 1.0]} for i in range(len(texts))][
            ::-1
        ]
        usage = {"prompt_tokens": 1, "total_tokens": 1}
        body = {"object": "list", "data": data, "model": "m", "usage": usage}
        return httpx2.Response(200, json=body)

    client = httpx2.AsyncClient(transport=httpx2.MockTransport(reversed_answer))
    embedder = make_embedder(tmp_path, "http://openai.test/v1", http_client=client)
    assert await embedder.embed(["a", "b", "c"]) == [[0.0, 1.0], [1.0, 1.0], [2.0, 1.0]]
    await embedder.aclose()


async def test_a_server_error_is_retried(fake: FakeOpenAI, tmp_path: Path) -> None:
    embedder = make_embedder(tmp_path, fake.base_url)
    fake.fail_embeddings(500, times=1)
    vectors = await embedder.embed(["Tickets cost five euros."])
    await embedder.aclose()
    assert len(fake.embedding_requests) == 2
    assert vectors[0] == pytest.approx(embed_text("Tickets cost five euros.", 64), abs=1e-6)


async def test_a_rejected_request_is_not_retried(fake: FakeOpenAI, tmp_path: Path) -> None:
    embedder = make_embedder(tmp_path, fake.base_url, embedding_batch_size=1)
    fake.fail_embeddings(400, times=3, message="Invalid model for embeddings.")
    with pytest.raises(EmbeddingError, match="HTTP 400: Invalid model for embeddings"):
        await embedder.embed(["one"])
    assert len(fake.embedding_requests) == 1
    # With several batches in flight, the caller still gets one EmbeddingError (not an exception group).
    with pytest.raises(EmbeddingError, match="HTTP 400"):
        await embedder.embed(["two", "three"])
    await embedder.aclose()


async def test_repeated_failures_open_the_circuit(fake: FakeOpenAI, tmp_path: Path) -> None:
    embedder = make_embedder(tmp_path, fake.base_url, max_attempts=1, breaker_failures=2)
    fake.fail_embeddings(503, times=2)
    for _ in range(2):
        with pytest.raises(EmbeddingError, match="HTTP 503"):
            await embedder.embed(["Tickets"])
    # Open: the next call fails at once, without a request.
    with pytest.raises(EmbeddingError, match="not calling it"):
        await embedder.embed(["Tickets"])
    assert len(fake.embedding_requests) == 2
    await embedder.aclose()


async def test_blank_and_very_long_texts_are_sent_as_the_api_accepts_them(
    fake: FakeOpenAI, tmp_path: Path
) -> None:
    embedder = make_embedder(tmp_path, fake.base_url)
    assert await embedder.embed([]) == [] and fake.embedding_requests == []
    vectors = await embedder.embed(["  ", "x" * (MAX_INPUT_CHARS * 3)])
    await embedder.aclose()
    assert fake.embedding_requests[0]["input"] == [" ", "x" * MAX_INPUT_CHARS]
    assert len(vectors) == 2


def test_the_embedder_needs_a_key_or_a_server(tmp_path: Path) -> None:
    host = SimpleNamespace(settings=make_settings(tmp_path))
    with pytest.raises(ValueError, match="OTVET_OPENAI__API_KEY"):
        OpenAIEmbedder(host)  # type: ignore[arg-type]


async def test_a_knowledge_base_built_and_searched_with_openai_embeddings(
    fake: FakeOpenAI, tmp_path: Path, db_url: str
) -> None:
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "tickets.md").write_text("# Tickets\n\nTickets cost five euros for adults.\n", encoding="utf-8")
    (kb / "hours.md").write_text("# Hours\n\nThe museum opens at ten.\n", encoding="utf-8")
    (kb / "faq.csv").write_text("question,answer\nCan I bring a dog?,Dogs are welcome.\n", encoding="utf-8")
    settings = make_settings(
        tmp_path,
        db_url,
        provider="extractive",
        retrieval={"embedder": "openai"},
        openai=openai_settings(fake.base_url, max_attempts=1),
    )
    async with Otvet(settings) as otvet:
        report = await ingest_paths(otvet, [kb], base=tmp_path)
        assert report.version is not None and report.version.embedder == "openai:text-embedding-3-small"
        assert len(fake.embedding_requests) == 1  # three chunks, one batch
        chunks = [c async for batch in otvet.store.iter_chunks(report.version.id) for c in batch]
        for chunk in chunks:
            assert chunk.embedding is not None
            assert unpack(chunk.embedding).tolist() == pytest.approx(embed_text(chunk_input(chunk)), abs=1e-6)
        assert isinstance(await otvet.knowledge.index(), HybridIndex)

        passages = await otvet.knowledge.search("How much are tickets for adults?", 3)
        assert passages[0].text == "Tickets cost five euros for adults."
        assert fake.embedding_requests[-1]["input"] == ["How much are tickets for adults?"]

        # Ingesting the same files again pays for nothing.
        requests = len(fake.embedding_requests)
        assert (await ingest_paths(otvet, [kb], base=tmp_path)).version is None
        assert len(fake.embedding_requests) == requests

        # The embeddings API fails: questions are answered from BM25 alone.
        fake.fail_embeddings(500, times=50)
        passages = await otvet.knowledge.search("When does the museum open?", 3)
        assert passages[0].text == "The museum opens at ten."
