"""``otvet admin ...`` and ``otvet key ...`` run as real processes, on SQLite and PostgreSQL.

Passwords go in on standard input (``--password-stdin``), as a deployment script would feed them.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, cast

import pytest

from otvet.core.app import Otvet
from otvet.plugins.storage.store import TortoiseStore
from tests.conftest import make_settings
from tests.support.cli import clean_env, run_otvet

PASSWORD = "correct horse battery staple"


@pytest.fixture
def cli_env(db_url: str, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    return tmp_path, clean_env(tmp_path / "data", OTVET_DATABASE_URL=db_url)


async def raw_rows(otvet: Otvet, table: str) -> list[dict[str, Any]]:
    store = cast(TortoiseStore, otvet.store)
    with store._current() as context:
        return list(await context.db(store.connection_name).execute_query_dict(f"SELECT * FROM {table}"))


def test_admin_create_bootstraps_the_first_admin_on_a_fresh_database(
    empty_db_url: str, tmp_path: Path
) -> None:
    env = clean_env(tmp_path / "data", OTVET_DATABASE_URL=empty_db_url)
    created = run_otvet("admin", "create", "alice", "--password-stdin", env=env, cwd=tmp_path, input=PASSWORD)
    assert created.returncode == 0, created.stderr
    assert "Admin 'alice' created" in created.stdout
    listed = run_otvet("admin", "list", "--json", env=env, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    [admin] = json.loads(listed.stdout)
    assert (admin["username"], admin["disabled"]) == ("alice", False)
    assert "password" not in listed.stdout and PASSWORD not in listed.stdout


async def test_admin_commands_create_change_disable_and_enable(
    cli_env: tuple[Path, dict[str, str]], db_url: str
) -> None:
    work, env = cli_env

    def otvet_cli(*args: str, input: str | None = None) -> tuple[int, str, str]:
        result = run_otvet(*args, env=env, cwd=work, input=input)
        assert PASSWORD not in result.stdout + result.stderr
        return result.returncode, result.stdout, result.stderr

    code, _, err = otvet_cli("admin", "create", "alice", "--password-stdin", input="short\n")
    assert code == 1 and "at least 12 characters" in err
    assert otvet_cli("admin", "create", "alice", "--password-stdin", input=PASSWORD + "\n")[0] == 0
    code, _, err = otvet_cli("admin", "create", "alice", "--password-stdin", input=PASSWORD + "\n")
    assert code == 1 and "already exists" in err
    code, _, err = otvet_cli("admin", "create", "bob", "--password-stdin", input="")
    assert code == 1 and "no password" in err

    code, out, _ = otvet_cli("admin", "passwd", "alice", "--password-stdin", input="a brand new passphrase\n")
    assert code == 0 and "changed" in out
    code, _, err = otvet_cli("admin", "passwd", "bob", "--password-stdin", input=PASSWORD + "\n")
    assert code == 1 and "no admin called 'bob'" in err

    assert otvet_cli("admin", "disable", "alice")[0] == 0
    code, out, _ = otvet_cli("admin", "list")
    assert code == 0
    assert out.splitlines()[0].split() == ["id", "username", "created", "(UTC)", "status"]
    assert out.splitlines()[1].split()[1::3] == ["alice", "disabled"]

    async with Otvet(make_settings(work, db_url)) as otvet:
        [row] = await raw_rows(otvet, "otvet_admin_account")
        assert row["password_hash"].startswith("$argon2id$")
        with pytest.raises(Exception, match="wrong username or password"):
            await otvet.accounts.login("alice", "a brand new passphrase")  # disabled

    assert otvet_cli("admin", "enable", "alice")[0] == 0
    async with Otvet(make_settings(work, db_url)) as otvet:
        token = (await otvet.accounts.login("alice", "a brand new passphrase")).token
        assert token


async def test_key_commands_show_the_key_once_and_store_only_its_hash(
    cli_env: tuple[Path, dict[str, str]], db_url: str
) -> None:
    work, env = cli_env
    created = run_otvet("key", "create", "crm", "--scope", "ask", "--scope", "read", env=env, cwd=work)
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    assert key.startswith("otv_") and "\n" not in key
    assert "shown only this once" in created.stderr

    as_json = run_otvet("key", "create", "ops", "--scope", "admin", "--json", env=env, cwd=work)
    ops = json.loads(as_json.stdout)
    assert ops["key"].startswith(f"otv_{ops['prefix']}_") and ops["scopes"] == ["admin"]

    bad = run_otvet("key", "create", "x", "--scope", "write", env=env, cwd=work)
    assert bad.returncode == 2 and "'write' is not one of" in bad.stderr
    no_scope = run_otvet("key", "create", "x", env=env, cwd=work)
    assert no_scope.returncode == 2 and "--scope" in no_scope.stderr

    listed = run_otvet("key", "list", "--json", env=env, cwd=work)
    assert listed.returncode == 0, listed.stderr
    keys = json.loads(listed.stdout)
    assert [(k["name"], k["scopes"], k["revoked_at"]) for k in keys] == [
        ("crm", ["ask", "read"], None),
        ("ops", ["admin"], None),
    ]
    secret_part = key.split("_", 2)[2]
    for text in (listed.stdout, run_otvet("key", "list", env=env, cwd=work).stdout):
        assert secret_part not in text and hashlib.sha256(key.encode()).hexdigest() not in text

    async with Otvet(make_settings(work, db_url)) as otvet:
        principal = await otvet.accounts.authenticate(f"Bearer {key}")
        assert principal is not None and principal.name == "crm" and not principal.allows("admin")
        rows = await raw_rows(otvet, "otvet_api_key")
        assert all(secret_part not in str(value) for row in rows for value in row.values())

    revoked = run_otvet("key", "revoke", str(keys[0]["id"]), env=env, cwd=work)
    assert revoked.returncode == 0 and "revoked" in revoked.stdout
    table = run_otvet("key", "list", env=env, cwd=work).stdout.splitlines()
    assert table[1].split()[1] == "crm" and table[1].split()[-1] == "revoked"
    assert table[2].split()[-1] == "active"
    unknown = run_otvet("key", "revoke", "999", env=env, cwd=work)
    assert unknown.returncode == 1 and "999 does not exist" in unknown.stderr

    async with Otvet(make_settings(work, db_url)) as otvet:
        with pytest.raises(Exception, match="invalid or has been revoked"):
            await otvet.accounts.authenticate(f"Bearer {key}")


def test_empty_lists_say_how_to_start(cli_env: tuple[Path, dict[str, str]]) -> None:
    work, env = cli_env
    assert "otvet admin create" in run_otvet("admin", "list", env=env, cwd=work).stdout
    assert "otvet key create" in run_otvet("key", "list", env=env, cwd=work).stdout


async def test_link_telegram_prints_a_code_that_links_one_account_once(
    cli_env: tuple[Path, dict[str, str]], db_url: str
) -> None:
    work, env = cli_env
    assert (
        run_otvet("admin", "create", "ann", "--password-stdin", env=env, cwd=work, input=PASSWORD).returncode
        == 0
    )
    linked = run_otvet("admin", "link-telegram", "ann", env=env, cwd=work)
    assert linked.returncode == 0, linked.stderr
    code = linked.stdout.strip()
    assert len(code) == 8 and f"/link {code}" in linked.stderr  # the code alone on stdout, for scripts
    unknown = run_otvet("admin", "link-telegram", "nobody", env=env, cwd=work)
    assert unknown.returncode == 1 and "no admin called 'nobody'" in unknown.stderr
    async with Otvet(make_settings(work, db_url)) as otvet:
        assert (await otvet.accounts.link_channel("telegram", "42", code)).username == "ann"
        assert code not in str(await raw_rows(otvet, "otvet_link_code"))
