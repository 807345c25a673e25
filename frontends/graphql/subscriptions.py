"""The ``Subscription`` type, over the ``graphql-transport-ws`` WebSocket protocol at ``/graphql``.

The credential travels in ``connection_init``'s payload (``{"authorization": "Bearer ..."}``) and is
checked again for every subscription, so a revoked key or an expired token cannot start new ones and each
subscription counts against the rate limit like an HTTP request.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from contextlib import aclosing

import strawberry
from strawberry.types import Info

from otvet.core.types import Delta
from otvet.frontends.graphql.context import context_of
from otvet.frontends.graphql.errors import NOT_FOUND, ApiError
from otvet.frontends.graphql.inputs import AskInput
from otvet.frontends.graphql.pagination import parse_id
from otvet.frontends.graphql.permissions import scoped_subscription
from otvet.frontends.graphql.turns import turn_for
from otvet.frontends.graphql.types import AnswerDelta, AskEvent, Job, ask_result

#: A job in one of these states changes no more.
FINISHED_JOB_STATES = frozenset({"succeeded", "failed", "cancelled", "done"})
#: Seconds between two reads of a job's row.
JOB_POLL_SECONDS = 1.0


@strawberry.type(description="Streams, over WebSocket (`graphql-transport-ws`).")
class Subscription:
    @scoped_subscription(
        "ask",
        "Ask a question and receive the answer as it is written: `AnswerDelta`s, then one `Answer` (its "
        "`text` is the whole answer) or one `AnswerFailure`.",
    )
    async def ask_stream(self, info: Info, input: AskInput) -> AsyncGenerator[AskEvent, None]:
        context = context_of(info)
        await context.reauthenticate()
        turn = turn_for(context, input)
        # aclosing: a client that unsubscribes mid-answer stops the provider now (the engine marks the turn).
        async with aclosing(context.otvet.engine.stream(turn)) as events:
            async for event in events:
                yield AnswerDelta(text=event.text) if isinstance(event, Delta) else ask_result(event)

    @scoped_subscription(
        "admin",
        "Follow a job: its state now, then each time it changes; the stream ends when the job does.",
    )
    async def job_progress(self, info: Info, id: strawberry.ID) -> AsyncGenerator[Job, None]:
        context = context_of(info)
        await context.reauthenticate()
        store = context.otvet.store
        job_id = parse_id(id)
        job = await store.get_job(job_id)
        if job is None:
            raise ApiError(NOT_FOUND, f"there is no job {id}")
        yield Job.from_record(job)
        while job.status not in FINISHED_JOB_STATES:
            await asyncio.sleep(JOB_POLL_SECONDS)
            latest = await store.get_job(job_id)
            if latest is None:  # deleted: nothing more will happen to it
                return
            if latest != job:
                yield Job.from_record(latest)
            job = latest
