"""The built-in ``openai_api`` plugin: adds the OpenAI-compatible routes to ``otvet serve``."""

from __future__ import annotations

from collections.abc import Callable

from starlette.routing import BaseRoute, Route

from otvet import hookimpl
from otvet.frontends.openai_api.routes import chat_completions, list_models, retrieve_model


@hookimpl
def register_routes(register: Callable[[BaseRoute], None]) -> None:
    register(Route("/v1/chat/completions", chat_completions, methods=["POST"]))
    register(Route("/v1/models", list_models, methods=["GET"]))
    # Model ids may contain slashes elsewhere ("org/model"); a wrong one must still get OpenAI's 404.
    register(Route("/v1/models/{model:path}", retrieve_model, methods=["GET"]))
