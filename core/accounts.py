"""Who is calling the API: admin accounts (password → short-lived login token) and scoped API keys.

Everything secret is kept out of the database and the logs:

* Passwords are hashed with Argon2id (argon2-cffi's defaults) and only the hash is stored. Logging in with
  an unknown username verifies against a dummy hash, so it takes as long as a wrong password and usernames
  cannot be probed by timing.
* Login tokens are not stored at all: ``<payload>.<signature>``, an HMAC-SHA256 over ``api.secret_key`` of
  the admin's id, the expiry and a fingerprint of the current password hash. Changing the password gives a
  new hash (a new salt), so every outstanding token stops matching; disabling an admin refuses their tokens
  because each request reads the account. Signing out (:meth:`Accounts.logout`) stores the token's SHA-256
  until the token would have expired, and every replica refuses it from then on.
* A channel's account (a Telegram user) acts as an admin once it sends a one-time code made by
  ``otvet admin link-telegram``; only the code's hash is stored, it lasts 15 minutes and works once.
* API keys are ``otv_<prefix>_<secret>``. The prefix is stored in clear to find the row; of the key only a
  SHA-256 hash is stored. A key carries 256 random bits, so a fast hash is enough: nobody can guess their
  way to it, which is what a slow hash protects low-entropy passwords against.

:meth:`Accounts.authenticate` also enforces the per-principal rate limit (``api.requests_per_minute``), and
:meth:`Accounts.login` the limits on login attempts per client address and failed logins per username.

See docs/security.md.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import math
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from otvet.core.limits import SharedRateLimiter
from otvet.core.signing import SECRET_FILE, b64decode, b64encode, derive_key, machine_secret, sign, verify
from otvet.core.store import AdminRecord, ApiKeyRecord, NotFound

if TYPE_CHECKING:
    from otvet.core.app import Otvet
    from otvet.core.store import Store

__all__ = [
    "SCOPES",
    "Accounts",
    "AdminRecord",
    "ApiKeyRecord",
    "AuthError",
    "Login",
    "Principal",
    "Scope",
    "check_password",
    "check_username",
]

log = logging.getLogger(__name__)

Scope = Literal["ask", "read", "admin"]
#: Every scope an API key may carry. ``admin`` implies ``read`` and ``ask``.
SCOPES: tuple[str, ...] = ("ask", "read", "admin")
ADMIN_SCOPES: frozenset[str] = frozenset(SCOPES)

MIN_PASSWORD_LENGTH = 12
#: Longer passwords are refused: hashing megabytes on request would be a cheap way to burn CPU.
MAX_PASSWORD_LENGTH = 1024
MAX_NAME_LENGTH = 150
#: Longest engine user id the store keeps (``otvet_user.external_id``).
MAX_EXTERNAL_ID = 255
#: ``last_used_at`` of an API key is written at most this often, not on every request.
LAST_USED_RESOLUTION = timedelta(seconds=60)
KEY_PREFIX = "otv_"
#: Link codes: 8 characters of an alphabet without look-alikes (0/O, 1/I/L): ~40 bits, typed from a terminal
#: into a chat within the quarter of an hour they last, and only a few wrong tries per account.
LINK_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
LINK_CODE_LENGTH = 8
LINK_CODE_TTL = timedelta(minutes=15)

AuthCode = Literal["unauthenticated", "forbidden", "rate_limited"]
LimitedBy = Literal["address", "account", "principal"]


class AuthError(Exception):
    """A refused caller. ``code`` is ``unauthenticated`` (no valid credential: missing, malformed, expired,
    revoked, or a failed login), ``forbidden`` (authenticated, but without the scope) or ``rate_limited``
    (``retry_after`` seconds until a request can succeed; ``limited_by`` says which limit: ``address`` or
    ``account`` for a login, ``principal`` for a request).

    Messages never say which part of a credential was wrong, so they cannot be used to probe.
    """

    def __init__(
        self,
        code: AuthCode | str,
        message: str = "",
        *,
        retry_after: float | None = None,
        limited_by: LimitedBy | None = None,
    ) -> None:
        self.code = code
        self.message = message or _DEFAULT_MESSAGES.get(code, code)
        self.retry_after = retry_after
        self.limited_by = limited_by
        super().__init__(self.message)


_DEFAULT_MESSAGES = {
    "unauthenticated": "a valid login token or API key is required",
    "forbidden": "this credential is not allowed to do that",
    "rate_limited": "too many requests",
}


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: an admin (logged in) or an API key."""

    kind: Literal["admin", "api_key"]
    #: The admin account's or the API key's id.
    id: int
    #: The username or the key's name.
    name: str
    #: What it was granted; an admin login has every scope.
    scopes: frozenset[str]

    def allows(self, scope: str) -> bool:
        """True when ``scope`` is granted (``admin`` grants everything)."""
        if scope not in SCOPES:
            raise ValueError(f"unknown scope {scope!r}: choose from {', '.join(SCOPES)}")
        return scope in self.scopes or "admin" in self.scopes

    def require(self, scope: str) -> None:
        """Raise ``AuthError("forbidden")`` unless ``scope`` is granted."""
        if not self.allows(scope):
            raise AuthError("forbidden", f"this needs the {scope!r} scope")

    @property
    def user_id(self) -> str:
        """The engine's user id for this caller (its conversations, quotas and usage)."""
        return f"{'key' if self.kind == 'api_key' else 'admin'}:{self.id}"

    def end_user_id(self, user: str | None) -> str:
        """The engine's user id for ``user``, an end user of this caller (the caller itself when None).

        Namespaced by the caller (``key:3/u42``), so two integrators sending the same user id never share
        a conversation, and per-user quotas and usage reports see each end user, whichever API asked.
        """
        if user is None:
            return self.user_id
        found = f"{self.user_id}/{user}"
        if len(found) > MAX_EXTERNAL_ID:
            # The APIs take ids up to 256 characters and the prefix adds some: past the stored column's
            # length, the end is replaced by a digest of the whole, so long ids stay apart and fit.
            digest = hashlib.sha256(found.encode()).hexdigest()[:32]
            found = f"{found[: MAX_EXTERNAL_ID - len(digest) - 1]}#{digest}"
        return found

    def owns(self, external_id: str) -> bool:
        """Whether the engine user ``external_id`` is this caller or one of its end users."""
        return external_id == self.user_id or external_id.startswith(f"{self.user_id}/")

    @property
    def rate_key(self) -> str:
        return self.user_id


