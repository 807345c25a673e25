"""schemathesis against the live GraphQL schema of a real ``otvet serve``: no request may end in a 5xx, and
no 200 answer may carry an ``INTERNAL_SERVER_ERROR`` (how frontends/graphql/errors.py reports an
unexpected exception).

The service runs with the extractive answerer, the demo knowledge base and an admin API key, on SQLite and
on PostgreSQL, so queries and mutations run as an administrator and reach their resolvers instead of
stopping at authentication.
Every query and mutation of the introspected schema is fuzzed with :data:`EXAMPLES_PER_OPERATION` examples
(valid GraphQL documents with generated arguments; no shrinking, so a failure costs no extra requests),
the whole run bounded by :data:`BUDGET_SECONDS` of wall-clock time. :data:`EXCLUDED` names the few
operations left out, and why.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings

from tests.support.cli import clean_env, run_otvet
from tests.support.server import service

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

EXAMPLES_PER_OPERATION = 20
#: The run stops generating once this much time has gone (the operations not reached are reported).
BUDGET_SECONDS = 90
EXCLUDED = {
    # Fetches the generated URL: with names that resolve nowhere each example waits for DNS, and the
    # fetcher's own refusals are covered by tests/core/test_fetch.py.
    "Mutation.addUrlSource": "would resolve generated host names",
    # A generated id may be the key this run authenticates with; revoking it turns every later request into
    # UNAUTHENTICATED, which hides the resolvers from the fuzzer.
    "Mutation.revokeApiKey": "may revoke the run's own key",
    # Files travel as multipart uploads, which schemathesis does not generate for the Upload scalar.
    "Mutation.uploadSources": "needs multipart file uploads",
    "Mutation.importChecks": "needs a multipart file upload",
}


@dataclass
class Findings:
    operations: list[str] = field(default_factory=list)
    requests: int = 0
    failures: list[str] = field(default_factory=list)
    unreached: list[str] = field(default_factory=list)
    #: How answers ended: "data" (a resolver ran and answered) or the first error's code.
    outcomes: Counter[str] = field(default_factory=Counter)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def served(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[tuple[str, str]]:
    """``otvet serve`` with the demo knowledge base and an admin API key, on each database (text PostgreSQL
    cannot store, such as NUL, fails only there); no per-key rate limit, so the fuzzer's requests reach the
    resolvers instead of being refused after the 120th in a minute."""
    database = {}
    if request.param == "postgres":
        database["OTVET_DATABASE_URL"] = await request.getfixturevalue("postgres_cluster").create_database()
    env = clean_env(
        tmp_path / "data", OTVET_LOG_LEVEL="WARNING", OTVET_API__REQUESTS_PER_MINUTE="0", **database
    )
    created = run_otvet("key", "create", "fuzzer", "--scope", "admin", "--json", env=env, cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    record, _ = json.JSONDecoder().raw_decode(created.stdout)
    async with service("serve", env, tmp_path, ready_path="/readyz") as running:
        yield f"{running.base}/graphql", record["key"]


def _problem(response: object) -> str | None:
    """What is wrong with an answer: a 5xx, or an internal error reported inside a 200."""
    status = getattr(response, "status_code", 0)
    if status >= 500:
        return f"HTTP {status}: {getattr(response, 'text', '')[:300]}"
    try:
        body = response.json()  # type: ignore[attr-defined]
    except ValueError:
        return None
    errors = body.get("errors") or [] if isinstance(body, dict) else []
    internal = [e for e in errors if (e.get("extensions") or {}).get("code") == "INTERNAL_SERVER_ERROR"]
    return f"INTERNAL_SERVER_ERROR at {internal[0].get('path')}" if internal else None


def _outcome(response: object) -> str:
    try:
        body = response.json()  # type: ignore[attr-defined]
    except ValueError:
        return f"HTTP {getattr(response, 'status_code', 0)}"
    errors = body.get("errors") if isinstance(body, dict) else None
    if errors:
        return str((errors[0].get("extensions") or {}).get("code"))
    return "data"


def fuzz(url: str, key: str) -> Findings:
    headers = {"Authorization": f"Bearer {key}"}
    schema = schemathesis.graphql.from_url(url, headers=headers, timeout=30)
    findings = Findings()
    started = time.monotonic()
    run = settings(
        settings.default,
        max_examples=EXAMPLES_PER_OPERATION,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.label in EXCLUDED:
            continue
        if time.monotonic() - started > BUDGET_SECONDS:
            findings.unreached.append(operation.label)
            continue
        findings.operations.append(operation.label)

        @run
        @given(case=operation.as_strategy())
        def check(case: schemathesis.Case) -> None:
            response = case.call(headers=headers, timeout=30)
            findings.requests += 1
            findings.outcomes[_outcome(response)] += 1
            problem = _problem(response)
            if problem:
                findings.failures.append(
                    f"{case.operation.label}: {problem}\n    {case.as_curl_command(headers)}"
                )

        check()
    return findings


async def test_no_graphql_operation_fails_with_a_server_error(served: tuple[str, str]) -> None:
    url, key = served
    started = time.monotonic()
    findings = await asyncio.to_thread(fuzz, url, key)
    print(
        f"schemathesis: {len(findings.operations)} operations, {findings.requests} requests "
        f"in {time.monotonic() - started:.0f}s; excluded {sorted(EXCLUDED)}; unreached {findings.unreached}; "
        f"outcomes {dict(findings.outcomes.most_common())}"
    )
    assert not findings.failures, "\n".join(findings.failures[:20])
    # A run that reached nothing would pass vacuously: the schema has 38 operations.
    assert len(findings.operations) >= 30 and findings.requests >= 10 * len(findings.operations)
