"""Scopes on fields: ``ask`` (ask, rate, reset), ``read`` (conversations, feedback, usage), ``admin``.

A field declares its scope with :func:`scoped_field` / :func:`scoped_mutation` / :func:`scoped_subscription`;
the check runs before the resolver, so a refused caller learns nothing about the data (not even whether an
id exists). The scope is also written into the field's description, so the SDL documents it. Tests read
:func:`required_scope` back from the live schema, so a new field cannot go unchecked unnoticed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import strawberry
from strawberry.permission import BasePermission, PermissionExtension

from otvet.frontends.graphql.context import context_of
from otvet.frontends.graphql.errors import FORBIDDEN, UNAUTHENTICATED, ApiError

if TYPE_CHECKING:
    from strawberry.types import Info


class RequireScope(BasePermission):
    """Refuse the field unless the caller has ``scope`` (``admin`` has every scope)."""

    def __init__(self, scope: str) -> None:
        self.scope = scope

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        principal = context_of(info).principal
        if principal is None:
            raise ApiError(
                UNAUTHENTICATED,
                f"this needs the {self.scope!r} scope: send 'Authorization: Bearer <login token or API key>'",
            )
        if not principal.allows(self.scope):
            granted = ", ".join(sorted(principal.scopes)) or "none"
            raise ApiError(FORBIDDEN, f"this needs the {self.scope!r} scope (this credential has: {granted})")
        return True


def _options(scope: str, description: str) -> dict[str, Any]:
    return {
        "description": f"{description}\n\nNeeds the `{scope}` scope.",
        # No schema directive: it would print one per permission class, not per scope.
        "extensions": [PermissionExtension([RequireScope(scope)], use_directives=False)],
    }


def scoped_field(scope: str, description: str, **kwargs: Any) -> Any:
    return strawberry.field(**_options(scope, description), **kwargs)


def scoped_mutation(scope: str, description: str, **kwargs: Any) -> Any:
    return strawberry.mutation(**_options(scope, description), **kwargs)


def scoped_subscription(scope: str, description: str, **kwargs: Any) -> Any:
    return strawberry.subscription(**_options(scope, description), **kwargs)


def required_scope(schema: strawberry.Schema, type_name: str, field_name: str) -> str | None:
    """The scope the field ``type_name.field_name`` (GraphQL names) needs, or None if anyone may use it."""
    definition = schema.get_type_by_name(type_name)
    if definition is None or not hasattr(definition, "fields"):
        raise LookupError(f"no object type {type_name!r} in the schema")
    for field in definition.fields:
        if schema.config.name_converter.get_graphql_name(field) != field_name:
            continue
        for extension in field.extensions:
            if isinstance(extension, PermissionExtension):
                for permission in extension.permissions:
                    if isinstance(permission, RequireScope):
                        return permission.scope
        return None
    raise LookupError(f"no field {type_name}.{field_name} in the schema")
