"""The ``graphql`` built-in plugin: the GraphQL API at ``/graphql`` (docs/graphql.md)."""

from __future__ import annotations

from collections.abc import Callable

from starlette.routing import BaseRoute, Route, WebSocketRoute

from otvet import hookimpl
from otvet.core.app import Otvet

PATH = "/graphql"


@hookimpl
def register_routes(register: Callable[[BaseRoute], None], otvet: Otvet) -> None:
    # Imported here: building the plugin manager (every CLI command does) should not load strawberry.
    from otvet.frontends.graphql.app import GraphQLApp
    from otvet.frontends.graphql.schema import build_schema, plugin_types

    app = GraphQLApp(otvet, build_schema(otvet.settings.graphql, plugin_types(otvet.pm)))
    register(Route(PATH, app, methods=["GET", "POST"]))
    if otvet.settings.graphql.graphiql:
        from otvet.frontends.graphql.ide import ASSETS_PATH, ide_asset

        register(Route(ASSETS_PATH + "/{name}", ide_asset, methods=["GET"]))
    register(WebSocketRoute(PATH, app))
