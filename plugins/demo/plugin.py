"""Loads the demo knowledge base on startup when the knowledge base is still empty (``OTVET_LOAD_DEMO``)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from otvet import hookimpl

if TYPE_CHECKING:
    from otvet.core.app import Otvet
    from otvet.core.knowledge import IngestReport

log = logging.getLogger(__name__)

DEMO_DIR = Path(__file__).resolve().parent / "knowledge"


async def load_demo(otvet: Otvet) -> IngestReport:
    """Ingest the demo knowledge base; its sources are named ``demo/<lang>/<file>``."""
    from otvet.core.ingest import ingest_paths

    return await ingest_paths(otvet, [DEMO_DIR], base=DEMO_DIR.parent.parent, note="demo knowledge base")


async def _load_if_empty(otvet: Otvet) -> None:
    if await otvet.store.active_version() is not None or await otvet.store.list_sources():
        return
    report = await load_demo(otvet)
    log.info("loaded the demo knowledge base: %d sources", len(report.added))


@hookimpl
def startup(otvet: Otvet) -> object:
    if not otvet.settings.load_demo:
        return None
    return _load_if_empty(otvet)
