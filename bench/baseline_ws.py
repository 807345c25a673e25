"""The WebSocket benchmarks' baseline: a minimal Starlette WebSocket app under uvicorn.

    python bench/baseline_ws.py --database-url sqlite:///tmp/base.db --port 8003

``/ws/chat`` speaks the least of the widget's protocol: the client's ``hello`` is answered with a
``welcome`` after ONE database write (the visitor, as the widget stores a new visitor's user), every
``ping`` with a ``pong``, and a ``question`` with ``OTVET_BENCH_DELTAS`` ``delta`` frames (default 1), each
text starting with ``time.monotonic_ns()`` taken as it is sent (as bench/instant.py stamps its deltas),
then an ``answer``. The socket is held until the client closes it: what the memory benchmark counts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

sys.path.insert(0, str(Path(__file__).resolve().parent))
from baseline import database_lifespan


def create_app(database_url: str, deltas: int) -> Starlette:
    state: dict[str, Any] = {}
    lifespan = database_lifespan(database_url, state)

    async def chat(websocket: WebSocket) -> None:
        await websocket.accept()
        try:
            hello = json.loads(await websocket.receive_text())
            visitor = await state["db"].insert(str(hello.get("visitor")), "hello", "welcome")
            await websocket.send_text(json.dumps({"type": "welcome", "visitor": str(visitor)}))
            while True:
                frame: dict[str, Any] = json.loads(await websocket.receive_text())
                if frame.get("type") == "ping":
                    await websocket.send_text('{"type":"pong"}')
                elif frame.get("type") == "question":
                    for number in range(deltas):
                        text = f"{time.monotonic_ns()} piece {number}"
                        await websocket.send_text(
                            json.dumps({"type": "delta", "id": frame["id"], "text": text})
                        )
                        # Yield as Otvet's widget does after each delta: otherwise every frame is made
                        # before the first leaves, and the baseline times its own loop, not the wire.
                        await asyncio.sleep(0)
                    await websocket.send_text(
                        json.dumps({"type": "answer", "id": frame["id"], "text": "done"})
                    )
        except WebSocketDisconnect:
            return

    async def readyz(_request: Request) -> Response:
        return JSONResponse({"status": "ready"})

    return Starlette(
        routes=[WebSocketRoute("/ws/chat", chat), Route("/readyz", readyz, methods=["GET"])],
        lifespan=lifespan,
    )


def command(database_url: str, port: int) -> list[str]:
    """The command line that runs this baseline on ``127.0.0.1:port``."""
    return [sys.executable, __file__, "--database-url", database_url, "--port", str(port)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True, help="sqlite:///PATH or postgres://...")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    deltas = max(1, int(os.environ.get("OTVET_BENCH_DELTAS", "1") or 1))
    app = create_app(args.database_url, deltas)
    # The options Otvet's listener uses (frontends/server.py), permessage-deflate off among them.
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        access_log=False,
        server_header=False,
        ws_per_message_deflate=False,
    )


if __name__ == "__main__":
    main()
