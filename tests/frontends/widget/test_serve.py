"""The widget against a real ``otvet serve`` process: what a browser on the demo page goes through."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.frontends.widget.client import widget_socket
from tests.support.cli import clean_env
from tests.support.server import serving

pytestmark = pytest.mark.slow


async def test_otvet_serve_answers_the_widget_and_remembers_the_visitor(tmp_path: Path) -> None:
    env = clean_env(tmp_path / "data", OTVET_WORKER__IN_PROCESS="false")
    async with serving(env, tmp_path) as base:
        async with httpx.AsyncClient() as http:
            page = await http.get(f"{base}/")
        assert "/widget.js" in page.text and "content-security-policy" in page.headers
        url = base.replace("http://", "ws://") + "/ws/chat"
        async with widget_socket(url, origin=base) as socket:
            welcome = await socket.hello(language="ru")
            assert welcome["language"] == "ru"
            deltas, answer = await socket.ask("Как добавить обучающие данные?")
            assert deltas and answer["type"] == "answer" and answer["sources"]
        async with widget_socket(url, origin=base) as socket:
            history = (await socket.hello(visitor=welcome["visitor"]))["history"]
            assert [m["role"] for m in history] == ["user", "assistant"]
        assert (tmp_path / "data" / "secret.key").stat().st_mode & 0o777 == 0o600
