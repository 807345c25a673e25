"""Admin accounts, login tokens, API keys and the per-caller rate limit, on SQLite and PostgreSQL.

What is stored is read back as raw rows: a password or a key must not be found in them in any form but
its hash. Time is a clock the tests move, so expiry and ``last_used_at`` are exact.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request

from otvet.core.accounts import SCOPES, Accounts, AuthError, Principal
from otvet.core.app import Otvet
from otvet.core.limits import RateLimiter
from otvet.core.store import NotFound
from otvet.frontends.http_auth import auth_error_response, request_principal
from otvet.plugins.storage.store import TortoiseStore

PASSWORD = "correct horse battery staple"
T0 = 1_900_000_000.0  # 2030-03-17, a wall-clock second the tests start from


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def raw_rows(otvet: Otvet, table: str) -> list[dict[str, Any]]:
    """Every column of every row of ``table``, as the database holds them."""
    store = cast(TortoiseStore, otvet.store)
    with store._current() as context:
        return list(await context.db(store.connection_name).execute_query_dict(f"SELECT * FROM {table}"))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def accounts(otvet: Otvet, clock: Clock) -> Accounts:
    accounts = otvet.accounts
    accounts.clock = clock
    accounts.limiter.clock = clock
    return accounts


async def expect_refused(accounts: Accounts, credential: str, code: str = "unauthenticated") -> AuthError:
    with pytest.raises(AuthError) as caught:
        await accounts.authenticate(credential)
    assert caught.value.code == code
    return caught.value


# --- admin accounts and passwords ---------------------------------------------------------------------------


async def test_a_password_is_stored_only_as_an_argon2id_hash(otvet: Otvet, accounts: Accounts) -> None:
    admin = await accounts.create_admin("alice", PASSWORD)
    assert (admin.username, admin.disabled) == ("alice", False)
    [row] = await raw_rows(otvet, "otvet_admin_account")
    assert row["password_hash"].startswith("$argon2id$")
    assert all(PASSWORD not in str(value) for value in row.values())
    assert [a.username for a in await accounts.list_admins()] == ["alice"]


async def test_weak_passwords_and_taken_usernames_are_refused_clearly(accounts: Accounts) -> None:
    with pytest.raises(ValueError, match="at least 12 characters"):
        await accounts.create_admin("alice", "short")
    with pytest.raises(ValueError, match="must not be the username"):
        await accounts.create_admin("administrator", "Administrator")
    with pytest.raises(ValueError, match="username is empty"):
        await accounts.create_admin("  ", PASSWORD)
    await accounts.create_admin("alice", PASSWORD)
    with pytest.raises(ValueError, match="already exists"):
        await accounts.create_admin("alice", PASSWORD + "!")
    assert [a.username for a in await accounts.list_admins()] == ["alice"]


async def test_login_gives_a_token_that_authenticates_the_admin(accounts: Accounts, clock: Clock) -> None:
    admin = await accounts.create_admin("alice", PASSWORD)
    login = await accounts.login("alice", PASSWORD)
    token, expires = login.token, login.expires_at
    assert expires == datetime.fromtimestamp(T0 + 3600, UTC) and login.username == "alice"
    principal = await accounts.authenticate(f"Bearer {token}")
    assert principal == Principal("admin", admin.id, "alice", frozenset(SCOPES))
    assert principal.user_id == f"admin:{admin.id}"
    assert await accounts.authenticate(token) == principal  # the bare token, as a WebSocket payload sends it


@pytest.mark.parametrize(
    ("username", "password"),
    [("alice", "wrong horse battery staple"), ("mallory", PASSWORD), ("alice", "")],
    ids=["wrong-password", "unknown-user", "empty-password"],
)
async def test_a_bad_login_is_refused_without_saying_why(
    accounts: Accounts, username: str, password: str
) -> None:
    await accounts.create_admin("alice", PASSWORD)
    with pytest.raises(AuthError) as caught:
        await accounts.login(username, password)
    assert caught.value.code == "unauthenticated"
    assert str(caught.value) == "wrong username or password"


async def test_logins_are_limited_per_address_right_password_or_not_and_per_account(
    accounts: Accounts, clock: Clock
) -> None:
    await accounts.create_admin("alice", PASSWORD)
    accounts.attempts.clock = accounts.failures.clock = clock
    accounts.attempts.limit, accounts.failures.limit = 2, 0
    address = "198.51.100.1"
    with pytest.raises(AuthError):
        await accounts.login("alice", "wrong horse battery staple", address)
    assert (await accounts.login("alice", PASSWORD, address)).username == "alice"
    with pytest.raises(AuthError) as caught:
        await accounts.login("alice", PASSWORD, address)
    refused = caught.value
    assert (refused.code, refused.limited_by) == ("rate_limited", "address")
    assert refused.message.startswith("too many login attempts from this address: try again in ")
    assert refused.retry_after is not None and 0 < refused.retry_after <= 60
    # Another address, or a caller without one (the command line), is not held back by this one's.
    assert (await accounts.login("alice", PASSWORD, "203.0.113.7")).token
    assert (await accounts.login("alice", PASSWORD)).token
    clock.now += 60.5
    assert (await accounts.login("alice", PASSWORD, address)).token

    accounts.attempts.limit, accounts.failures.limit = 0, 1
    with pytest.raises(AuthError):
        await accounts.login("alice", "wrong horse battery staple", address)
    with pytest.raises(AuthError) as caught:
        await accounts.login("alice", PASSWORD, "203.0.113.8")
    assert (caught.value.code, caught.value.limited_by) == ("rate_limited", "account")


async def test_a_disabled_admin_cannot_log_in_and_their_tokens_stop_working(accounts: Accounts) -> None:
    await accounts.create_admin("alice", PASSWORD)
    token = (await accounts.login("alice", PASSWORD)).token
    await accounts.set_admin_disabled("alice", True)
    assert [a.disabled for a in await accounts.list_admins()] == [True]
    with pytest.raises(AuthError):
        await accounts.login("alice", PASSWORD)
    await expect_refused(accounts, f"Bearer {token}")
    await accounts.set_admin_disabled("alice", False)
    fresh = (await accounts.login("alice", PASSWORD)).token
    assert await accounts.authenticate(f"Bearer {fresh}") is not None


async def test_a_password_change_invalidates_outstanding_tokens(accounts: Accounts) -> None:
    await accounts.create_admin("alice", PASSWORD)
    old_token = (await accounts.login("alice", PASSWORD)).token
    await accounts.set_admin_password("alice", "a brand new passphrase")
    await expect_refused(accounts, f"Bearer {old_token}")
    with pytest.raises(AuthError):
        await accounts.login("alice", PASSWORD)
    new_token = (await accounts.login("alice", "a brand new passphrase")).token
    assert await accounts.authenticate(f"Bearer {new_token}") is not None
    with pytest.raises(ValueError, match="at least 12"):
        await accounts.set_admin_password("alice", "short")
    with pytest.raises(NotFound):
        await accounts.set_admin_password("bob", PASSWORD)
    with pytest.raises(NotFound):
        await accounts.set_admin_disabled("bob", True)


async def test_a_token_expires(accounts: Accounts, clock: Clock) -> None:
    await accounts.create_admin("alice", PASSWORD)
    login = await accounts.login("alice", PASSWORD)
    token, expires = login.token, login.expires_at
    clock.now = expires.timestamp() - 1
    assert await accounts.authenticate(f"Bearer {token}") is not None
    clock.now = expires.timestamp()
    await expect_refused(accounts, f"Bearer {token}")


async def test_a_tampered_or_foreign_token_is_refused(otvet: Otvet, accounts: Accounts) -> None:
    await accounts.create_admin("alice", PASSWORD)
    bob = await accounts.create_admin("bob", PASSWORD + " two")
    token = (await accounts.login("alice", PASSWORD)).token
    payload, signature = token.split(".")
    # Claiming to be bob, or a later expiry, without the secret: the signature no longer matches.
    forged = Accounts(otvet)
    forged._secret = SecretStr("another deployment's secret, not this one's")
    forged.clock = accounts.clock
    forged_token = (await forged.login("bob", PASSWORD + " two")).token
    forged_payload = forged_token.split(".")[0]
    for bad in [
        f"{forged_payload}.{signature}",
        f"{payload}.{signature[:-2]}AA",
        f"{payload}x.{signature}",
        forged_token,  # signed with another deployment's key
        payload,
        "not-a-token",
        "...",
    ]:
        await expect_refused(accounts, f"Bearer {bad}")
    assert bob.id != (await accounts.authenticate(f"Bearer {token}") or cast(Any, None)).id


async def test_a_shared_secret_lets_replicas_accept_each_others_tokens(otvet: Otvet) -> None:
    otvet.settings.api.secret_key = SecretStr("s" * 48)
    one, two = Accounts(otvet), Accounts(otvet)
    await one.create_admin("alice", PASSWORD)
    token = (await one.login("alice", PASSWORD)).token
    assert await two.authenticate(f"Bearer {token}") is not None


async def test_an_unset_secret_warns_that_replicas_must_share_one(
    otvet: Otvet, accounts: Accounts, caplog: pytest.LogCaptureFixture
) -> None:
    await accounts.create_admin("alice", PASSWORD)
    with caplog.at_level(logging.WARNING, logger="otvet.core.accounts"):
        token = (await accounts.login("alice", PASSWORD)).token
    assert "survive restarts on this machine" in caplog.text and "several replicas" in caplog.text
    # The key lives in the data dir (readable by its owner only), so a restarted process accepts the token.
    key_file = otvet.settings.data_dir / "secret.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    restarted = Accounts(otvet)
    restarted.clock = accounts.clock
    assert await restarted.authenticate(f"Bearer {token}") is not None


async def test_passwords_and_keys_never_reach_the_logs(
    accounts: Accounts, caplog: pytest.LogCaptureFixture
) -> None:
    # Otvet's own logs, at every level. (At DEBUG the database drivers log SQL parameters: usernames and
    # hashes, never a password or a key, which no query carries. docs/security.md says so.)
    with caplog.at_level(logging.DEBUG, logger="otvet"):
        await accounts.create_admin("alice", PASSWORD)
        await accounts.login("alice", PASSWORD)
        for username in ("alice", PASSWORD):  # a password typed into the username field
            with pytest.raises(AuthError):
                await accounts.login(username, "wrong horse battery staple")
        await accounts.set_admin_password("alice", "a brand new passphrase")
        key, _ = await accounts.create_api_key("ci", ["ask"])
        await accounts.authenticate(f"Bearer {key}")
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("otvet"))
    assert "alice" in logged  # the log does say what happened
    # The secret part may itself contain "_": split off only the "otv" and the prefix.
    secrets = (PASSWORD, "wrong horse battery staple", "a brand new passphrase", key, key.split("_", 2)[2])
    for secret in secrets:
        assert secret not in logged


# --- API keys -----------------------------------------------------------------------------------------------


async def test_an_api_key_is_stored_only_as_a_hash(otvet: Otvet, accounts: Accounts) -> None:
    key, record = await accounts.create_api_key("crm", ["read", "ask", "read"])
    assert key.startswith(f"otv_{record.prefix}_") and len(key) > 40
    assert record.scopes == ("ask", "read") and record.name == "crm"
    [row] = await raw_rows(otvet, "otvet_api_key")
    secret = key.split("_", 2)[2]
    assert all(key not in str(value) and secret not in str(value) for value in row.values())
    assert row["key_hash"] == hashlib.sha256(key.encode()).hexdigest()
    assert row["prefix"] == record.prefix
    assert await accounts.list_api_keys() == [record]


async def test_scopes_are_enforced(accounts: Accounts) -> None:
    ask_key, ask_record = await accounts.create_api_key("widget", ["ask"])
    admin_key, _ = await accounts.create_api_key("ops", ["admin"])
    asker = await accounts.authenticate(f"Bearer {ask_key}")
    assert asker is not None and asker.kind == "api_key" and asker.name == "widget"
    assert asker.user_id == f"key:{ask_record.id}"
    assert asker.allows("ask") and not asker.allows("read") and not asker.allows("admin")
    asker.require("ask")
    with pytest.raises(AuthError, match="'admin' scope") as caught:
        asker.require("admin")
    assert caught.value.code == "forbidden"
    operator = await accounts.authenticate(admin_key)
    assert operator is not None and all(operator.allows(scope) for scope in SCOPES)
    with pytest.raises(ValueError, match="unknown scope"):
        asker.allows("root")


async def test_invalid_scopes_and_names_are_refused(accounts: Accounts) -> None:
    with pytest.raises(ValueError, match="unknown scope 'write'"):
        await accounts.create_api_key("crm", ["ask", "write"])
    with pytest.raises(ValueError, match="at least one scope"):
        await accounts.create_api_key("crm", [])
    with pytest.raises(ValueError, match="name is empty"):
        await accounts.create_api_key(" ", ["ask"])
    assert await accounts.list_api_keys() == []


async def test_a_revoked_key_is_refused(accounts: Accounts, clock: Clock) -> None:
    key, record = await accounts.create_api_key("crm", ["ask"])
    other, _ = await accounts.create_api_key("widget", ["ask"])
    revoked = await accounts.revoke_api_key(record.id)
    assert revoked.revoked_at == datetime.fromtimestamp(T0, UTC)
    await expect_refused(accounts, f"Bearer {key}")
    assert await accounts.authenticate(f"Bearer {other}") is not None
    clock.now += 100
    assert (await accounts.revoke_api_key(record.id)).revoked_at == revoked.revoked_at  # kept, not moved
    with pytest.raises(NotFound):
        await accounts.revoke_api_key(record.id + 100)


async def test_a_wrong_secret_with_a_real_prefix_is_refused(accounts: Accounts) -> None:
    key, record = await accounts.create_api_key("crm", ["ask"])
    await expect_refused(accounts, f"Bearer otv_{record.prefix}_{'A' * 43}")
    await expect_refused(accounts, f"Bearer {key[:-1]}")
    await expect_refused(accounts, "Bearer otv_")
    await expect_refused(accounts, "Bearer otv_deadbeef_x")


async def test_last_use_is_recorded_at_most_once_a_minute(accounts: Accounts, clock: Clock) -> None:
    key, record = await accounts.create_api_key("crm", ["ask"])
    assert record.last_used_at is None

    async def last_used() -> datetime | None:
        [found] = await accounts.list_api_keys()
        return found.last_used_at

    await accounts.authenticate(f"Bearer {key}")
    assert await last_used() == datetime.fromtimestamp(T0, UTC)
    clock.now = T0 + 59
    await accounts.authenticate(f"Bearer {key}")
    assert await last_used() == datetime.fromtimestamp(T0, UTC)
    clock.now = T0 + 60
    await accounts.authenticate(f"Bearer {key}")
    assert await last_used() == datetime.fromtimestamp(T0 + 60, UTC)


async def test_no_credential_is_anonymous_and_other_schemes_are_refused(accounts: Accounts) -> None:
    assert await accounts.authenticate(None) is None
    assert await accounts.authenticate("") is None
    assert await accounts.authenticate("   ") is None
    await expect_refused(accounts, "Basic YWxpY2U6cGFzc3dvcmQ=")
    await expect_refused(accounts, "Bearer garbage")


# --- the rate limit -----------------------------------------------------------------------------------------


def test_the_sliding_window_refuses_the_request_over_the_limit_until_the_oldest_leaves() -> None:
    clock = Clock(0.0)
    limiter = RateLimiter(3, clock=clock)
    for moment in (0.0, 10.0, 20.0):
        clock.now = moment
        assert limiter.hit("key:1") is None
    clock.now = 30.0
    assert limiter.hit("key:1") == pytest.approx(30.0)  # the request at 0 leaves the window at 60
    assert limiter.hit("key:2") is None  # per principal
    clock.now = 59.9
    assert limiter.hit("key:1") == pytest.approx(0.1)
    clock.now = 60.0
    assert limiter.hit("key:1") is None
    assert limiter.hit("key:1") is not None  # 10, 20 and 60 are in the window
    assert RateLimiter(0, clock=clock).hit("key:1") is None  # 0 turns it off


async def test_authenticate_enforces_the_rate_limit_per_principal(accounts: Accounts, clock: Clock) -> None:
    accounts.limiter.limit = 2
    key, _ = await accounts.create_api_key("crm", ["ask"])
    other, _ = await accounts.create_api_key("widget", ["ask"])
    await accounts.authenticate(f"Bearer {key}")
    await accounts.authenticate(f"Bearer {key}")
    refused = await expect_refused(accounts, f"Bearer {key}", "rate_limited")
    assert refused.retry_after is not None and 0 < refused.retry_after <= 61
    assert await accounts.authenticate(f"Bearer {other}") is not None
    clock.now += refused.retry_after  # waiting as long as told is enough
    assert await accounts.authenticate(f"Bearer {key}") is not None


def test_the_default_settings_limit_each_principal_to_120_requests_a_minute(tmp_path: Path) -> None:
    from tests.conftest import make_settings

    settings = make_settings(tmp_path)
    assert (settings.api.requests_per_minute, settings.api.token_ttl_seconds) == (120, 3600)
    assert Accounts(Otvet(settings)).limiter.limit == 120


# --- HTTP ---------------------------------------------------------------------------------------------------


def http_request(otvet: Otvet, authorization: str | None) -> Request:
    app = Starlette()
    app.state.otvet = otvet
    headers = [] if authorization is None else [(b"authorization", authorization.encode())]
    return Request({"type": "http", "method": "POST", "path": "/", "headers": headers, "app": app})


async def test_request_principal_reads_the_authorization_header(otvet: Otvet, accounts: Accounts) -> None:
    key, record = await accounts.create_api_key("crm", ["ask"])
    principal = await request_principal(http_request(otvet, f"Bearer {key}"))
    assert principal is not None and principal.id == record.id
    assert await request_principal(http_request(otvet, None)) is None
    with pytest.raises(AuthError):
        await request_principal(http_request(otvet, "Bearer otv_nope_nope"))


def test_auth_errors_become_401_403_and_429_with_their_headers() -> None:
    unauthenticated = auth_error_response(AuthError("unauthenticated"))
    assert unauthenticated.status_code == 401
    assert unauthenticated.headers["www-authenticate"].startswith("Bearer")
    assert b'"code":"unauthenticated"' in unauthenticated.body
    forbidden = auth_error_response(AuthError("forbidden", "this needs the 'admin' scope"))
    assert forbidden.status_code == 403 and "www-authenticate" not in forbidden.headers
    limited = auth_error_response(AuthError("rate_limited", retry_after=12.2))
    assert limited.status_code == 429 and limited.headers["retry-after"] == "13"
    custom = auth_error_response(AuthError("forbidden"), lambda exc: {"error": {"type": exc.code}})
    assert custom.body == b'{"error":{"type":"forbidden"}}'


async def test_concurrent_logins_hash_at_most_the_configured_number_at_once(
    accounts: Accounts, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each Argon2id hash takes 64 MiB: 40 logins at once took the process from 128 to 514 MiB."""
    await accounts.create_admin("root", "a long enough password")
    accounts.failures.limit = 0  # a dozen wrong passwords on purpose
    running = peak = 0
    lock = threading.Lock()
    verify = accounts._verify

    def counting(password_hash: str, password: str) -> bool:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        try:
            time.sleep(0.01)  # long enough for the others to pile up, were they let in
            return verify(password_hash, password)
        finally:
            with lock:
                running -= 1

    monkeypatch.setattr(accounts, "_verify", counting)

    async def attempt(n: int) -> None:
        with pytest.raises(AuthError):
            await accounts.login("root", f"wrong password {n}")

    await asyncio.gather(*(attempt(n) for n in range(12)))
    assert peak == accounts.otvet.settings.api.password_hash_concurrency == 2


