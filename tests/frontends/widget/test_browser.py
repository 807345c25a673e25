"""The web widget in a real browser: Debian's Chromium, driven by Playwright, against a real ``otvet serve``.

A visitor opens the demo page, opens the widget, asks in Russian and in English, sees the streamed answers
with their sources, reloads and finds the conversation again, rates an answer (which lands in the database),
uses it with the keyboard alone and on a phone-sized screen, keeps the conversation across a server restart,
and cannot be attacked through questions or ingested documents that contain markup. The demo page is styled
by its own stylesheet, and the widget's icons are SVG, never emoji. A customer's site on another origin, with
its own CSP, embeds it; a site whose origin is not allowed gets a calm message, and its owner a console
error naming the setting. Chromium comes from ``make test`` (tests/support/browser.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from tests.support import server as server_module
from tests.support.browser import chromium, require_chromium
from tests.support.cli import clean_env, run_otvet
from tests.support.loopback import LoopbackServer
from tests.support.server import serving

if TYPE_CHECKING:
    from playwright.async_api import Browser, ConsoleMessage, Dialog, Locator, Page

STATIC = Path(__file__).resolve().parents[3] / "frontends" / "widget" / "static"
#: How long the browser waits for the widget (answers come from the extractive provider: fast).
WAIT_MS = 30_000
XSS = '<img src=x onerror="window.__xss=1">'


@dataclass
class Served:
    base: str
    data_dir: Path
    #: Problems the page reported: uncaught exceptions and alert/confirm/prompt dialogs.
    problems: list[str] = field(default_factory=list)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched


async def _serve(tmp_path: Path, **env: str) -> AsyncIterator[Served]:
    require_chromium()  # skip before starting anything
    data_dir = tmp_path / "data"
    environment = clean_env(data_dir, OTVET_LOG_LEVEL="WARNING", **env)
    async with serving(environment, tmp_path, ready_path="/readyz") as base:
        yield Served(base, data_dir)


@pytest.fixture
async def demo(tmp_path: Path) -> AsyncIterator[Served]:
    """``otvet serve`` on a fresh data dir with the demo knowledge base."""
    async for served in _serve(tmp_path, OTVET_LOAD_DEMO="true"):
        yield served


@dataclass
class Shop:
    """A customer's site on another origin (another loopback port) and the Otvet that allows it."""

    otvet: Served
    base: str


@pytest.fixture
async def shop(tmp_path: Path) -> AsyncIterator[Shop]:
    """The shop's page embeds widget.js from Otvet; its CSP allows Otvet's origin as documented."""
    async for found in _shop(tmp_path, allowed=True):
        yield found


@pytest.fixture
async def stranger(tmp_path: Path) -> AsyncIterator[Shop]:
    """The same page on a site whose origin Otvet does not allow (it allows another shop only)."""
    async for found in _shop(tmp_path, allowed=False):
        yield found


async def _shop(tmp_path: Path, allowed: bool) -> AsyncIterator[Shop]:
    page = {"html": "", "csp": ""}

    async def index(request: Request) -> HTMLResponse:
        return HTMLResponse(page["html"], headers={"Content-Security-Policy": page["csp"]})

    # Served on loopback like Otvet: Chromium blocks a public page's requests to loopback addresses.
    site = LoopbackServer(Starlette(routes=[Route("/", index)]), "the shop's site")
    shop_base = f"http://127.0.0.1:{await site.start()}"
    try:
        origins = f'["{shop_base if allowed else "https://shop.example"}"]'
        async for otvet in _serve(tmp_path, OTVET_LOAD_DEMO="true", OTVET_WIDGET__ALLOWED_ORIGINS=origins):
            page["csp"] = (
                f"default-src 'none'; script-src 'self' {otvet.base}; style-src 'self' {otvet.base}; "
                f"connect-src 'self' {otvet.base.replace('http://', 'ws://')}"
            )
            page["html"] = (
                '<!doctype html><html lang="ru"><head><meta charset="utf-8"><title>Shop</title></head>'
                f'<body><h1>Shop</h1><script src="{otvet.base}/widget.js" data-otvet-url="{otvet.base}" '
                'data-title="Вопросы о магазине?" data-position="left" defer></script></body></html>'
            )
            yield Shop(otvet, shop_base)
    finally:
        await site.stop()


