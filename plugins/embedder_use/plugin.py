"""Registers the local embedder under the name ``use`` (the default ``OTVET_RETRIEVAL__EMBEDDER``).

The encoder's weights take a second and about 100 MB to load: the factory imports nothing heavy, and the
weights are loaded by the first process that embeds (building a version, or answering a question).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from otvet import hookimpl

if TYPE_CHECKING:
    from otvet.core.app import Otvet
    from otvet.core.embeddings import Embedder, EmbedderFactory


def use_embedder(otvet: Otvet) -> Embedder:
    from otvet.plugins.embedder_use.embedder import UniversalSentenceEncoder

    return UniversalSentenceEncoder()


@hookimpl
def register_embedders(register: Callable[[str, EmbedderFactory], None]) -> None:
    register("use", use_embedder)
