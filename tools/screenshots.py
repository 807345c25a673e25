"""Screenshots of Otvet's pages for the docs, in a real browser (Debian's Chromium through Playwright), at a
desktop (1280x900) and a phone (390x780) size: the demo page, the widget with a Russian answer, GraphiQL
with an answered `ask`, and the admin console's pages. Run it after changing a page:
``.venv/bin/python tools/screenshots.py``.

It starts ``otvet serve`` on a fresh data folder with the demo knowledge base and the extractive answerer
(no network), creates an API key for GraphiQL, and writes docs/images/*.png.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.browser import chromium  # noqa: E402
from tests.support.cli import clean_env, run_otvet  # noqa: E402
from tests.support.server import serving  # noqa: E402

IMAGES = ROOT / "docs" / "images"
SIZES = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 780}}
QUESTION_RU = "Как подключить Telegram?"
ADMIN_PASSWORD = "Screensh0t-passw0rd!"
CONSOLE_PAGES = ("overview", "sources", "versions", "checks", "feedback", "conversations", "access")


async def shoot(base: str, key: str) -> list[Path]:
    written = []
    async with chromium() as browser:
        for size, viewport in SIZES.items():
            context = await browser.new_context(viewport=viewport, locale="ru-RU", device_scale_factor=1)
            page = await context.new_page()
            page.set_default_timeout(20_000)

            await page.goto(f"{base}/")
            await page.wait_for_load_state("networkidle")
            written.append(IMAGES / f"demo-page-{size}.png")
            await page.screenshot(path=written[-1], animations="disabled")

            await page.locator(".otvet-launcher").click()
            await page.locator(".otvet-panel").wait_for(state="visible")
            await page.locator(".otvet-panel select").select_option("ru")  # the widget in Russian too
            field = page.locator("textarea.otvet-input")
            await field.fill(QUESTION_RU)
            await field.press("Enter")
            await page.locator('.otvet-msg-assistant[data-state="done"]').first.wait_for()
            written.append(IMAGES / f"widget-ru-{size}.png")
            await page.screenshot(path=written[-1], animations="disabled")

            await page.goto(f"{base}/graphql")
            await page.locator(".graphiql-container").wait_for()
            await page.get_by_text("Headers", exact=True).click()
            await page.locator(".graphiql-editor-tool .CodeMirror").last.click()
            await page.keyboard.insert_text(f'{{"Authorization": "Bearer {key}"}}')
            await page.locator(".graphiql-execute-button").click()
            await page.locator(".result-window").get_by_text("BotFather").first.wait_for()
            written.append(IMAGES / f"graphiql-{size}.png")
            await page.screenshot(path=written[-1], animations="disabled")

            await page.goto(f"{base}/admin")
            await page.locator("input[name=username]").fill("admin")
            await page.locator("input[name=password]").fill(ADMIN_PASSWORD)
            await page.locator("input[name=password]").press("Enter")
            await page.locator("header.top").wait_for()  # signed in
            for name in CONSOLE_PAGES:
                await page.goto(f"{base}/admin#{name}")
                await page.locator("header.top").wait_for()
                await page.locator("main h2").wait_for()
                await page.wait_for_load_state("networkidle")  # the page's queries have answered
                written.append(IMAGES / f"console-{name}-{size}.png")
                await page.screenshot(path=written[-1], animations="disabled", full_page=True)
            await context.close()
    return written


async def seed_activity(data_dir: Path) -> None:
    """Two weeks of made-up traffic in the overview's daily counts (only there: no conversations), so its
    charts show what a deployment in use looks like. Seeded, so the images change only with the page."""
    import random
    from datetime import UTC, datetime, timedelta

    from otvet.core.store import TurnActivity
    from otvet.plugins.storage.activity import record_rating
    from otvet.plugins.storage.store import TortoiseStore
    from tests.support.fixtures import store_host

    rng = random.Random(7)
    store = TortoiseStore(store_host("", data_dir))
    await store.connect()
    try:
        rater = await store.get_or_create_user("telegram", "screenshots")
        connection = store.context.db(store.connection_name)
        today = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
        for back in range(1, 14):
            day = today - timedelta(days=back)
            weekend = day.weekday() >= 5
            for channel, mean in (("telegram", 38), ("web", 22), ("graphql", 9), ("openai", 4)):
                for _ in range(max(0, int(rng.gauss(mean * (0.5 if weekend else 1), mean / 5)))):
                    roll = rng.random()
                    outcome = (
                        "answered"
                        if roll < 0.82
                        else "unknown"
                        if roll < 0.93
                        else "failed"
                        if roll < 0.97
                        else "refused"
                    )
                    answered = outcome in ("answered", "unknown")
                    model = "gpt-4o-mini" if rng.random() < 0.9 else "gpt-4o"
                    await store.record_activity(
                        TurnActivity(
                            day,
                            channel,
                            outcome,
                            "openai" if answered else "",
                            model if answered else "",
                            int(rng.lognormvariate(7.1, 0.45)) if answered else None,
                            rng.randint(900, 1800) if answered else 0,
                            rng.randint(60, 220) if answered else 0,
                        )
                    )
            for _ in range(rng.randint(3, 9)):  # voice questions: their transcription
                seconds = rng.randint(4, 40)
                await store.record_activity(
                    TurnActivity(day, "telegram", None, "openai", "whisper-1", audio_seconds=seconds)
                )
            await record_rating(connection, day, rater.id, rng.randint(4, 12), rng.randint(0, 3))
    finally:
        await store.close()


async def main() -> None:
    IMAGES.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        env = clean_env(work / "data", OTVET_LOG_LEVEL="WARNING", OTVET_LOAD_DEMO="true")
        created = run_otvet("key", "create", "screenshots", "--scope", "ask", env=env, cwd=work)
        if created.returncode != 0:
            raise SystemExit(created.stderr)
        password = f"{ADMIN_PASSWORD}\n{ADMIN_PASSWORD}\n"
        run_otvet("admin", "create", "admin", env=env, cwd=work, input=password)
        for question in ("How do I connect Telegram?", "Как добавить обучающие данные?", "Что такое Otvet?"):
            run_otvet("ask", question, env=env, cwd=work)
        await seed_activity(work / "data")
        async with serving(env, work, ready_path="/readyz") as base:
            written = await shoot(base, created.stdout.strip())
    for path in written:
        sys.stdout.write(f"{path.relative_to(ROOT)}\n")


if __name__ == "__main__":
    os.environ.setdefault("OTVET_TEST_REQUIRE_CHROMIUM", "1")
    asyncio.run(main())
