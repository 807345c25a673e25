"""TLS to PostgreSQL: libpq's ``sslmode`` and its files, from the settings and the URL, as asyncpg's ``ssl=``.

Otvet reads these options itself instead of leaving the URL to Tortoise and asyncpg, because:

- Tortoise casts ``?ssl=...`` with ``bool()``, so ``?ssl=false`` means *on* (and verify-full at that).
- Tortoise hands every other query parameter to ``asyncpg.connect()`` as a keyword argument, and asyncpg has
  no ``sslmode``/``sslrootcert`` keywords (only its DSN parser reads them, and Tortoise passes no DSN): the
  connection strings AWS RDS and Azure document would fail with a ``TypeError``.
- asyncpg's own ``sslmode`` strings also consult ``PGSSLROOTCERT``, ``~/.postgresql/root.crt`` and friends, so
  ``require`` would verify on one machine and not on the next. For ``require``, ``verify-ca`` and
  ``verify-full`` Otvet builds the :class:`ssl.SSLContext` from its settings alone (:func:`build_context`).

The settings (``OTVET_DATABASE_SSL__*``) win over the URL's parameters, one by one. The URL's parameters are
removed before Tortoise sees the URL. Every mistake (an unknown mode, an unreadable file, a key that does not
open) is a :class:`DatabaseTlsError` naming the setting or URL parameter to fix, raised before any connection
is attempted. Messages name paths and settings, never the URL, so they cannot show its password.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

if TYPE_CHECKING:
    from otvet.config.settings import DatabaseSslSettings

log = logging.getLogger(__name__)

#: libpq's modes, weakest first.
MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
#: libpq's default when neither the settings nor the URL name a mode.
DEFAULT_MODE = "prefer"
#: libpq's special ``sslrootcert`` value (PostgreSQL 16): the system's trusted CAs, with verify-full.
SYSTEM_ROOT = "system"
#: URL schemes Tortoise serves with asyncpg; their URLs get the treatment of this module.
ASYNCPG_SCHEMES = ("postgres", "postgresql", "asyncpg")

#: URL query parameter (libpq's name) → the ``DatabaseSslSettings`` field it stands for.
URL_PARAMETERS = {"sslmode": "mode", "sslrootcert": "root_cert", "sslcert": "cert", "sslkey": "key"}
#: ``DatabaseSslSettings`` field → its environment variable, the name messages tell operators to set.
SETTING_NAMES = {
    "mode": "OTVET_DATABASE_SSL__MODE",
    "root_cert": "OTVET_DATABASE_SSL__ROOT_CERT",
    "cert": "OTVET_DATABASE_SSL__CERT",
    "key": "OTVET_DATABASE_SSL__KEY",
    "key_password": "OTVET_DATABASE_SSL__KEY_PASSWORD",
}
_FILE_FIELDS = ("root_cert", "cert", "key")
_URL_NAME = "OTVET_DATABASE_URL"


class DatabaseTlsError(ValueError):
    """A TLS setting or URL parameter that cannot work; raised before any connection is attempted."""


@dataclass(frozen=True, slots=True)
class TlsOptions:
    """The TLS options in force, each with where it came from (for messages that say what to fix)."""

    mode: str
    root_cert: str | None = None
    cert: str | None = None
    key: str | None = None
    key_password: str = field(default="", repr=False)
    #: Field → ``OTVET_DATABASE_SSL__...`` or ``sslrootcert in OTVET_DATABASE_URL``; no mode: the default.
    origin: Mapping[str, str] = field(default_factory=dict)

    def name(self, field_name: str) -> str:
        return self.origin.get(field_name, SETTING_NAMES[field_name])

    @property
    def mode_label(self) -> str:
        """``sslmode=prefer (the default)`` or ``sslmode=verify-full (OTVET_DATABASE_SSL__MODE)``."""
        return f"sslmode={self.mode} ({self.origin.get('mode', 'the default')})"

    def describe(self) -> str:
        """One line for the log: the mode and the files, never the key's password."""
        files = [f"{name}={getattr(self, name)}" for name in _FILE_FIELDS if getattr(self, name)]
        return ", ".join([f"sslmode={self.mode}", *files])


