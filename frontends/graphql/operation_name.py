"""A document with several operations must say which one to run.

The GraphQL specification (6.1, GetOperation) makes a request error of a document with more than one
operation and no ``operationName``; strawberry runs the first one instead. A client that sends two
operations without naming one has a bug, and running whichever comes first would hide it (or run a
mutation it did not mean), so the request is refused before anything runs.
"""

from __future__ import annotations

from collections.abc import Iterator

from graphql import GraphQLError, OperationDefinitionNode
from strawberry.extensions import SchemaExtension

from otvet.frontends.graphql.errors import BAD_REQUEST

MESSAGE = "The document has several operations: say which one to run with `operationName`."


class RequireOperationName(SchemaExtension):
    """Refuses an unnamed choice among several operations, before validation."""

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        # ``provided_operation_name`` is an InitVar: strawberry keeps the request's value only privately, and
        # its public ``operation_name`` falls back to the first operation's name.
        named = getattr(context, "_provided_operation_name", None) is not None
        if context.pre_execution_errors is None and not named and document is not None:
            operations = sum(isinstance(d, OperationDefinitionNode) for d in document.definitions)
            if operations > 1:
                context.pre_execution_errors = [GraphQLError(MESSAGE, extensions={"code": BAD_REQUEST})]
        yield
