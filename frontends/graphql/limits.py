"""Abuse limits checked before anything runs: depth, aliases, cost, and (optionally) no introspection.

Each is a graphql-core validation rule, so a refused document is a request error (400 with
``application/graphql-response+json``) with a stable code: ``QUERY_TOO_DEEP``, ``TOO_MANY_ALIASES``,
``QUERY_TOO_COMPLEX``, ``INTROSPECTION_DISABLED``. The token limit (``QUERY_TOO_LARGE``) is the parser's
(:class:`Limits` sets it), and the body size limit the HTTP app's (413).

Introspection fields (``__schema``, ``__type``) count for neither depth nor cost: IDEs send deep
introspection queries, and introspection has its own switch (``graphql.introspection``) and the token limit.

**Cost**: every field costs 1 plus what its selection costs. A field with a ``first`` argument (a page)
multiplies its items (``nodes``) by ``first``: the literal value, the variable's value (the largest page,
100, when the variable is not sent), or the argument's default when left out. Any other list multiplies its
selection by :data:`LIST_FACTOR`.
Fragments are counted where they are spread, each computed once, so a document cannot make this check slow.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
    VariableNode,
    get_named_type,
)
from strawberry.extensions import SchemaExtension

from otvet.config.settings import GraphQLSettings
from otvet.frontends.graphql.errors import (
    INTROSPECTION_DISABLED,
    QUERY_TOO_COMPLEX,
    QUERY_TOO_DEEP,
    TOO_MANY_ALIASES,
)
from otvet.frontends.graphql.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE

#: How many items a list without ``first`` is assumed to hold (sources of an answer, scopes...).
LIST_FACTOR = 10
#: The fields of a connection type that hold its items: a page multiplies only these.
ITEM_FIELDS = frozenset({"nodes", "edges"})
INTROSPECTION_FIELDS = frozenset({"__schema", "__type"})


def _fragments(context: ValidationContext) -> dict[str, FragmentDefinitionNode]:
    return {
        definition.name.value: definition
        for definition in context.document.definitions
        if isinstance(definition, FragmentDefinitionNode)
    }


def _operations(context: ValidationContext) -> list[OperationDefinitionNode]:
    return [d for d in context.document.definitions if isinstance(d, OperationDefinitionNode)]


class _Walker:
    """Depth and cost of selection sets, each fragment computed once (a cycle counts as nothing)."""

    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: dict[str, FragmentDefinitionNode],
        variables: Mapping[str, Any] | None = None,
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables or {}
        self._depths: dict[str, int] = {}
        self._costs: dict[str, int] = {}

    def _fragment(
        self, name: str, memo: dict[str, int], compute: Callable[[FragmentDefinitionNode], int]
    ) -> int:
        if name not in memo:
            fragment = self.fragments.get(name)
            memo[name] = 0  # while in progress: a cycle (reported by graphql-core's own rule) adds nothing
            memo[name] = compute(fragment) if fragment is not None else 0
        return memo[name]

    def depth(self, selection_set: SelectionSetNode | None) -> int:
        deepest = 0
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FieldNode):
                if selection.name.value.startswith("__"):
                    continue
                found = 1 + self.depth(selection.selection_set)
            elif isinstance(selection, InlineFragmentNode):
                found = self.depth(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                found = self._fragment(
                    selection.name.value, self._depths, lambda f: self.depth(f.selection_set)
                )
            else:  # pragma: no cover - graphql-core has no other selection
                continue
            deepest = max(deepest, found)
        return deepest

    def cost(self, selection_set: SelectionSetNode | None, parent: Any) -> int:
        total = 0
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FieldNode):
                total += self._field_cost(selection, parent)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                inner = self.schema.get_type(condition.name.value) if condition else parent
                total += self.cost(selection.selection_set, inner or parent)
            elif isinstance(selection, FragmentSpreadNode):
                total += self._fragment(selection.name.value, self._costs, self._fragment_cost)
        return total

    def _fragment_cost(self, fragment: FragmentDefinitionNode) -> int:
        return self.cost(fragment.selection_set, self.schema.get_type(fragment.type_condition.name.value))

    def _field_cost(self, node: FieldNode, parent: Any) -> int:
        name = node.name.value
        if name.startswith("__"):
            return 0 if name in INTROSPECTION_FIELDS else 1
        fields = parent.fields if isinstance(parent, GraphQLObjectType | GraphQLInterfaceType) else {}
        definition = fields.get(name)
        if definition is None:  # unknown: graphql-core's own rules report it
            return 1
        child = get_named_type(definition.type)
        if "first" in definition.args:
            items = self._page_size(node, definition.args["first"].default_value)
            inner = 0
            for selection in node.selection_set.selections if node.selection_set else ():
                cost = self.cost(SelectionSetNode(selections=(selection,)), child)
                is_items = isinstance(selection, FieldNode) and selection.name.value in ITEM_FIELDS
                inner += cost * items if is_items else cost
            return 1 + inner
        inner = self.cost(node.selection_set, child)
        # A page's items were multiplied by the page field (``first``) already.
        in_connection = name in ITEM_FIELDS and getattr(parent, "name", "").endswith("Connection")
        is_list = isinstance(_nullable(definition.type), GraphQLList)
        return 1 + inner * (LIST_FACTOR if is_list and not in_connection else 1)

    def _page_size(self, node: FieldNode, default: Any) -> int:
        for argument in node.arguments or ():
            if argument.name.value != "first":
                continue
            value: Any = None
            if isinstance(argument.value, IntValueNode):
                value = int(argument.value.value)
            elif isinstance(argument.value, VariableNode):
                value = self.variables.get(argument.value.name.value)
            # Not a number (coercion will refuse it) or not sent (a default we do not look up): count the
            # largest page, never less.
            return max(value, 0) if isinstance(value, int) and not isinstance(value, bool) else MAX_PAGE_SIZE
        return default if isinstance(default, int) else DEFAULT_PAGE_SIZE


def _nullable(type_: Any) -> Any:
    return type_.of_type if isinstance(type_, GraphQLNonNull) else type_


def _root(schema: GraphQLSchema, operation: OperationDefinitionNode) -> Any:
    return {
        OperationType.QUERY: schema.query_type,
        OperationType.MUTATION: schema.mutation_type,
        OperationType.SUBSCRIPTION: schema.subscription_type,
    }[operation.operation]


def _error(message: str, node: Any, code: str, **details: int) -> GraphQLError:
    return GraphQLError(message, node, extensions={"code": code, **details})


# A rule class per limit value, made once: making a class costs more than a small document's whole check.
@functools.cache
def depth_rule(max_depth: int) -> type[ValidationRule]:
    class MaxDepth(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            walker = _Walker(context.schema, _fragments(context))
            for operation in _operations(context):
                depth = walker.depth(operation.selection_set)
                if depth > max_depth:
                    context.report_error(
                        _error(
                            f"The operation is {depth} levels deep; the limit is {max_depth}.",
                            operation,
                            QUERY_TOO_DEEP,
                            depth=depth,
                            maxDepth=max_depth,
                        )
                    )

    return MaxDepth


@functools.cache
def alias_rule(max_aliases: int) -> type[ValidationRule]:
    class MaxAliases(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            self.count = 0

        def enter_field(self, node: FieldNode, *_: Any) -> None:
            if node.alias is not None:
                self.count += 1

        def leave_document(self, node: Any, *_: Any) -> None:
            if self.count > max_aliases:
                self.report_error(
                    _error(
                        f"The document uses {self.count} aliases; the limit is {max_aliases}.",
                        None,
                        TOO_MANY_ALIASES,
                        aliases=self.count,
                        maxAliases=max_aliases,
                    )
                )

    return MaxAliases


def cost_rule(max_cost: int, variables: Mapping[str, Any] | None = None) -> type[ValidationRule]:
    class MaxCost(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            walker = _Walker(context.schema, _fragments(context), variables)
            for operation in _operations(context):
                root = _root(context.schema, operation)
                if root is None:
                    continue  # graphql-core reports an operation type the schema lacks
                cost = walker.cost(operation.selection_set, root)
                if cost > max_cost:
                    context.report_error(
                        _error(
                            f"The operation would cost {cost}; the limit is {max_cost}. Ask for smaller "
                            "pages (first) or fewer nested lists.",
                            operation,
                            QUERY_TOO_COMPLEX,
                            cost=cost,
                            maxCost=max_cost,
                        )
                    )

    return MaxCost


class NoIntrospection(ValidationRule):
    """``__schema`` and ``__type`` are refused; ``__typename`` is not introspection and stays."""

    def enter_field(self, node: FieldNode, *_: Any) -> None:
        if node.name.value in INTROSPECTION_FIELDS:
            self.report_error(
                _error(
                    "Introspection is turned off on this server (graphql.introspection).",
                    node,
                    INTROSPECTION_DISABLED,
                )
            )


def validation_rules(
    settings: GraphQLSettings, variables: Mapping[str, Any] | None = None
) -> list[type[ValidationRule]]:
    """The rules for one operation; ``variables`` (its raw values) let the cost count ``first: $n`` as n."""
    rules = [
        depth_rule(settings.max_depth),
        alias_rule(settings.max_aliases),
        cost_rule(settings.max_cost, variables),
    ]
    if not settings.introspection:
        rules.append(NoIntrospection)
    return rules


class Limits(SchemaExtension):
    """Adds the token limit and this operation's validation rules (one extension per operation)."""

    def __init__(self, settings: GraphQLSettings) -> None:
        self.settings = settings

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        context.parse_options["max_tokens"] = self.settings.max_tokens
        variables = context.variables if isinstance(context.variables, Mapping) else None
        context.validation_rules = (*context.validation_rules, *validation_rules(self.settings, variables))
        yield