def split_url(url: str) -> tuple[str, dict[str, str]]:
    """``url`` without libpq's TLS parameters, and those parameters (decoded; the last one of a name wins).

    Everything else in the query stays as written, byte for byte (Tortoise reads ``minsize``, ``schema``...).
    ``ssl=`` and the ``ssl*`` parameters Otvet does not implement are refused rather than passed on: Tortoise
    would misread the first and crash asyncpg with the others.
    """
    base, question_mark, rest = url.partition("?")
    if not question_mark:
        return url, {}
    query, hash_mark, fragment = rest.partition("#")
    kept: list[str] = []
    found: dict[str, str] = {}
    for piece in query.split("&"):
        raw_name, _, raw_value = piece.partition("=")
        name = unquote_plus(raw_name)
        if name in URL_PARAMETERS:
            found[name] = unquote_plus(raw_value)
        elif name == "ssl":
            raise DatabaseTlsError(
                f"ssl= in {_URL_NAME} is not supported: Tortoise reads every value of it, ssl=false too, "
                "as true (verify-full against the system's CAs). Use sslmode= instead (sslmode=verify-full "
                f"is what ssl=true did, sslmode=disable what ssl=false meant), or {SETTING_NAMES['mode']}"
            )
        elif name == "sslpassword":
            # Not honoured on purpose: the URL shows up (password redacted) in messages, this would not be.
            raise DatabaseTlsError(
                f"sslpassword in {_URL_NAME} is not supported: set {SETTING_NAMES['key_password']}, which "
                "messages and logs never show"
            )
        elif name.startswith("ssl"):
            raise DatabaseTlsError(
                f"{name} in {_URL_NAME} is not supported: Otvet honours sslmode, sslrootcert, sslcert and "
                f"sslkey there (docs/storage.md#tls)"
            )
        elif piece:
            kept.append(piece)
    cleaned = base + ("?" + "&".join(kept) if kept else "") + hash_mark + fragment
    return cleaned, found


def resolve(url: str, settings: DatabaseSslSettings | None = None) -> tuple[str, TlsOptions]:
    """The URL for Tortoise (TLS parameters removed) and the options in force: a setting wins over the URL.

    Checks the mode; files are checked by :func:`build_context`, which is the one that reads them.
    """
    cleaned, params = split_url(url)
    origin: dict[str, str] = {}

    def pick(field_name: str) -> str | None:
        value = getattr(settings, field_name, None) if settings is not None else None
        if _is_set(value):
            origin[field_name] = SETTING_NAMES[field_name]
            return str(value)
        parameter = next(p for p, f in URL_PARAMETERS.items() if f == field_name)
        if params.get(parameter):
            origin[field_name] = f"{parameter} in {_URL_NAME}"
            return params[parameter]
        return None

    root_cert, cert, key = pick("root_cert"), pick("cert"), pick("key")
    mode = pick("mode")
    if mode is None:
        # libpq: sslrootcert=system makes verify-full the default (the system store is never used unverified).
        mode = "verify-full" if root_cert == SYSTEM_ROOT else DEFAULT_MODE
    elif mode not in MODES:
        raise DatabaseTlsError(f"{origin['mode']}: unknown sslmode {mode!r}; use one of {', '.join(MODES)}")
    password = settings.key_password.get_secret_value() if settings is not None else ""
    return cleaned, TlsOptions(mode, root_cert, cert, key, password, origin)


def ssl_argument(options: TlsOptions) -> ssl.SSLContext | str:
    """asyncpg's ``connect(ssl=...)``: a context for ``require`` and the verify modes, else the mode's name.

    ``disable``, ``allow`` and ``prefer`` stay asyncpg's strings: only asyncpg can fall back from TLS to plain
    text (and back) within one connection attempt; a context would make TLS mandatory.
    """
    given = [options.name(name) for name in _FILE_FIELDS if getattr(options, name)]
    if options.mode == "disable":
        if given:
            log.warning("%s ignored: sslmode=disable never uses TLS", ", ".join(given))
        return "disable"
    if options.mode in ("allow", "prefer"):
        if given:
            # libpq would load the files and still fall back to plain text. Whoever names a CA or a client
            # certificate expects it to be used, so say so instead of connecting unverified.
            raise DatabaseTlsError(
                f"{given[0]} has no effect with {options.mode_label}, which never verifies the server and "
                f"may not use TLS at all: set {SETTING_NAMES['mode']} to verify-full (or verify-ca, require)"
            )
        return options.mode
    return build_context(options)


