"""``otvet admin ...`` (admin accounts) and ``otvet key ...`` (API keys), on the database alone.

Passwords are read from a hidden prompt (typed twice) or, for scripts, from standard input with
``--password-stdin``; never from an argument, which would land in shell history and ``ps``. A new API key is
printed once, alone on standard output (so ``KEY=$(otvet key create ...)`` works), with the warning on
standard error.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from datetime import datetime
from typing import TypeVar

import click

from otvet.core.accounts import SCOPES, Accounts, AdminRecord, ApiKeyRecord
from otvet.core.app import Otvet
from otvet.core.store import NotFound
from otvet.frontends.cli.main import Context, cli, echo_json, pass_context, run_on_store

T = TypeVar("T")


def _run(context: Context, work: Callable[[Accounts], Awaitable[T]]) -> T:
    """Run ``work`` with the accounts on the database only (migrated first, see ``run_on_store``)."""

    async def on_accounts(otvet: Otvet) -> T:
        try:
            return await work(otvet.accounts)
        except (ValueError, NotFound, click.ClickException):
            raise
        except Exception as exc:
            raise click.ClickException(
                f"could not read or write accounts (has `otvet migrate` run?): {exc or type(exc).__name__}"
            ) from None

    return run_on_store(context.otvet, on_accounts, user_errors=(ValueError, NotFound))


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        line = sys.stdin.readline()
        password = line.removesuffix("\n").removesuffix("\r")
        if not password:
            raise click.ClickException("no password on standard input")
        return password
    return str(click.prompt("Password", hide_input=True, confirmation_prompt=True, err=True))


def _when(moment: datetime | None) -> str:
    return "-" if moment is None else f"{moment:%Y-%m-%d %H:%M}"


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


_password_stdin = click.option(
    "--password-stdin", is_flag=True, help="Read the password from the first line of standard input."
)


# --- admin accounts -----------------------------------------------------------------------------------------


@cli.group()
def admin() -> None:
    """Manage admin accounts (who may log in to the admin API)."""


@admin.command("create")
@click.argument("username")
@_password_stdin
@pass_context
def admin_create(context: Context, username: str, password_stdin: bool) -> None:
    """Create an admin account, asking for its password.

    The password needs 12 characters or more and must not be the username.

    \b
    Examples:
      otvet admin create alice
      printf '%s\\n' "$PASSWORD" | otvet admin create alice --password-stdin
    """
    password = _read_password(password_stdin)
    record = _run(context, lambda accounts: accounts.create_admin(username, password))
    click.echo(f"Admin {record.username!r} created (id {record.id}).")


@admin.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@pass_context
def admin_list(context: Context, as_json: bool) -> None:
    """List admin accounts."""
    admins: list[AdminRecord] = _run(context, lambda accounts: accounts.list_admins())
    if as_json:
        echo_json([_json(record) for record in admins])
        return
    if not admins:
        click.echo("No admin accounts yet: create one with `otvet admin create USERNAME`.")
        return
    rows = [
        (str(a.id), a.username, _when(a.created_at), "disabled" if a.disabled else "active") for a in admins
    ]
    _table(("id", "username", "created (UTC)", "status"), rows)


@admin.command("passwd")
@click.argument("username")
@_password_stdin
@pass_context
def admin_passwd(context: Context, username: str, password_stdin: bool) -> None:
    """Change an admin's password; their login tokens stop working."""
    password = _read_password(password_stdin)
    _run(context, lambda accounts: accounts.set_admin_password(username, password))
    click.echo(f"Password of {username!r} changed; their login tokens no longer work.")


@admin.command("disable")
@click.argument("username")
@pass_context
def admin_disable(context: Context, username: str) -> None:
    """Stop an admin from logging in; their login tokens are refused."""
    _run(context, lambda accounts: accounts.set_admin_disabled(username, True))
    click.echo(f"Admin {username!r} disabled.")


@admin.command("enable")
@click.argument("username")
@pass_context
def admin_enable(context: Context, username: str) -> None:
    """Let a disabled admin log in again."""
    _run(context, lambda accounts: accounts.set_admin_disabled(username, False))
    click.echo(f"Admin {username!r} enabled.")


@admin.command("link-telegram")
@click.argument("username")
@pass_context
def admin_link_telegram(context: Context, username: str) -> None:
    """Link a Telegram account to an admin with a one-time code.

    Prints a code; sending /link CODE to the bot within 15 minutes makes that Telegram account act as this
    admin in the chat. The code works once."""
    code, expires = _run(context, lambda accounts: accounts.create_link_code(username))
    click.echo(code)
    click.echo(
        f"Send /link {code} to the bot from your Telegram account before {expires:%H:%M} UTC. From then "
        f"on that account can use the admin commands (/add, /retrain, /versions, /rollback, /status, /fix) "
        f"as {username!r}.",
        err=True,
    )


# --- API keys -----------------------------------------------------------------------------------------------


@cli.group()
def key() -> None:
    """Manage API keys (how other applications call Otvet's API)."""


def _json(record: AdminRecord | ApiKeyRecord) -> dict[str, object]:
    """A record for ``--json``: times in ISO 8601, scopes as a list."""
    return {
        name: value.isoformat() if isinstance(value, datetime) else list(value) if name == "scopes" else value
        for name, value in asdict(record).items()
    }


@key.command("create")
@click.argument("name")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    required=True,
    type=click.Choice(SCOPES),
    help="What the key may do (repeat for several): ask questions, read conversations, admin everything.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the key and its record as JSON.")
@pass_context
def key_create(context: Context, name: str, scopes: tuple[str, ...], as_json: bool) -> None:
    """Create an API key and print it, once: it cannot be shown again.

    \b
    Example:
      otvet key create crm --scope ask --scope read
    """
    raw, record = _run(context, lambda accounts: accounts.create_api_key(name, scopes))
    if as_json:
        echo_json({**_json(record), "key": raw})
    else:
        click.echo(raw)
    click.echo(
        f"API key {record.id} {record.name!r} created (scopes: {', '.join(record.scopes)}). "
        "Store it now: it is shown only this once and cannot be recovered.",
        err=True,
    )


@key.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@pass_context
def key_list(context: Context, as_json: bool) -> None:
    """List API keys (never the keys themselves)."""
    keys: list[ApiKeyRecord] = _run(context, lambda accounts: accounts.list_api_keys())
    if as_json:
        echo_json([_json(record) for record in keys])
        return
    if not keys:
        click.echo("No API keys yet: create one with `otvet key create NAME --scope ask`.")
        return
    rows = [
        (
            str(k.id),
            k.name,
            f"otv_{k.prefix}_…",
            ",".join(k.scopes),
            _when(k.created_at),
            _when(k.last_used_at),
            "revoked" if k.revoked_at else "active",
        )
        for k in keys
    ]
    _table(("id", "name", "key", "scopes", "created (UTC)", "last used", "status"), rows)


@key.command("revoke")
@click.argument("key_id", metavar="ID", type=int)
@pass_context
def key_revoke(context: Context, key_id: int) -> None:
    """Revoke an API key: requests with it are refused from now on."""
    record = _run(context, lambda accounts: accounts.revoke_api_key(key_id))
    click.echo(f"API key {record.id} {record.name!r} revoked.")
