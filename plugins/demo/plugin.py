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
    """Ingest the demo knowledge base; its sources are named ``otvet-demo:<lang>/<file>``.

    The prefix makes them placeholders: the first source an admin adds replaces the whole demo.
    """
    from otvet.core.ingest import ingest_paths
    from otvet.core.knowledge import PLACEHOLDER_PREFIX

    return await ingest_paths(
        otvet, [DEMO_DIR], base=DEMO_DIR, prefix=PLACEHOLDER_PREFIX, note="demo knowledge base"
    )


async def _load_if_empty(otvet: Otvet) -> None:
    from otvet.core.knowledge import BOOTSTRAP_LOCK

    # Core's recovery already built a version from any stored sources, so no version means no sources.
    if await otvet.store.active_version() is not None:
        return
    # Replicas starting together on an empty database: one loads the demo, the others then find it active.
    async with otvet.store.exclusive(BOOTSTRAP_LOCK):
        if await otvet.store.active_version() is not None:
            return
        report = await load_demo(otvet)
    log.info("loaded the demo knowledge base: %d sources", len(report.added))


@hookimpl
def startup(otvet: Otvet) -> object:
    if not otvet.settings.load_demo:
        return None
    return _load_if_empty(otvet)
