"""No NUL characters (U+0000) in any text a GraphQL request carries.

PostgreSQL's text types cannot hold U+0000 at all: such a value failed deep in the database driver as an
internal error (SQLite stored it). No language or name needs the character, so every string argument and
variable is checked before anything runs, and a request carrying one is a ``BAD_USER_INPUT`` request error
on both databases alike. Files (uploads) are not strings: their parsers refuse binary content themselves.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from graphql import DocumentNode, GraphQLError, StringValueNode, Visitor, visit
from strawberry.extensions import SchemaExtension

from otvet.frontends.graphql.errors import BAD_USER_INPUT

NUL = "\x00"
MESSAGE = "Text must not contain NUL characters (U+0000): the database cannot store them."


def _has_nul(value: object) -> bool:
    if isinstance(value, str):
        return NUL in value
    if isinstance(value, Mapping):
        return any(_has_nul(key) or _has_nul(item) for key, item in value.items())
    if isinstance(value, list | tuple):
        return any(_has_nul(item) for item in value)
    return False


def _document_has_nul(query: str | None, document: DocumentNode | None) -> bool:
    """A ``"\\u0000"`` escape in one of the document's own string literals."""
    if query is not None and "\\u" not in query and NUL not in query:
        # A literal can spell U+0000 only as an escape (``\\u0000``, ``\\u{0}``) or the raw character:
        # the text has neither, so no walk over the document (which cost as much as a database read).
        return False
    found = False

    class Finder(Visitor):
        def enter_string_value(self, node: StringValueNode, *_: Any) -> None:
            nonlocal found
            found = found or NUL in node.value

    if document is not None:
        visit(document, Finder())
    return found


class RefuseNul(SchemaExtension):
    """Refuses the operation before validation. Not a validation rule: validated documents are cached by
    their text, and the variables (which carry most texts) change from one request to the next."""

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        variables = context.variables if isinstance(context.variables, Mapping) else {}
        if context.pre_execution_errors is None and (
            _has_nul(dict(variables)) or _document_has_nul(context.query, context.graphql_document)
        ):
            # Set before validation runs: strawberry then reports it as the request's error.
            context.pre_execution_errors = [GraphQLError(MESSAGE, extensions={"code": BAD_USER_INPUT})]
        yield
