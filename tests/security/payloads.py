"""Attack payloads and checks shared by the security tests (tests/security/)."""

from __future__ import annotations

from typing import cast

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
#: Tables no injection may touch: every model's table (names from the models, not typed here).
TABLES = sorted(
    {
        model._meta.db_table
        for model in vars(models).values()
        if getattr(getattr(model, "_meta", None), "db_table", "")
    }
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
