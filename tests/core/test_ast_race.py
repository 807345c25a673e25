"""core/ast_race.py: with python/cpython#106905 present, two threads never run ``ast.parse`` at once."""

from __future__ import annotations

import ast
import threading

import pytest

import otvet  # noqa: F401  (importing the package installs the workaround)
from otvet.core import ast_race

pytestmark = pytest.mark.skipif(not ast_race.affected(), reason="this interpreter has the fix")


def test_importing_otvet_serialises_parse_and_parse_still_parses() -> None:
    assert getattr(ast.parse, "__otvet_serialised__", False)
    ast_race.install()  # a second install does not wrap the wrapper
    assert ast.parse.__wrapped__.__name__ == "parse"  # type: ignore[attr-defined]
    assert not hasattr(ast.parse.__wrapped__, "__otvet_serialised__")  # type: ignore[attr-defined]
    expression = ast.parse("a + 1", mode="eval")
    assert isinstance(expression, ast.Expression) and isinstance(expression.body, ast.BinOp)


def test_a_thread_parses_only_after_the_one_converting_is_done() -> None:
    finished = threading.Event()

    def parse_elsewhere() -> None:
        ast.parse("x = 1")
        finished.set()

    with ast_race._lock:  # this thread is "converting"
        other = threading.Thread(target=parse_elsewhere)
        other.start()
        assert not finished.wait(0.2)
        ast.parse("y = 2")  # re-entrant: a finaliser parsing on the holding thread does not deadlock
    other.join(10)
    assert finished.is_set()
