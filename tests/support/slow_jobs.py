"""``otvet`` with one more job type, ``test_sleep`` (registered by this module as a plugin), for the worker's
shutdown tests.

``python -m tests.support.slow_jobs worker`` runs the real CLI. A ``test_sleep`` job writes
``$OTVET_TEST_JOB_MARKER`` when it starts, sleeps ``payload["seconds"]``, and returns how long it slept.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from otvet import hookimpl
from otvet.core import jobs, plugins
from otvet.core.app import Otvet
from otvet.frontends.cli.main import main

JOB_TYPE = "test_sleep"


async def sleep_job(otvet: Otvet, job: jobs.JobContext) -> dict[str, Any]:
    marker = Path(os.environ["OTVET_TEST_JOB_MARKER"])
    await asyncio.to_thread(marker.write_text, str(job.id), encoding="utf-8")
    seconds = float(job.payload.get("seconds", 1))
    await asyncio.sleep(seconds)
    return {"slept": seconds}


@hookimpl
def register_job_types(register: Any) -> None:
    register(JOB_TYPE, sleep_job)


if __name__ == "__main__":
    # Loaded as a plugin like any other, whatever OTVET_PLUGINS says (as bench/otvet_bench.py does).
    plugins.DEFAULT_PLUGINS.setdefault("test_slow_jobs", "tests.support.slow_jobs")
    main()
