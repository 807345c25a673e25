"""Registers Otvet's own gettext catalogs (``locales/`` at the package root)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from otvet import hookimpl

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locales"


@hookimpl(tryfirst=True)
def register_locale_dirs(register: Callable[[Path], None]) -> None:
    # tryfirst: the core catalogs go first so that plugin catalogs registered later can override them.
    register(LOCALE_DIR)
