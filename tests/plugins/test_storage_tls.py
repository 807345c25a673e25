"""TLS to PostgreSQL (docs/storage.md#tls): libpq's sslmode, from the settings and the URL.

The first half resolves options without a server. The second half runs a throwaway PostgreSQL cluster that
speaks TLS only (``hostnossl ... reject``), with a server certificate for ``localhost`` issued by a
``trustme`` CA, and connects to it through the real store, the real ``otvet migrate`` and the ``tortoise``
CLI.
"""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import trustme
from cryptography.hazmat.primitives import serialization

from otvet.config.settings import DatabaseSslSettings, Settings
from otvet.core.app import Otvet
from otvet.plugins.storage import config as storage_config
from otvet.plugins.storage.config import APP_LABEL, MIGRATIONS_MODULE, MODELS_MODULE, tortoise_config
from otvet.plugins.storage.store import TortoiseStore
from otvet.plugins.storage.tls import DatabaseTlsError, connection_config, resolve, split_url, ssl_argument
from tests.conftest import make_settings
from tests.support.cli import clean_env, run_otvet_async
from tests.support.fixtures import REQUIRE_POSTGRES_ENV, StoreHost
from tests.support.postgres import TlsPostgresCluster, find_bindir, free_port, with_host

#: The only name in the server's certificate: connecting to 127.0.0.1 reaches the server but not the name.
CERT_HOST = "localhost"
OTHER_HOST = "127.0.0.1"
#: A role that may log in by client certificate only.
CERT_USER = "otvet_cert"
KEY_PASSWORD = "key-pass-9f3c"
#: A URL password that must never appear in messages (the cluster trusts, so any password works).
URL_PASSWORD = "url-pass-5e1d"
SSL_QUERY = (
    "SELECT ssl, version, client_dn, current_user AS username FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
)
APPS = {APP_LABEL: (MODELS_MODULE, MIGRATIONS_MODULE)}


@dataclass(frozen=True)
class Pki:
    """PEM files of a throwaway CA, a second unrelated CA, and a client certificate with an encrypted key."""

    ca: Path
    other_ca: Path
    client_cert: Path
    client_key: Path  # encrypted with KEY_PASSWORD
    server_chain: bytes
    server_key: bytes


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    root = tmp_path_factory.mktemp("pki")
    ca, other_ca = trustme.CA(), trustme.CA()
    server = ca.issue_cert(CERT_HOST)
    client = ca.issue_cert(f"{CERT_USER}@example.org", common_name=CERT_USER)
    key = serialization.load_pem_private_key(client.private_key_pem.bytes(), password=None)
    encrypted = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(KEY_PASSWORD.encode()),
    )
    ca.cert_pem.write_to_path(str(root / "ca.pem"))
    other_ca.cert_pem.write_to_path(str(root / "other-ca.pem"))
    client.cert_chain_pems[0].write_to_path(str(root / "client.crt"))
    (root / "client.key").write_bytes(encrypted)
    return Pki(
        ca=root / "ca.pem",
        other_ca=root / "other-ca.pem",
        client_cert=root / "client.crt",
        client_key=root / "client.key",
        server_chain=b"".join(blob.bytes() for blob in server.cert_chain_pems),
        server_key=server.private_key_pem.bytes(),
    )


def ssl_settings(**values: Any) -> DatabaseSslSettings:
    return DatabaseSslSettings(**values)


# --- resolving the options (no server) ----------------------------------------------------------------------


def test_the_settings_win_over_the_url_one_option_at_a_time() -> None:
    url = "postgres://u@db:5432/otvet?sslmode=require&sslrootcert=/url/ca.pem&sslcert=/url/c.crt"
    _, options = resolve(url, ssl_settings(mode="verify-full", cert="/settings/c.crt"))
    assert (options.mode, options.root_cert, options.cert) == (
        "verify-full",
        "/url/ca.pem",
        "/settings/c.crt",
    )
    assert options.name("mode") == "OTVET_DATABASE_SSL__MODE"
    assert options.name("root_cert") == "sslrootcert in OTVET_DATABASE_URL"
    # Without settings, the URL decides; without either, libpq's default.
    assert resolve(url)[1].mode == "require"
    assert resolve("postgres://u@db/otvet", ssl_settings())[1].mode == "prefer"


