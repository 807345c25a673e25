"""Every string argument of every GraphQL query and mutation, read from the schema itself, given a value no
field can take (far too long, or holding NUL): the answer is a calm request error or a normal result on
both databases, never an internal error, and nothing is stored. A new argument is covered the day it is
added."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from graphql import (
    GraphQLArgument,
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
    get_named_type,
    is_leaf_type,
)

from otvet.frontends.graphql.schema import build_schema
from tests.frontends.graphql.client import Api, codes
from tests.security.payloads import VERY_LONG, table_counts

HOSTILE = {"long": VERY_LONG, "nul": "a\x00b"}
#: The errors a hostile value may get: refused, or not allowed for this key, or naming nothing that exists.
CALM = {"BAD_USER_INPUT", "UNAUTHENTICATED", "FORBIDDEN", "NOT_FOUND"}
#: Arguments of these types carry no text (files are checked by the upload and parser tests).
SKIPPED_TYPES = {"Upload"}
#: What asking stores: a question that lost its NUL is answered, as on every other frontend.
STORED_BY_ASKING = {"otvet_message", "otvet_user", "otvet_conversation"}
#: What every question adds to, refused ones too: the overview's daily counts (no text of it).
COUNTED = {"otvet_activity", "otvet_answer_times"}


@dataclass(frozen=True, slots=True)
class Probe:
    operation: str  # "query" or "mutation"
    field: str
    #: Where the hostile value goes: the argument, then the input field inside it, if any.
    path: tuple[str, ...]
    document: str
    variables: dict[str, Any]


def _minimal(type_: Any) -> Any:
    """The smallest valid value of an input type (only required input fields set)."""
    if isinstance(type_, GraphQLNonNull):
        return _minimal(type_.of_type)
    if isinstance(type_, GraphQLList):
        return [_minimal(type_.of_type)]
    if isinstance(type_, GraphQLEnumType):
        return next(iter(type_.values))
    if isinstance(type_, GraphQLInputObjectType):
        return {
            name: _minimal(field.type)
            for name, field in type_.fields.items()
            if isinstance(field.type, GraphQLNonNull) and field.default_value is None
        }
    name = type_.name
    return {"Int": 1, "Float": 1.0, "Boolean": False, "ID": "1"}.get(name, "x")


def _strings(type_: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], bool]]:
    """Paths to the String values inside an input type, and whether each is a list of strings."""
    inner = type_.of_type if isinstance(type_, GraphQLNonNull) else type_
    listed = isinstance(inner, GraphQLList)
    named = get_named_type(type_)
    if isinstance(named, GraphQLScalarType) and named.name == "String":
        yield path, listed
    elif isinstance(named, GraphQLInputObjectType):
        for name, field in named.fields.items():
            yield from _strings(field.type, (*path, name))


def _set(value: Any, path: tuple[str, ...], hostile: Any) -> Any:
    if isinstance(value, list):
        return [_set(value[0] if value else {}, path, hostile)]
    if not path:
        return hostile
    return {**value, path[0]: _set(value.get(path[0], {}), path[1:], hostile)}


def probes(hostile: str) -> Iterator[Probe]:
    schema = build_schema()._schema
    for operation, root in (("query", schema.query_type), ("mutation", schema.mutation_type)):
        assert root is not None
        for field_name, field in root.fields.items():
            yield from _field_probes(operation, field_name, field, hostile)


def _field_probes(operation: str, name: str, field: GraphQLField, hostile: str) -> Iterator[Probe]:
    arguments: dict[str, GraphQLArgument] = field.args
    if any(get_named_type(a.type).name in SKIPPED_TYPES for a in arguments.values()):
        return
    selection = "" if is_leaf_type(get_named_type(field.type)) else " { __typename }"
    declared = ", ".join(f"${arg}: {argument.type}" for arg, argument in arguments.items())
    passed = ", ".join(f"{arg}: ${arg}" for arg in arguments)
    document = (
        f"{operation}({declared}) {{ {name}({passed}){selection} }}"
        if arguments
        else f"{operation} {{ {name}{selection} }}"
    )
    base = {arg: _minimal(argument.type) for arg, argument in arguments.items()}
    for arg, argument in arguments.items():
        for path, listed in _strings(argument.type):
            value = [hostile] if listed else hostile
            variables = {**base, arg: _set(base[arg] if path else None, path, value)}
            yield Probe(operation, name, (arg, *path), document, variables)


async def _check_all(api: Api, hostile: str) -> list[str]:
    found = []
    for probe in probes(hostile):
        where = f"{probe.field}{list(probe.path)}"
        before = await table_counts(api.otvet)
        for key in ("admin", "ask", "read"):
            response = await api.post(probe.document, probe.variables, key=key)
            body = response.json()
            errors = codes(body)
            if response.status_code != 200 or set(errors) - CALM:
                messages = [error.get("message", "")[:120] for error in body.get("errors", [])]
                found.append(f"{where}: {response.status_code} {errors} {messages}")
            if not ({"UNAUTHENTICATED", "FORBIDDEN"} & set(errors)):
                break  # this key may call it: what it answered is what counts
        after = await table_counts(api.otvet)
        # A hostile value stores nothing, but for the question and answer of an ask whose NUL was dropped.
        changed = {table for table in after if after[table] != before[table]} - STORED_BY_ASKING - COUNTED
        found += [f"{where}: stored in {table}" for table in sorted(changed)]
    return found


async def test_over_long_strings_never_cause_an_internal_error(api: Api) -> None:
    assert await _check_all(api, HOSTILE["long"]) == []


async def test_nul_in_any_string_never_causes_an_internal_error(api: Api) -> None:
    assert await _check_all(api, HOSTILE["nul"]) == []


def test_the_probes_cover_every_string_argument() -> None:
    fields = {probe.field for probe in probes("x")}
    # A sample of each kind: top-level, inside an input object, a list of strings.
    assert {"removeSources", "addTextSource", "ask", "login", "createApiKey", "conversations"} <= fields
    paths = {(probe.field, probe.path) for probe in probes("x")}
    assert ("removeSources", ("names",)) in paths
    assert ("ask", ("input", "question")) in paths


def _openai_bodies(hostile: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """/v1/chat/completions bodies with ``hostile`` in each string field in turn."""

    def body(**changes: Any) -> dict[str, Any]:
        return {"model": "otvet", "messages": [{"role": "user", "content": "Hi?"}], **changes}

    yield "model", body(model=hostile)
    yield "user", body(user=hostile)
    yield "metadata", body(metadata={"k": hostile})
    yield "content", body(messages=[{"role": "user", "content": hostile}])
    yield "content part", body(messages=[{"role": "user", "content": [{"type": "text", "text": hostile}]}])
    yield (
        "earlier turn",
        body(messages=[{"role": "assistant", "content": hostile}, {"role": "user", "content": "Hi?"}]),
    )
    yield "role", body(messages=[{"role": hostile, "content": "Hi?"}])


async def test_openai_endpoint_strings_never_cause_an_internal_error(api: Api) -> None:
    found = []
    for hostile in HOSTILE.values():
        for field, body in _openai_bodies(hostile):
            response = await api.client.post("/v1/chat/completions", json=body, headers=api.headers("ask"))
            # Answered (a question's NUL is dropped, as everywhere), refused saying which field, or (a
            # model name) no such model.
            if response.status_code not in (200, 400, 404):
                found.append(f"{field}: {response.status_code} {response.text[:200]}")
            elif response.status_code != 200 and not response.json()["error"]["message"]:
                found.append(f"{field}: a {response.status_code} that says nothing")
    assert found == []


async def test_a_nul_in_the_openai_user_is_refused_not_merged_with_another_user(api: Api) -> None:
    body = {"model": "otvet", "user": "a\x00b", "messages": [{"role": "user", "content": "Hi?"}]}
    before = await table_counts(api.otvet)
    response = await api.client.post("/v1/chat/completions", json=body, headers=api.headers("ask"))
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == "user" and "NUL" in error["message"]
    assert await table_counts(api.otvet) == before
