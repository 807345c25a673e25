"""Registers the extractive provider under the name ``extractive`` (the default ``OTVET_PROVIDER``)."""

from __future__ import annotations

from collections.abc import Callable

from otvet import hookimpl
from otvet.core.llm import ProviderFactory
from otvet.plugins.llm_extractive.provider import ExtractiveProvider


@hookimpl
def register_providers(register: Callable[[str, ProviderFactory], None]) -> None:
    register("extractive", ExtractiveProvider)
