"""The benchmarks' baseline: a minimal Starlette app under uvicorn doing the least an Otvet request does.

    python bench/baseline.py --database-url sqlite:///tmp/base.db --port 8001
    python bench/baseline.py --database-url postgres://user@127.0.0.1:5432/db --port 8001

``POST /ask`` takes the body of a GraphQL ``ask`` request (``{"query": ..., "variables": {"input": {...}}}``;
a bare ``{"question": ...}`` works too), does ONE database write, an INSERT of the question and its answer
through the driver Otvet uses for that database (aiosqlite, asyncpg), and returns a small JSON answer
shaped like Otvet's. ``GET /readyz`` answers 200 once the database is open, so the start-up benchmark can
time this app the way it times ``otvet serve``.

uvicorn runs with the options Otvet's own listener uses (frontends/server.py: no access log, no server
header) and one process, like one ``otvet api`` replica; the event loop and HTTP parser are uvicorn's
defaults for what is installed, the same for both.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS answers ("
    " id {serial} PRIMARY KEY, user_id TEXT NOT NULL, question TEXT NOT NULL, answer TEXT NOT NULL,"
    " created_at DOUBLE PRECISION NOT NULL)"
)


class Database(Protocol):
    async def insert(self, user_id: str, question: str, answer: str) -> int: ...

    async def close(self) -> None: ...


class SqliteDatabase:
    """One aiosqlite connection in WAL mode, as Otvet's SQLite store keeps."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection

    @classmethod
    async def open(cls, path: str) -> SqliteDatabase:
        import aiosqlite

        connection = await aiosqlite.connect(path)
        await connection.execute("PRAGMA journal_mode=WAL")
        await connection.execute(SCHEMA.format(serial="INTEGER"))
        await connection.commit()
        return cls(connection)

    async def insert(self, user_id: str, question: str, answer: str) -> int:
        cursor = await self.connection.execute(
            "INSERT INTO answers (user_id, question, answer, created_at) VALUES (?, ?, ?, ?)",
            (user_id, question, answer, time.time()),
        )
        await self.connection.commit()
        return int(cursor.lastrowid or 0)

    async def close(self) -> None:
        await self.connection.close()


class PostgresDatabase:
    """An asyncpg pool."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool

    @classmethod
    async def open(cls, url: str) -> PostgresDatabase:
        import asyncpg

        pool = await asyncpg.create_pool(url, min_size=1, max_size=10)
        await pool.execute(SCHEMA.format(serial="BIGSERIAL"))
        return cls(pool)

    async def insert(self, user_id: str, question: str, answer: str) -> int:
        return int(
            await self.pool.fetchval(
                "INSERT INTO answers (user_id, question, answer, created_at) VALUES ($1, $2, $3, $4)"
                " RETURNING id",
                user_id,
                question,
                answer,
                time.time(),
            )
        )

    async def close(self) -> None:
        await self.pool.close()


async def open_database(url: str) -> Database:
    if url.startswith("sqlite://"):
        return await SqliteDatabase.open(url.removeprefix("sqlite://"))  # sqlite:///abs/path: /abs/path
    if url.startswith(("postgres://", "postgresql://")):
        return await PostgresDatabase.open(url)
    raise ValueError(f"unsupported database URL {url!r}")


def _ask_input(body: Any) -> dict[str, Any]:
    """The ``AskInput`` of a GraphQL request body (whatever its variable is called), or the body itself."""
    if isinstance(body, dict) and isinstance(body.get("variables"), dict):
        for value in body["variables"].values():
            if isinstance(value, dict) and "question" in value:
                return value
    return body if isinstance(body, dict) else {}


def database_lifespan(
    database_url: str, state: dict[str, Any]
) -> Callable[[Starlette], contextlib.AbstractAsyncContextManager[None]]:
    """A baseline app's lifespan: ``state["db"]`` is open while the app serves."""

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        state["db"] = await open_database(database_url)
        try:
            yield
        finally:
            await state.pop("db").close()

    return lifespan


def create_app(database_url: str) -> Starlette:
    state: dict[str, Any] = {}
    lifespan = database_lifespan(database_url, state)

    async def ask(request: Request) -> Response:
        try:
            ask_input = _ask_input(json.loads(await request.body()))
        except ValueError:
            return JSONResponse({"errors": [{"message": "invalid JSON"}]}, status_code=400)
        question = str(ask_input.get("question", ""))
        user_id = str(ask_input.get("userId") or "anonymous")
        text = f"Answer to: {question}"
        message_id = await state["db"].insert(user_id, question, text)
        answer = {"__typename": "Answer", "text": text, "language": "en", "messageId": str(message_id)}
        return JSONResponse({"data": {"ask": answer}})

    async def readyz(_request: Request) -> Response:
        return JSONResponse({"status": "ready"})

    routes = [Route("/ask", ask, methods=["POST"]), Route("/readyz", readyz, methods=["GET"])]
    return Starlette(routes=routes, lifespan=lifespan)


def command(database_url: str, port: int) -> list[str]:
    """The command line that runs this baseline on ``127.0.0.1:port``."""
    return [sys.executable, __file__, "--database-url", database_url, "--port", str(port)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True, help="sqlite:///PATH or postgres://...")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(
        create_app(args.database_url),
        host=args.host,
        port=args.port,
        log_level="warning",
        access_log=False,
        server_header=False,
    )


if __name__ == "__main__":
    main()