def test_the_tls_parameters_leave_the_url_and_the_rest_stays_as_written() -> None:
    url = f"postgres://u:{URL_PASSWORD}%40x@db:5432/otvet?application_name=otvet%20bot&sslmode=disable&minsize=2"
    cleaned, found = split_url(url)
    assert cleaned == f"postgres://u:{URL_PASSWORD}%40x@db:5432/otvet?application_name=otvet%20bot&minsize=2"
    assert found == {"sslmode": "disable"}
    assert split_url("postgres://u@db/otvet?sslmode=require")[0] == "postgres://u@db/otvet"

    # What Tortoise gets: no libpq parameter (asyncpg would reject it), our ssl= instead, the password intact.
    credentials = connection_config(url, ssl_settings())["credentials"]  # type: ignore[index]
    assert credentials["ssl"] == "disable"
    assert credentials["password"] == f"{URL_PASSWORD}@x"
    assert credentials["application_name"] == "otvet bot"
    assert not {"sslmode", "sslrootcert", "sslcert", "sslkey"} & credentials.keys()


def test_postgres_connections_always_say_their_mode() -> None:
    # Explicit even for the default, or asyncpg would let PGSSLMODE in the environment override the settings.
    connection = tortoise_config("postgresql://u@db/otvet", APPS)["connections"]["otvet_postgresql"]
    assert connection["engine"] == "tortoise.backends.asyncpg"
    assert connection["credentials"]["ssl"] == "prefer"


@pytest.mark.parametrize("value", ["true", "false", "1"])
def test_ssl_in_the_url_is_refused_pointing_to_sslmode(value: str) -> None:
    with pytest.raises(DatabaseTlsError) as caught:
        connection_config(f"postgres://u:{URL_PASSWORD}@db/otvet?ssl={value}", ssl_settings())
    message = str(caught.value)
    assert "sslmode=verify-full" in message and "sslmode=disable" in message
    assert URL_PASSWORD not in message


def test_unknown_and_unsupported_url_parameters_are_clear_errors() -> None:
    with pytest.raises(
        DatabaseTlsError, match=r"sslmode in OTVET_DATABASE_URL: unknown sslmode 'verify_full'"
    ):
        resolve("postgres://u@db/otvet?sslmode=verify_full")
    with pytest.raises(DatabaseTlsError, match="OTVET_DATABASE_SSL__KEY_PASSWORD") as caught:
        resolve("postgres://u@db/otvet?sslmode=require&sslpassword=hunter2-secret")
    assert "hunter2-secret" not in str(caught.value)
    with pytest.raises(DatabaseTlsError, match="sslcrl in OTVET_DATABASE_URL is not supported"):
        resolve("postgres://u@db/otvet?sslcrl=/etc/crl.pem")


def test_an_unreadable_root_cert_names_the_setting_or_the_url_parameter(tmp_path: Path) -> None:
    missing = tmp_path / "absent.pem"
    with pytest.raises(DatabaseTlsError) as caught:
        connection_config("postgres://u@db/otvet", ssl_settings(mode="verify-full", root_cert=missing))
    assert str(caught.value).startswith(f"OTVET_DATABASE_SSL__ROOT_CERT: cannot read {missing}")
    with pytest.raises(
        DatabaseTlsError, match=r"^sslrootcert in OTVET_DATABASE_URL: cannot read .*Is a directory"
    ):
        connection_config(f"postgres://u@db/otvet?sslmode=verify-ca&sslrootcert={tmp_path}")
    not_pem = tmp_path / "ca.pem"
    not_pem.write_text("not a certificate\n")
    with pytest.raises(
        DatabaseTlsError, match=r"OTVET_DATABASE_SSL__ROOT_CERT: .*ca\.pem holds no PEM certificate"
    ):
        connection_config("postgres://u@db/otvet", ssl_settings(mode="require", root_cert=not_pem))


def test_an_empty_root_cert_variable_means_none(monkeypatch: pytest.MonkeyPatch) -> None:
    # As in config/example.env: `OTVET_DATABASE_SSL__ROOT_CERT=` reaches us as Path(".").
    monkeypatch.setenv("OTVET_DATABASE_SSL__ROOT_CERT", "")
    monkeypatch.setenv("OTVET_DATABASE_SSL__MODE", "require")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    context = ssl_argument(resolve("postgres://u@db/otvet", settings.database_ssl)[1])
    assert isinstance(context, ssl.SSLContext) and context.verify_mode == ssl.CERT_NONE


