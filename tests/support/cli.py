"""Run the real ``otvet`` command in a subprocess, as a user would."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

#: How long a command run by a test may take before the test fails.
PROCESS_SECONDS = 120


def otvet_command() -> list[str]:
    """The installed ``otvet`` script next to this interpreter, else ``python -m otvet``."""
    script = Path(sys.executable).parent / "otvet"
    return [str(script)] if script.exists() else [sys.executable, "-m", "otvet"]


def clean_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The current environment without OTVET_* variables, plus a private data dir and ``extra``.

    Retrieval is BM25 alone unless ``extra`` says otherwise: loading the local embedder's weights takes a
    second in every process, and the processes these tests start are about their protocols. The default
    retrieval is tested in process (tests/quality) and through one real ``otvet ask`` (tests/frontends).
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTVET_") or k.startswith("OTVET_TEST_")}
    env.update(
        {
            "OTVET_DATA_DIR": str(data_dir),
            "OTVET_PLUGINS": "[]",
            "OTVET_RETRIEVAL__EMBEDDER": "",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


def run_otvet(
    *args: str, env: Mapping[str, str], cwd: Path, timeout: float = 120, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*otvet_command(), *args],
        env=dict(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        input=input,
    )


async def run_otvet_async(*args: str, env: Mapping[str, str], cwd: Path) -> tuple[int, str, str]:
    """``otvet ARGS`` as a process without blocking the event loop (where a fake server may be answering).

    Returns (exit status, stdout, stderr); a command still running after two minutes fails the test.
    """
    process = await asyncio.create_subprocess_exec(
        *otvet_command(),
        *args,
        env=dict(env),
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), PROCESS_SECONDS)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def migrated_with_key(env: Mapping[str, str], cwd: Path, *sources: Path) -> str:
    """``otvet migrate``, ``otvet ingest`` of ``sources`` and a new ``ask`` API key (returned): the setup of
    a test that then starts services on that database."""
    for command in (("migrate",), *(("ingest", str(source)) for source in sources)):
        code, _, err = await run_otvet_async(*command, env=env, cwd=cwd)
        assert code == 0, err
    code, key, err = await run_otvet_async("key", "create", "test", "--scope", "ask", env=env, cwd=cwd)
    assert code == 0, err
    return key.strip()
