"""What the benchmarks share: percentiles, real processes on loopback, memory, PostgreSQL, result rows.

Every benchmark script measures Otvet as a user runs it (``start_process`` of ``otvet_bench.py``) and, in
the same run, a baseline doing comparable work; it prints its own report and, with ``--rows PATH``,
appends :class:`Row` records to ``PATH`` (JSON, one row a line) for ``bench/run.py``'s table.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import math
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
if str(ROOT) not in sys.path:  # the repository root: `tests.support`
    sys.path.insert(0, str(ROOT))
OTVET_BENCH = BENCH / "otvet_bench.py"


# --- statistics ------------------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0–100) of ``values``, interpolated linearly between the closest ranks."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def latency_summary(ms: Sequence[float]) -> dict[str, float]:
    """p50, p95, p99 and max of latencies in milliseconds, rounded to microseconds."""
    return {
        "p50": round(percentile(ms, 50), 3),
        "p95": round(percentile(ms, 95), 3),
        "p99": round(percentile(ms, 99), 3),
        "max": round(max(ms), 3),
    }


# --- processes -------------------------------------------------------------------------------------------


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the process started next binds it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def otvet_argv(*args: str) -> list[str]:
    """The real ``otvet`` command with the ``instant`` provider available (bench/otvet_bench.py)."""
    return [sys.executable, str(OTVET_BENCH), *args]


def otvet_env(data_dir: Path, **settings: str) -> dict[str, str]:
    """This environment without anyone's ``OTVET_*`` settings, plus a private data dir and ``settings``
    (``provider="instant"`` gives ``OTVET_PROVIDER=instant``, ``api__x`` gives ``OTVET_API__X``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTVET_")}
    env.update({"OTVET_DATA_DIR": str(data_dir), "OTVET_PLUGINS": "[]", "PYTHONUNBUFFERED": "1"})
    env.update({f"OTVET_{name.upper()}": value for name, value in settings.items()})
    return env


@dataclass
class Running:
    """A process started by :func:`start_process`, ready when this is handed out."""

    process: asyncio.subprocess.Process
    stderr_file: IO[bytes]
    #: Seconds from spawning the process to its ready URL's first 200.
    ready_seconds: float = 0.0

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def returncode(self) -> int | None:
        return self.process.returncode

    def stderr(self, tail: int = 60) -> str:
        """The last ``tail`` lines the process wrote on stderr so far."""
        self.stderr_file.flush()
        self.stderr_file.seek(0)
        return "\n".join(self.stderr_file.read().decode(errors="replace").splitlines()[-tail:])

    async def stop(self, timeout: float = 15) -> int:  # noqa: ASYNC109
        """SIGTERM (Otvet drains), then SIGKILL if it has not exited within ``timeout`` seconds."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), timeout)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        return self.process.returncode or 0


@contextlib.asynccontextmanager
async def start_process(
    argv: Sequence[str],
    env: Mapping[str, str] | None = None,
    ready_url: str | None = None,
    timeout: float = 60,  # noqa: ASYNC109
    *,
    cwd: Path | None = None,
) -> AsyncIterator[Running]:
    """Run ``argv`` and yield it once ``ready_url`` answers 200 (at once without one); stop it afterwards.

    Its stdout is discarded and its stderr kept in a temporary file, shown in the error when it exits or
    is not ready within ``timeout`` seconds. Readiness is polled every 10 ms, so start-up times are exact
    to about that.
    """
    with tempfile.TemporaryFile(prefix="otvet-bench-stderr-") as stderr_file:
        started = time.perf_counter()
        process = await asyncio.create_subprocess_exec(
            *argv,
            env=None if env is None else dict(env),
            cwd=cwd,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=stderr_file,
        )
        running = Running(process, stderr_file)
        try:
            if ready_url is not None:
                await _wait_ready(running, ready_url, timeout, argv)
            running.ready_seconds = time.perf_counter() - started
            yield running
        finally:
            await running.stop()


async def _wait_ready(running: Running, url: str, timeout: float, argv: Sequence[str]) -> None:  # noqa: ASYNC109
    deadline = time.perf_counter() + timeout
    async with httpx.AsyncClient(timeout=2) as client:
        while time.perf_counter() < deadline:
            if running.returncode is not None:
                raise RuntimeError(
                    f"{' '.join(argv)} exited with {running.returncode} before {url} was ready:\n"
                    f"{running.stderr()}"
                )
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(url)).status_code == 200:
                    return
            await asyncio.sleep(0.01)
    raise TimeoutError(f"{' '.join(argv)}: {url} not ready within {timeout} s:\n{running.stderr()}")


def rss_bytes(pid: int) -> int:
    """The resident memory of process ``pid`` (``VmRSS`` in /proc; Linux only)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise ValueError(f"no VmRSS for process {pid}")


def cpu_seconds(pid: int) -> float:
    """CPU time process ``pid`` has used so far, user and system, all its threads (/proc; Linux only).

    CPU per request is steadier than requests per second on a machine others share: waiting for a core
    does not count.
    """
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def postgres() -> Iterator[Any]:
    """A throwaway PostgreSQL cluster on loopback (tests/support/postgres.py; durability off), deleted
    afterwards. Yields its ``PostgresServer``: ``await server.create_database(name)`` gives a URL."""
    from tests.support.postgres import PostgresCluster

    cluster = PostgresCluster()
    server = cluster.start()
    try:
        yield server
    finally:
        cluster.stop()


# --- results ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Row:
    """One figure of one benchmark, with the same figure of its baseline and the target it should meet."""

    benchmark: str
    metric: str
    value: float
    unit: str
    baseline: float | None = None
    #: How the target reads in the table, e.g. ``≥ 500`` (None: no target).
    target: str | None = None
    met: bool | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        """Otvet's figure over the baseline's (None without a baseline)."""
        if self.baseline is None or self.baseline == 0:
            return None
        return self.value / self.baseline

    def at_least(self, limit: float) -> Row:
        """This row with the target ``value ≥ limit``."""
        return dataclasses.replace(self, target=f"≥ {limit:g}", met=self.value >= limit)

    def at_most(self, limit: float) -> Row:
        """This row with the target ``value ≤ limit``."""
        return dataclasses.replace(self, target=f"≤ {limit:g}", met=self.value <= limit)


def write_rows(rows: Iterable[Row], path: Path | str | None) -> None:
    """Append ``rows`` to ``path`` (one JSON object a line); nothing without a path."""
    if path is None:
        return
    with open(path, "a", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(dataclasses.asdict(row), ensure_ascii=False) + "\n")


def read_rows(path: Path | str) -> list[Row]:
    """The rows written to ``path`` so far (none when it does not exist)."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    return [Row(**json.loads(line)) for line in lines if line.strip()]


def add_rows_argument(parser: argparse.ArgumentParser) -> None:
    """The ``--rows PATH`` option every bench script accepts."""
    parser.add_argument(
        "--rows", type=Path, default=None, help="append result rows to this file (JSON lines)"
    )


def _number(value: float | None) -> str:
    if value is None:
        return ""
    if value == 0 or abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:,.2f}" if abs(value) >= 1 else f"{value:.3g}"


def calls_by_method(calls: Mapping[str, float]) -> str:
    """``sendMessage 1.00, sendChatAction 0.20``: Bot API calls per update by method, most first."""
    ranked = sorted(calls.items(), key=lambda item: -item[1])
    return ", ".join(f"{method} {per:.2f}" for method, per in ranked)


def format_rows(rows: Sequence[Row]) -> str:
    """``rows`` as a plain-text table: benchmark | metric | Otvet | baseline | ratio | target | met."""
    header = ("benchmark", "metric", "Otvet", "baseline", "ratio", "target", "met", "note")
    cells = [
        (
            row.benchmark,
            row.metric,
            f"{_number(row.value)} {row.unit}".strip(),
            "" if row.baseline is None else f"{_number(row.baseline)} {row.unit}".strip(),
            "" if row.ratio is None else f"{row.ratio:.2f}",
            row.target or "",
            {None: "", True: "yes", False: "NO"}[row.met],
            row.note,
        )
        for row in rows
    ]
    widths = [max(len(line[i]) for line in [header, *cells]) for i in range(len(header))]
    numeric = {2, 3, 4}
    lines = []
    for line in [header, *cells]:
        parts = [
            c.rjust(w) if i in numeric else c.ljust(w)
            for i, (c, w) in enumerate(zip(line, widths, strict=True))
        ]
        lines.append("  ".join(parts).rstrip())
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def create_api_key(env: Mapping[str, str], name: str = "bench", scopes: Sequence[str] = ("ask",)) -> str:
    """A new API key made with the real ``otvet key create`` (which migrates a fresh database first)."""

    scope_args = [arg for scope in scopes for arg in ("--scope", scope)]
    result = subprocess.run(
        otvet_argv("key", "create", name, *scope_args, "--json"),
        env=dict(env),
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"otvet key create failed ({result.returncode}):\n{result.stderr}")
    return str(json.loads(result.stdout)["key"])
