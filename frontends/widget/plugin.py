"""The built-in ``widget`` plugin: the web widget's routes (docs/widget.md)."""

from __future__ import annotations

from collections.abc import Callable

from starlette.routing import BaseRoute, Route, WebSocketRoute

from otvet import hookimpl
from otvet.core.app import Otvet

SOCKET_PATH = "/ws/chat"


@hookimpl
def register_routes(register: Callable[[BaseRoute], None], otvet: Otvet) -> None:
    if not otvet.settings.widget.enabled:
        return
    from otvet.frontends.widget.pages import Assets, demo_page
    from otvet.frontends.widget.socket import WidgetHub

    hub = WidgetHub(otvet)
    # Kept where tests (and other plugins) can reach this process's limits.
    otvet.state["widget"] = hub
    assets = Assets(demo_page(otvet.i18n.get(otvet.settings.default_language)))
    register(Route("/", assets.index, methods=["GET", "HEAD"]))
    register(Route("/widget.js", assets.widget_js, methods=["GET", "HEAD"]))
    register(Route("/widget.css", assets.widget_css, methods=["GET", "HEAD"]))
    register(Route("/demo.css", assets.demo_css, methods=["GET", "HEAD"]))
    register(WebSocketRoute(SOCKET_PATH, hub.endpoint))


@hookimpl
def register_graphql(register: Callable[..., None]) -> None:
    from otvet.frontends.widget.graphql import WidgetTokenMutations

    register(mutation=WidgetTokenMutations)