@pytest.fixture
async def museum(tmp_path: Path) -> AsyncIterator[Served]:
    """``otvet serve`` whose only knowledge is a document with markup in it, from ``otvet ingest``."""
    require_chromium()
    document = tmp_path / "museum.txt"
    document.write_text(f"Opening hours\n\n{XSS} The museum opens at ten.\n", encoding="utf-8")
    env = clean_env(tmp_path / "data", OTVET_LOAD_DEMO="false")
    ingested = run_otvet("ingest", str(document), env=env, cwd=tmp_path)
    assert ingested.returncode == 0, ingested.stderr
    async for served in _serve(tmp_path, OTVET_LOAD_DEMO="false"):
        yield served


async def _open_page(browser: Browser, served: Served, url: str = "", **context_options: object) -> Page:
    """A new browser context (its own localStorage: a new visitor) on ``url``, by default the demo page."""
    context = await browser.new_context(**context_options)  # type: ignore[arg-type]
    page = await context.new_page()
    page.set_default_timeout(WAIT_MS)
    page.on("pageerror", lambda error: served.problems.append(f"page error: {error}"))

    def console(message: ConsoleMessage) -> None:
        # CSP violations land here too. The browser's own favicon request is not the widget's business.
        if message.type == "error" and not message.location.get("url", "").endswith("/favicon.ico"):
            served.problems.append(f"console: {message.text}")

    async def dismiss(dialog: Dialog) -> None:
        served.problems.append(f"dialog: {dialog.message}")
        await dialog.dismiss()

    page.on("console", console)
    page.on("dialog", dismiss)
    await page.goto(url or served.base + "/")
    return page


def _launcher(page: Page) -> Locator:
    return page.locator(".otvet-launcher")


def _answers(page: Page) -> Locator:
    return page.locator('.otvet-msg-assistant[data-state="done"]')


async def _open_widget(page: Page) -> None:
    await _launcher(page).click()
    await page.locator(".otvet-panel").wait_for(state="visible")


async def _ask(page: Page, question: str) -> Locator:
    """Type a question, send it with Enter, and return its answer bubble once the answer is complete."""
    done = await _answers(page).count()
    field_ = page.locator("textarea.otvet-input")
    await field_.fill(question)
    await field_.press("Enter")
    answer = _answers(page).nth(done)
    await answer.wait_for()
    return answer


async def _feedback_rows(data_dir: Path) -> list[int]:
    """Ratings in the SQLite database, polled for a while: the socket saves them after the click."""
    for _ in range(100):
        # closing(): sqlite3's own context manager commits but does not close the connection.
        with contextlib.closing(sqlite3.connect(data_dir / "otvet.db")) as db:
            values = [row[0] for row in db.execute("SELECT value FROM otvet_feedback")]
        if values:
            return values
        await asyncio.sleep(0.1)
    return []


