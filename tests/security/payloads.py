"""Attack payloads and checks shared by the security tests (tests/security/)."""

from __future__ import annotations

from typing import Any, cast

import pytest

from otvet.core.app import Otvet
from otvet.plugins.storage import models
from otvet.plugins.storage.store import TortoiseStore

#: Classic SQL injection strings, each of which breaks a query that pastes it into SQL text. Every one
#: must be stored and returned exactly as sent.
SQL_PAYLOADS = [
    pytest.param("' OR '1'='1", id="or-true"),
    pytest.param("'; DROP TABLE otvet_message;--", id="drop-table"),
    pytest.param('" OR ""="', id="double-quotes"),
    pytest.param("nul\x00byte", id="nul"),
    pytest.param("%' --", id="like-wildcard"),
    pytest.param("' UNION SELECT password_hash, username FROM otvet_admin_account --", id="union"),
    pytest.param("$$; DROP TABLE otvet_user; $$ $tag$ x $tag$", id="dollar-quoting"),
    pytest.param("back\\slash \\' \\\" \\\\", id="backslashes"),
    pytest.param("\u2019 OR \u20181\u2019=\u20191 \uff07 \u02bc", id="unicode-quotes"),
    pytest.param("1; SELECT pg_sleep(10); -- ; ATTACH DATABASE '/tmp/x' AS x; --", id="stacked"),
    # Long, but within every field's limit (API key names: 150); longer ones are refused, not cut.
    pytest.param("' OR 1=1 /* " + "A" * 120 + " */", id="long"),
]
#: Markup that runs script wherever text is pasted into HTML unescaped, or smuggles a link into Telegram.
XSS_PAYLOADS = [
    pytest.param("<script>alert(1)</script>", id="script"),
    pytest.param("<img src=x onerror=alert(1)>", id="img-onerror"),
    pytest.param('"><svg onload=alert(1)>', id="attribute-break-svg"),
    pytest.param("javascript:alert(1)", id="javascript-url"),
    pytest.param("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &#60;b&#62;", id="entities"),
    pytest.param('</b><a href="tg://resolve?domain=evil">login</a><b>', id="telegram-tag-smuggling"),
    pytest.param(
        '<pre><code class="language-x">x</code></pre><tg-spoiler>s</tg-spoiler>', id="telegram-tags"
    ),
    pytest.param("' onmouseover='alert(1)' x='", id="single-quote-attribute"),
]
LOGIN = {"query": 'mutation { login(username: "nobody", password: "wrong") { token } }'}
COMPLETION = {"model": "otvet", "messages": [{"role": "user", "content": "Hi?"}]}
TOUR: list[tuple[str, str, Any, str | None]] = [
    ("GET", "/", None, None),
    ("GET", "/widget.js", None, None),
    ("GET", "/widget.css", None, None),
    ("GET", "/healthz", None, None),
    ("GET", "/readyz", None, None),
    ("GET", "/metrics", None, None),
    ("GET", "/graphql", None, None),
    ("GET", "/graphql?query={__typename}", None, None),
    (
        "POST",
        "/graphql",
        {"query": 'mutation { login(username: "nobody", password: "wrong") { token } }'},
        None,
    ),
    ("POST", "/graphql", {"query": "{ me { name } }"}, "admin"),
    ("POST", "/graphql", {"query": "{ me { name } }"}, "not-a-key"),
    ("GET", "/v1/models", None, "ask"),
    ("GET", "/v1/models", None, None),
    (
        "POST",
        "/v1/chat/completions",
        {"model": "otvet", "messages": [{"role": "user", "content": "Hi?"}]},
        "ask",
    ),
    ("POST", "/telegram/webhook", {"update_id": 1}, None),
    ("GET", "/no/such/page", None, None),
]

#: Tables no injection may touch: every model's table (names from the models, not typed here).
#: Every table of Otvet's data. Not the rate-limit counters: every authenticated request and failed login
#: counts there by design (a new window is a new row), which says nothing about what a payload did.
TABLES = sorted(
    {
        model._meta.db_table
        for model in vars(models).values()
        if getattr(getattr(model, "_meta", None), "db_table", "")
    }
    - {models.RateWindow._meta.db_table}
)


#: Longer than any text field takes: each field must refuse it calmly or keep it whole, never truncate it.
VERY_LONG = "'; DROP TABLE otvet_message; -- " + "\u2019 OR 1=1 " * 2000


def printable(payload: str) -> str:
    """``payload`` without a NUL: names and usernames refuse control characters, by design."""
    return payload.replace("\x00", "")


async def table_counts(otvet: Otvet) -> dict[str, int]:
    """Rows of every Otvet table: a table an injection dropped or emptied shows up as a difference."""
    store = cast(TortoiseStore, otvet.store)
    counts = {}
    with store._current() as context:
        connection = context.db(store.connection_name)
        for table in TABLES:
            rows = await connection.execute_query_dict(f"SELECT COUNT(*) AS n FROM {table}")
            counts[table] = int(rows[0]["n"])
    return counts


async def display_names(otvet: Otvet, channel: str) -> list[str | None]:
    """The stored display names of ``channel``'s users (the store's API has no reader for them)."""
    store = cast(TortoiseStore, otvet.store)
    with store._current():
        return list(await models.User.filter(channel=channel).values_list("display_name", flat=True))


async def stored_texts(otvet: Otvet, role: str = "user") -> list[str]:
    """Every stored message text of ``role``, oldest first."""
    store = cast(TortoiseStore, otvet.store)
    with store._current():
        return list(await models.Message.filter(role=role).order_by("id").values_list("text", flat=True))
