"""Admin mutations on access: API keys (created, shown once, revoked) and admin accounts."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import strawberry
from strawberry.types import Info

from otvet.core.store import NotFound
from otvet.frontends.graphql.context import context_of
from otvet.frontends.graphql.errors import NOT_FOUND, ApiError, bad_input
from otvet.frontends.graphql.pagination import parse_id
from otvet.frontends.graphql.permissions import scoped_mutation
from otvet.frontends.graphql.types import Admin, ApiKey, CreatedApiKey, Scope


@contextmanager
def _accounts() -> Iterator[None]:
    """The accounts service's refusals (a weak password, a taken name, an unknown id) as API errors."""
    try:
        yield
    except NotFound as exc:
        raise ApiError(NOT_FOUND, str(exc)) from None
    except ValueError as exc:
        raise bad_input(str(exc)) from None


@strawberry.type
class AccessMutations:
    @scoped_mutation(
        "admin",
        "Create an API key with these scopes. The key is in the answer this once: only its hash is stored.",
    )
    async def create_api_key(self, info: Info, name: str, scopes: list[Scope]) -> CreatedApiKey:
        with _accounts():
            accounts = context_of(info).otvet.accounts
            key, record = await accounts.create_api_key(name, [s.value for s in scopes])
        return CreatedApiKey(key=key, api_key=ApiKey.from_record(record))

    @scoped_mutation("admin", "Revoke an API key for good; revoking it again changes nothing.")
    async def revoke_api_key(self, info: Info, id: strawberry.ID) -> ApiKey:
        with _accounts():
            record = await context_of(info).otvet.accounts.revoke_api_key(parse_id(id))
        return ApiKey.from_record(record)

    @scoped_mutation(
        "admin", "Create an admin account (passwords: at least 12 characters, not the username)."
    )
    async def create_admin(self, info: Info, username: str, password: str) -> Admin:
        with _accounts():
            record = await context_of(info).otvet.accounts.create_admin(username, password)
        return Admin.from_record(record)

    @scoped_mutation(
        "admin",
        "Disable an admin (they cannot log in and their tokens stop working) or enable them again. The "
        "last enabled admin cannot be disabled.",
    )
    async def set_admin_disabled(self, info: Info, username: str, disabled: bool) -> Admin:
        accounts = context_of(info).otvet.accounts
        admins = {admin.username: admin for admin in await accounts.list_admins()}
        target = admins.get(username.strip())
        if target is None:
            raise ApiError(NOT_FOUND, f"there is no admin called {username!r}")
        if disabled and not target.disabled and sum(not a.disabled for a in admins.values()) == 1:
            raise bad_input("this is the last enabled admin: enable or create another one first")
        with _accounts():
            await accounts.set_admin_disabled(target.username, disabled)
        updated = {admin.username: admin for admin in await accounts.list_admins()}
        return Admin.from_record(updated[target.username])

    @scoped_mutation(
        "admin", "Set an admin's password; every login token they hold stops working. True when done."
    )
    async def set_admin_password(self, info: Info, username: str, password: str) -> bool:
        with _accounts():
            await context_of(info).otvet.accounts.set_admin_password(username, password)
        return True