def test_forwarded_addresses_are_believed_only_from_configured_proxies(tmp_path: Path) -> None:
    from otvet.frontends.server import uvicorn_config
    from tests.conftest import make_settings

    believing = uvicorn_config(lambda *_: None, make_settings(tmp_path), "127.0.0.1", 0)  # type: ignore[arg-type]
    assert believing.proxy_headers and believing.forwarded_allow_ips == "127.0.0.1"
    settings = make_settings(tmp_path, forwarded_allow_ips=[])
    nobody = uvicorn_config(lambda *_: None, settings, "127.0.0.1", 0)  # type: ignore[arg-type]
    assert not nobody.proxy_headers  # an empty list used to fall back to 127.0.0.1


# --- signing out, and admins on a channel -------------------------------------------------------------------


async def test_a_signed_out_token_is_refused_though_unexpired_and_other_sessions_go_on(
    otvet: Otvet, accounts: Accounts, clock: Clock
) -> None:
    await accounts.create_admin("alice", PASSWORD)
    laptop = (await accounts.login("alice", PASSWORD)).token
    clock.now += 1  # a second later: another token
    phone = (await accounts.login("alice", PASSWORD)).token
    assert await accounts.logout(laptop) is True
    refused = await expect_refused(accounts, f"Bearer {laptop}")
    assert "signed out" in refused.message
    principal = await accounts.authenticate(f"Bearer {phone}")
    assert principal is not None and principal.name == "alice"
    assert await accounts.logout(laptop) is True  # again: no error, still refused
    assert await accounts.logout("not a token") is False
    [row] = await raw_rows(otvet, "otvet_revoked_token")
    assert laptop not in str(row) and len(row["digest"]) == 64  # only its hash is kept
    # Kept until the token would have expired, then dropped: an expired token is refused anyway.
    assert await otvet.store.forget_revoked_tokens(datetime.fromtimestamp(T0, UTC)) == 0
    later = datetime.fromtimestamp(T0 + accounts.token_ttl + 60, UTC)
    assert await otvet.store.forget_revoked_tokens(later) == 1


