"""``otvet api --workers N``: N processes serving one listening socket, for a machine with N cores.

One Otvet process runs on one core (its event loop). Rather than N replicas on N ports behind a proxy, the
supervisor binds the port once and forks N workers that accept on that same socket (the kernel hands each
connection to one of them). Each worker is a complete ``otvet api``: its own Otvet, database pool, rate
limits and metrics, and its own drain on SIGTERM (frontends/server.py).

The supervisor forks before anything starts a thread or an event loop (no Otvet exists in it), so the
workers inherit no half-held lock. It starts the first worker alone and waits until it serves: that one
runs the migrations (``auto_migrate``), which SQLite has no lock for; the others then find them done.
Workers sit in their own process group, so a terminal's Ctrl-C reaches only the supervisor, which passes
each SIGTERM or SIGINT on as one SIGTERM: the first drains every worker, a second one hurries them. A worker
that exits while no signal was given stops the others and the supervisor exits with its status, for the
service manager to restart the whole service.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import socket
import sys
from collections.abc import Callable
from types import FrameType

log = logging.getLogger(__name__)

#: A worker's body: serves on the socket, calls ``ready`` once it accepts connections, returns an exit code.
Serve = Callable[[socket.socket, Callable[[], None]], int]

_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def bind(host: str, port: int) -> socket.socket:
    """The listening socket every worker accepts on (uvicorn's own backlog)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.create_server((host, port), family=family, backlog=2048)
    sock.set_inheritable(True)
    return sock


class Supervisor:
    """Forks the workers, passes signals on, and reaps them; ``run`` returns the exit status."""

    def __init__(self, count: int, sock: socket.socket, serve: Serve) -> None:
        self.count = count
        self.sock = sock
        self.serve = serve
        self.workers: set[int] = set()
        self.stopping = False
        self.status = 0

    def run(self) -> int:
        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            if self._start_first():
                for _ in range(self.count - 1):
                    if self.stopping:
                        break
                    self.workers.add(self._fork(None))
            # The workers hold the socket now: closing it here leaves it to them, so that once the last one
            # has closed its copy on drain, connections are refused instead of queueing for nobody.
            self.sock.close()
            self._reap()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return self.status

    def _start_first(self) -> bool:
        """Fork one worker and wait until it serves (True) or exits (False, its status recorded)."""
        read, write = os.pipe()
        pid = self._fork(write)
        os.close(write)
        self.workers.add(pid)
        with os.fdopen(read, "rb") as pipe:
            started = pipe.read(1) == b"1"  # b"" when the worker exits first (or the signal woke us)
        if not started and not self.stopping:
            self._reap_one(os.waitpid(pid, 0))
        return started

    def _fork(self, ready_fd: int | None) -> int:
        pid = os.fork()
        if pid:
            return pid
        code = 1
        try:
            os.setpgid(0, 0)  # the terminal's Ctrl-C goes to the supervisor alone, which passes it on once
            _die_with_parent()
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, signal.SIG_DFL)  # uvicorn installs its own once serving
            code = self.serve(self.sock, lambda: _tell_ready(ready_fd))
        except BaseException:
            log.exception("API worker %d failed", os.getpid())
        finally:
            logging.shutdown()
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)  # never back into the supervisor's own stack (click, atexit handlers)

    def _reap(self) -> None:
        while self.workers:
            try:
                self._reap_one(os.wait())
            except ChildProcessError:
                break

    def _reap_one(self, waited: tuple[int, int]) -> None:
        pid, status = waited
        self.workers.discard(pid)
        code = os.waitstatus_to_exitcode(status)
        if not self.stopping:
            log.error("API worker %d exited (%d) unasked: stopping the others", pid, code)
            self.status = code or 1
            self._stop()
        elif code and not self.status:
            self.status = code

    def _on_signal(self, sig: int, frame: FrameType | None) -> None:
        self._stop()

    def _stop(self) -> None:
        self.stopping = True
        for pid in list(self.workers):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)


def _tell_ready(fd: int | None) -> None:
    if fd is not None:
        os.write(fd, b"1")
        os.close(fd)


def _die_with_parent() -> None:
    """A worker gets SIGTERM (and drains) when the supervisor dies, even by SIGKILL (Linux only)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
