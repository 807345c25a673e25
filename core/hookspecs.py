"""Every hook a plugin can implement, grouped by lifecycle. docs/plugin_hooks.md documents each one.

Hooks are synchronous and cheap: they register objects (providers, retrievers, parsers...) whose async
methods do the real work. Every hook may take ``otvet`` (the running :class:`otvet.core.app.Otvet`), and
pluggy lets an implementation accept any subset of a hook's parameters, so new parameters never break
existing plugins.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import click
    from starlette.routing import BaseRoute

    from otvet.core.app import Otvet
    from otvet.core.embeddings import EmbedderFactory
    from otvet.core.jobs import JobHandler
    from otvet.core.llm import ProviderFactory
    from otvet.core.retrieval import RetrieverFactory
    from otvet.core.sources import SourceType
    from otvet.core.transcription import TranscriberFactory
    from otvet.core.types import Failure, Final, Refusal, Turn

hookspec = pluggy.HookspecMarker("otvet")


# --- registration: things with names, chosen by settings -------------------------------------------------


@hookspec
def register_providers(register: Callable[[str, ProviderFactory], None], otvet: Otvet) -> None:
    """Register LLM providers: ``register(name, factory)`` where ``factory(otvet)`` returns a Provider."""


@hookspec
def register_transcribers(register: Callable[[str, TranscriberFactory], None], otvet: Otvet) -> None:
    """Register speech-to-text services for voice questions: ``register(name, factory)`` where
    ``factory(otvet)`` returns a Transcriber."""


@hookspec
def register_retrievers(register: Callable[[str, RetrieverFactory], None], otvet: Otvet) -> None:
    """Register retrievers: ``register(name, factory)`` where ``factory(otvet)`` returns a Retriever."""


@hookspec
def register_embedders(register: Callable[[str, EmbedderFactory], None], otvet: Otvet) -> None:
    """Register embedders: ``register(name, factory)`` where ``factory(otvet)`` returns an Embedder."""


@hookspec
def register_source_types(register: Callable[[SourceType], None], otvet: Otvet) -> None:
    """Register training-source types (parsers): ``register(source_type)``; its ``name`` must be unique."""


@hookspec
def register_storage(register: Callable[..., None], otvet: Otvet) -> None:
    """Register storage backends: ``register(name, factory, roles=None)`` where ``factory(otvet)`` returns
    a backend implementing the role protocols of core/store.py named in ``roles`` (None: every role, i.e. a
    whole :class:`~otvet.core.store.Store`). Settings choose a backend per role (docs/storage.md#roles)."""


@hookspec
def register_job_types(register: Callable[[str, JobHandler], None], otvet: Otvet) -> None:
    """Register background job types: ``register(name, handler)``, ``async def handler(otvet, job)``."""


@hookspec
def register_locale_dirs(register: Callable[[Path], None], otvet: Otvet) -> None:
    """Register gettext catalog folders (``DIR/<lang>/LC_MESSAGES/messages.po``) with user-facing strings."""


# --- per turn ---------------------------------------------------------------------------------------------


@hookspec
def review_question(
    question: str, turn: Turn, language: str, otvet: Otvet
) -> str | Refusal | Awaitable[str | Refusal | None] | None:
    """Moderate or rewrite a question before it is stored and answered: return None to leave it, another
    text to store and answer instead, or a :class:`~otvet.core.types.Refusal`. Plugins review in turn, each
    seeing the text the one before returned; may return an awaitable (call a moderation service)."""


@hookspec
def answer_finished(turn: Turn, event: Final | Failure, otvet: Otvet) -> Awaitable[None] | None:
    """Observe every finished turn, answered (``Final``) or not (``Failure``), just before the frontend gets
    the event: analytics, audit logs, webhooks. May return an awaitable; keep it quick (start a task for
    slow work). A failing observer is logged and never reaches the user."""


@hookspec(firstresult=True)
def detect_language(text: str, hint: str | None, languages: tuple[str, ...], otvet: Otvet) -> str | None:
    """Return the language code (one of ``languages``) ``text`` is written in, or None to defer."""


# --- lifecycle --------------------------------------------------------------------------------------------


@hookspec
def startup(otvet: Otvet) -> Awaitable[None] | None:
    """Run when Otvet starts, after storage is connected; may return an awaitable, which is awaited."""


@hookspec
def shutdown(otvet: Otvet) -> Awaitable[None] | None:
    """Run when Otvet stops, before storage is closed; may return an awaitable, which is awaited."""


# --- surfaces: HTTP routes and CLI commands ---------------------------------------------------------------


@hookspec
def register_routes(register: Callable[[BaseRoute], None], otvet: Otvet) -> None:
    """Add Starlette routes (``Route``, ``WebSocketRoute``, ``Mount``) to the HTTP app."""


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add commands to the ``otvet`` CLI: decorate functions with ``@cli.command()``."""


@hookspec
def register_graphql(register: Callable[..., None]) -> None:
    """Add fields to the GraphQL API: ``register(query=..., mutation=..., subscription=...)``, each a
    strawberry type whose fields join ``Query``, ``Mutation`` or ``Subscription`` (any of the three may be
    left out). Field names must not clash with Otvet's or another plugin's. Import strawberry inside the
    implementation: the hook is called only when the GraphQL API is built."""


def hook_names() -> list[str]:
    """The names of every hook defined here, in definition order (used by the docs and meta-tests)."""
    return [name for name, value in globals().items() if _is_hookspec(value)]


def _is_hookspec(value: Any) -> bool:
    return callable(value) and hasattr(value, "otvet_spec")
