"""Loaded by the peer bot's Python (``PYTHONPATH=bench/peer``) when bench/bench_telegram_race.py runs it.

Two changes, both at the boundary and neither making the peer slower: its Telegram client is pointed at the
fake Bot API (the peer has no setting for the Bot API's URL; ``PEER_TELEGRAM_BASE_URL``), and ``tiktoken``,
which would download its encodings from the internet, counts a token per four characters instead (cheaper
than the real encoder, so the peer's CPU figure is if anything flattering).
"""

from __future__ import annotations

import os
from typing import Any


class _Encoding:
    name = "bench"

    def encode(self, text: str, *args: Any, **kwargs: Any) -> list[int]:
        return list(range(len(text) // 4 + 1))


def _patch_tiktoken() -> None:
    try:
        import tiktoken
    except ImportError:
        return
    tiktoken.encoding_for_model = lambda *args, **kwargs: _Encoding()  # type: ignore[assignment]
    tiktoken.get_encoding = lambda *args, **kwargs: _Encoding()  # type: ignore[assignment]


def _patch_telegram() -> None:
    base_url = os.environ.get("PEER_TELEGRAM_BASE_URL")
    if not base_url:
        return
    try:
        from telegram.ext import ApplicationBuilder
    except ImportError:
        return
    build = ApplicationBuilder.build

    def build_with_base_url(self: Any) -> Any:
        self.base_url(base_url)
        return build(self)

    ApplicationBuilder.build = build_with_base_url  # type: ignore[method-assign]


_patch_tiktoken()
_patch_telegram()
