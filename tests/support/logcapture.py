"""Put the logging set-up back as it was after a test that called ``configure_logging``."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

from otvet.core.logs import NOISY_LOGGERS


@contextlib.contextmanager
def root_logger_restored() -> Iterator[None]:
    """``configure_logging`` replaces the root logger's handlers and level, sets the noisy libraries' levels
    and disables uvicorn's access logger; undo all of it so the next test logs (and pytest captures) as
    before. Without it a handler left on a closed capture stream, with aiosqlite left at DEBUG, printed
    "--- Logging error ---" tracebacks through every later test."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    access = logging.getLogger("uvicorn.access")
    access_disabled = access.disabled
    noisy = {name: logging.getLogger(name).level for name in NOISY_LOGGERS}
    try:
        yield
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(level)
        access.disabled = access_disabled
        for name, noisy_level in noisy.items():
            logging.getLogger(name).setLevel(noisy_level)
