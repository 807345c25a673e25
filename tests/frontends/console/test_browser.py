"""The console in a real browser (Debian's Chromium): sign in, read the overview and the sources, sign out;
markup in a source's name and title stays text (checked with the page's policy switched off)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.support.browser import chromium, require_chromium

if TYPE_CHECKING:
    from playwright.async_api import ConsoleMessage, Page
from tests.support.cli import clean_env, run_otvet
from tests.support.server import serving

PASSWORD = "Str0ng-passw0rd!"
HOSTILE = '<img src=x onerror="window.__xss=1">'


async def _serve(tmp_path: Path, database_url: str = "") -> AsyncIterator[str]:
    """``otvet serve`` with an admin, a source named and titled with markup, and one question asked."""
    require_chromium()
    env = clean_env(tmp_path / "data", OTVET_LOG_LEVEL="WARNING")
    if database_url:
        env["OTVET_DATABASE_URL"] = database_url
    created = run_otvet("admin", "create", "ann", env=env, cwd=tmp_path, input=f"{PASSWORD}\n{PASSWORD}\n")
    assert created.returncode == 0, created.stderr
    (tmp_path / "evil.md").write_text(f"# {HOSTILE}\n\nRefunds take five days.\n", "utf-8")
    assert run_otvet("ingest", "--name", HOSTILE, "evil.md", env=env, cwd=tmp_path).returncode == 0
    assert run_otvet("ask", "Do refunds take five days?", env=env, cwd=tmp_path).returncode == 0
    async with serving(env, tmp_path, ready_path="/readyz") as base:
        yield base


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[str]:
    async for base in _serve(tmp_path):
        yield base


@pytest.fixture
async def served_on_each_database(tmp_path: Path, db_url: str) -> AsyncIterator[str]:
    async for base in _serve(tmp_path, db_url):
        yield base


def watch(page: Page) -> list[str]:
    """Errors the page reports; the browser's own line for the wrong password's 401 is expected."""
    problems: list[str] = []

    def console(message: ConsoleMessage) -> None:
        if message.type == "error" and not message.location.get("url", "").endswith("/admin/session"):
            problems.append(message.text)

    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", console)
    return problems


async def test_an_admin_signs_in_reads_the_overview_and_sources_and_signs_out(served: str) -> None:
    async with chromium() as browser:
        for viewport in ({"width": 1280, "height": 900}, {"width": 390, "height": 780}):
            context = await browser.new_context(viewport=viewport, bypass_csp=True, locale="en-GB")
            page = await context.new_page()
            page.set_default_timeout(20_000)
            problems = watch(page)
            await page.goto(f"{served}/admin")
            # With the keyboard alone: the username field has the focus once the form is there.
            focused = "document.activeElement && document.activeElement.name === 'username'"
            await page.wait_for_function(focused)
            await page.keyboard.type("ann")
            await page.keyboard.press("Tab")
            await page.keyboard.type("wrong password")
            await page.keyboard.press("Enter")
            await page.get_by_role("alert").get_by_text("wrong username or password").wait_for()
            await page.get_by_label("Password").fill(PASSWORD)
            await page.get_by_label("Password").press("Enter")

            cards = page.locator(".card")
            await cards.first.wait_for()
            assert (await cards.nth(0).locator(".value").inner_text()) == "1"  # one question asked
            assert "#1" in await cards.nth(4).inner_text()  # the active version
            assert await page.locator("svg.chart rect.bar").count() == 1  # today's, among 14 days of axis
            assert "cli · 1" in await page.locator("ul.keys").first.inner_text()  # its channel: otvet ask
            assert await page.locator(".share .seg").count() == 1  # all of it one outcome
            await page.get_by_label("Period").select_option("90")
            await page.get_by_label("Channel").select_option("cli")
            await page.locator("svg.chart rect.bar").wait_for()
            assert (await cards.nth(0).locator(".value").inner_text()) == "1"
            assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

            await page.get_by_role("link", name="Sources").click()
            await page.locator("table tbody tr").first.wait_for()
            shown = await page.locator("table").inner_text()
            assert HOSTILE in shown  # the name and title, as text
            assert await page.locator("table img").count() == 0
            assert await page.evaluate("window.__xss") is None
            # Its chunks in the active version, the section title (markup too) as text.
            row = page.locator("table tbody tr").filter(has_text=HOSTILE).first
            assert "#1" in await row.inner_text()  # the versions holding it
            await row.get_by_role("button", name="Preview").click()
            chunk = page.locator("tr.preview .chunk").first
            await chunk.get_by_text("Refunds take five days.").wait_for()
            assert HOSTILE in await chunk.locator(".meta").inner_text()
            assert await page.locator("table img").count() == 0
            await row.get_by_role("button", name="Hide").click()
            assert await page.locator("tr.preview").count() == 0
            await page.get_by_role("searchbox").fill("nothing like this")
            assert await page.locator("table tbody tr").count() == 0

            await page.get_by_role("button", name="Sign out").click()
            await page.get_by_label("Username").wait_for()
            await page.reload()
            await page.get_by_label("Username").wait_for()  # still signed out after a reload
            assert problems == []
            await context.close()


DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 780}


@contextlib.asynccontextmanager
async def console_page(
    viewport: dict[str, int] = DESKTOP, **options: Any
) -> AsyncIterator[tuple[Page, list[str]]]:
    """A fresh browser context (a new visitor) and page in English; on leaving, the page must have
    reported no error."""
    async with chromium() as browser:
        context = await browser.new_context(viewport=viewport, locale="en-GB", **options)
        page = await context.new_page()
        page.set_default_timeout(30_000)
        problems = watch(page)
        yield page
        assert problems == []
        await context.close()


async def sign_in(page: Page, base: str, where: str) -> None:
    await page.goto(f"{base}/admin#{where}")
    await page.get_by_label("Username").fill("ann")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_label("Password").press("Enter")
    await page.locator("header.top").wait_for()


async def test_an_admin_uploads_sources_approves_a_liked_answer_retrains_and_rolls_back(
    served_on_each_database: str, tmp_path: Path
) -> None:
    served = served_on_each_database
    from tests.plugins.test_sources_pdf import make_pdf

    (tmp_path / "parking.md").write_text("# Parking\n\nGuests park on level minus two.\n", "utf-8")
    (tmp_path / "hours.pdf").write_bytes(make_pdf([["The office opens at nine."]], title="Office hours"))
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4 not really a pdf")
    async with console_page() as page:
        await sign_in(page, served, "sources")
        await page.get_by_role("heading", name="Add sources").wait_for()

        # A batch with a broken file adds nothing and names the file.
        files = page.locator("input[type=file]")
        await files.set_input_files([tmp_path / "parking.md", tmp_path / "broken.pdf"])
        report = page.locator(".report.error")
        await report.wait_for()
        assert "broken.pdf" in await report.inner_text()
        await files.set_input_files([tmp_path / "parking.md", tmp_path / "hours.pdf"])
        done = page.locator(".report.ok")
        await done.get_by_text("Version 2 is active").wait_for()
        assert "added: parking.md, hours.pdf" in await done.inner_text()
        await page.locator("table").get_by_text("parking.md").wait_for()

        # A visitor asks the widget about the new content and likes the answer; the admin approves it.
        widget = await page.context.new_page()
        await widget.goto(f"{served}/")
        await widget.locator(".otvet-launcher").click()
        field = widget.locator("textarea.otvet-input")
        await field.fill("Where do guests park?")
        await field.press("Enter")
        answer = widget.locator('.otvet-msg-assistant[data-state="done"]').first
        await answer.wait_for()
        assert "minus two" in await answer.inner_text()
        await answer.locator('.otvet-rate[data-value="1"]').click()
        await answer.locator(".otvet-thanks").wait_for()
        await widget.close()
        await page.get_by_role("link", name="Feedback").click()
        liked = page.locator("tr").filter(has_text="Where do guests park?")
        await liked.get_by_role("button", name="Approve").click()
        await page.locator(".report.ok").get_by_text("otvet-feedback:approved").wait_for()
        await page.get_by_role("link", name="Sources").click()
        await page.get_by_role("heading", name="Add sources").wait_for()

        # Text pasted as questions and answers.
        await page.get_by_label("Name", exact=True).fill("lunch")
        await page.get_by_label("Text (Markdown)").fill("When is lunch?\nFrom one to two.")
        await page.get_by_role("checkbox").check()
        await page.get_by_role("button", name="Add the text").click()
        await page.locator(".report.ok").get_by_text("added: lunch").wait_for()

        # Retrain with live progress (the jobProgress subscription), then roll back with a confirmation.
        sockets: list[str] = []
        polled: list[str] = []
        page.on("websocket", lambda socket: sockets.append(socket.url))
        page.on("request", lambda r: polled.append(r.url) if "query Job(" in (r.post_data or "") else None)
        await page.get_by_role("link", name="Versions").click()
        await page.get_by_role("button", name="Retrain now").click()
        await page.locator(".report.ok").get_by_text("promoted").wait_for()
        # Over the subscription, signed in by the cookie and the CSRF token in connection_init: had that
        # been refused, the page would have fallen back to asking the job's state.
        assert sockets == [served.replace("http", "ws") + "/graphql"] and polled == []
        rows = page.locator("table tbody tr")
        assert await rows.first.get_attribute("data-status") == "active"
        retired = page.locator('tr[data-status="retired"]').first
        rollback = retired.get_by_role("button", name="Roll back to it")
        await rollback.click()
        await retired.get_by_role("button", name="Confirm").click()
        await page.locator(".report.ok").get_by_text("is active").wait_for()
        await page.get_by_role("button", name="Sign out").click()
        await page.get_by_label("Username").wait_for()


async def test_a_liked_widget_answer_is_approved_and_a_disliked_one_corrected(served: str) -> None:
    async with console_page() as page:
        # A visitor asks twice in the widget, likes one answer and dislikes the other.
        await page.goto(f"{served}/")
        await page.locator(".otvet-launcher").click()
        answers = page.locator('.otvet-msg-assistant[data-state="done"]')
        for number, question in enumerate(("Do refunds take five days?", "How long do refunds take?")):
            field = page.locator("textarea.otvet-input")
            await field.fill(question)
            await field.press("Enter")
            await answers.nth(number).wait_for()
        await answers.nth(0).locator('.otvet-rate[data-value="1"]').click()
        await answers.nth(1).locator('.otvet-rate[data-value="-1"]').click()
        await answers.nth(1).locator(".otvet-thanks").wait_for()

        await sign_in(page, served, "feedback")
        pending = page.locator("section").filter(has_text="awaiting review")
        row = pending.locator("tr").filter(has_text="Do refunds take five days?")
        await row.get_by_role("button", name="Approve").click()
        await page.locator(".report.ok").get_by_text("is active").wait_for()  # approved: a new version

        disliked = page.locator("section").filter(has_text="rated 👎").locator(".panel").first
        await disliked.get_by_text("How long do refunds take?").wait_for()
        await disliked.get_by_label("A better answer").fill("Refunds take five working days.")
        await disliked.get_by_role("button", name="Save a better answer").click()
        await page.locator(".report.ok").get_by_text("Saved as a correction").wait_for()
        await pending.locator("tr").filter(has_text="Refunds take five working days.").wait_for()


async def test_keys_are_shown_once_and_revoked_and_admins_created_and_disabled(served: str) -> None:
    async with console_page(PHONE) as page:
        await sign_in(page, served, "access")
        await page.get_by_label("Key name").fill("crm")
        await page.get_by_label("Scope").select_option("READ")
        await page.get_by_role("button", name="Create").first.click()
        shown = page.locator(".once input")
        await shown.wait_for()
        key = await shown.input_value()
        assert key.startswith("otv_")
        row = page.locator("tr").filter(has_text="crm")
        await row.get_by_role("button", name="Revoke").click()
        await row.get_by_role("button", name="Confirm").click()
        await row.locator("td").nth(5).filter(has_text="20").wait_for()  # the time it was revoked

        await page.get_by_placeholder("Username").fill("bob")
        await page.get_by_placeholder("Password").fill("An0ther-passw0rd!")
        await page.get_by_role("button", name="Create").nth(1).click()
        await page.locator(".report.ok").get_by_text("Admin bob created.").wait_for()
        bob = page.locator("tr").filter(has_text="bob")
        await bob.get_by_role("button", name="Disable").click()
        await bob.get_by_role("button", name="Confirm").click()
        await bob.get_by_text("disabled").wait_for()
        assert (
            await page.locator("tr").filter(has_text="ann").get_by_role("button").count() == 0
        )  # not yourself
        assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


async def test_checks_are_added_imported_exported_edited_and_removed(served: str, tmp_path: Path) -> None:
    import json

    checks = [
        {"question": "When is lunch?", "expectedAnswer": "one to two"},
        {"question": "Where do guests park?", "expectedSource": "parking.md", "language": "en"},
    ]
    (tmp_path / "checks.json").write_text(json.dumps(checks), "utf-8")
    (tmp_path / "bad.json").write_text('{"question": "not a list"}', "utf-8")
    (tmp_path / "checks.csv").write_text("question,source\nWhere is the canteen?,canteen.md\n", "utf-8")
    (tmp_path / "bad.csv").write_text("question,source\n,canteen.md\n", "utf-8")
    async with console_page(accept_downloads=True) as page:
        await sign_in(page, served, "checks")
        await page.get_by_text("The check set is empty").wait_for()
        await page.get_by_label("Question").fill("Do refunds take five days?")
        await page.get_by_label("Expected source").fill(HOSTILE)
        await page.get_by_role("button", name="Add the check").click()
        await page.locator(".report.ok").get_by_text("1 checks added.").wait_for()

        file = page.locator("#checks-file")
        await file.set_input_files(tmp_path / "bad.json")
        problem = page.locator(".report.error li")
        await problem.get_by_text("bad.json: expected a list of checks").wait_for()
        await file.set_input_files(tmp_path / "checks.json")
        await page.locator(".report.ok").get_by_text("2 checks added.").wait_for()
        rows = page.locator(".check-list tbody tr")
        await rows.nth(2).wait_for()
        assert await rows.count() == 3

        async with page.expect_download() as download:
            await page.get_by_role("button", name="Export JSON").click()
        saved = tmp_path / "exported.json"
        await (await download.value).save_as(saved)
        exported = json.loads(saved.read_text("utf-8"))
        assert [c["question"] for c in exported] == [
            "Do refunds take five days?",
            "When is lunch?",
            "Where do guests park?",
        ]
        assert exported[0]["expectedSource"] == HOSTILE

        # Run them against the active version: the lunch check fails (nothing says when lunch is).
        await page.get_by_role("button", name="Run against the active version").click()
        failed = page.locator("tr.failed")
        await failed.first.wait_for()
        assert await page.locator("tr.failed").filter(has_text="When is lunch?").count() == 1

        row = rows.filter(has_text="When is lunch?")
        await row.get_by_role("button", name="Remove").click()
        await row.get_by_role("button", name="Remove for good?").click()
        await page.locator(".report.ok").get_by_text("1 removed.").wait_for()
        await page.wait_for_function("document.querySelectorAll('.check-list tbody tr').length === 2")

        # CSV goes through the server's parser too: a bad row adds nothing and is named.
        await file.set_input_files(tmp_path / "bad.csv")
        await problem.get_by_text("bad.csv: check 2: the question is empty").wait_for()
        await file.set_input_files(tmp_path / "checks.csv")
        await page.locator(".report.ok").get_by_text("1 checks added.").wait_for()
        await rows.nth(2).get_by_text("canteen.md").wait_for()

        # Edited in place from the keyboard: Escape leaves it as it was, a problem keeps the fields open,
        # Enter saves; the focus comes back to the row's Edit button each time.
        parking = rows.nth(1)
        edit_has_focus = "document.activeElement && document.activeElement.textContent === 'Edit'"
        await parking.get_by_role("button", name="Edit").click()
        await parking.get_by_label("Question").fill("Something else?")
        await page.keyboard.press("Escape")
        await page.wait_for_function(edit_has_focus)
        await parking.get_by_text("Where do guests park?").wait_for()
        await page.keyboard.press("Enter")  # the focused Edit button
        await parking.get_by_label("Question").fill("")
        await parking.get_by_label("Question").press("Enter")
        await problem.get_by_text("the question is empty", exact=True).wait_for()
        await parking.get_by_label("Question").fill("Where do visitors park?")
        await parking.get_by_label("Expected answer").fill("level -1")
        await parking.get_by_label("Question").press("Enter")
        await page.locator(".report.ok").get_by_text("Check saved.").wait_for()
        await page.wait_for_function(edit_has_focus)
        cells = await parking.locator("td").all_inner_texts()
        assert cells[:4] == ["Where do visitors park?", "parking.md", "level -1", "en"]


async def test_conversations_are_filtered_and_read(served: str) -> None:
    async with console_page() as page:
        await sign_in(page, served, "conversations")
        rows = page.locator("tbody tr")
        await rows.first.wait_for()
        assert "cli" in await rows.first.inner_text()  # the question asked with `otvet ask`
        search = page.get_by_role("searchbox", name="Words in a question or answer")
        await search.fill("nothing like this")
        await search.press("Enter")  # Enter searches
        await page.get_by_text("No conversations match. Try other or fewer words").wait_for()
        await search.fill("REFUNDS take")
        await search.press("Enter")
        await rows.filter(has_text="cli").first.wait_for()
        await page.get_by_label("Rating").select_option(label="👎")
        await page.get_by_role("button", name="Filter").click()
        await page.get_by_text("No conversations match. Try other").wait_for()  # nobody rated it
        await page.get_by_label("Rating").select_option("")
        await search.fill("")
        await page.get_by_label("Channel", exact=True).select_option("telegram")
        await page.get_by_role("button", name="Filter").click()
        await page.get_by_text("No conversations match.").wait_for()
        await page.get_by_label("Channel", exact=True).select_option("cli")
        await page.get_by_role("button", name="Filter").click()
        await rows.first.get_by_role("button", name="Open").click()
        transcript = page.locator(".transcript")
        await transcript.get_by_text("Do refunds take five days?").wait_for()
        assert await transcript.locator(".msg.assistant").count() == 1
