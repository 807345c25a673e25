"""Debian's Chromium driven by Playwright, for the widget's real-browser tests.

Never ``playwright install``: that downloads a browser build, which this project cannot fetch. ``make test``
installs Debian's ``chromium`` package instead. Without it the browser tests skip, unless
``OTVET_TEST_REQUIRE_CHROMIUM=1`` (``make test`` sets it) makes that a failure.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.async_api import Browser

CHROMIUM = Path("/usr/bin/chromium")
REQUIRE_CHROMIUM_ENV = "OTVET_TEST_REQUIRE_CHROMIUM"

#: Without the background-networking flags Chromium keeps trying to reach Google's hosts, which this
#: machine's closed network refuses; --no-sandbox because the tests run as root (as CI does).
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    """Debian's Chromium, or any ``chromium`` on PATH."""
    return str(CHROMIUM) if CHROMIUM.exists() else shutil.which("chromium")


def require_chromium() -> str:
    """Chromium's path; skips (fails under OTVET_TEST_REQUIRE_CHROMIUM=1) without Chromium and Playwright."""
    missing = []
    executable = chromium_path()
    if executable is None:
        missing.append("Debian's chromium (apt-get install chromium; make test does)")
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        missing.append('the playwright package (pip install -e ".[test]")')
    if missing:
        message = "the browser tests need " + " and ".join(missing)
        if os.environ.get(REQUIRE_CHROMIUM_ENV) == "1":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    assert executable is not None
    return executable


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """A headless Chromium with a fresh profile, closed afterwards."""
    executable = require_chromium()
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        # Playwright gives every launch a new empty profile (its own --user-data-dir) and deletes it after.
        browser = await playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()
