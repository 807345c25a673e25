"""Prometheus metrics as an operator reads them: valid exposition, and numbers that move with the traffic."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from otvet.core.app import Otvet
from otvet.core.llm import ProviderError
from otvet.core.types import Turn, Usage
from otvet.frontends.app import create_app
from tests.conftest import make_settings
from tests.support.providers import MockProvider

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> Samples:
    """Every sample of a Prometheus text exposition; raises on anything that is not valid exposition."""
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def scrape(client: httpx.AsyncClient, **headers: str) -> Samples:
    response = await client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return parse(response.text)


@pytest.fixture
async def http(otvet: Otvet) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(otvet))  # otvet is started: no lifespan needed
    async with httpx.AsyncClient(transport=transport, base_url="http://otvet") as client:
        yield client


async def ask(otvet: Otvet, text: str, channel: str = "test") -> None:
    async for _ in otvet.engine.stream(Turn(channel=channel, user_id="u1", text=text)):
        pass


async def test_answers_failures_and_provider_figures_are_counted(
    otvet: Otvet, mock_provider: MockProvider, http: httpx.AsyncClient
) -> None:
    mock_provider.then("Hi", " there.", usage=Usage(prompt_tokens=11, completion_tokens=3))
    await ask(otvet, "Hello?")
    mock_provider.fail(ProviderError("down", code="upstream"))
    await ask(otvet, "And now?")
    await ask(otvet, "   ")  # an empty question is refused before the provider

    samples = await scrape(http)
    assert value(samples, "otvet_answers_total", channel="test", outcome="answered") == 1
    assert value(samples, "otvet_answers_total", channel="test", outcome="failed") == 1
    assert value(samples, "otvet_answers_total", channel="test", outcome="rejected") == 1  # the empty one
    assert value(samples, "otvet_answer_failures_total", channel="test", code="provider_error") == 1
    assert value(samples, "otvet_answer_failures_total", channel="test", code="empty_question") == 1
    assert value(samples, "otvet_provider_errors_total", provider="mock", code="upstream") == 1
    assert value(samples, "otvet_provider_tokens_total", provider="mock", kind="prompt") == 11
    assert value(samples, "otvet_provider_tokens_total", provider="mock", kind="completion") == 3
    assert value(samples, "otvet_answer_duration_seconds_count", channel="test") == 1
    assert value(samples, "otvet_first_delta_seconds_count", channel="test") == 1
    assert value(samples, "otvet_provider_duration_seconds_count", provider="mock") == 2
    assert value(samples, "otvet_retrieval_duration_seconds_count") == 2


async def test_a_question_abandoned_mid_answer_counts_as_cancelled(
    otvet: Otvet, mock_provider: MockProvider, http: httpx.AsyncClient
) -> None:
    mock_provider.then("Part one", hang=True)
    stream = otvet.engine.stream(Turn(channel="widget", user_id="v", text="Tell me everything"))
    await anext(stream)
    await stream.aclose()  # the visitor closed the tab
    samples = await scrape(http)
    assert value(samples, "otvet_answers_total", channel="widget", outcome="cancelled") == 1
    assert otvet.lifecycle.in_progress == 0  # a stopping service would not wait for it


async def test_http_requests_are_counted_per_frontend_with_a_request_id(
    otvet: Otvet, http: httpx.AsyncClient
) -> None:
    await http.get("/healthz")
    await http.post("/graphql", json={"query": "{ __typename }"})
    await http.get("/no/such/page")
    echoed = await http.get("/healthz", headers={"X-Request-ID": "req-42"})
    forged = await http.get("/healthz", headers={"X-Request-ID": "bad id\nINFO forged line"})

    assert echoed.headers["x-request-id"] == "req-42"
    # An id that could forge a log line is replaced, not echoed.
    assert (
        forged.headers["x-request-id"] != "bad id\nINFO forged line"
        and len(forged.headers["x-request-id"]) == 32
    )
    samples = await scrape(http)
    assert value(samples, "otvet_http_requests_total", frontend="health", method="GET", status="200") == 3
    assert value(samples, "otvet_http_requests_total", frontend="graphql", method="POST", status="200") == 1
    # Unknown paths share one label, so a scanner cannot grow the number of series.
    assert value(samples, "otvet_http_requests_total", frontend="other", method="GET", status="404") == 1
    assert value(samples, "otvet_http_request_duration_seconds_count", frontend="graphql") == 1
    assert value(samples, "otvet_http_requests_in_progress", frontend="metrics") == 1  # this very scrape


async def test_the_scrape_reads_queue_depth_knowledge_and_the_database(
    otvet: Otvet, http: httpx.AsyncClient
) -> None:
    await otvet.store.enqueue_job("retrain", {})
    await otvet.store.enqueue_job("retrain", {})
    samples = await scrape(http)
    assert value(samples, "otvet_jobs", type="retrain", status="queued") == 2
    assert value(samples, "otvet_jobs", type="retrain", status="running") == 0
    assert value(samples, "otvet_jobs", type="fine_tune", status="queued") == 0  # reported, not absent
    assert value(samples, "otvet_database_up") == 1
    assert value(samples, "otvet_draining") == 0
    assert value(samples, "otvet_build_info", version=otvet_version(), service="cli") == 1
    assert value(samples, "process_resident_memory_bytes") > 0

    otvet.lifecycle.begin_drain()
    assert value(await scrape(http), "otvet_draining") == 1


def otvet_version() -> str:
    from otvet import __version__

    return __version__


async def test_the_knowledge_version_answering_is_reported(sqlite_otvet: Otvet) -> None:
    await ask(sqlite_otvet, "How do I connect Telegram?")
    transport = httpx.ASGITransport(app=create_app(sqlite_otvet))
    async with httpx.AsyncClient(transport=transport, base_url="http://otvet") as client:
        samples = await scrape(client)
    active = await sqlite_otvet.store.active_version()
    assert active is not None
    assert value(samples, "otvet_knowledge_active_version") == active.id
    assert value(samples, "otvet_knowledge_chunks") == active.chunk_count > 0


async def test_a_metrics_token_keeps_the_numbers_to_its_bearer(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, metrics={"token": "scrape-secret-123"})
    async with Otvet(settings) as otvet:
        transport = httpx.ASGITransport(app=create_app(otvet))
        async with httpx.AsyncClient(transport=transport, base_url="http://otvet") as client:
            refused = await client.get("/metrics")
            wrong = await client.get("/metrics", headers={"Authorization": "Bearer nope"})
            samples = await scrape(client, Authorization="Bearer scrape-secret-123")
    assert refused.status_code == wrong.status_code == 401
    assert refused.headers["www-authenticate"].startswith("Bearer")
    assert "otvet_" not in refused.text
    assert value(samples, "otvet_database_up") == 1


async def test_metrics_can_be_switched_off(tmp_path: Path) -> None:
    async with Otvet(make_settings(tmp_path, metrics={"enabled": False})) as otvet:
        transport = httpx.ASGITransport(app=create_app(otvet))
        async with httpx.AsyncClient(transport=transport, base_url="http://otvet") as client:
            assert (await client.get("/metrics")).status_code == 404


async def test_two_instances_in_one_process_keep_their_own_numbers(tmp_path: Path) -> None:
    """A registry per instance: an application embedding two Otvets (or the test suite) sees no collisions."""
    first = Otvet(make_settings(tmp_path / "a"))
    second = Otvet(make_settings(tmp_path / "b"))
    first.metrics.answers.labels("cli", "answered").inc()
    assert (
        value(
            parse(second.metrics.render().decode()), "otvet_answers_total", channel="cli", outcome="answered"
        )
        == 0
    )
    assert (
        value(
            parse(first.metrics.render().decode()), "otvet_answers_total", channel="cli", outcome="answered"
        )
        == 1
    )