def build_context(options: TlsOptions) -> ssl.SSLContext:
    """The client context of ``require``, ``verify-ca`` or ``verify-full``, with libpq's meaning of each.

    - ``require``: encrypted; the server is verified only if a root certificate is given (then as verify-ca).
    - ``verify-ca``: the server's chain must lead to the root certificate (or the system's CAs if none).
    - ``verify-full``: that, and the certificate must name the host of the URL.
    """
    if options.mode not in ("require", "verify-ca", "verify-full"):
        raise DatabaseTlsError(f"{options.mode_label} does not use a TLS context of its own")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    # libpq's (and asyncpg's) default ssl_min_protocol_version.
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if options.root_cert == SYSTEM_ROOT:
        if options.mode != "verify-full":
            # libpq refuses this too: any public CA can sign a certificate for a host it did not check.
            raise DatabaseTlsError(
                f"{options.name('root_cert')}=system needs sslmode=verify-full, not {options.mode_label}"
            )
        context.load_default_certs(ssl.Purpose.SERVER_AUTH)
        verify = True
    elif options.root_cert is not None:
        path = _readable(options, "root_cert")
        try:
            context.load_verify_locations(cafile=path)
        except ssl.SSLError as exc:
            raise DatabaseTlsError(
                f"{options.name('root_cert')}: {path} holds no PEM certificate ({exc.reason or exc})"
            ) from None
        verify = True
    elif options.mode == "require":
        verify = False  # encrypted, but anyone on the way can pose as the server (libpq's require)
    else:
        context.load_default_certs(ssl.Purpose.SERVER_AUTH)
        verify = True
    # check_hostname before verify_mode: a context refuses CERT_NONE while it still checks host names.
    context.check_hostname = verify and options.mode == "verify-full"
    context.verify_mode = ssl.CERT_REQUIRED if verify else ssl.CERT_NONE
    _load_client_certificate(context, options)
    return context


def connection_config(url: str, settings: DatabaseSslSettings | None = None) -> str | dict[str, Any]:
    """Tortoise's config of the connection to ``url``: PostgreSQL as ``{"engine", "credentials"}`` with
    ``ssl`` set (:func:`ssl_argument`), any other database as the URL itself."""
    scheme = url.split(":", 1)[0].lower() if "://" in url else ""
    if scheme not in (*ASYNCPG_SCHEMES, "sqlite"):
        # Tortoise would say "Unknown DB scheme" (or name a driver module) without saying what works.
        problem = f"{scheme}:// databases are not supported" if scheme else "this is not a database URL"
        raise ValueError(
            f"{problem}: Otvet keeps its data in SQLite (sqlite:///path/otvet.db, the default) or "
            "PostgreSQL (postgres://user:password@host:5432/db)"
        )
    if scheme in ASYNCPG_SCHEMES:
        from tortoise.backends.base.config_generator import expand_db_url

        cleaned, options = resolve(url, settings)
        argument = ssl_argument(options)
        config = expand_db_url(cleaned)
        # Set even for prefer: asyncpg would otherwise take PGSSLMODE from the environment over our settings.
        config["credentials"]["ssl"] = argument
        log.info("PostgreSQL TLS: %s", options.describe())
        return config
    if settings is not None and any_set(settings):
        if scheme != "sqlite":
            raise DatabaseTlsError(
                f"OTVET_DATABASE_SSL__* apply to PostgreSQL (postgres:// URLs), not to {scheme}: unset them"
            )
        # A local file: there is no connection to encrypt.
        log.warning("OTVET_DATABASE_SSL__* are ignored: the database is SQLite")
    return url


def any_set(settings: DatabaseSslSettings) -> bool:
    """Whether any TLS setting is given (an empty value counts as not given)."""
    return any(_is_set(getattr(settings, name)) for name in ("mode", *_FILE_FIELDS)) or bool(
        settings.key_password.get_secret_value()
    )


def _is_set(value: object) -> bool:
    # An empty OTVET_DATABASE_SSL__ROOT_CERT= (as example.env has them) becomes Path("") == Path("."):
    # it means "not set", not "the current folder".
    return value is not None and str(value) not in ("", ".")


def _readable(options: TlsOptions, field_name: str) -> str:
    path = str(getattr(options, field_name))
    try:
        with Path(path).open("rb"):
            pass
    except OSError as exc:
        raise DatabaseTlsError(
            f"{options.name(field_name)}: cannot read {path} ({exc.strerror or exc})"
        ) from None
    return path


def _load_client_certificate(context: ssl.SSLContext, options: TlsOptions) -> None:
    if options.key and not options.cert:
        raise DatabaseTlsError(
            f"{options.name('key')} needs its certificate: set {SETTING_NAMES['cert']} (or the URL's sslcert)"
        )
    if not options.cert:
        return
    cert = _readable(options, "cert")
    key = _readable(options, "key") if options.key else None
    password = options.key_password.encode()
    try:
        # Always a callable: without one, OpenSSL asks for an encrypted key's password on the terminal.
        context.load_cert_chain(cert, key, password=lambda: password)
    except ssl.SSLError as exc:
        # An encrypted key without (or with the wrong) password fails the same way: name all three.
        names = [options.name("cert"), options.name("key"), SETTING_NAMES["key_password"]]
        raise DatabaseTlsError(
            f"cannot load the client certificate {cert} with the key {key or '(in the same file)'} "
            f"({exc.reason or exc}): check {', '.join(names)}"
        ) from None
