"""Prometheus metrics of one Otvet instance: its own registry, the instruments the engine, the frontends and
the worker update, and the gauges read from the database when ``/metrics`` is scraped.

A registry per instance rather than prometheus_client's global one: a process that builds several Otvet
objects (the test suite, an embedding application) would otherwise collide on metric names. Each service
process serves its own ``/metrics``; Prometheus scrapes every pod and sums.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from otvet import __version__

if TYPE_CHECKING:
    from otvet.core.app import Otvet

log = logging.getLogger(__name__)
M = TypeVar("M")

#: Seconds, for things a person waits for: HTTP requests, whole answers, provider calls.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
#: Seconds, for in-process work that should take milliseconds: retrieval, the first delta.
FAST_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
#: Seconds, for background jobs: a retrain takes seconds to minutes, a fine-tune hours.
JOB_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 14400.0)
CONTENT_TYPE = CONTENT_TYPE_LATEST
#: Seconds the database-backed gauges may take to read before a scrape answers without them.
REFRESH_TIMEOUT = 2.0


class Metrics:
    """Every metric of one Otvet instance (``otvet.metrics``): the engine's here; channels and plugins add
    theirs with :meth:`define` (or straight to :attr:`registry`)."""

    def __init__(self, service: str = "cli") -> None:
        r = self.registry = CollectorRegistry(auto_describe=True)
        self._defined: dict[str, object] = {}
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        GCCollector(registry=r)
        self.build_info = Gauge(
            "otvet_build_info", "Otvet's version and service", ["version", "service"], registry=r
        )
        self.build_info.labels(__version__, service).set(1)

        # HTTP and WebSocket, per frontend (the plugin that registered the route).
        self.http_requests = Counter(
            "otvet_http_requests", "HTTP requests answered", ["frontend", "method", "status"], registry=r
        )
        self.http_duration = Histogram(
            "otvet_http_request_duration_seconds",
            "Time to answer an HTTP request, to the end of its body",
            ["frontend"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.http_in_progress = Gauge(
            "otvet_http_requests_in_progress", "HTTP requests being answered", ["frontend"], registry=r
        )
        self.websockets = Gauge(
            "otvet_websocket_connections", "Open WebSocket connections", ["frontend"], registry=r
        )

        # Answers, per channel (the frontend's name for its users).
        self.answers = Counter(
            "otvet_answers",
            "Turns by outcome: answered, fallback, failed, rejected (quota), cancelled",
            ["channel", "outcome"],
            registry=r,
        )
        self.answer_failures = Counter(
            "otvet_answer_failures",
            "Turns that ended in a failure, by its code",
            ["channel", "code"],
            registry=r,
        )
        self.answer_duration = Histogram(
            "otvet_answer_duration_seconds",
            "Time from a question to its final answer",
            ["channel"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.first_delta = Histogram(
            "otvet_first_delta_seconds",
            "Time from a question to the first piece of its answer",
            ["channel"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.retrieval_duration = Histogram(
            "otvet_retrieval_duration_seconds",
            "Time to search the knowledge base for one question",
            buckets=FAST_BUCKETS,
            registry=r,
        )
        self.provider_duration = Histogram(
            "otvet_provider_duration_seconds",
            "Time an LLM provider took for one answer, first request to last token",
            ["provider"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.provider_errors = Counter(
            "otvet_provider_errors", "LLM provider failures, by reason", ["provider", "code"], registry=r
        )
        self.provider_tokens = Counter(
            "otvet_provider_tokens",
            "Tokens LLM providers reported, prompt and completion",
            ["provider", "kind"],
            registry=r,
        )

        # Background jobs.
        self.jobs = Gauge(
            "otvet_jobs",
            "Unfinished jobs in the database by type and status (queue depth)",
            ["type", "status"],
            registry=r,
        )
        self.job_runs = Counter(
            "otvet_job_runs",
            "Job runs by outcome: succeeded, failed, retried, released, cancelled",
            ["type", "outcome"],
            registry=r,
        )
        self.job_duration = Histogram(
            "otvet_job_duration_seconds",
            "Time one run of a job took",
            ["type"],
            buckets=JOB_BUCKETS,
            registry=r,
        )

        # Knowledge, the database, the process.
        self.knowledge_version = Gauge(
            "otvet_knowledge_active_version",
            "Id of the knowledge version this process answers from",
            registry=r,
        )
        self.knowledge_chunks = Gauge(
            "otvet_knowledge_chunks", "Chunks in the knowledge version this process answers from", registry=r
        )
        self.database_up = Gauge(
            "otvet_database_up", "1 when the database answered the last scrape", registry=r
        )
        self.draining = Gauge("otvet_draining", "1 while the service is stopping (SIGTERM)", registry=r)
        self.inbox_backlog = Gauge(
            "otvet_inbox_backlog",
            "Webhook updates acknowledged and not answered yet, by channel (every replica reports the same)",
            ["channel"],
            registry=r,
        )

    def define(self, name: str, make: Callable[[CollectorRegistry], M]) -> M:
        """The instrument ``name`` of a frontend or plugin, made by ``make(registry)`` on first use: the
        engine's are above, each channel defines its own where it is used."""
        found = self._defined.get(name)
        if found is None:
            found = self._defined[name] = make(self.registry)
        return found  # type: ignore[return-value]

    def instruments(self) -> list[object]:
        """The engine's instruments and those defined so far (the deployment checks read their names)."""
        return [*vars(self).values(), *self._defined.values()]

    async def refresh(self, otvet: Otvet) -> None:
        """Read what lives in the database (queue depth, reachability) just before a scrape renders."""
        self.draining.set(1 if otvet.lifecycle.draining else 0)
        # Only a process that answers has a version loaded; a worker reports none rather than loading one.
        knowledge = otvet.knowledge_if_loaded
        if knowledge is not None and knowledge.version_id is not None:
            self.knowledge_version.set(knowledge.version_id)
            self.knowledge_chunks.set(knowledge.chunk_count)
        if not otvet.started:
            self.database_up.set(0)
            return
        try:
            counts = await asyncio.wait_for(otvet.store.count_jobs(), REFRESH_TIMEOUT)
        except Exception as exc:
            log.warning("metrics: the database did not answer (%s)", type(exc).__name__)
            self.database_up.set(0)
            return
        self.database_up.set(1)
        # Every known type and status is reported, 0 included: an absent series reads as "no data", not 0.
        types = set(otvet.job_handlers) | {job_type for job_type, _ in counts}
        for job_type in types:
            for status in ("queued", "running"):
                self.jobs.labels(job_type, status).set(counts.get((job_type, status), 0))
        for channel in list(otvet.inboxes):
            with contextlib.suppress(Exception):  # the jobs query just answered: this one rarely fails
                backlog = await asyncio.wait_for(otvet.store.inbox_backlog(channel), REFRESH_TIMEOUT)
                self.inbox_backlog.labels(channel).set(backlog)

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)
