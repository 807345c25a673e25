"""Remember parsed documents and documents that passed validation, so a repeated operation skips both.

An integrator sends the same few documents over and over with different variables; parsing and validating
one (graphql-core's rules and :mod:`~otvet.frontends.graphql.limits`) costs more CPU than answering the
question. Strawberry's ``ParserCache``/``ValidationCache`` cannot serve here: the limits make fresh rule
classes per operation, which never hit an ``lru_cache`` keyed on them, and the cost limit depends on
variables (``first: $n``).

What is remembered, per schema (so per set of limits):

* the parsed document of a query text (at most :data:`MAX_DOCUMENTS`, least recently used dropped);
* that a query text passed validation *with no error* for the integer variables it was sent with: those
  are the only variables any rule reads (a ``first: $n`` page), a non-integer or missing one counting as
  the largest page. A document with errors is validated again every time, so no error object is ever
  shared between requests.

Memory stays bounded by the entry count and the body and token limits, whatever a client sends.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Iterator, Mapping
from typing import Any, Generic, TypeVar

from strawberry.extensions import SchemaExtension

#: Documents (and validated variants) remembered per schema.
MAX_DOCUMENTS = 256

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Lru(Generic[K, V]):
    """A small least-recently-used mapping (one event loop uses it: no lock)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


class KnownDocuments:
    """The parsed and the validated documents of one schema."""

    def __init__(self, size: int = MAX_DOCUMENTS) -> None:
        self.parsed: Lru[str, Any] = Lru(size)
        self.valid: Lru[tuple[str, tuple[tuple[str, int], ...]], bool] = Lru(size)


def _integer_variables(variables: object) -> tuple[tuple[str, int], ...]:
    if not isinstance(variables, Mapping):
        return ()
    # bool is an int subclass, but the cost rule counts a boolean like any non-number.
    return tuple(sorted((k, v) for k, v in variables.items() if type(v) is int))


class CachedDocuments(SchemaExtension):
    """Parse and validate each document once (see the module's docstring); one instance per operation."""

    def __init__(self, known: KnownDocuments) -> None:
        self.known = known

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        query = context.query
        if query and context.graphql_document is None:
            context.graphql_document = self.known.parsed.get(query)
        yield
        if query and context.graphql_document is not None:
            self.known.parsed.put(query, context.graphql_document)

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        key = (context.query or "", _integer_variables(context.variables))
        if context.query and context.pre_execution_errors is None and self.known.valid.get(key):
            context.pre_execution_errors = []  # strawberry then skips validation
            yield
            return
        yield
        if context.query and context.pre_execution_errors == []:
            self.known.valid.put(key, True)
