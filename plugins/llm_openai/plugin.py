"""Registers the OpenAI chat provider and the OpenAI embedder, both as ``openai``.

``OTVET_PROVIDER=openai`` (or ``auto`` with a key or server configured) answers with the chat model;
``OTVET_RETRIEVAL__EMBEDDER=openai`` gives chunks vectors for hybrid retrieval.

The ``openai`` package takes about a second to import. The factories import it when they are called, so
commands and deployments that never use OpenAI (``otvet --help``, the extractive default) do not pay for it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from otvet import hookimpl

if TYPE_CHECKING:
    from otvet.core.app import Otvet
    from otvet.core.embeddings import Embedder, EmbedderFactory
    from otvet.core.llm import Provider, ProviderFactory


def openai_provider(otvet: Otvet) -> Provider:
    from otvet.plugins.llm_openai.provider import OpenAIProvider

    return OpenAIProvider(otvet)


def openai_embedder(otvet: Otvet) -> Embedder:
    from otvet.plugins.llm_openai.embedder import OpenAIEmbedder

    return OpenAIEmbedder(otvet)


@hookimpl
def register_providers(register: Callable[[str, ProviderFactory], None]) -> None:
    register("openai", openai_provider)


@hookimpl
def register_embedders(register: Callable[[str, EmbedderFactory], None]) -> None:
    register("openai", openai_embedder)
