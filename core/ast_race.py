"""A workaround for a CPython race in ``ast.parse`` (python/cpython#106905), fixed in 3.11.8 and 3.12.2.

Before those releases every ``ast.parse`` in the interpreter shares one recursion counter. A garbage
collection during the conversion can run a finaliser that lets another thread in; if that thread parses too,
the first raises ``SystemError: AST constructor recursion depth mismatch``. Otvet parses more than one would
think: Strawberry resolves its annotations with ``ast.parse`` while the schema is built, Tortoise reads model
source with ``inspect``, and Python 3.11's ``traceback`` parses the line of every frame it formats, while
sources are parsed, passwords hashed and SQLite queried in worker threads. The failure was seen in the test
suite on 3.11.7: a schema build in one test raised it.

On an affected interpreter :func:`install` wraps ``ast.parse`` in one re-entrant lock, so two threads never
convert at once. It is re-entrant because a finaliser can parse on the thread that already holds it. On
fixed interpreters it does nothing.
"""

from __future__ import annotations

import ast
import functools
import sys
import threading
from typing import Any

_VERSION = sys.version_info[:3]
_AFFECTED = (3, 11, 0) <= _VERSION < (3, 11, 8) or (3, 12, 0) <= _VERSION < (3, 12, 2)
_lock = threading.RLock()


def affected() -> bool:
    """Whether this interpreter has the race."""
    return _AFFECTED


def install() -> None:
    """Serialise ``ast.parse`` across threads on an affected interpreter; idempotent."""
    if not _AFFECTED or getattr(ast.parse, "__otvet_serialised__", False):
        return
    original = ast.parse

    @functools.wraps(original)
    def parse(*args: Any, **kwargs: Any) -> Any:
        with _lock:
            return original(*args, **kwargs)

    parse.__otvet_serialised__ = True  # type: ignore[attr-defined]
    ast.parse = parse
