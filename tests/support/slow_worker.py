"""``otvet`` whose ``retrain`` jobs hang just before storing the new version (for the killed-worker test).

``python -m tests.support.slow_worker worker`` runs the real CLI; the first time a retrain has chunked the
sources and is about to store the version, it writes ``$OTVET_TEST_SLOW_RETRAIN_MARKER`` and waits forever,
so the test can kill the process mid-job.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from otvet.core import jobs
from otvet.core.app import Otvet
from otvet.frontends.cli.main import main

real_retrain = jobs.BUILT_IN["retrain"]


async def hanging_retrain(otvet: Otvet, job: jobs.JobContext) -> Any:
    store: Any = otvet.store

    async def create_version(*args: Any, **kwargs: Any) -> Any:
        marker = Path(os.environ["OTVET_TEST_SLOW_RETRAIN_MARKER"])
        await asyncio.to_thread(marker.write_text, str(os.getpid()), encoding="utf-8")
        await asyncio.sleep(3600)

    store.create_version = create_version
    return await real_retrain(otvet, job)


if __name__ == "__main__":
    jobs.BUILT_IN["retrain"] = hanging_retrain
    main()
