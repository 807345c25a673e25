"""Every root field is refused without its scope: the fields are enumerated from the live schema.

A new field cannot slip through: each one either needs a scope (and is then tried here with a credential
lacking it, and with none) or is listed in PUBLIC on purpose. Subscriptions are tried over WebSocket.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import websockets
from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
    GraphQLSchema,
    Undefined,
    build_client_schema,
    get_introspection_query,
    get_named_type,
    is_leaf_type,
)

from otvet.frontends.graphql.permissions import required_scope
from otvet.frontends.graphql.schema import build_schema
from tests.frontends.graphql.client import Api, codes
from tests.frontends.graphql.wsclient import subscribe_once

#: Fields anyone may use, on purpose.
PUBLIC = {("Query", "me"), ("Mutation", "login")}
#: Which credentials lack each scope.
LACKING = {"admin": ("ask", "read"), "read": ("ask",), "ask": ("read",)}
SAMPLES = {
    "Int": "1",
    "Float": "1.5",
    "String": '"x"',
    "Boolean": "false",
    "ID": '"1"',
    "DateTime": '"2024-01-01T00:00:00Z"',
    "JSON": "{}",
}


def _literal(type_: GraphQLInputType, uploads: list[str]) -> str:
    """A valid literal for ``type_``; an ``Upload`` becomes a variable whose file is sent as multipart."""
    if isinstance(type_, GraphQLNonNull):
        return _literal(type_.of_type, uploads)
    if isinstance(type_, GraphQLList):
        return f"[{_literal(type_.of_type, uploads)}]"
    if isinstance(type_, GraphQLEnumType):
        return next(iter(type_.values))
    if isinstance(type_, GraphQLInputObjectType):
        required = {n: f for n, f in type_.fields.items() if isinstance(f.type, GraphQLNonNull)}
        return "{" + ", ".join(f"{n}: {_literal(f.type, uploads)}" for n, f in required.items()) + "}"
    assert isinstance(type_, GraphQLScalarType)
    if type_.name == "Upload":
        uploads.append(f"file{len(uploads)}")
        return f"${uploads[-1]}"
    return SAMPLES[type_.name]


def operation(kind: str, name: str, field: GraphQLField) -> tuple[str, list[str]]:
    """A document calling ``name`` with every required argument, and the upload variables it uses."""
    uploads: list[str] = []
    args = [
        f"{arg_name}: {_literal(arg.type, uploads)}"
        for arg_name, arg in field.args.items()
        if isinstance(arg.type, GraphQLNonNull) and arg.default_value is Undefined
    ]
    call = f"{name}({', '.join(args)})" if args else name
    selection = "" if is_leaf_type(get_named_type(field.type)) else " { __typename }"
    variables = f"({', '.join(f'${u}: Upload!' for u in uploads)})" if uploads else ""
    return f"{kind.lower()} Try{variables} {{ {call}{selection} }}", uploads


@pytest.fixture
async def live_schema(sqlite_api: Api) -> GraphQLSchema:
    """The schema as a client sees it, by introspection of the running API."""
    return build_client_schema(await sqlite_api.data(get_introspection_query(), key=None))


def root_fields(schema: GraphQLSchema) -> list[tuple[str, str, GraphQLField]]:
    roots = [schema.query_type, schema.mutation_type, schema.subscription_type]
    return [(root.name, name, field) for root in roots if root for name, field in root.fields.items()]


def test_every_root_field_needs_a_scope_unless_it_is_public_on_purpose(live_schema: GraphQLSchema) -> None:
    schema = build_schema()
    unguarded = [
        f"{kind}.{name}"
        for kind, name, _ in root_fields(live_schema)
        if (kind, name) not in PUBLIC and required_scope(schema, kind, name) is None
    ]
    assert not unguarded, f"give these a scope (permissions.scoped_*) or list them in PUBLIC: {unguarded}"
    for kind, name, field in root_fields(live_schema):
        scope = required_scope(schema, kind, name)
        if scope is not None:  # the SDL documents it
            assert f"Needs the `{scope}` scope." in (field.description or ""), f"{kind}.{name}"
    # The table below must see the admin fields the issue names.
    admin = {n for kind, n, _ in root_fields(live_schema) if required_scope(schema, kind, n) == "admin"}
    assert {"sources", "knowledgeVersions", "jobs", "apiKeys", "admins", "retrain", "createApiKey"} <= admin


async def _call(api: Api, document: str, uploads: list[str], key: str | None) -> dict[str, Any]:
    if uploads:
        response = await api.upload(
            document,
            {u: (f"{u}.md", b"# Title\n\nSome text.\n") for u in uploads},
            dict.fromkeys(uploads),
            {u: [f"variables.{u}"] for u in uploads},
            key=key,
        )
    else:
        response = await api.post(document, key=key)
    assert response.status_code == 200, f"{document}: {response.text}"
    return response.json()


async def test_every_query_and_mutation_is_refused_without_its_scope(
    sqlite_api: Api, live_schema: GraphQLSchema
) -> None:
    schema = build_schema()
    otvet = sqlite_api.otvet
    keys_before = [(k.id, k.revoked_at) for k in await otvet.accounts.list_api_keys()]
    tried: list[str] = []
    for kind, name, field in root_fields(live_schema):
        scope = required_scope(schema, kind, name)
        if scope is None or kind == "Subscription":
            continue
        document, uploads = operation(kind, name, field)
        for key, expected in [(None, "UNAUTHENTICATED")] + [(k, "FORBIDDEN") for k in LACKING[scope]]:
            body = await _call(sqlite_api, document, uploads, key)
            assert codes(body) == [expected], f"{document} with {key or 'no'} key: {json.dumps(body)}"
            assert body["errors"][0]["path"] == [name]
            assert body["data"] is None or body["data"].get(name) is None
            tried.append(f"{name}/{key}")
    assert len(tried) > 40
    # Nothing a refused mutation would have done happened.
    assert [(k.id, k.revoked_at) for k in await otvet.accounts.list_api_keys()] == keys_before
    assert await otvet.accounts.list_admins() == []
    assert await otvet.store.list_sources() == []
    assert await otvet.store.list_versions() == []


async def test_every_subscription_is_refused_without_its_scope(
    sqlite_api: Api, live_schema: GraphQLSchema, ws_url: str
) -> None:
    schema = build_schema()
    subscriptions = [(n, f) for k, n, f in root_fields(live_schema) if k == "Subscription"]
    assert {name for name, _ in subscriptions} == {"askStream", "jobProgress"}
    for name, field in subscriptions:
        scope = required_scope(schema, "Subscription", name)
        assert scope is not None
        document, _ = operation("Subscription", name, field)
        for key, expected in [(None, "UNAUTHENTICATED")] + [(k, "FORBIDDEN") for k in LACKING[scope]]:
            credential = None if key is None else f"Bearer {sqlite_api.keys[key]}"
            messages = await subscribe_once(ws_url, document, credential=credential)
            errors = [m for m in messages if m["type"] in ("error", "next") and "payload" in m]
            found = [e.get("extensions", {}).get("code") for m in errors for e in _errors(m["payload"])]
            assert found == [expected], f"{document} with {key or 'no'} key: {messages}"


def _errors(payload: Any) -> list[dict[str, Any]]:
    return payload if isinstance(payload, list) else payload.get("errors", [])


async def test_a_websocket_with_a_bad_credential_is_closed(ws_url: str) -> None:
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await subscribe_once(ws_url, "subscription { __typename }", credential="Bearer otv_dead_beef")
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
