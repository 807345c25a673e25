"""Start Otvet's services (``otvet serve``, ``otvet api``, ``otvet worker``...) as real processes on free
loopback ports and wait until they are ready.

Waiting is asynchronous so that a fake server in the test's own event loop (the fake Bot API) keeps
answering while a service starts and calls it.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx

from tests.support.cli import otvet_command


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Service:
    """A running service: its process and the base URL of its HTTP listener."""

    process: asyncio.subprocess.Process
    base: str
    port: int
    #: Where stderr goes instead of a pipe (see ``service``).
    stderr_file: Path | None = None

    async def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:  # noqa: ASYNC109
        """Signal the process and wait for it to exit; its exit status (killed when it does not stop)."""
        if self.process.returncode is None:
            self.process.send_signal(sig)
            try:
                await asyncio.wait_for(self.process.wait(), timeout=timeout)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        assert self.process.returncode is not None
        return self.process.returncode

    async def stderr(self) -> str:
        """What the process wrote on stderr (read once it has exited)."""
        if self.stderr_file is not None:
            return self.stderr_file.read_text(errors="replace")
        stream = self.process.stderr
        return (await stream.read()).decode(errors="replace") if stream else ""


async def _start(
    command: str,
    host_args: tuple[str, ...],
    port_option: str,
    port: int,
    args: tuple[str, ...],
    env: dict[str, str],
    cwd: Path,
    log_file: IO[bytes] | None,
) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *otvet_command(),
        command,
        *host_args,
        port_option,
        str(port),
        *args,
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=log_file if log_file is not None else asyncio.subprocess.PIPE,
    )


@contextlib.asynccontextmanager
async def service(
    command: str,
    env: dict[str, str],
    cwd: Path,
    *,
    args: tuple[str, ...] = (),
    ready_path: str = "/healthz",
    startup_seconds: float = 60,
    scheme: str = "http",
    verify: ssl.SSLContext | bool = True,
    port_option: str = "--port",
    stderr_file: Path | None = None,
) -> AsyncIterator[Service]:
    """Run ``otvet COMMAND`` (``port_option`` picks its listener) and yield it once ``ready_path`` answers
    200; stop it with SIGTERM afterwards (killing it if it does not stop in 15 s).

    stderr is a pipe read at the end, unless ``stderr_file``: a service logging at DEBUG writes more than a
    pipe holds, and would block once it is full."""
    port = free_port()
    host_args = ("--host", "127.0.0.1") if port_option == "--port" else ()
    # The child keeps its own copy of the descriptor: ours can close as soon as it has started.
    # Opening a local file does not wait on anything worth a thread.
    with open(stderr_file, "wb") if stderr_file else contextlib.nullcontext() as log_file:  # noqa: ASYNC230
        process = await _start(command, host_args, port_option, port, args, env, cwd, log_file)
    running = Service(process, f"{scheme}://127.0.0.1:{port}", port, stderr_file)

    try:
        async with httpx.AsyncClient(verify=verify) as client:
            for _ in range(int(startup_seconds * 10)):
                if process.returncode is not None:
                    raise RuntimeError(
                        f"otvet {command} exited with {process.returncode}:\n{await running.stderr()}"
                    )
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"{running.base}{ready_path}", timeout=1)).status_code == 200:
                        break
                await asyncio.sleep(0.1)
            else:
                raise TimeoutError(f"otvet {command} did not answer {ready_path} within {startup_seconds}s")
        yield running
    finally:
        await running.stop(timeout=15)


@contextlib.asynccontextmanager
async def serving(
    env: dict[str, str], cwd: Path, *, ready_path: str = "/healthz", startup_seconds: float = 60
) -> AsyncIterator[str]:
    """Run ``otvet serve`` and yield its base URL once ``ready_path`` answers 200; stop it afterwards."""
    async with service("serve", env, cwd, ready_path=ready_path, startup_seconds=startup_seconds) as running:
        yield running.base
