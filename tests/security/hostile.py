"""Shared helpers of the adversarial tests (tests/security): what the service holds, and the app's parts.

Every attack test ends by asserting that nothing was lost or corrupted: :func:`snapshot` is everything an
attacker could add, change or remove (knowledge, credentials, jobs), compared before and after.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from otvet.core.app import Otvet
from otvet.frontends.graphql.app import GraphQLApp


@dataclass(frozen=True)
class Snapshot:
    sources: tuple[tuple[str, str], ...]
    versions: tuple[tuple[int, str, int], ...]
    active: int | None
    api_keys: tuple[tuple[int, str, bool], ...]
    admins: tuple[tuple[str, bool], ...]
    jobs: tuple[tuple[int, str], ...]
    checks: int


async def snapshot(otvet: Otvet) -> Snapshot:
    """The knowledge base, the credentials and the job queue, in a form that compares by value."""
    store = otvet.store
    active = await store.active_version()
    return Snapshot(
        sources=tuple(sorted((s.name, s.checksum) for s in await store.list_sources())),
        versions=tuple((v.id, v.status, v.chunk_count) for v in await store.list_versions()),
        active=active.id if active else None,
        api_keys=tuple((k.id, k.name, k.revoked_at is not None) for k in await store.list_api_keys()),
        admins=tuple((a.username, a.disabled) for a in await store.list_admins()),
        jobs=tuple((j.id, j.status) for j in await store.list_jobs(limit=1000)),
        checks=len(await store.list_checks()),
    )


def graphql_app(app: Any) -> GraphQLApp:
    """The :class:`GraphQLApp` behind ``/graphql`` of a Starlette app made by ``create_app``."""
    for route in getattr(app, "routes", []):
        if isinstance(getattr(route, "app", None), GraphQLApp):
            return route.app
    raise AssertionError("no /graphql route in this app")


# --- the Telegram webhook without a bot ---------------------------------------------------------------------


class UpdateQueue:
    """Stands in for the webhook's inbox: records the updates the webhook would keep and acknowledge."""

    def __init__(self) -> None:
        self.updates: list[Any] = []

    async def receive(self, key: str, payload: str, decoded: object = None) -> bool:
        self.updates.append(SimpleNamespace(update_id=int(key.rsplit(":", 1)[1]), payload=payload))
        return True

    async def stop(self) -> None:  # the plugin stops the inbox it finds when Otvet stops
        pass


@dataclass
class StubBot:
    """What the webhook route needs of the bot's ``Application``: see :func:`stub_webhook`."""

    update_queue: UpdateQueue = field(default_factory=UpdateQueue)
    bot: Any = field(default_factory=lambda: SimpleNamespace(id=123))

    async def stop(self) -> None:  # the plugin stops the bot it finds when Otvet stops
        pass

    async def shutdown(self) -> None:
        pass


def stub_webhook(otvet: Any) -> UpdateQueue:
    """Give a started Otvet the webhook's bot and inbox without a bot: returns what records the updates."""
    from otvet.frontends.telegram.plugin import INBOX_KEY, STATE_KEY

    queue = UpdateQueue()
    otvet.state[STATE_KEY] = StubBot(queue)
    otvet.state[INBOX_KEY] = queue
    return queue


#: A minimal valid update: a private /start message.
UPDATE = {
    "update_id": 1,
    "message": {
        "message_id": 1,
        "date": 1700000000,
        "chat": {"id": 5, "type": "private"},
        "from": {"id": 5, "is_bot": False, "first_name": "Eve"},
        "text": "/start",
    },
}
