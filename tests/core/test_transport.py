"""A key or bot token configured to travel over plain HTTP to another machine is warned about at start."""

from __future__ import annotations

import logging

import pytest

from otvet.core.transport import is_cleartext_remote, warn_if_cleartext


@pytest.mark.parametrize(
    ("url", "cleartext"),
    [
        ("https://api.openai.com/v1", False),
        ("http://127.0.0.1:11434/v1", False),  # a local Ollama
        ("http://[::1]:8000/v1", False),
        ("http://localhost:8081/bot", False),  # a self-hosted Bot API server on this machine
        ("http://10.0.0.5:8000/v1", True),
        ("http://llm.internal/v1", True),
        ("HTTP://Example.com/v1", True),
        ("", False),  # the default: the library's own https:// URL
    ],
)
def test_which_urls_are_cleartext_to_another_machine(url: str, cleartext: bool) -> None:
    assert is_cleartext_remote(url) is cleartext


def test_the_warning_names_the_setting_and_not_the_secret(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        warn_if_cleartext("http://llm.internal/v1", "OTVET_OPENAI__BASE_URL", "the API key")
        warn_if_cleartext("https://llm.internal/v1", "OTVET_OPENAI__BASE_URL", "the API key")
    assert len(caplog.records) == 1
    assert "OTVET_OPENAI__BASE_URL" in caplog.text and "unencrypted" in caplog.text
