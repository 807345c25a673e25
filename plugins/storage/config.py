"""The Tortoise ORM configuration of Otvet's database, for the store and for the ``tortoise`` CLI.

After changing ``models.py``, generate a migration from the repository's parent directory (where ``otvet``
is importable) and commit it::

    tortoise -c otvet.plugins.storage.config.TORTOISE_ORM makemigrations
    tortoise -c otvet.plugins.storage.config.TORTOISE_ORM sqlmigrate otvet 0002_...   # review the SQL

``TORTOISE_ORM`` is computed on first access from :class:`~otvet.config.settings.Settings` (``OTVET_*``
environment, ``.env``, ``otvet.toml``), so ``migrate``/``history`` act on the configured database. It holds
the ``otvet`` app only; a plugin with its own models builds its CLI config with :func:`tortoise_config`,
listing ``otvet`` too so that foreign keys to Otvet's tables resolve.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from otvet.plugins.storage.tls import DatabaseTlsError, connection_config

if TYPE_CHECKING:
    from otvet.config.settings import DatabaseSslSettings, DatabaseTimeoutSettings

#: The app label, models module and migrations package of Otvet's own tables.
APP_LABEL = "otvet"
MODELS_MODULE = "otvet.plugins.storage.models"
MIGRATIONS_MODULE = "otvet.plugins.storage.migrations"

ModelApps = Mapping[str, tuple[str, str | None]]
"""App label → (models module, migrations package or None), as the ``register_models`` hook collects them."""


def collect_model_apps(otvet: Any) -> dict[str, tuple[str, str | None]]:
    """Otvet's model app and those plugins add through ``register_models``; a label used twice is refused."""
    apps: dict[str, tuple[str, str | None]] = {APP_LABEL: (MODELS_MODULE, MIGRATIONS_MODULE)}

    def register(app_label: str, models_module: str, migrations_module: str | None = None) -> None:
        if app_label in apps:
            raise ValueError(f"database app {app_label!r} is registered twice")
        apps[app_label] = (models_module, migrations_module)

    pm = getattr(otvet, "pm", None)
    if pm is not None and hasattr(pm.hook, "register_models"):
        pm.hook.register_models(register=register, otvet=otvet)
    return apps


def connection_name(url: str) -> str:
    """The Tortoise connection name for ``url``: ``otvet_sqlite``, ``otvet_postgres``...

    Tortoise caches each model's INSERT/DELETE SQL per process under (connection name, table), whatever the
    dialect. A name per URL scheme keeps SQLite's SQL away from PostgreSQL when one process uses both (the
    test suite does).
    """
    scheme = url.split(":", 1)[0].lower()
    return "otvet_" + "".join(ch if ch.isalnum() else "_" for ch in scheme)


def tortoise_config(
    url: str,
    model_apps: ModelApps,
    ssl: DatabaseSslSettings | None = None,
    timeouts: DatabaseTimeoutSettings | None = None,
) -> dict[str, Any]:
    """A Tortoise config: one connection (see :func:`connection_name`) used by every app of ``model_apps``.

    A PostgreSQL connection gets its TLS options from ``ssl`` (``Settings.database_ssl``) and the URL's
    ``sslmode``... parameters (:mod:`otvet.plugins.storage.tls`): TLS files are read here, so a mistake in
    them raises :class:`~otvet.plugins.storage.tls.DatabaseTlsError` now, before any connection attempt.
    """
    name = connection_name(url)
    apps: dict[str, dict[str, Any]] = {}
    for label, (models_module, migrations_module) in model_apps.items():
        app: dict[str, Any] = {"models": [models_module], "default_connection": name}
        if migrations_module:
            app["migrations"] = migrations_module
        apps[label] = app
    connection = connection_config(url, ssl)
    if isinstance(connection, dict):  # PostgreSQL through asyncpg
        connection["credentials"]["reset"] = keep_session
        if timeouts is not None:
            # asyncpg's defaults wait 60 s to connect and forever for a statement, and cancelling a
            # statement on a frozen server waits as long as the statement timeout: without these, one
            # outage hangs every request.
            connection["credentials"]["timeout"] = timeouts.connect_seconds
            connection["credentials"]["command_timeout"] = timeouts.statement_seconds
    return {"connections": {name: connection}, "apps": apps, "use_tz": True, "timezone": "UTC"}


async def keep_session(connection: Any) -> None:
    """What asyncpg's pool does to a connection given back, instead of its default ``Connection.reset()``.

    Tortoise takes a pooled connection for every query, and the default reset sends a query of its own
    (``pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL``) at every release: one more round trip
    per query, a fifth of the API's CPU per answer on PostgreSQL. Otvet leaves no session state on a pooled
    connection: no ``SET``, ``LISTEN`` or cursor outside a transaction, and its one session advisory lock
    (``schema.advisory_lock``) is unlocked, or its connection closed, before release. The pool still rolls
    back an open transaction itself (``Connection._reset``) before calling this; there is nothing else to do.
    """


def sqlite_path(url: str) -> Path | None:
    """The database file of a SQLite URL (None for other databases and for ``:memory:``)."""
    if not url.startswith("sqlite:"):
        return None
    from tortoise.backends.base.config_generator import expand_db_url

    file_path = expand_db_url(url)["credentials"]["file_path"]
    return None if file_path == ":memory:" else Path(file_path)


def ensure_sqlite_dir(url: str) -> None:
    """Create the folder of a SQLite database file: SQLite creates the file but not its folder."""
    path = sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)


def _cli_config() -> dict[str, Any]:
    from otvet.config.settings import Settings

    settings = Settings()
    url = settings.resolved_database_url
    ensure_sqlite_dir(url)
    # The same TLS options as the store's, so `tortoise ... migrate` reaches the server `otvet migrate` does.
    try:
        return tortoise_config(
            url, {APP_LABEL: (MODELS_MODULE, MIGRATIONS_MODULE)}, ssl=settings.database_ssl
        )
    except DatabaseTlsError as exc:
        # The tortoise CLI prints its own CLIError as one line (exit status 1) instead of a traceback.
        from tortoise.cli.utils import CLIError

        raise CLIError(f"Error: {exc}") from exc


def __getattr__(name: str) -> Any:
    # Lazy, so that importing this module (the store does) never reads the environment or touches disk.
    if name == "TORTOISE_ORM":
        return _cli_config()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
