"""The test suite's fake Telegram Bot API (``tests/support/fake_telegram.py``) as a process of its own.

    python bench/fake_bot_api.py --port 8081

A benchmark points Otvet (or its baseline) at ``http://127.0.0.1:PORT/bot`` and reads ``GET /bench/stats``:
how many calls arrived, per method, and how many of them were *final answers* (a sendMessage or
editMessageText carrying the 👍/👎 keyboard, whose callback data starts with ``fb:``). Running it apart from
the benchmark's client and from Otvet keeps its CPU out of both, as far as two cores allow.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import uvicorn
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root: `tests.support`

from otvet.frontends.telegram.flood import MESSAGE_METHODS
from tests.support.fake_telegram import FakeBotAPI

FINAL_WRITES = frozenset({"sendmessage", "editmessagetext"})


class CountingBotAPI(FakeBotAPI):
    """The fake Bot API, counting calls by method and final answers as they arrive."""

    def __init__(self, token: str, final_text: str = "") -> None:
        super().__init__(token)
        #: A bot without a rating keyboard (the peer) has given its final answer when a message reads this.
        self.final_text = final_text.strip()
        self._final_messages: set[tuple[int, int]] = set()
        self.by_method: Counter[str] = Counter()
        self.finals = 0
        #: When each final answer arrived, and to which chat (``time.monotonic()`` of this process).
        self.final_times: list[tuple[int, float]] = []
        self.app.router.routes.append(Route("/bench/stats", self._stats))
        self.app.router.routes.append(Route("/bench/limits", self._limits, methods=["GET", "DELETE"]))
        self.app.router.routes.append(Route("/bench/queue", self._queue, methods=["POST"]))
        self.app.router.routes.append(Route("/bench/finals", self._finals, methods=["GET", "DELETE"]))

    async def _call(self, method: str, params: dict[str, Any]) -> Any:
        self.by_method[method] += 1
        # Counted when answered, not when received: a final answer counts once it was accepted.
        result = await super()._call(method, params)
        if method.lower() in FINAL_WRITES and self._is_final(params, result):
            self.finals += 1
            self.final_times.append((int(params["chat_id"]), time.monotonic()))
        return result

    def _is_final(self, params: dict[str, Any], result: Any) -> bool:
        if "fb:" in str(params.get("reply_markup", "")):
            return True
        if not self.final_text or str(params.get("text", "")).strip() != self.final_text:
            return False
        # Once per message: a bot may edit a message to the same text again.
        message_id = params.get("message_id") or (result.get("message_id") if isinstance(result, dict) else 0)
        key = (int(params["chat_id"]), int(message_id or 0))
        if key in self._final_messages:
            return False
        self._final_messages.add(key)
        return True

    async def _queue(self, request: Request) -> JSONResponse:
        """Hand a JSON list of updates to getUpdates at once; answers when (``time.monotonic()``) it did."""
        for update in await request.json():
            if message := update.get("message"):
                # Numbered and kept as the fake's own: a bot may reply to it (or quote it).
                message["message_id"] = self._next_message_id(message["chat"]["id"])
                self._remember(message)
            self.pending_updates.append(update)
        self._notify()
        return JSONResponse({"at": time.monotonic()})

    async def _finals(self, request: Request) -> JSONResponse:
        """GET: ``[[chat_id, at], ...]``, every final answer since the last DELETE (which forgets them)."""
        if request.method == "DELETE":
            self.final_times.clear()
        return JSONResponse(self.final_times)

    async def _stats(self, request: Request) -> JSONResponse:
        return JSONResponse({"finals": self.finals, "calls": dict(self.by_method)})

    async def _limits(self, request: Request) -> JSONResponse:
        """GET: where Telegram's message limits were broken since the last DELETE (which forgets them)."""
        if request.method == "DELETE":
            self.calls.clear()
            return JSONResponse({})
        violations = self.limit_violations()
        return JSONResponse({"violations": len(violations), "examples": violations[:3]})


async def serve(port: int, token: str, final_text: str = "") -> None:
    api = CountingBotAPI(token, final_text)
    # Only the messages are kept, for the limit checks: not the history a test reads (typing actions,
    # long polls), which would grow with every call.
    api.calls = _MessagesOnly()
    config = uvicorn.Config(api.app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    await uvicorn.Server(config).serve()


class _MessagesOnly(list):  # type: ignore[type-arg]
    """The fake appends every call to ``calls``; this keeps those that Telegram's limits count."""

    def append(self, item: Any) -> None:
        if item.method in MESSAGE_METHODS and not item.refused:
            super().append(item)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--token", default="123:ABC")
    parser.add_argument("--final-text", default="", help="a message reading this is a final answer too")
    args = parser.parse_args()
    asyncio.run(serve(args.port, args.token, args.final_text))
    return 0


if __name__ == "__main__":
    sys.exit(main())
