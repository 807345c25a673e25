"""Cursor pagination shared by every growing list: ``first`` (1..100) and ``after`` (an opaque cursor).

Cursors are keyset positions (the last item's id), so a page costs one indexed query however deep it is,
and items added meanwhile never shift a page. The ``nodes``/``pageInfo`` shape follows Relay's connections
without the ``edges`` layer, which no client of this API needs.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from typing import TypeVar

import strawberry

from otvet.frontends.graphql.errors import bad_input

#: Largest ``first`` a list accepts; the cost limit counts a variable ``first`` as this.
MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20

T = TypeVar("T")


@strawberry.type(description="Where a page ends, and whether another one follows.")
class PageInfo:
    has_next_page: bool
    end_cursor: str | None = strawberry.field(description="Pass as `after` for the next page.")


def page_size(first: int | None, default: int = DEFAULT_PAGE_SIZE) -> int:
    if first is None:
        return default
    if not 1 <= first <= MAX_PAGE_SIZE:
        raise bad_input(f"first must be between 1 and {MAX_PAGE_SIZE}, not {first}")
    return first


def encode_cursor(kind: str, item_id: int) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{item_id}".encode()).decode("ascii").rstrip("=")


def decode_cursor(kind: str, cursor: str | None) -> int | None:
    """The id a cursor of list ``kind`` points at; a cursor of another list is refused, not misread."""
    if cursor is None:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
        found, _, number = text.partition(":")
        if found == kind:
            return int(number)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise bad_input(f"'after' is not a cursor of this list ({kind}): pass a pageInfo.endCursor it returned")


def parse_id(value: str, what: str = "id") -> int:
    """An ``ID`` argument as the store's integer id."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if number <= 0:
        raise bad_input(f"{what} must be a positive integer id, not {value!r}")
    return number


def page(rows: Sequence[T], limit: int, kind: str, id_of: Callable[[T], int]) -> tuple[list[T], PageInfo]:
    """Cut ``rows`` (fetched ``limit + 1``, to see whether more follow) to a page and its PageInfo."""
    items = list(rows[:limit])
    end = encode_cursor(kind, id_of(items[-1])) if items else None
    return items, PageInfo(has_next_page=len(rows) > limit, end_cursor=end)
