"""GraphiQL in a real browser (Debian's Chromium): the page loads everything from this server (it works
offline), its policy lets it run, and its example query reaches the API."""

from __future__ import annotations

from pathlib import Path

from tests.support.browser import chromium, require_chromium
from tests.support.cli import clean_env
from tests.support.server import serving

WAIT_MS = 20_000


async def test_graphiql_renders_from_this_server_alone_and_runs_its_example(tmp_path: Path) -> None:
    require_chromium()
    env = clean_env(tmp_path / "data", OTVET_LOG_LEVEL="WARNING")
    async with serving(env, tmp_path, ready_path="/readyz") as base, chromium() as browser:
        page = await browser.new_page()
        page.set_default_timeout(WAIT_MS)
        requested: list[str] = []
        problems: list[str] = []
        page.on("request", lambda request: requested.append(request.url))
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        await page.goto(f"{base}/graphql")
        await page.locator(".graphiql-container").wait_for()
        editor = page.locator(".graphiql-query-editor")
        assert "How do I connect Telegram?" in await editor.inner_text()  # the example query
        await page.locator(".graphiql-execute-button").click()
        result = page.locator(".result-window")
        await result.get_by_text("UNAUTHENTICATED").wait_for()  # asked without a key: the API's answer
        others = [url for url in requested if not url.startswith((base, "data:"))]
        assert others == [], "GraphiQL must not reach another host"
        assert problems == []
