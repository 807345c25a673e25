"""Put the root logger back as it was after a test that called ``configure_logging``."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator


@contextlib.contextmanager
def root_logger_restored() -> Iterator[None]:
    """``configure_logging`` replaces the root logger's handlers and level and disables uvicorn's access
    logger; undo all three so the next test logs (and pytest captures) as before."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(level)
        logging.getLogger("uvicorn.access").disabled = False