async def test_a_visitor_asks_in_two_languages_reloads_and_rates_an_answer(
    browser: Browser, demo: Served
) -> None:
    page = await _open_page(browser, demo)
    await _open_widget(page)
    assert await _launcher(page).get_attribute("aria-expanded") == "true"
    log = page.locator('[role="log"]')
    assert await log.get_attribute("aria-live") == "polite"

    russian = await _ask(page, "Как добавить обучающие данные?")
    assert "otvet ingest" in await russian.locator(".otvet-text").inner_text()
    assert await russian.locator(".otvet-source").count() >= 1
    assert re.match(r"\[1\] ", await russian.locator(".otvet-source").first.inner_text())

    english = await _ask(page, "How do I connect Telegram?")
    assert "BotFather" in await english.locator(".otvet-text").inner_text()
    assert await english.locator(".otvet-source").count() >= 1
    assert "Connecting Telegram" in await english.locator(".otvet-sources").inner_text()
    # One question at a time: the field is usable again once the answer is complete.
    assert await page.locator("textarea.otvet-input").is_enabled()

    # A reload keeps the visitor (localStorage) and the server sends the conversation back.
    await page.reload()
    await _open_widget(page)
    await _answers(page).nth(1).wait_for()
    users = await page.locator(".otvet-msg-user .otvet-text").all_inner_texts()
    assert users == ["Как добавить обучающие данные?", "How do I connect Telegram?"]
    answers = await _answers(page).locator(".otvet-text").all_inner_texts()
    assert "otvet ingest" in answers[0] and "BotFather" in answers[1]
    assert await _answers(page).nth(1).locator(".otvet-source").count() >= 1

    helpful = _answers(page).nth(1).locator('.otvet-rate[data-value="1"]')
    await helpful.click()
    assert await helpful.get_attribute("aria-pressed") == "true"
    assert await helpful.is_disabled()
    assert await _answers(page).nth(1).locator(".otvet-thanks").inner_text() == "Thanks for the feedback"
    assert await _feedback_rows(demo.data_dir) == [1]
    # The rating comes back with the history: the next visit shows it chosen.
    await page.reload()
    await _open_widget(page)
    await _answers(page).nth(1).wait_for()
    helpful = _answers(page).nth(1).locator('.otvet-rate[data-value="1"]')
    assert await helpful.get_attribute("aria-pressed") == "true"
    assert await helpful.is_disabled()

    # The language switch re-labels the widget.
    await page.locator("select.otvet-language").select_option("ru")
    assert await page.locator(".otvet-send").inner_text() == "Отправить"
    assert await page.locator(".otvet-thanks").first.inner_text() == "Спасибо за отзыв"
    assert demo.problems == []


async def test_the_widget_works_with_the_keyboard_alone(browser: Browser, demo: Served) -> None:
    page = await _open_page(browser, demo)
    launcher = _launcher(page)
    await launcher.wait_for()
    for _ in range(30):
        await page.keyboard.press("Tab")
        if await launcher.evaluate("button => button.getRootNode().activeElement === button"):
            break
    else:
        pytest.fail("Tab never reached the widget's button")

    await page.keyboard.press("Enter")
    field_ = page.locator("textarea.otvet-input")
    await page.locator(".otvet-panel").wait_for(state="visible")
    assert await field_.evaluate("input => input.getRootNode().activeElement === input")
    await page.keyboard.type("How do I connect Telegram?")
    await page.keyboard.press("Enter")
    answer = _answers(page).first
    await answer.wait_for()
    assert "BotFather" in await answer.inner_text()

    # The field was disabled while the answer came; the focus is back in it for the next question.
    assert await field_.evaluate("input => input.getRootNode().activeElement === input")
    await page.keyboard.press("Escape")
    await page.locator(".otvet-panel").wait_for(state="hidden")
    assert await launcher.get_attribute("aria-expanded") == "false"
    assert await launcher.evaluate("button => button.getRootNode().activeElement === button")
    assert demo.problems == []


async def test_the_panel_fills_a_phone_screen(browser: Browser, demo: Served) -> None:
    page = await _open_page(
        browser, demo, viewport={"width": 360, "height": 640}, is_mobile=True, has_touch=True
    )
    await _open_widget(page)
    box = await page.locator(".otvet-panel").bounding_box()
    assert box is not None and box["width"] >= 359 and box["height"] >= 639
    answer = await _ask(page, "How do I connect Telegram?")
    assert "BotFather" in await answer.inner_text()
    # Nothing sticks out sideways: the page does not scroll horizontally.
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert demo.problems == []


