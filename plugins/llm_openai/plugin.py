"""Registers the OpenAI chat provider and the OpenAI embedder, both as ``openai``.

``OTVET_PROVIDER=openai`` (or ``auto`` with a key or server configured) answers with the chat model;
``OTVET_RETRIEVAL__EMBEDDER=openai`` gives chunks vectors for hybrid retrieval.
"""

from __future__ import annotations

from collections.abc import Callable

from otvet import hookimpl
from otvet.core.embeddings import EmbedderFactory
from otvet.core.llm import ProviderFactory
from otvet.plugins.llm_openai.embedder import OpenAIEmbedder
from otvet.plugins.llm_openai.provider import OpenAIProvider


@hookimpl
def register_providers(register: Callable[[str, ProviderFactory], None]) -> None:
    register("openai", OpenAIProvider)


@hookimpl
def register_embedders(register: Callable[[str, EmbedderFactory], None]) -> None:
    register("openai", OpenAIEmbedder)
