"""Tracing: a turn is one trace, retrieval and the provider call its children; off, it costs nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from otvet.core.app import Otvet
from otvet.core.tracing import Tracing
from otvet.core.types import Turn
from tests.conftest import make_settings
from tests.support.providers import MockProvider


@pytest.fixture
def spans(otvet: Otvet) -> InMemorySpanExporter:
    exporter = InMemorySpanExporter()
    otvet.tracing.use(SimpleSpanProcessor(exporter), service_name="otvet-test")
    return exporter


async def ask(otvet: Otvet, text: str) -> None:
    async for _ in otvet.engine.stream(Turn(channel="graphql", user_id="u1", text=text)):
        pass


async def test_a_turn_is_a_trace_with_retrieval_and_the_provider_inside(
    otvet: Otvet, mock_provider: MockProvider, spans: InMemorySpanExporter
) -> None:
    mock_provider.then("An answer.")
    await ask(otvet, "What is Otvet?")
    finished = {span.name: span for span in spans.get_finished_spans()}
    assert set(finished) == {"otvet.turn", "otvet.retrieve", "otvet.provider"}
    turn = finished["otvet.turn"]
    assert turn.parent is None
    for child in ("otvet.retrieve", "otvet.provider"):
        assert finished[child].parent is not None
        assert finished[child].parent.span_id == turn.context.span_id
        assert finished[child].context.trace_id == turn.context.trace_id
    assert turn.attributes is not None
    assert turn.attributes["otvet.channel"] == "graphql"
    assert turn.attributes["otvet.outcome"] == "answered"
    assert turn.attributes["otvet.provider"] == "mock"
    assert isinstance(turn.attributes["otvet.conversation_id"], int)
    assert turn.resource.attributes["service.name"] == "otvet-test"
    # The question's text is not an attribute: traces leave the machine like logs do.
    assert all(
        "What is Otvet" not in str(v) for s in finished.values() for v in (s.attributes or {}).values()
    )


async def test_a_provider_failure_marks_both_spans_as_errors(
    otvet: Otvet, mock_provider: MockProvider, spans: InMemorySpanExporter
) -> None:
    mock_provider.fail()
    await ask(otvet, "Will this fail?")
    finished = {span.name: span for span in spans.get_finished_spans()}
    assert finished["otvet.provider"].status.status_code is StatusCode.ERROR
    assert finished["otvet.turn"].status.status_code is StatusCode.ERROR
    assert finished["otvet.turn"].status.description == "provider_error"


def test_without_an_exporter_tracing_is_off_and_spans_are_no_ops() -> None:
    tracing = Tracing()
    span = tracing.start("otvet.turn", channel="cli")
    span.set(outcome="answered")
    span.end()
    assert not tracing.enabled


async def test_the_console_exporter_is_set_up_from_the_settings(tmp_path: Path) -> None:
    async with Otvet(make_settings(tmp_path, tracing={"exporter": "console"})) as otvet:
        assert otvet.tracing.enabled
    assert not otvet.tracing.enabled  # flushed and shut down with the instance
