"""The schema as SDL. ``python -m otvet.frontends.graphql.sdl > docs/schema.graphql`` regenerates the docs.

The SDL does not depend on settings (limits and switches change what is accepted, not the schema), and a
test checks that docs/schema.graphql is the live schema's.
"""

from __future__ import annotations

import sys

HEADER = (
    "# The Otvet GraphQL schema (docs/graphql.md). Generated: do not edit by hand; regenerate with\n"
    "#   python -m otvet.frontends.graphql.sdl > docs/schema.graphql\n\n"
)


def export_sdl() -> str:
    from otvet.frontends.graphql.schema import build_schema

    return f"{HEADER}{build_schema().as_str().rstrip()}\n"


def main() -> None:
    sys.stdout.write(export_sdl())


if __name__ == "__main__":
    main()
