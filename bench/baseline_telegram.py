"""The Telegram benchmark's baseline: the least a webhook bot can do per update, as a Starlette app.

    python bench/baseline_telegram.py --database-url sqlite:///tmp/base.db --bot-api http://127.0.0.1:8081/bot
        --port 8002

``POST /telegram/webhook`` checks the secret token, parses the update, does ONE database write (the
question and its answer, through bench/baseline.py's driver for that database) and sends ONE sendMessage
with 👍/👎 buttons to the Bot API with httpx, then answers 200. Otvet's webhook answers 200 first and
handles the update in the background; counting answers at the fake Bot API makes the two comparable.
"""

from __future__ import annotations

import argparse
import contextlib
import hmac
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

sys.path.insert(0, str(Path(__file__).resolve().parent))
from baseline import Database, open_database

TOKEN = "123:ABC"


def create_app(database_url: str, bot_api: str, secret: str) -> Starlette:
    state: dict[str, Any] = {}

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        state["db"] = await open_database(database_url)
        state["http"] = httpx.AsyncClient(
            base_url=f"{bot_api}{TOKEN}/", limits=httpx.Limits(max_connections=256)
        )
        try:
            yield
        finally:
            await state.pop("http").aclose()
            await state.pop("db").close()

    async def webhook(request: Request) -> Response:
        given = request.headers.get("x-telegram-bot-api-secret-token", "")
        if not hmac.compare_digest(given.encode(), secret.encode()):
            return JSONResponse({"error": "wrong secret token"}, status_code=403)
        update = json.loads(await request.body())
        message = update["message"]
        question, chat_id = message["text"], message["chat"]["id"]
        answer = f"Answer to: {question}"
        db: Database = state["db"]
        message_id = await db.insert(str(message["from"]["id"]), question, answer)
        buttons = [{"text": "👍", "callback_data": f"fb:{message_id}:1"}]
        buttons.append({"text": "👎", "callback_data": f"fb:{message_id}:-1"})
        body = {"chat_id": chat_id, "text": answer, "reply_markup": {"inline_keyboard": [buttons]}}
        (await state["http"].post("sendMessage", json=body)).raise_for_status()
        return JSONResponse({"ok": True})

    async def readyz(_request: Request) -> Response:
        return JSONResponse({"status": "ready"})

    routes = [
        Route("/telegram/webhook", webhook, methods=["POST"]),
        Route("/readyz", readyz, methods=["GET"]),
    ]
    return Starlette(routes=routes, lifespan=lifespan)


def command(database_url: str, bot_api: str, secret: str, port: int) -> list[str]:
    """The command line that runs this baseline on ``127.0.0.1:port``."""
    return [
        sys.executable,
        __file__,
        *("--database-url", database_url, "--bot-api", bot_api, "--secret", secret, "--port", str(port)),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True, help="sqlite:///PATH or postgres://...")
    parser.add_argument("--bot-api", required=True, help="the Bot API base URL, ending in /bot")
    parser.add_argument("--secret", default="")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    app = create_app(args.database_url, args.bot_api, args.secret)
    uvicorn.run(
        app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False, server_header=False
    )


if __name__ == "__main__":
    main()
