"""Checks on the addresses Otvet sends credentials to (the OpenAI API, the Telegram Bot API)."""

from __future__ import annotations

import ipaddress
import logging
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

_LOCAL_NAMES = {"localhost", "localhost.localdomain"}


def is_cleartext_remote(url: str) -> bool:
    """True for an ``http://`` URL to another machine: what is sent there (a key, a bot token) travels
    unencrypted. Loopback is fine (a local model server, a test fake)."""
    parts = urlsplit(url)
    if parts.scheme.lower() != "http":
        return False
    host = (parts.hostname or "").lower()
    if host in _LOCAL_NAMES or host.endswith(".localhost"):
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return True  # a name: it may resolve anywhere


def warn_if_cleartext(url: str, setting: str, what: str) -> None:
    """Log a warning, once per client built, when ``url`` would carry ``what`` unencrypted."""
    if is_cleartext_remote(url):
        log.warning(
            "%s is a plain http:// URL to another machine: %s travels unencrypted; use https://",
            setting,
            what,
        )