@pytest.mark.parametrize(
    ("mode", "with_root", "verifies", "checks_host"),
    [
        ("require", False, False, False),  # encrypted, unverified
        ("require", True, True, False),  # libpq: a root certificate makes require behave as verify-ca
        ("verify-ca", True, True, False),
        ("verify-ca", False, True, False),  # the system's CAs
        ("verify-full", True, True, True),
        ("verify-full", False, True, True),
    ],
)
def test_each_mode_verifies_as_libpq_documents(
    pki: Pki, mode: str, with_root: bool, verifies: bool, checks_host: bool
) -> None:
    options = resolve(
        "postgres://u@db/otvet", ssl_settings(mode=mode, root_cert=pki.ca if with_root else None)
    )
    context = ssl_argument(options[1])
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == (ssl.CERT_REQUIRED if verifies else ssl.CERT_NONE)
    assert context.check_hostname is checks_host
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2


def test_the_fallback_modes_stay_asyncpgs_and_refuse_files_they_would_not_use(pki: Pki) -> None:
    for mode in ("allow", "prefer"):
        assert ssl_argument(resolve("postgres://u@db/otvet", ssl_settings(mode=mode))[1]) == mode
    with pytest.raises(
        DatabaseTlsError,
        match=r"OTVET_DATABASE_SSL__ROOT_CERT has no effect with sslmode=prefer \(the default\)",
    ):
        connection_config("postgres://u@db/otvet", ssl_settings(root_cert=pki.ca))
    with pytest.raises(
        DatabaseTlsError, match="sslcert in OTVET_DATABASE_URL has no effect with sslmode=allow"
    ):
        connection_config(f"postgres://u@db/otvet?sslmode=allow&sslcert={pki.client_cert}")


def test_disable_overrides_the_urls_files_with_a_warning(pki: Pki, caplog: pytest.LogCaptureFixture) -> None:
    url = f"postgres://u@db/otvet?sslmode=verify-full&sslrootcert={pki.ca}"
    with caplog.at_level(logging.WARNING, "otvet.plugins.storage.tls"):
        credentials = connection_config(url, ssl_settings(mode="disable"))["credentials"]  # type: ignore[index]
    assert credentials["ssl"] == "disable"
    assert "sslrootcert in OTVET_DATABASE_URL ignored: sslmode=disable never uses TLS" in caplog.text


def test_sslrootcert_system_means_verify_full_with_the_systems_cas() -> None:
    _, options = resolve("postgres://u@db/otvet?sslrootcert=system")
    context = ssl_argument(options)
    assert isinstance(context, ssl.SSLContext) and context.check_hostname
    with pytest.raises(DatabaseTlsError, match="=system needs sslmode=verify-full"):
        ssl_argument(resolve("postgres://u@db/otvet?sslrootcert=system&sslmode=require")[1])


def test_client_key_problems_name_the_settings_and_never_the_password(pki: Pki) -> None:
    with pytest.raises(DatabaseTlsError, match="OTVET_DATABASE_SSL__KEY needs its certificate"):
        connection_config("postgres://u@db/otvet", ssl_settings(mode="require", key=pki.client_key))
    wrong = ssl_settings(
        mode="require", cert=pki.client_cert, key=pki.client_key, key_password="wrong-pass-0"
    )
    with pytest.raises(DatabaseTlsError) as caught:
        connection_config("postgres://u@db/otvet", wrong)
    message = str(caught.value)
    assert "OTVET_DATABASE_SSL__KEY_PASSWORD" in message and str(pki.client_key) in message
    assert "wrong-pass-0" not in message
    # The right password opens it (and no terminal prompt is ever shown for a missing one).
    right = ssl_settings(mode="require", cert=pki.client_cert, key=pki.client_key, key_password=KEY_PASSWORD)
    assert isinstance(connection_config("postgres://u@db/otvet", right)["credentials"]["ssl"], ssl.SSLContext)  # type: ignore[index]
    with pytest.raises(DatabaseTlsError, match="cannot load the client certificate"):
        connection_config(
            "postgres://u@db/otvet", ssl_settings(mode="require", cert=pki.client_cert, key=pki.client_key)
        )


