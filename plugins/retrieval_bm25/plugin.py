"""Registers the BM25 retriever under the name ``bm25`` (the default ``retrieval.retriever``)."""

from __future__ import annotations

from collections.abc import Callable

from otvet import hookimpl
from otvet.core.retrieval import RetrieverFactory
from otvet.plugins.retrieval_bm25.index import BM25Retriever


@hookimpl
def register_retrievers(register: Callable[[str, RetrieverFactory], None]) -> None:
    register("bm25", BM25Retriever)
