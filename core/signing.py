"""The deployment secret and the tokens signed with it: HMAC-SHA256, compared in constant time.

The secret is ``api.secret_key`` when set. Otherwise one random secret is kept in ``<data_dir>/secret.key``
(mode 0600), created by whichever process needs it first, so every process on the machine signs alike and
tokens survive restarts; replicas on other machines must share ``api.secret_key`` instead.

Each use derives its own key from the secret (:func:`derive_key`), so a login token can never pass as a
widget token or the other way round. The widget's tokens (docs/widget.md#tokens):

* visitor ``v1.<visitor id>.<issued unix time>.<sig>``: an anonymous browser's identity;
* user ``u1.<api key id>.<base64url(user id)>.<expires unix time>.<sig>``: an integrator's end user, minted
  by the integrator's backend through GraphQL ``widgetUserToken``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from otvet.config.settings import Settings

SECRET_FILE = "secret.key"
#: Purposes of derived keys: the text is part of the key, so changing one invalidates its tokens.
WIDGET_PURPOSE = "otvet widget token v1"

_cache: dict[Path, bytes] = {}
_lock = threading.Lock()


def b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64decode(text: str) -> bytes:
    """Unpadded base64url; ValueError for anything else."""
    if not text.isascii():
        raise ValueError("not base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except binascii.Error as exc:
        raise ValueError("not base64url") from exc


# --- the secret ---------------------------------------------------------------------------------------------


def deployment_secret(settings: Settings) -> bytes:
    """``api.secret_key`` when set, else this machine's persisted secret (created on first use)."""
    configured = settings.api.secret_key.get_secret_value()
    if configured:
        return configured.encode("utf-8")
    return machine_secret(settings.data_dir)


def machine_secret(data_dir: Path) -> bytes:
    """The secret in ``data_dir/secret.key``, created (mode 0600) when missing; read once per process."""
    path = (data_dir / SECRET_FILE).resolve()
    with _lock:
        found = _cache.get(path)
        if found is None:
            found = _cache[path] = _read_or_create(path)
        return found


def _read_or_create(path: Path) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: of several processes starting at once exactly one creates the file; the others read it.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read(path)
    secret = secrets.token_urlsafe(48).encode("ascii")
    with os.fdopen(fd, "wb") as fh:
        fh.write(secret + b"\n")
        fh.flush()
        os.fsync(fh.fileno())
    return secret


def _read(path: Path) -> bytes:
    # The creator may not have written yet: an empty file is read again for a little while.
    for _ in range(100):
        secret = path.read_bytes().strip()
        if secret:
            return secret
        time.sleep(0.02)
    raise RuntimeError(f"{path} is empty: delete it to have a new secret made (every token is then invalid)")


# --- signing ------------------------------------------------------------------------------------------------


def derive_key(secret: bytes, purpose: str) -> bytes:
    """A key for one purpose only, derived from the deployment secret."""
    return hmac.new(secret, purpose.encode("utf-8"), hashlib.sha256).digest()


def sign(key: bytes, payload: str) -> str:
    """The base64url HMAC-SHA256 of ``payload``."""
    return b64encode(hmac.new(key, payload.encode("utf-8"), hashlib.sha256).digest())


def verify(key: bytes, payload: str, signature: str) -> bool:
    """Whether ``signature`` signs ``payload``, compared in constant time."""
    if not signature.isascii():
        return False
    return hmac.compare_digest(sign(key, payload), signature)


def _unseal(key: bytes, token: str, prefix: str, parts: int) -> list[str] | None:
    """The signed fields of ``prefix.<fields>.<sig>`` with exactly ``parts`` fields, or None."""
    if not isinstance(token, str) or len(token) > 1024 or not token.isascii():
        return None
    payload, _, signature = token.rpartition(".")
    fields = payload.split(".")
    if len(fields) != parts + 1 or fields[0] != prefix or not verify(key, payload, signature):
        return None
    return fields[1:]


# --- widget tokens ------------------------------------------------------------------------------------------


def issue_visitor_token(key: bytes, visitor_id: str | None = None, now: float | None = None) -> str:
    """A visitor token for ``visitor_id`` (a new random visitor when None), issued ``now``."""
    visitor = visitor_id or b64encode(secrets.token_bytes(16))
    payload = f"v1.{visitor}.{int(time.time() if now is None else now)}"
    return f"{payload}.{sign(key, payload)}"


def read_visitor_token(key: bytes, token: str | None, max_age: float, now: float | None = None) -> str | None:
    """The visitor id of a valid token issued less than ``max_age`` seconds ago; None otherwise."""
    fields = _unseal(key, token or "", "v1", 2)
    if fields is None:
        return None
    visitor, issued = fields
    try:
        age = (time.time() if now is None else now) - int(issued)
    except ValueError:
        return None
    return visitor if visitor and age >= -300 and age < max_age else None  # 5 min of clock skew allowed


@dataclass(frozen=True, slots=True)
class UserClaim:
    """What a valid user token says: which API key vouches for which of its users, until when."""

    api_key_id: int
    user_id: str
    expires: int


def issue_user_token(key: bytes, api_key_id: int, user_id: str, expires: int) -> str:
    payload = f"u1.{api_key_id}.{b64encode(user_id.encode('utf-8'))}.{expires}"
    return f"{payload}.{sign(key, payload)}"


def read_user_token(key: bytes, token: str | None, now: float | None = None) -> UserClaim | None:
    """The claim of a valid, unexpired user token; None otherwise (the API key is not checked here)."""
    fields = _unseal(key, token or "", "u1", 3)
    if fields is None:
        return None
    key_id, user, expires = fields
    try:
        claim = UserClaim(int(key_id), b64decode(user).decode("utf-8"), int(expires))
    except ValueError:  # signed by us, so only a change of format could get here
        return None
    if not claim.user_id or claim.expires <= (time.time() if now is None else now):
        return None
    return claim