@dataclass(frozen=True, slots=True)
class Login:
    """A successful login: the token to send as ``Authorization: Bearer <token>``, when it expires, and the
    admin it signs in."""

    token: str
    expires_at: datetime
    username: str


# --- validation ------------------------------------------------------------------------------------------


def _is_username(username: str) -> bool:
    try:
        check_username(username)
    except ValueError:
        return False
    return True


def check_username(username: str) -> str:
    """The username as stored, or ValueError saying what is wrong with it."""
    name = username.strip()
    if not name:
        raise ValueError("the username is empty")
    if len(name) > MAX_NAME_LENGTH:
        raise ValueError(f"the username is longer than {MAX_NAME_LENGTH} characters")
    if any(ch.isspace() or not ch.isprintable() for ch in name):
        raise ValueError("the username must not contain spaces or control characters")
    return name


def check_password(password: str, username: str) -> None:
    """ValueError unless ``password`` is acceptable for ``username``. The message never repeats it."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"the password must be at least {MIN_PASSWORD_LENGTH} characters long")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValueError(f"the password must be at most {MAX_PASSWORD_LENGTH} characters long")
    if password.strip().casefold() == username.strip().casefold():
        raise ValueError("the password must not be the username")


def check_scopes(scopes: Iterable[str]) -> tuple[str, ...]:
    """The scopes, deduplicated in SCOPES order; ValueError for none or an unknown one."""
    wanted = {scope.strip().lower() for scope in scopes}
    unknown = sorted(wanted - set(SCOPES))
    if unknown:
        raise ValueError(f"unknown scope {', '.join(map(repr, unknown))}: choose from {', '.join(SCOPES)}")
    if not wanted:
        raise ValueError(f"an API key needs at least one scope ({', '.join(SCOPES)})")
    return tuple(scope for scope in SCOPES if scope in wanted)


# --- the accounts service ----------------------------------------------------------------------------------


def token_digest(token: str) -> str:
    """How a signed-out login token is remembered: SHA-256 hex (the token itself is never stored)."""
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def _code_hash(code: str) -> str:
    return hashlib.sha256(f"link:{code}".encode()).hexdigest()


def hash_api_key(key: str) -> str:
    """The stored form of an API key: SHA-256 hex of the whole key."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class Accounts:
    """Admin accounts, login tokens, API keys and the per-principal rate limit (``otvet.accounts``)."""

    def __init__(
        self,
        otvet: Otvet,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.otvet = otvet
        settings = otvet.settings.api
        #: Wall-clock seconds: token expiry and ``last_used_at`` (tests move it).
        self.clock = clock
        self.token_ttl = settings.token_ttl_seconds
        self._secret = settings.secret_key
        self._key: bytes | None = None
        self.hasher = PasswordHasher()  # Argon2id with argon2-cffi's (RFC 9106 low-memory) parameters
        self._dummy_hash: str | None = None
        #: Requests a minute per principal, for every replica together.
        self.limiter = SharedRateLimiter(lambda: otvet.store, "api", settings.requests_per_minute)
        #: Login attempts a minute per client address (every frontend's, for every replica together): each
        #: costs an Argon2 hash (CPU), and a password must not be guessable by trying.
        self.attempts = SharedRateLimiter(lambda: otvet.store, "login", settings.login_attempts_per_minute)
        #: Failed logins per username (any address), for every replica together.
        self.failures = SharedRateLimiter(
            lambda: otvet.store,
            "login-failed",
            settings.login_failures_per_account,
            window=settings.login_failure_window_seconds,
        )
        # Each Argon2id hash takes 64 MiB for its few dozen milliseconds: a cap keeps a burst of logins
        # from taking the process's memory (40 at once took it from 128 to 514 MiB).
        self._hashing = asyncio.Semaphore(settings.password_hash_concurrency)

    @property
    def store(self) -> Store:
        return self.otvet.store

    # --- admins ---------------------------------------------------------------------------------------------

    async def create_admin(self, username: str, password: str) -> AdminRecord:
        """A new admin account; ValueError for a bad username, a weak password or a taken username."""
        username = check_username(username)
        check_password(password, username)
        password_hash = await self._hash(password)
        admin = await self.store.create_admin(username, password_hash)
        log.info("admin account %r created (id %d)", admin.username, admin.id)
        return admin

    async def list_admins(self) -> list[AdminRecord]:
        return await self.store.list_admins()

    async def set_admin_password(self, username: str, password: str) -> None:
        """Change an admin's password (NotFound if unknown); their outstanding tokens stop working."""
        found = await self.store.find_admin(username.strip())
        if found is None:
            raise NotFound(f"there is no admin called {username!r}")
        admin, _ = found
        check_password(password, admin.username)
        password_hash = await self._hash(password)
        await self.store.set_admin_password_hash(admin.id, password_hash)
        log.info("password of admin %r changed: their login tokens are no longer valid", admin.username)

    async def set_admin_disabled(self, username: str, disabled: bool) -> None:
        """Disable (or enable again) an admin: a disabled one cannot log in and their tokens are refused."""
        found = await self.store.find_admin(username.strip())
        if found is None:
            raise NotFound(f"there is no admin called {username!r}")
        admin, _ = found
        await self.store.set_admin_disabled(admin.id, disabled)
        log.info("admin %r %s", admin.username, "disabled" if disabled else "enabled")

    async def login(self, username: str, password: str, address: str | None = None) -> Login:
        """A login token, its expiry and the admin's username, or ``AuthError("unauthenticated")`` (never
        saying what failed), or ``AuthError("rate_limited")`` while ``address`` (the client's, when there is
        one) has tried too often this minute or the username has had too many failed logins lately."""
        if address is not None:
            # Every attempt counts, right password or not: guessing from one address stays slow.
            wait = await self.attempts.hit(address)
            if wait is not None:
                raise AuthError(
                    "rate_limited",
                    f"too many login attempts from this address: try again in {math.ceil(wait)} s",
                    retry_after=wait,
                    limited_by="address",
                )
        if self._dummy_hash is None:  # made before the lookup, so the first login of each kind costs the same
            self._dummy_hash = await self._hash(secrets.token_urlsafe(16))
        # Failed logins count per username whether or not it names an account, so the refusal tells
        # nothing about which accounts exist; and from any address, so spreading guesses over many
        # addresses (or forged X-Forwarded-For headers) does not help.
        account = username.strip().casefold()
        locked = await self.failures.over(account)
        if locked is not None:
            log.info("login refused: too many failed logins for one username lately")
            raise AuthError(
                "rate_limited",
                f"too many failed logins for this account: try again in {math.ceil(locked)} s",
                retry_after=locked,
                limited_by="account",
            )
        found = None
        # A name no account can have is not looked up: it is often a password typed into the wrong field,
        # and the database drivers log every query's parameters at DEBUG.
        if len(password) <= MAX_PASSWORD_LENGTH and _is_username(username):
            found = await self.store.find_admin(username.strip())
        if found is None:
            # Spend the same time as a real verification, so a wrong username looks like a wrong password.
            await self._check(self._dummy_hash, password)
            await self.failures.hit(account)
            log.info("failed login for an unknown username")  # not the name: it may be a mistyped password
            raise AuthError("unauthenticated", "wrong username or password")
        admin, password_hash = found
        if not await self._check(password_hash, password) or admin.disabled:
            await self.failures.hit(account)
            log.info("failed login for admin %r%s", admin.username, " (disabled)" if admin.disabled else "")
            raise AuthError("unauthenticated", "wrong username or password")
        if self.hasher.check_needs_rehash(password_hash):
            # Hashed with older parameters: store a hash with today's. Its fingerprint differs, so tokens
            # issued before are refused from now on; that happens once, after an upgrade.
            password_hash = await self._hash(password)
            await self.store.set_admin_password_hash(admin.id, password_hash)
        expires = int(self.clock()) + self.token_ttl
        log.info("admin %r logged in", admin.username)
        token = self._sign(admin.id, expires, password_hash)
        return Login(token, datetime.fromtimestamp(expires, UTC), admin.username)

    async def _hash(self, password: str) -> str:
        async with self._hashing:
            return await asyncio.to_thread(self.hasher.hash, password)

    async def _check(self, password_hash: str, password: str) -> bool:
        async with self._hashing:
            return await asyncio.to_thread(self._verify, password_hash, password)

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self.hasher.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    # --- tokens ---------------------------------------------------------------------------------------------

    @property
    def _signing_key(self) -> bytes:
        # Made on first use, so commands that never see a token (``otvet key list``) do not warn about it.
        if self._key is None:
            secret = self._secret.get_secret_value().encode("utf-8")
            if not secret:
                log.warning(
                    "api.secret_key (OTVET_API__SECRET_KEY) is not set: login tokens are signed with the key "
                    "in %s, so they survive restarts on this machine, but deployments with several replicas "
                    "must set the same api.secret_key on each",
                    self.otvet.settings.data_dir / SECRET_FILE,
                )
                secret = machine_secret(self.otvet.settings.data_dir)
            elif len(secret) < 32:
                log.warning("api.secret_key is shorter than 32 characters: use a long random value")
            # A key derived for this one purpose, so the secret signs other things (widget tokens) without
            # overlap.
            self._key = derive_key(secret, "otvet login token v1")
        return self._key

    def _fingerprint(self, password_hash: str) -> str:
        # 16 characters: the base64url of the signature's first 12 bytes.
        return sign(self._signing_key, f"pw:{password_hash}")[:16]

    def _sign(self, admin_id: int, expires: int, password_hash: str) -> str:
        payload = b64encode(f"{admin_id}.{expires}.{self._fingerprint(password_hash)}".encode("ascii"))
        return f"{payload}.{sign(self._signing_key, payload)}"

    def _token_fields(self, token: str) -> tuple[int, int, str] | None:
        """The admin id, expiry and password fingerprint of a token this deployment signed and that has not
        expired; None for anything else."""
        payload, _, signature = token.partition(".")
        # All of it ASCII: hmac.compare_digest raises TypeError on other str, which would be a 500, not a 401.
        if not payload or not signature or not token.isascii():
            return None
        if not verify(self._signing_key, payload, signature):
            return None
        try:
            admin_id_text, expires_text, fingerprint = b64decode(payload).decode("ascii").split(".")
            admin_id, expires = int(admin_id_text), int(expires_text)
        except ValueError:  # signed by us, so only a change of format could get here
            return None
        if expires <= self.clock():
            return None
        return admin_id, expires, fingerprint

    async def _admin_from_token(self, token: str) -> Principal:
        invalid = AuthError("unauthenticated", "the login token is invalid or has expired")
        fields = self._token_fields(token)
        if fields is None:
            raise invalid
        admin_id, _, fingerprint = fields
        found = await self.store.get_admin(admin_id)
        if found is None:
            raise invalid
        admin, password_hash = found
        if admin.disabled or not hmac.compare_digest(self._fingerprint(password_hash), fingerprint):
            raise invalid
        if await self.store.is_token_revoked(token_digest(token)):
            raise AuthError("unauthenticated", "the login token was signed out")
        return Principal("admin", admin.id, admin.username, ADMIN_SCOPES)

    async def logout(self, credential: str) -> bool:
        """Sign a login token out (the token, or ``Bearer <token>`` as a request carries it): every replica
        refuses it from now on, though it has not expired (a copy left in a browser or a log is worth
        nothing). False for an API key (revoked with :meth:`revoke_api_key`) or anything not a valid token."""
        scheme, _, rest = credential.strip().partition(" ")
        token = rest.strip() if rest and scheme.lower() == "bearer" else credential.strip()
        if token.startswith(KEY_PREFIX):
            return False
        fields = self._token_fields(token)
        if fields is None:
            return False
        admin_id, expires, _ = fields
        await self.store.revoke_token(token_digest(token), datetime.fromtimestamp(expires, UTC))
        log.info("admin id %d signed out a session", admin_id)
        return True

    # --- admins on a channel (Telegram) ---------------------------------------------------------------------

    async def create_link_code(self, username: str) -> tuple[str, datetime]:
        """A one-time code that links the channel account sending it (``/link CODE`` to the bot) to the
        admin ``username``, and when it expires. Only its hash is stored."""
        found = await self.store.find_admin(username.strip())
        if found is None:
            raise NotFound(f"there is no admin called {username!r}")
        admin, _ = found
        if admin.disabled:
            raise ValueError(f"admin {admin.username!r} is disabled")
        code = "".join(secrets.choice(LINK_CODE_ALPHABET) for _ in range(LINK_CODE_LENGTH))
        expires = datetime.fromtimestamp(self.clock(), UTC) + LINK_CODE_TTL
        await self.store.add_link_code(admin.id, _code_hash(code), expires)
        log.info("link code made for admin %r, valid until %s", admin.username, f"{expires:%H:%M} UTC")
        return code, expires

    async def link_channel(self, channel: str, external_id: str, code: str) -> AdminRecord:
        """Link the channel's account to the admin whose code it sent. A wrong, used or expired code is
        ``AuthError("unauthenticated")``; too many wrong ones from one account, ``rate_limited``."""
        account = f"link:{channel}:{external_id}"
        locked = await self.failures.over(account)
        if locked is not None:
            raise AuthError(
                "rate_limited",
                f"too many wrong codes: try again in {math.ceil(locked)} s",
                retry_after=locked,
            )
        cleaned = "".join(ch for ch in code.upper() if ch.isalnum())
        now = datetime.fromtimestamp(self.clock(), UTC)
        admin_id = await self.store.use_link_code(_code_hash(cleaned), now) if cleaned.isascii() else None
        found = None if admin_id is None else await self.store.get_admin(admin_id)
        if found is None or found[0].disabled:
            await self.failures.hit(account)
            log.info("a wrong, used or expired link code from %s:%s", channel, external_id)
            raise AuthError("unauthenticated", "the code is wrong, used or expired")
        admin = found[0]
        await self.store.link_channel_admin(admin.id, channel, external_id)
        log.info("%s:%s now acts as admin %r", channel, external_id, admin.username)
        return admin

    async def channel_admin(self, channel: str, external_id: str) -> AdminRecord | None:
        """The enabled admin the channel's account is linked to, or None."""
        admin = await self.store.channel_admin(channel, external_id)
        return None if admin is None or admin.disabled else admin

    # --- API keys -------------------------------------------------------------------------------------------

    async def create_api_key(self, name: str, scopes: Iterable[str]) -> tuple[str, ApiKeyRecord]:
        """A new key: the raw key (show it once, it is not stored) and its record."""
        name = name.strip()
        if not name:
            raise ValueError("the key's name is empty")
        if len(name) > MAX_NAME_LENGTH:
            raise ValueError(f"the key's name is longer than {MAX_NAME_LENGTH} characters")
        granted = check_scopes(scopes)
        for _ in range(5):  # a prefix collision (32 random bits) is rare; try a fresh one
            prefix = secrets.token_hex(4)
            key = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
            try:
                record = await self.store.create_api_key(name, prefix, hash_api_key(key), granted)
            except ValueError:
                continue
            log.info("API key %r created (id %d, prefix %s, scopes %s)", name, record.id, prefix, granted)
            return key, record
        raise RuntimeError("could not find a free API key prefix")

    async def list_api_keys(self) -> list[ApiKeyRecord]:
        return await self.store.list_api_keys()

    async def revoke_api_key(self, key_id: int) -> ApiKeyRecord:
        """Revoke a key for good (NotFound if unknown); revoking it again changes nothing."""
        record = await self.store.revoke_api_key(key_id, datetime.fromtimestamp(self.clock(), UTC))
        log.info("API key %r (id %d, prefix %s) revoked", record.name, record.id, record.prefix)
        return record

    async def _api_key(self, key: str) -> Principal:
        invalid = AuthError("unauthenticated", "the API key is invalid or has been revoked")
        prefix, _, secret = key.removeprefix(KEY_PREFIX).partition("_")
        if not prefix or not secret or len(prefix) > 32:
            raise invalid
        found = await self.store.find_api_key(prefix)
        if found is None:
            raise invalid
        record, key_hash = found
        if not hmac.compare_digest(hash_api_key(key), key_hash) or record.revoked_at is not None:
            raise invalid
        now = datetime.fromtimestamp(self.clock(), UTC)
        if record.last_used_at is None or now - record.last_used_at >= LAST_USED_RESOLUTION:
            await self.store.touch_api_key(record.id, now)
        return Principal("api_key", record.id, record.name, frozenset(record.scopes))

    # --- every request --------------------------------------------------------------------------------------

    async def authenticate(self, credential: str | None) -> Principal | None:
        """Who ``credential`` is: an ``Authorization`` value (``Bearer <token or key>``) or the bare value.

        None or empty: None (anonymous). Anything else that is not a valid, unexpired, unrevoked credential
        of an enabled account: ``AuthError("unauthenticated")``. Over the rate limit:
        ``AuthError("rate_limited")`` with ``retry_after``.
        """
        if credential is None or not credential.strip():
            return None
        scheme, _, rest = credential.strip().partition(" ")
        if rest:
            if scheme.lower() != "bearer":
                raise AuthError("unauthenticated", "use 'Authorization: Bearer <token or API key>'")
            value = rest.strip()
        else:
            value = scheme
        if value.startswith(KEY_PREFIX):
            principal = await self._api_key(value)
        else:
            principal = await self._admin_from_token(value)
        retry_after = await self.limiter.hit(principal.rate_key)
        if retry_after is not None:
            raise AuthError(
                "rate_limited",
                f"more than {self.limiter.limit} requests a minute: try again in {math.ceil(retry_after)} s",
                retry_after=retry_after,
                limited_by="principal",
            )
        return principal
