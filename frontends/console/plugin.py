"""Registers the admin console's routes (``/admin``) unless ``console.enabled`` is off."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from starlette.routing import BaseRoute, Route

from otvet import hookimpl

if TYPE_CHECKING:
    from otvet.core.app import Otvet


@hookimpl
def register_routes(register: Callable[[BaseRoute], None], otvet: Otvet) -> None:
    if not otvet.settings.console.enabled:
        return
    from otvet.frontends.console.routes import Sessions, asset, page

    sessions = Sessions(otvet)
    register(Route("/admin", page, methods=["GET", "HEAD"]))
    register(Route("/admin/assets/{name}", asset, methods=["GET", "HEAD"]))
    register(Route("/admin/session", sessions.endpoint, methods=["GET", "POST", "DELETE"]))
