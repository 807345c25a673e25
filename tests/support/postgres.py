"""A throwaway PostgreSQL server for tests, and the per-test databases created on it.

:class:`PostgresCluster` runs ``initdb`` and ``pg_ctl`` from the server binaries
(``/usr/lib/postgresql/*/bin`` or ``PATH``) in a temporary folder, on a free port of 127.0.0.1, with
durability switched off: the data lives for one test session. PostgreSQL refuses to run as root, so under
root the server runs as ``postgres``.
:class:`PostgresServer` also describes a server someone else runs (``OTVET_TEST_POSTGRES_URL``).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

#: The system user PostgreSQL runs as when the tests run as root.
SERVER_USER = "postgres"
#: Where Tortoise records the migrations applied (kept when a database is emptied for reuse).
MIGRATIONS_TABLE = "tortoise_migrations"
#: Settings that trade durability (irrelevant for a throwaway server) for speed.
FAST_SETTINGS = ("fsync=off", "synchronous_commit=off", "full_page_writes=off")


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server binaries were found, or the server did not start."""


def find_bindir() -> Path | None:
    """The newest PostgreSQL server binary folder on this machine, or None."""
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else 0,
        reverse=True,
    )
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(on_path).parent)
    for bindir in candidates:
        if (bindir / "initdb").is_file() and (bindir / "pg_ctl").is_file():
            return bindir
    return None


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the server binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def with_database(url: str, database: str) -> str:
    """``url`` pointing at another database on the same server."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


@dataclass(frozen=True, slots=True)
class PostgresServer:
    """A reachable PostgreSQL server; ``url`` names a database a superuser (or a CREATEDB role) can use."""

    url: str

    def database_url(self, database: str) -> str:
        return with_database(self.url, database)

    async def create_database(self, name: str | None = None, *, template: str = "template0") -> str:
        """Create a database as a copy of ``template`` (empty by default) and return its URL.

        Waits out a template's last connection still closing, which PostgreSQL refuses to copy from.
        """
        name = name or f"otvet_test_{uuid.uuid4().hex[:12]}"
        connection = await asyncpg.connect(_asyncpg_dsn(self.url))
        try:
            # FILE_COPY (PostgreSQL 15+) copies a small template faster than the default WAL_LOG.
            strategy = " STRATEGY FILE_COPY" if connection.get_server_version().major >= 15 else ""
            for attempt in itertools.count():
                try:
                    await connection.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"{strategy}')
                    break
                except asyncpg.ObjectInUseError:
                    if attempt >= 50:
                        raise
                    await asyncio.sleep(0.02)
        finally:
            await connection.close()
        return self.database_url(name)

    async def drop_database(self, name: str) -> None:
        connection = await asyncpg.connect(_asyncpg_dsn(self.url))
        try:
            # FORCE: a test that failed mid-way may have left a connection open.
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await connection.close()

    async def schema_signature(self, name: str) -> tuple[Any, ...]:
        """Every column of every user table, and the migrations recorded: equal signatures, equal schemas."""
        connection = await asyncpg.connect(_asyncpg_dsn(self.database_url(name)))
        try:
            columns = await connection.fetch(
                "SELECT table_schema, table_name, column_name, data_type FROM information_schema.columns"
                " WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2, 3"
            )
            applied: list[Any] = []
            if any(row["table_name"] == MIGRATIONS_TABLE for row in columns):
                applied = await connection.fetch(f"SELECT app, name FROM {MIGRATIONS_TABLE} ORDER BY 1, 2")
            return tuple(tuple(row) for row in columns), tuple(tuple(row) for row in applied)
        finally:
            await connection.close()

    async def empty_tables(self, name: str, *, keep: tuple[str, ...] = (MIGRATIONS_TABLE,)) -> None:
        """Delete every row (but those of ``keep``) and restart the sequences: as migrated, at a fraction of
        the cost of a new database. Connections other tests left open are ended first."""
        connection = await asyncpg.connect(_asyncpg_dsn(self.database_url(name)))
        try:
            await connection.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            tables = await connection.fetch(
                "SELECT schemaname, tablename FROM pg_tables"
                " WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
            )
            names = [f'"{row[0]}"."{row[1]}"' for row in tables if row[1] not in keep]
            if names:
                await connection.execute(f"TRUNCATE {', '.join(names)} RESTART IDENTITY CASCADE")
        finally:
            await connection.close()


class PostgresCluster:
    """A PostgreSQL cluster of our own: ``start()``, create databases, ``stop()`` (which deletes it all)."""

    def __init__(self, bindir: Path | None = None, *, host: str = "127.0.0.1") -> None:
        found = bindir or find_bindir()
        if found is None:
            raise PostgresUnavailable("PostgreSQL server binaries (initdb, pg_ctl) were not found")
        self.bindir = found
        self.host = host
        self.port = 0
        self.root: Path | None = None
        self._watchdog: subprocess.Popen[bytes] | None = None
        self._options = ""

    @property
    def datadir(self) -> Path:
        if self.root is None:
            raise PostgresUnavailable("the cluster is not started")
        return self.root / "data"

    @property
    def server(self) -> PostgresServer:
        return PostgresServer(f"postgres://{SERVER_USER}@{self.host}:{self.port}/postgres")

    def url(self, database: str = "postgres") -> str:
        return self.server.database_url(database)

    def start(self) -> PostgresServer:
        self.root = Path(tempfile.mkdtemp(prefix="otvet-pg-"))
        try:
            if _as_root():
                # The server user must own the folder, and be able to reach it through /tmp.
                shutil.chown(self.root, user=SERVER_USER)
                self.root.chmod(0o700)
            self._run(
                "initdb",
                "-D",
                str(self.datadir),
                "-U",
                SERVER_USER,
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-locale",
                "--no-sync",
            )
            self._configure()
            self.port = free_port(self.host)
            options = " ".join(
                [f"-p {self.port}", f"-c listen_addresses={self.host}", f"-k {self.root}"]
                + [f"-c {setting}" for setting in FAST_SETTINGS]
            )
            self._options = options
            self._pg_start()
            self._start_watchdog()
        except BaseException:
            self._remove()
            raise
        return self.server

    def _pg_start(self) -> None:
        assert self.root is not None
        log = str(self.root / "server.log")
        self._run("pg_ctl", "-D", str(self.datadir), "-l", log, "-o", self._options, "-w", "start")

    def halt(self) -> None:
        """Stop the server as an operator would (``pg_ctl stop -m fast``), keeping its data: ``resume()``."""
        self._run("pg_ctl", "-D", str(self.datadir), "-m", "fast", "-w", "stop")

    def resume(self) -> None:
        """Start a halted server again, on the same port with the same data."""
        self._pg_start()

    def _processes(self) -> list[int]:
        postmaster = int((self.datadir / "postmaster.pid").read_text().split()[0])
        children = subprocess.run(
            ["ps", "-o", "pid=", "--ppid", str(postmaster)], capture_output=True, text=True, check=False
        ).stdout.split()
        return [postmaster, *map(int, children)]

    def freeze(self) -> list[int]:
        """SIGSTOP the server and every backend: it accepts connections and answers nothing (a hung host,
        a stalled disk). ``thaw()`` with what this returns."""
        frozen = self._processes()
        for pid in frozen:
            os.kill(pid, signal.SIGSTOP)
        return frozen

    @staticmethod
    def thaw(frozen: list[int]) -> None:
        for pid in frozen:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)

    def createdb(self, name: str, *, template: str | None = None) -> str:
        """Create a database with the ``createdb`` client; return its URL."""
        args = ["-h", self.host, "-p", str(self.port), "-U", SERVER_USER]
        if template:
            args += ["-T", template]
        subprocess.run([str(self.bindir / "createdb"), *args, name], check=True, capture_output=True)
        return self.url(name)

    def stop(self) -> None:
        """Stop the server (immediately: nothing in it is worth a clean shutdown) and delete its files."""
        if self.root is None:
            return
        if self._watchdog is not None:
            self._watchdog.kill()
            self._watchdog.wait()
            self._watchdog = None
        try:
            if (self.datadir / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", str(self.datadir), "-m", "immediate", "-w", "stop")
        finally:
            self._remove()

    def log_tail(self, lines: int = 40) -> str:
        """The end of the server log, for error messages."""
        log = self.root / "server.log" if self.root else None
        if log is None or not log.exists():
            return ""
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])

    def _start_watchdog(self) -> None:
        """Stop the server and delete its folder should this process die without ``stop()`` (a killed run).

        A separate session, so that killing the test run's process group does not take the watchdog along.
        """
        assert self.root is not None
        stop = shlex.join(self._command("pg_ctl", "-D", str(self.datadir), "-m", "immediate", "-w", "stop"))
        script = (
            f"while kill -0 {os.getpid()} 2>/dev/null; do sleep 1; done; "
            f"{stop} >/dev/null 2>&1; rm -rf {shlex.quote(str(self.root))}"
        )
        self._watchdog = subprocess.Popen(
            ["sh", "-c", script],
            start_new_session=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def _configure(self) -> None:
        """Change the new cluster's files before the server first starts (subclasses: TLS, pg_hba.conf)."""

    def _write_server_file(self, name: str, data: bytes, mode: int = 0o600) -> Path:
        """Write ``name`` into the data folder, owned by the server user: PostgreSQL refuses a key file that
        is not its own or that others may read."""
        path = self.datadir / name
        path.write_bytes(data)
        path.chmod(mode)
        if _as_root():
            shutil.chown(path, user=SERVER_USER)
        return path

    def _command(self, program: str, *args: str) -> list[str]:
        command = [str(self.bindir / program), *args]
        return ["runuser", "-u", SERVER_USER, "--", *command] if _as_root() else command

    def _run(self, program: str, *args: str) -> None:
        result = subprocess.run(self._command(program, *args), capture_output=True, text=True, cwd=self.root)
        if result.returncode != 0:
            raise PostgresUnavailable(
                f"{program} failed ({result.returncode}):\n{result.stdout}{result.stderr}\n{self.log_tail()}"
            )

    def _remove(self) -> None:
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class TlsPostgresCluster(PostgresCluster):
    """A cluster that speaks TLS only: ``ssl=on`` with the given server certificate, and a ``pg_hba.conf``
    that rejects every TCP connection without TLS (``hostnossl ... reject``), so a client that does not
    encrypt is refused by the server itself.

    ``client_ca_pem`` (optional) lets users listed in ``cert_users`` log in by client certificate only
    (``hostssl ... cert``: the certificate must chain to that CA and its CN must be the user name).
    """

    def __init__(
        self,
        cert_chain_pem: bytes,
        key_pem: bytes,
        *,
        client_ca_pem: bytes | None = None,
        cert_users: tuple[str, ...] = (),
        bindir: Path | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        super().__init__(bindir, host=host)
        self.cert_chain_pem = cert_chain_pem
        self.key_pem = key_pem
        self.client_ca_pem = client_ca_pem
        self.cert_users = cert_users

    def _configure(self) -> None:
        self._write_server_file("server.crt", self.cert_chain_pem, 0o644)
        self._write_server_file("server.key", self.key_pem, 0o600)
        settings = ["ssl = on", "ssl_cert_file = 'server.crt'", "ssl_key_file = 'server.key'"]
        if self.client_ca_pem is not None:
            self._write_server_file("client_ca.crt", self.client_ca_pem, 0o644)
            settings.append("ssl_ca_file = 'client_ca.crt'")
        with (self.datadir / "postgresql.conf").open("a") as conf:
            conf.write("\n# tests/support/postgres.py: TlsPostgresCluster\n" + "\n".join(settings) + "\n")
        # The first matching line wins: certificate users first, then trust over TLS, then refuse the rest.
        hba = ["local all all trust"]
        hba += [f"hostssl all {user} {self.host}/32 cert" for user in self.cert_users]
        hba += [f"hostssl all all {self.host}/32 trust", "hostnossl all all 0.0.0.0/0 reject"]
        self._write_server_file("pg_hba.conf", ("\n".join(hba) + "\n").encode(), 0o600)


def with_host(url: str, host: str) -> str:
    """``url`` with another host name (same port, user and database): e.g. the name a certificate holds."""
    parts = urlsplit(url)
    userinfo, at, _ = parts.netloc.rpartition("@")
    port = f":{parts.port}" if parts.port else ""
    return urlunsplit(parts._replace(netloc=f"{userinfo}{at}{host}{port}"))


@contextlib.contextmanager
def running_cluster(bindir: Path | None = None) -> Iterator[PostgresCluster]:
    """Start a cluster for the duration of a ``with`` block."""
    cluster = PostgresCluster(bindir)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


def _as_root() -> bool:
    return os.geteuid() == 0


def _asyncpg_dsn(url: str) -> str:
    # Tortoise accepts ``postgres://``; so does asyncpg, but not Tortoise-only query options.
    return urlunsplit(urlsplit(url)._replace(query=""))