async def test_markup_in_questions_and_documents_is_shown_as_text(browser: Browser, museum: Served) -> None:
    # Without the page's CSP, so that markup the widget wrongly parsed would really run.
    page = await _open_page(browser, museum, bypass_csp=True)
    await _open_widget(page)
    await _ask(page, XSS)
    answer = await _ask(page, "When does the museum open?")
    assert "opens at ten" in await answer.inner_text()

    log = page.locator('[role="log"]')
    assert XSS in await page.locator(".otvet-msg-user").first.inner_text()
    assert "<img" in await answer.inner_text()
    assert await log.locator("img").count() == 0
    assert await page.evaluate("typeof window.__xss") == "undefined"
    assert museum.problems == []


async def test_the_demo_page_is_styled_by_its_own_stylesheet(browser: Browser, demo: Served) -> None:
    for viewport in ({"width": 1280, "height": 900}, {"width": 390, "height": 780}):
        await _check_the_demo_page(browser, demo, viewport)
    assert demo.problems == []


async def _check_the_demo_page(browser: Browser, demo: Served, viewport: dict[str, int]) -> None:
    requested: list[str] = []
    page = await _open_page(browser, demo, viewport=viewport)
    page.on("request", lambda request: requested.append(request.url))
    await page.reload()
    await _launcher(page).wait_for()
    sheets = await page.evaluate("[...document.styleSheets].map(sheet => sheet.href)")
    assert sheets == [demo.base + "/demo.css"], sheets
    font = await page.evaluate("getComputedStyle(document.body).fontFamily")
    assert font.startswith("system-ui") and font.endswith("sans-serif") and "Times" not in font, font
    assert await page.locator("h1").inner_text() == "Otvet: answers from your knowledge base"
    assert (await page.locator(".demo-badge").inner_text()).lower() == "widget demo"
    assert "This page is a demo" in await page.locator(".demo-note").inner_text()
    main = await page.locator("main").bounding_box()
    assert main is not None and main["width"] <= min(viewport["width"], 44 * 16)
    # Centred with room on both sides on a desktop; the text keeps a margin from a phone's edges.
    assert main["x"] >= (200 if viewport["width"] >= 1280 else 0)
    text = await page.locator(".demo-lede").bounding_box()
    assert text is not None and text["x"] >= 16 and text["x"] + text["width"] <= viewport["width"] - 16
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    # Offline: every request stays on Otvet (no web fonts, no CDN, not even a favicon request).
    remote = [url for url in requested if not url.startswith((demo.base + "/", "data:"))]
    assert requested and remote == [], requested
    assert not any(url.endswith("/favicon.ico") for url in requested), requested
    await page.context.close()


#: Emoji and pictographs (the widget's icons used to be 💬 👍 👎, empty boxes without an emoji font).
EMOJI = re.compile("[\U0001f000-\U0001faff\u2600-\u27bf\ufe0f]")


async def test_the_widget_icons_are_labelled_svg_and_never_emoji(browser: Browser, demo: Served) -> None:
    page = await _open_page(browser, demo)
    launcher = _launcher(page)
    await launcher.wait_for()
    assert await launcher.locator("svg").count() == 1
    assert await launcher.get_attribute("aria-label") == "Ask a question"
    await _open_widget(page)
    close = page.locator(".otvet-close")
    assert await close.locator("svg").count() == 1 and await close.get_attribute("aria-label") == "Close"
    answer = await _ask(page, "How do I connect Telegram?")
    helpful, unhelpful = (
        answer.locator('.otvet-rate[data-value="1"]'),
        answer.locator('.otvet-rate[data-value="-1"]'),
    )
    for button, label in ((helpful, "Helpful"), (unhelpful, "Not helpful")):
        assert await button.locator("svg").count() == 1
        assert await button.locator("svg").get_attribute("aria-hidden") == "true"
        assert await button.get_attribute("aria-label") == label
        assert await button.get_attribute("title") == label
        box = await button.locator("svg").bounding_box()
        assert box is not None and box["width"] >= 12 and box["height"] >= 12  # drawn, not an empty box
    texts = await page.evaluate(
        "[...document.querySelector('.otvet-host').shadowRoot.querySelectorAll('button')]"
        ".map(button => button.textContent)"
    )
    assert texts and not [text for text in texts if EMOJI.search(text)], texts

    # Keyboard: the rating buttons take the focus and Enter rates, as a click does.
    await unhelpful.focus()
    assert await unhelpful.evaluate("button => button.getRootNode().activeElement === button")
    await page.keyboard.press("Enter")
    assert await unhelpful.get_attribute("aria-pressed") == "true"
    assert await _feedback_rows(demo.data_dir) == [-1]

    # The labels follow the language.
    await page.locator("select.otvet-language").select_option("ru")
    assert await helpful.get_attribute("aria-label") == "Полезно"
    assert await unhelpful.get_attribute("title") == "Бесполезно"
    assert await launcher.get_attribute("aria-label") == "Задать вопрос"
    assert await close.get_attribute("aria-label") == "Закрыть"
    assert demo.problems == []


