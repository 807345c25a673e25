"""Optional OpenTelemetry traces: one span per turn, with retrieval and the provider call as its children.

Off by default and then free: :meth:`Tracing.start` returns a do-nothing span. With
``tracing.exporter`` set, spans go to an OTLP collector or stderr through this instance's own tracer
provider (not the process-global one, so an application embedding Otvet keeps its own).

Spans are passed explicitly rather than made "current": a turn is an async generator, which may be closed
from another task than the one that started it, and OpenTelemetry's context cannot be detached there.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from otvet.config.settings import TracingSettings

log = logging.getLogger(__name__)


class Span:
    """A span that may be real or not; ``set`` and ``end`` are safe either way."""

    __slots__ = ("_span",)

    def __init__(self, span: Any = None) -> None:
        self._span = span

    def set(self, **attributes: Any) -> None:
        if self._span is not None:
            for key, value in attributes.items():
                if value is not None:
                    self._span.set_attribute(f"otvet.{key}", value)

    def fail(self, code: str) -> None:
        if self._span is not None:
            from opentelemetry.trace import Status, StatusCode

            self._span.set_status(Status(StatusCode.ERROR, code))

    def end(self, **attributes: Any) -> None:
        if self._span is not None:
            self.set(**attributes)
            self._span.end()


class Tracing:
    """This instance's tracer (``otvet.tracing``): a real one once :meth:`setup` or :meth:`use` ran."""

    def __init__(self) -> None:
        self._provider: Any = None
        self._tracer: Any = None

    @property
    def enabled(self) -> bool:
        return self._tracer is not None

    def setup(self, settings: TracingSettings) -> None:
        """Trace as ``settings`` say; a missing ``otvet[tracing]`` install is a clear error at start."""
        if not settings.exporter:
            return
        try:
            from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter
        except ImportError:
            raise RuntimeError(
                "OTVET_TRACING__EXPORTER is set but OpenTelemetry is not installed: "
                "pip install 'otvet[tracing]'"
            ) from None
        if settings.exporter == "otlp":
            try:
                from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
            except ImportError:
                raise RuntimeError(
                    "OTVET_TRACING__EXPORTER=otlp needs the OTLP exporter: pip install 'otvet[tracing]'"
                ) from None
            exporter: Any = OTLPSpanExporter(endpoint=settings.endpoint or None)
        else:
            exporter = ConsoleSpanExporter()
        self.use(BatchSpanProcessor(exporter), settings.service_name, settings.sample_ratio)
        log.info("tracing to %s", settings.endpoint or settings.exporter)

    def use(self, processor: Any, service_name: str = "otvet", sample_ratio: float = 1.0) -> None:
        """Send spans to ``processor`` (an OpenTelemetry SpanProcessor); tests pass an in-memory one."""
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

        from otvet import __version__

        provider = TracerProvider(
            resource=Resource.create({"service.name": service_name, "service.version": __version__}),
            sampler=ParentBased(TraceIdRatioBased(sample_ratio)),
        )
        provider.add_span_processor(processor)
        self._provider = provider
        self._tracer = provider.get_tracer("otvet")

    def start(self, name: str, parent: Span | None = None, **attributes: Any) -> Span:
        """Start a span (a child of ``parent`` when given); end it with :meth:`Span.end`."""
        if self._tracer is None:
            return _NOOP
        context = None
        if parent is not None and parent._span is not None:
            from opentelemetry import trace

            context = trace.set_span_in_context(parent._span)
        span = Span(self._tracer.start_span(name, context=context))
        span.set(**attributes)
        return span

    def shutdown(self) -> None:
        """Flush what is buffered (at stop)."""
        if self._provider is not None:
            self._provider.shutdown()
            self._provider = self._tracer = None


_NOOP = Span()
