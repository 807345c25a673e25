"""Start ``otvet serve`` as a real process on a free loopback port and wait until it is ready.

Waiting is asynchronous so that a fake server in the test's own event loop (the fake Bot API) keeps
answering while ``otvet serve`` starts and calls it.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import httpx

from tests.support.cli import otvet_command


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.asynccontextmanager
async def serving(
    env: dict[str, str], cwd: Path, *, ready_path: str = "/healthz", startup_seconds: float = 60
) -> AsyncIterator[str]:
    """Run ``otvet serve`` and yield its base URL once ``ready_path`` answers 200; stop it afterwards."""
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        *otvet_command(),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient() as client:
            for _ in range(int(startup_seconds * 10)):
                if process.returncode is not None:
                    stderr = await process.stderr.read() if process.stderr else b""
                    raise RuntimeError(f"otvet serve exited with {process.returncode}:\n{stderr.decode()}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"{base}{ready_path}", timeout=1)).status_code == 200:
                        break
                await asyncio.sleep(0.1)
            else:
                raise TimeoutError(f"otvet serve did not answer {ready_path} within {startup_seconds}s")
        yield base
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), timeout=15)
            except TimeoutError:
                process.kill()
                await process.wait()