async def test_a_link_code_links_one_channel_account_once_within_its_quarter_hour(
    otvet: Otvet, accounts: Accounts, clock: Clock
) -> None:
    await accounts.create_admin("alice", PASSWORD)
    code, expires = await accounts.create_link_code("alice")
    assert len(code) == 8 and expires == datetime.fromtimestamp(T0 + 15 * 60, UTC)
    assert code not in str(await raw_rows(otvet, "otvet_link_code"))
    assert await accounts.channel_admin("telegram", "42") is None
    admin = await accounts.link_channel(
        "telegram", "42", f" {code.lower()[:4]}-{code.lower()[4:]} "
    )  # as typed
    assert admin.username == "alice"
    assert (await accounts.channel_admin("telegram", "42")).username == "alice"  # type: ignore[union-attr]
    with pytest.raises(AuthError, match="wrong, used or expired"):
        await accounts.link_channel("telegram", "43", code)  # used
    late, _ = await accounts.create_link_code("alice")
    clock.now += 15 * 60 + 1
    with pytest.raises(AuthError, match="wrong, used or expired"):
        await accounts.link_channel("telegram", "43", late)
    await accounts.set_admin_disabled("alice", True)
    assert await accounts.channel_admin("telegram", "42") is None  # a disabled admin acts nowhere
    with pytest.raises(NotFound):
        await accounts.create_link_code("bob")


async def test_guessing_link_codes_is_stopped_after_a_few_tries(accounts: Accounts, clock: Clock) -> None:
    accounts.failures.clock = clock
    await accounts.create_admin("alice", PASSWORD)
    code, _ = await accounts.create_link_code("alice")
    for _ in range(accounts.failures.limit):
        with pytest.raises(AuthError) as wrong:
            await accounts.link_channel("telegram", "666", "AAAAAAAA")
        assert wrong.value.code == "unauthenticated"
    with pytest.raises(AuthError) as locked:
        await accounts.link_channel("telegram", "666", code)  # even the right one, for now
    assert locked.value.code == "rate_limited" and locked.value.retry_after
    assert (await accounts.link_channel("telegram", "7", code)).username == "alice"  # another account may