FORBIDDEN = ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function")


def test_widget_js_never_parses_data_as_markup_or_code() -> None:
    source = (STATIC / "widget.js").read_text(encoding="utf-8")
    found = [name for name in FORBIDDEN if name in source or name.replace("(", " (") in source]
    assert not found, f"widget.js must render text with textContent/createTextNode only; found {found}"
    # One global for host pages and tests, nothing else leaks out of the IIFE.
    assigned = set(re.findall(r"\bwindow\.([A-Za-z_$][\w$]*)\s*=(?!=)", source))
    assert assigned == {"OtvetWidget"}
    assert source.lstrip().startswith("/*") and "'use strict';" in source
    assert not EMOJI.findall(source), "icons are inline SVG: no emoji, which many machines cannot draw"


def test_widget_css_only_styles_its_own_prefix() -> None:
    css = re.sub(r"/\*.*?\*/", "", (STATIC / "widget.css").read_text(encoding="utf-8"), flags=re.S)
    classes = set(re.findall(r"\.([A-Za-z_][\w-]*)", re.sub(r"\d+\.\d+", "", css)))
    assert classes and all(name.startswith("otvet-") for name in classes), sorted(classes)


async def test_the_widget_reconnects_after_a_server_restart_and_keeps_the_conversation(
    browser: Browser, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from playwright.async_api import expect

    # The restarted server must come back on the same port, as a real deployment does.
    port = server_module.free_port()
    monkeypatch.setattr(server_module, "free_port", lambda: port)
    env = clean_env(tmp_path / "data", OTVET_LOG_LEVEL="WARNING", OTVET_LOAD_DEMO="true")
    served = Served("", tmp_path / "data")
    async with serving(env, tmp_path, ready_path="/readyz") as base:
        served.base = base
        page = await _open_page(browser, served)
        await _open_widget(page)
        await _ask(page, "How do I connect Telegram?")
    status = page.locator(".otvet-status")
    await expect(status).to_have_text("Reconnecting…", timeout=WAIT_MS)
    async with serving(env, tmp_path, ready_path="/readyz"):
        await expect(status).to_be_empty(timeout=WAIT_MS)
        assert await page.locator(".otvet-msg-user .otvet-text").all_inner_texts() == [
            "How do I connect Telegram?"
        ]
        answer = await _ask(page, "Как добавить обучающие данные?")
        assert "otvet ingest" in await answer.inner_text()
    # The browser logs each refused connection while the server is down; nothing else may go wrong.
    assert [problem for problem in served.problems if "ERR_CONNECTION_REFUSED" not in problem] == []


async def test_what_the_server_sends_is_shown_safely_and_a_refused_user_token_stops_reconnects(
    browser: Browser, demo: Served
) -> None:
    """The page and script are real; the socket is Playwright's, scripting frames the demo never sends."""
    from playwright.async_api import WebSocketRoute, expect

    sockets: list[WebSocketRoute] = []
    sources = [
        {"n": 1, "title": "Pricing", "section": "Plans", "url": "https://example.com/pricing", "name": None},
        {"n": 2, "title": "Sneaky", "section": None, "url": "javascript:window.__xss=1", "name": None},
        {"n": 3, "title": "Guide", "section": None, "url": None, "name": "guide.md"},
    ]
    history = [
        {"role": "user", "text": "Prices?", "message_id": 1, "sources": [], "rating": None},
        {"role": "assistant", "text": "See [1].", "message_id": 2, "sources": sources, "rating": -1},
    ]

    def fake_server(ws: WebSocketRoute) -> None:
        sockets.append(ws)

        def receive(message: str | bytes) -> None:
            frame = json.loads(message)
            if frame["type"] == "hello":
                welcome = {
                    "type": "welcome",
                    "visitor": "v1.test",
                    "language": "en",
                    "languages": ["en", "ru"],
                }
                ws.send(json.dumps({**welcome, "history": history, "limits": {"max_question_chars": 50}}))
            elif frame["type"] == "question":
                busy = {"type": "error", "id": frame["id"], "code": "busy", "retry_after": None}
                ws.send(json.dumps({**busy, "message": "One question at a time, please."}))

        ws.on_message(receive)

    page = await _open_page(browser, demo)
    await page.route_web_socket(re.compile(r"/ws/chat$"), fake_server)
    await _open_widget(page)
    answer = _answers(page).first
    await answer.wait_for()

    links = answer.locator("a.otvet-source-link")
    assert await links.count() == 1
    assert await links.get_attribute("href") == "https://example.com/pricing"
    assert await links.get_attribute("rel") == "noopener noreferrer"
    assert await links.get_attribute("target") == "_blank"
    assert await links.inner_text() == "Pricing › Plans"
    # javascript: is shown as text: no link, no href anywhere in the widget.
    sneaky = answer.locator(".otvet-source").nth(1)
    assert await sneaky.locator("a").count() == 0
    assert await sneaky.locator(".otvet-source-name").inner_text() == "Sneaky"
    hrefs = await page.evaluate(
        "[...document.querySelector('.otvet-host').shadowRoot.querySelectorAll('[href]')]"
        ".map(node => node.getAttribute('href'))"
    )
    assert not [href for href in hrefs if "javascript" in href.lower()], hrefs
    assert await answer.locator(".otvet-source").all_inner_texts() == [
        "[1] Pricing › Plans",
        "[2] Sneaky",
        "[3] Guide",
    ]
    # A rating from history shows as chosen; both buttons are spent.
    assert await answer.locator('.otvet-rate[data-value="-1"]').get_attribute("aria-pressed") == "true"
    assert await answer.locator(".otvet-rate:disabled").count() == 2
    assert await page.locator("textarea.otvet-input").get_attribute("maxlength") == "50"
    assert await page.evaluate("localStorage.getItem('otvet-visitor:' + location.origin)") == "v1.test"

    failed = page.locator('.otvet-msg-assistant[data-state="error"]')
    await page.locator("textarea.otvet-input").fill("Another one")
    await page.locator(".otvet-send").click()
    await expect(failed).to_have_text(re.compile("One question at a time, please."))
    assert await page.locator("textarea.otvet-input").is_enabled()

    # 4401: the integration's user token is invalid. Reconnecting cannot fix that, so the widget stops.
    await sockets[0].close(code=4401, reason="unauthenticated")
    await expect(page.locator(".otvet-status")).to_have_text("Connection lost. Reload the page to try again.")
    # Read-only, not disabled: anything typed stays selectable; nothing more can be sent.
    assert not await page.locator("textarea.otvet-input").is_editable()
    assert await page.locator(".otvet-send").is_disabled()
    assert demo.problems == []


async def test_a_site_on_another_origin_with_its_own_csp_embeds_the_widget(
    browser: Browser, shop: Shop
) -> None:
    """The customer's case: the widget on another site's page, whose CSP allows Otvet's origin."""
    otvet = shop.otvet
    page = await _open_page(browser, otvet, f"{shop.base}/")
    await _open_widget(page)
    assert await page.locator(".otvet-title").inner_text() == "Вопросы о магазине?"
    assert await page.locator(".otvet-send").inner_text() == "Отправить"
    launcher = await _launcher(page).bounding_box()
    assert launcher is not None and launcher["x"] < 100  # data-position="left"
    answer = await _ask(page, "Как добавить обучающие данные?")
    assert "otvet ingest" in await answer.inner_text()
    stored = await page.evaluate(f"localStorage.getItem('otvet-visitor:{otvet.base}')")
    assert stored and stored.startswith("v1.")
    assert otvet.problems == []


REFUSED = {"ru": "Чат недоступен на этой странице.", "en": "Chat is not available on this page."}


async def test_a_site_whose_origin_is_not_allowed_gets_a_calm_message_and_keeps_the_question(
    browser: Browser, stranger: Shop
) -> None:
    """Otvet closes the socket with 4403: the visitor reads one calm line, the site's owner a console error
    naming the setting, the widget stops trying, and a question typed meanwhile stays in the field."""
    from playwright.async_api import WebSocketRoute, expect

    otvet = stranger.otvet
    owner_hint = re.compile(
        re.escape(f"origin {stranger.base} is not allowed") + ".*OTVET_WIDGET__ALLOWED_ORIGINS"
    )

    # The real browser and the real server, nothing in between.
    page = await _open_page(browser, otvet, f"{stranger.base}/")
    sockets: list[str] = []
    page.on("websocket", lambda socket: sockets.append(socket.url))
    await _open_widget(page)
    status = page.locator(".otvet-status")
    await expect(status).to_have_text(REFUSED["ru"])  # the shop's page is in Russian
    assert await status.get_attribute("class") == "otvet-status"  # calm: not styled as an error
    assert await page.locator(".otvet-send").is_disabled()
    await asyncio.sleep(3)  # the first retry would come within a second
    assert sockets == [otvet.base.replace("http://", "ws://") + "/ws/chat"]
    await page.locator("select.otvet-language").select_option("en")
    assert await status.inner_text() == REFUSED["en"]
    await _launcher(page).click()  # closing and opening again does not try again either
    await _open_widget(page)
    await asyncio.sleep(1)
    assert len(sockets) == 1
    assert len(otvet.problems) == 1 and owner_hint.search(otvet.problems[0]), otvet.problems
    await page.context.close()

    # A visitor who types and sends while the socket is still opening: the server's close is held back by
    # the test until the question waits for the welcome, then delivered.
    otvet.problems.clear()
    closes: list[tuple[int | None, str | None]] = []
    routed: list[WebSocketRoute] = []

    def hold_the_close(ws: WebSocketRoute) -> None:
        routed.append(ws)
        server = ws.connect_to_server()
        server.on_close(lambda code, reason: closes.append((code, reason)))
        ws.on_message(lambda message: None)  # the hello is not forwarded: the server has closed already

    page = await _open_page(browser, otvet, f"{stranger.base}/")
    await page.route_web_socket(re.compile(r"/ws/chat$"), hold_the_close)
    await _open_widget(page)
    for _ in range(200):
        if closes:
            break
        await asyncio.sleep(0.05)
    assert closes == [(4403, "origin not allowed")]
    field_ = page.locator("textarea.otvet-input")
    question = "Можно вернуть заказ?"
    await field_.fill(question)
    await field_.press("Enter")
    assert await field_.input_value() == question  # waiting for the welcome: not cleared
    await routed[0].close(code=4403, reason="origin not allowed")
    await expect(page.locator(".otvet-status")).to_have_text(REFUSED["ru"])
    assert await field_.input_value() == question
    assert not await field_.is_editable()
    assert await page.locator(".otvet-msg-user").count() == 0
    await asyncio.sleep(2)
    assert len(routed) == 1
    assert len(otvet.problems) == 1 and owner_hint.search(otvet.problems[0]), otvet.problems