def test_sqlite_ignores_the_tls_settings_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"sqlite:///{tmp_path / 'otvet.db'}"
    with caplog.at_level(logging.WARNING, "otvet.plugins.storage.tls"):
        config = tortoise_config(
            url, APPS, ssl=ssl_settings(mode="verify-full", root_cert=tmp_path / "absent")
        )
    assert config["connections"]["otvet_sqlite"] == url
    assert "OTVET_DATABASE_SSL__* are ignored: the database is SQLite" in caplog.text
    caplog.clear()
    tortoise_config(url, APPS, ssl=ssl_settings())
    assert caplog.text == ""


def test_the_tortoise_cli_config_uses_the_same_options(monkeypatch: pytest.MonkeyPatch, pki: Pki) -> None:
    monkeypatch.setenv("OTVET_DATABASE_URL", "postgres://u@db:5432/otvet?sslmode=disable")
    monkeypatch.setenv("OTVET_DATABASE_SSL__MODE", "verify-full")
    monkeypatch.setenv("OTVET_DATABASE_SSL__ROOT_CERT", str(pki.ca))
    credentials = storage_config.TORTOISE_ORM["connections"]["otvet_postgres"]["credentials"]
    context = credentials["ssl"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert (credentials["host"], credentials["database"]) == ("db", "otvet")


async def test_the_store_checks_the_files_before_any_connection_attempt(tmp_path: Path) -> None:
    # Nothing listens on this port: had the store tried to connect, the error would be a refused connection.
    url = f"postgres://u:{URL_PASSWORD}@127.0.0.1:{free_port()}/otvet"
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=url,
        plugins=[],
        database_ssl={"mode": "verify-full", "root_cert": str(tmp_path / "absent.pem")},
    )
    store = TortoiseStore(StoreHost(settings))  # constructing reads nothing
    with pytest.raises(DatabaseTlsError, match="OTVET_DATABASE_SSL__ROOT_CERT: cannot read") as caught:
        await store.connect()
    assert URL_PASSWORD not in str(caught.value)
    assert await store.ping() is False


# --- against a TLS-only PostgreSQL server -------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_cluster(pki: Pki) -> Iterator[TlsPostgresCluster]:
    """One TLS-only cluster for this module (a second one next to the session's plain cluster)."""
    if find_bindir() is None:
        message = "PostgreSQL server binaries not found (the TLS tests start a cluster of their own)"
        if os.environ.get(REQUIRE_POSTGRES_ENV) == "1":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    cluster = TlsPostgresCluster(
        pki.server_chain, pki.server_key, client_ca_pem=pki.ca.read_bytes(), cert_users=(CERT_USER,)
    )
    cluster.start()
    try:
        asyncio.run(_create_cert_user(cluster, pki))
        yield cluster
    finally:
        cluster.stop()


async def _create_cert_user(cluster: TlsPostgresCluster, pki: Pki) -> None:
    context = ssl.create_default_context(cafile=str(pki.ca))
    connection = await asyncpg.connect(with_host(cluster.url(), CERT_HOST), ssl=context)
    try:
        await connection.execute(f"CREATE ROLE {CERT_USER} LOGIN")
    finally:
        await connection.close()


def tls_url(
    cluster: TlsPostgresCluster, database: str = "postgres", host: str = CERT_HOST, query: str = ""
) -> str:
    return with_host(cluster.url(database), host) + (f"?{query}" if query else "")


def settings_for(url: str, **database_ssl: Any) -> Settings:
    values: dict[str, Any] = {"database_url": url, "plugins": []}
    if database_ssl:
        values["database_ssl"] = database_ssl
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


async def session(settings: Settings, query: str = SSL_QUERY) -> dict[str, Any]:
    """Connect the real store with ``settings``; the row of ``query`` (by default ``ssl``, ``version``...)."""
    store = TortoiseStore(StoreHost(settings))
    await store.connect()
    try:
        rows = await store.context.db(store.connection_name).execute_query_dict(query)
    finally:
        await store.close()
    return dict(rows[0])


async def connect_error(settings: Settings) -> str:
    store = TortoiseStore(StoreHost(settings))
    with pytest.raises(Exception) as caught:  # noqa: PT011  (asyncpg's, ssl's or ours: the message matters)
        await store.connect()
    await store.close()
    return f"{type(caught.value).__name__}: {caught.value}"


