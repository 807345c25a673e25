"""Registers the OpenAI chat provider and the OpenAI embedder, both as ``openai``, and the ``fine_tune`` job.

``OTVET_PROVIDER=openai`` (or ``auto`` with a key or server configured) answers with the chat model;
``OTVET_RETRIEVAL__EMBEDDER=openai`` gives chunks vectors for hybrid retrieval; ``otvet finetune start``
queues a job that fine-tunes a model on the approved Q&A pairs (the ``startFineTune`` mutation in GraphQL).

The ``openai`` package takes about a second to import. The factories import it when they are called, so
commands and deployments that never use OpenAI (``otvet --help``, the extractive default) do not pay for it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from otvet import hookimpl

if TYPE_CHECKING:
    import click

    from otvet.core.app import Otvet
    from otvet.core.embeddings import Embedder, EmbedderFactory
    from otvet.core.jobs import JobContext, JobHandler
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


async def fine_tune(otvet: Otvet, job: JobContext) -> dict[str, Any]:
    """The ``fine_tune`` job (finetune.py), imported when a worker runs one."""
    from otvet.plugins.llm_openai.finetune import fine_tune as run

    return await run(otvet, job)


@hookimpl
def register_job_types(register: Callable[[str, JobHandler], None]) -> None:
    register("fine_tune", fine_tune)


@hookimpl
def register_commands(cli: click.Group) -> None:
    from otvet.plugins.llm_openai.cli import add_commands

    add_commands(cli)


@hookimpl
def register_graphql(register: Callable[..., None]) -> None:
    from otvet.plugins.llm_openai.graphql import FineTuneMutations

    register(mutation=FineTuneMutations)
