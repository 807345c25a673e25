"""The webhook inbox: updates a channel posted to us, kept in the database from before we acknowledge them
until they are handled, by whichever replica claims them first.

A webhook that answers 200 and then handles the update in memory loses it when the process dies: the
channel (Telegram) will not send it again. Here the route stores the update first (:meth:`Inbox.receive`)
and answers 200 only once it is stored; every replica with the channel runs a dispatcher that claims due
updates (its own at once, others' after their lease ran out), hands each to the channel's handler and marks
it done. A replica that dies mid-answer leaves its updates claimed until the lease runs out; another replica,
or the restarted one, then handles them again. An update is answered twice only if its process dies in the
milliseconds between the reply reaching the channel and the update being marked done.

When the database is away, a handler can :func:`postpone` the update it is handling instead of telling the
user "unavailable": the update is handled again once the database is back, like any other.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from otvet.core.store import DatabaseUnavailable, InboxItem

if TYPE_CHECKING:
    from otvet.core.app import Otvet

log = logging.getLogger(__name__)

#: Handles one update; returns once it is handled (its reply sent).
Handler = Callable[[InboxItem], Awaitable[None]]

#: Seconds a postponed update waits when the database said nothing about when to come back.
POSTPONE_SECONDS = 5.0


@dataclass
class _Handling:
    """The update the current task handles, and whether its handler asked for it to be postponed."""

    item: InboxItem
    may_postpone: bool
    postponed_for: float | None = None


_current: contextvars.ContextVar[_Handling | None] = contextvars.ContextVar("otvet_inbox", default=None)


def postpone(retry_after: float | None = None) -> bool:
    """Ask for the update this task is handling to be handled again later (the database is away).

    True when it will be: the caller then says nothing to the user. False when the task handles no inbox
    update (long polling) or the update has had its tries: the caller then tells the user as it would have.
    """
    handling = _current.get()
    if handling is None or not handling.may_postpone:
        return False
    handling.postponed_for = retry_after if retry_after is not None else POSTPONE_SECONDS
    return True


class Inbox:
    """One channel's inbox in this process: stores what the webhook receives and handles what is due."""

    def __init__(self, otvet: Otvet, channel: str, handler: Handler, *, concurrency: int) -> None:
        self.otvet = otvet
        self.channel = channel
        self.handler = handler
        self.concurrency = concurrency
        self.settings = otvet.settings.inbox
        #: Who holds a claimed update: this process, for as long as it lives.
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._wake = asyncio.Event()
        #: The updates this replica holds until each is marked done; ``_answering``: those still answered.
        self._running: dict[int, asyncio.Task[None]] = {}
        self._answering: set[int] = set()
        self._unfinished: dict[int, str | None] = {}  # handled, but not yet marked so (database away)
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False

    async def receive(self, key: str, payload: str, decoded: object = None) -> bool:
        """Keep an update that just arrived; False when it is a resend of one already kept.

        The update is stored already claimed by this replica, which starts on it at once (one INSERT, no
        claim), unless it is at its concurrency or stopping: then it waits in the table for any replica.
        ``decoded`` (what the webhook already parsed of ``payload``) reaches the handler when this replica
        handles the update. Raises :class:`DatabaseUnavailable` when it cannot be kept: the webhook must then
        not acknowledge it.
        """
        mine = not self._stopping and bool(self._tasks) and len(self._running) < self.concurrency
        lease = self.settings.lease_seconds
        entry_id = await self.otvet.store.add_to_inbox(
            self.channel, key, payload, owner=self.owner if mine else None, lease_seconds=lease
        )
        if entry_id is None:
            return False
        if mine:
            item = InboxItem(entry_id, self.channel, key, payload, attempts=1, decoded=decoded)
            self._running[entry_id] = asyncio.create_task(self._handle(item))
        else:
            self._wake.set()
        return True

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._dispatch(), name=f"inbox-{self.channel}"),
            asyncio.create_task(self._keep_leases(), name=f"inbox-{self.channel}-leases"),
        ]
        self.otvet.lifecycle.when_draining(self._stop_claiming)
        self.otvet.inboxes[self.channel] = self

    def _stop_claiming(self) -> None:
        """Draining: claim nothing new. What is claimed is finished; what waits is another replica's."""
        self._stopping = True
        self._wake.set()

    async def stop(self) -> None:
        """Stop claiming and give back what is still being handled: the service has drained (waiting for the
        answers in progress), so whatever runs now would be cut off; another replica takes it at once."""
        self._stop_claiming()
        self.otvet.inboxes.pop(self.channel, None)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        # Updates still in their handler are cut off and given back; those past it are only being marked
        # done, which must finish (or a replica would answer them again once their lease ran out).
        cut_off = [entry_id for entry_id in self._running if entry_id in self._answering]
        for entry_id in cut_off:
            self._running[entry_id].cancel()
        await asyncio.gather(*self._running.values(), return_exceptions=True)
        for entry_id in cut_off:
            await self._quietly(self.otvet.store.postpone_inbox(entry_id, self.owner, datetime.now(UTC)))
        await self._finish_unfinished()

    # --- claiming -------------------------------------------------------------------------------------------

    async def _dispatch(self) -> None:
        while not self._stopping:
            self._wake.clear()
            free = self.concurrency - len(self._running)
            claimed: list[InboxItem] = []
            if free > 0:
                try:
                    claimed = await self.otvet.store.claim_inbox(
                        self.channel, self.owner, free, self.settings.lease_seconds
                    )
                except DatabaseUnavailable:
                    pass  # the store logs the outage once; updates wait in the table
                except Exception:
                    log.exception("could not claim %s updates", self.channel)
            for item in claimed:
                self._running[item.id] = asyncio.create_task(self._handle(item))
            if len(claimed) == free > 0:
                continue  # more may be due
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.settings.poll_seconds)

    async def _handle(self, item: InboxItem) -> None:
        handling = _Handling(item, may_postpone=item.attempts < self.settings.max_attempts)
        token = _current.set(handling)
        self._answering.add(item.id)
        try:
            await self._answer(item, handling)
        finally:
            _current.reset(token)
            self._running.pop(item.id, None)
            self._wake.set()  # a slot is free

    async def _answer(self, item: InboxItem, handling: _Handling) -> None:
        error: str | None = None
        try:
            if item.attempts > self.settings.max_attempts:
                # Every earlier try ended with its process (or it kept being postponed): give up on it.
                error = f"given up after {item.attempts - 1} tries"
                log.error("%s update %s %s", self.channel, item.key, error)
            else:
                if item.attempts > 1:
                    log.info("%s update %s: try %d", self.channel, item.key, item.attempts)
                await self.handler(item)
        except Exception as exc:
            log.exception("%s update %s failed", self.channel, item.key)
            error = f"{type(exc).__name__}: {exc}"[:500]
        finally:
            self._answering.discard(item.id)  # a cancellation (stop) goes on up: stop() gives it back
        if handling.postponed_for is not None and error is None:
            until = datetime.now(UTC) + timedelta(seconds=handling.postponed_for)
            # When even this fails, the lease runs out instead, and the update is handled again after it.
            await self._quietly(self.otvet.store.postpone_inbox(item.id, self.owner, until))
            return
        if await self._quietly(self.otvet.store.finish_inbox(item.id, self.owner, error)) is None:
            # Handled, but the database could not record it: tried again with each lease renewal, and the
            # lease is kept meanwhile, so nobody handles the update a second time.
            self._unfinished[item.id] = error

    async def _finish_unfinished(self) -> None:
        """Mark so the updates handled while the database could not record it (one task: the lease loop)."""
        for entry_id, error in list(self._unfinished.items()):
            if await self._quietly(self.otvet.store.finish_inbox(entry_id, self.owner, error)) is None:
                return
            del self._unfinished[entry_id]

    # --- leases ---------------------------------------------------------------------------------------------

    async def _keep_leases(self) -> None:
        every = self.settings.lease_seconds / 3
        while True:
            await asyncio.sleep(every)
            await self._finish_unfinished()
            held = [*self._running, *self._unfinished]
            if held:
                lease = self.settings.lease_seconds
                await self._quietly(self.otvet.store.renew_inbox(held, self.owner, lease))

    async def _quietly(self, call: Awaitable[object]) -> object | None:
        """``call``'s result, or None when the database failed it (logged once per outage by the store)."""
        try:
            result = await call
        except DatabaseUnavailable:
            return None
        except Exception:
            log.warning("inbox bookkeeping failed", exc_info=True)
            return None
        return True if result is None else result