async def run_tortoise(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """``tortoise -c otvet.plugins.storage.config.TORTOISE_ORM ARGS``, the developer's migration CLI."""
    command = [
        str(Path(sys.executable).parent / "tortoise"),
        "-c",
        "otvet.plugins.storage.config.TORTOISE_ORM",
    ]
    return await asyncio.to_thread(
        subprocess.run, [*command, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
async def tls_database(tls_cluster: TlsPostgresCluster) -> AsyncIterator[str]:
    """A fresh empty database on the TLS cluster; its name."""
    name = f"otvet_tls_{os.urandom(6).hex()}"
    url = await tls_cluster.server.create_database(name)
    try:
        yield url.rsplit("/", 1)[1]
    finally:
        await tls_cluster.server.drop_database(name)


@pytest.mark.postgres
async def test_otvet_starts_with_verify_full_and_its_session_is_encrypted(
    tls_cluster: TlsPostgresCluster, tls_database: str, pki: Pki, tmp_path: Path
) -> None:
    url = tls_url(tls_cluster, tls_database)
    settings = make_settings(tmp_path, url, database_ssl={"mode": "verify-full", "root_cert": str(pki.ca)})
    async with Otvet(settings) as otvet:  # connects, migrates, loads knowledge: all over TLS
        assert await otvet.store.ping() is True
        store = otvet.store
        assert isinstance(store, TortoiseStore)
        rows = await store.context.db(store.connection_name).execute_query_dict(SSL_QUERY)
        assert rows[0]["ssl"] is True and rows[0]["version"].startswith("TLSv1.")
        assert await store.list_versions() == []


@pytest.mark.postgres
async def test_the_server_refuses_sslmode_disable(tls_cluster: TlsPostgresCluster) -> None:
    error = await connect_error(settings_for(tls_url(tls_cluster), mode="disable"))
    assert "pg_hba.conf rejects connection" in error and "no encryption" in error


@pytest.mark.postgres
async def test_verify_full_refuses_a_certificate_of_another_ca(
    tls_cluster: TlsPostgresCluster, pki: Pki
) -> None:
    error = await connect_error(
        settings_for(tls_url(tls_cluster), mode="verify-full", root_cert=str(pki.other_ca))
    )
    assert "SSLCertVerificationError" in error and "certificate verify failed" in error
    # Without a root certificate, the system's CAs: they do not know the throwaway CA either.
    error = await connect_error(settings_for(tls_url(tls_cluster), mode="verify-full"))
    assert "certificate verify failed" in error


@pytest.mark.postgres
async def test_verify_full_refuses_a_host_the_certificate_does_not_name(
    tls_cluster: TlsPostgresCluster, pki: Pki
) -> None:
    url = tls_url(tls_cluster, host=OTHER_HOST)  # the same server, by a name its certificate lacks
    error = await connect_error(settings_for(url, mode="verify-full", root_cert=str(pki.ca)))
    assert "certificate verify failed" in error and "mismatch" in error and OTHER_HOST in error
    # verify-ca checks the chain only, so the same address is fine there.
    assert (await session(settings_for(url, mode="verify-ca", root_cert=str(pki.ca))))["ssl"] is True


@pytest.mark.postgres
async def test_require_encrypts_without_verifying_unless_given_a_root_cert(
    tls_cluster: TlsPostgresCluster, pki: Pki
) -> None:
    # No CA at all, and a host the certificate does not name: require only asks for encryption.
    assert (await session(settings_for(tls_url(tls_cluster, host=OTHER_HOST), mode="require")))["ssl"] is True
    # As in libpq: with a root certificate, require verifies the chain like verify-ca.
    error = await connect_error(
        settings_for(tls_url(tls_cluster), mode="require", root_cert=str(pki.other_ca))
    )
    assert "certificate verify failed" in error


@pytest.mark.postgres
@pytest.mark.parametrize("mode", ["prefer", "allow"])
async def test_the_fallback_modes_end_up_encrypted_on_a_tls_only_server(
    tls_cluster: TlsPostgresCluster, mode: str
) -> None:
    # prefer tries TLS first; allow tries plain text first, is refused by pg_hba.conf, and retries with TLS.
    assert (await session(settings_for(tls_url(tls_cluster), mode=mode)))["ssl"] is True


@pytest.mark.postgres
async def test_the_url_form_of_rds_and_azure_works(tls_cluster: TlsPostgresCluster, pki: Pki) -> None:
    url = tls_url(tls_cluster, query=f"sslmode=verify-full&sslrootcert={pki.ca}")
    assert (await session(settings_for(url)))["ssl"] is True
    # The URL's mode counts: verify-full there still refuses a host the certificate does not name.
    other = tls_url(tls_cluster, host=OTHER_HOST, query=f"sslmode=verify-full&sslrootcert={pki.ca}")
    assert "mismatch" in await connect_error(settings_for(other))


@pytest.mark.postgres
async def test_the_environment_overrides_sslmode_disable_in_the_url(
    tls_cluster: TlsPostgresCluster, pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = tls_url(tls_cluster, query="sslmode=disable")
    assert "no encryption" in await connect_error(settings_for(url))
    monkeypatch.setenv("OTVET_DATABASE_SSL__MODE", "verify-full")
    monkeypatch.setenv("OTVET_DATABASE_SSL__ROOT_CERT", str(pki.ca))
    assert (await session(settings_for(url)))["ssl"] is True


@pytest.mark.postgres
async def test_a_client_certificate_with_an_encrypted_key_logs_in(
    tls_cluster: TlsPostgresCluster, pki: Pki
) -> None:
    url = with_host(tls_cluster.url(), CERT_HOST).replace("://postgres@", f"://{CERT_USER}@")
    # This role may only log in with a certificate (pg_hba.conf: hostssl ... cert).
    error = await connect_error(settings_for(url, mode="verify-full", root_cert=str(pki.ca)))
    assert "connection requires a valid client certificate" in error
    described = await session(
        settings_for(
            url,
            mode="verify-full",
            root_cert=str(pki.ca),
            cert=str(pki.client_cert),
            key=str(pki.client_key),
            key_password=KEY_PASSWORD,
        )
    )
    # client_dn is cut at 63 bytes by the server; the user name is the certificate's CN (the cert method).
    assert described["username"] == CERT_USER and described["client_dn"].startswith("/O=trustme")


@pytest.mark.postgres
async def test_otvet_migrate_and_the_tortoise_cli_reach_a_tls_only_server(
    tls_cluster: TlsPostgresCluster, tls_database: str, pki: Pki, tmp_path: Path
) -> None:
    url = tls_url(tls_cluster, tls_database).replace("://postgres@", f"://postgres:{URL_PASSWORD}@")
    env = clean_env(
        tmp_path / "data",
        OTVET_DATABASE_URL=url,
        OTVET_DATABASE_SSL__MODE="verify-full",
        OTVET_DATABASE_SSL__ROOT_CERT=str(pki.ca),
    )
    code, out, err = await run_otvet_async("migrate", env=env, cwd=tmp_path)
    assert code == 0, err
    assert "applied otvet.0001_initial" in out and "The database schema is up to date." in out

    # The developer's CLI builds its config the same way (plugins/storage/config.py: TORTOISE_ORM).
    result = await run_tortoise("history", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0001_initial" in result.stdout

    settings = settings_for(tls_url(tls_cluster, tls_database), mode="verify-full", root_cert=str(pki.ca))
    applied = await session(
        settings, "SELECT count(*) AS n FROM tortoise_migrations WHERE name = '0001_initial'"
    )
    assert applied["n"] == 1


@pytest.mark.postgres
async def test_otvet_migrate_with_a_missing_root_cert_names_the_setting(
    tls_cluster: TlsPostgresCluster, tmp_path: Path
) -> None:
    missing = tmp_path / "rds-ca.pem"
    url = tls_url(tls_cluster).replace("://postgres@", f"://postgres:{URL_PASSWORD}@")
    env = clean_env(
        tmp_path / "data",
        OTVET_DATABASE_URL=url,
        OTVET_DATABASE_SSL__MODE="verify-full",
        OTVET_DATABASE_SSL__ROOT_CERT=str(missing),
    )
    code, out, err = await run_otvet_async("migrate", env=env, cwd=tmp_path)
    assert code == 1, out + err
    expected = f"OTVET_DATABASE_SSL__ROOT_CERT: cannot read {missing} (No such file or directory)"
    assert expected in err
    assert "Traceback" not in err and URL_PASSWORD not in out + err

    result = await run_tortoise("history", env=env, cwd=tmp_path)
    assert result.returncode == 1 and expected in result.stderr
    assert "Traceback" not in result.stderr and URL_PASSWORD not in result.stdout + result.stderr
