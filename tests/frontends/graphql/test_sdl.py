"""docs/schema.graphql is the live schema's SDL, and the documented command regenerates it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from graphql import build_client_schema, get_introspection_query, lexicographic_sort_schema, print_schema
from graphql import build_schema as parse_sdl

from otvet.frontends.graphql.sdl import export_sdl
from tests.frontends.graphql.client import Api

DOCS = Path(__file__).resolve().parents[3] / "docs"
REGENERATE = "python -m otvet.frontends.graphql.sdl > docs/schema.graphql"


def test_the_exported_sdl_in_docs_is_the_live_schema() -> None:
    assert (DOCS / "schema.graphql").read_text(encoding="utf-8") == export_sdl(), (
        f"docs/schema.graphql is out of date: regenerate it with `{REGENERATE}`"
    )


def test_the_documented_command_prints_the_sdl() -> None:
    printed = subprocess.run(
        [sys.executable, "-m", "otvet.frontends.graphql.sdl"], capture_output=True, text=True, check=True
    )
    assert printed.stdout == export_sdl()


async def test_the_served_schema_is_the_documented_one(sqlite_api: Api) -> None:
    # What a client introspects is what the docs describe (descriptions and defaults included).
    served = build_client_schema(
        await sqlite_api.data(get_introspection_query(descriptions=True, specified_by_url=True), key=None)
    )
    documented = parse_sdl((DOCS / "schema.graphql").read_text(encoding="utf-8"))
    assert print_schema(lexicographic_sort_schema(served)) == print_schema(
        lexicographic_sort_schema(documented)
    )


def test_the_guide_shows_every_operation() -> None:
    guide = (DOCS / "graphql.md").read_text(encoding="utf-8")
    documented = parse_sdl(export_sdl())
    for root in (documented.query_type, documented.mutation_type, documented.subscription_type):
        assert root is not None
        for name in root.fields:
            assert f"{name}" in guide, f"docs/graphql.md has no example of {root.name}.{name}"
