"""The ``otvet`` command line: serve, ask, ingest, migrate, plugins, and any command a plugin adds."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import sys
import tomllib
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click
import pluggy
from pydantic import ValidationError

from otvet import __version__
from otvet.config.check import setting_warnings
from otvet.config.settings import Settings, config_file
from otvet.core.app import Otvet
from otvet.core.lifecycle import Service
from otvet.core.plugins import PluginLoadError, make_plugin_manager
from otvet.core.registry import RegistryError

T = TypeVar("T")
#: Commands that run until stopped log at OTVET_LOG_LEVEL; the others only warn unless --log-level says so.
LONG_RUNNING = {"serve", "api", "worker", "telegram"}


class Context:
    """What every command shares: settings, the plugin manager and a lazily built Otvet."""

    def __init__(self, settings: Settings, pm: pluggy.PluginManager | None = None) -> None:
        self.settings = settings
        self._pm = pm
        self._otvet: Otvet | None = None
        #: Which service the command runs (``serve``, ``api``, ``worker``, ``telegram``) or ``cli``.
        self.service: Service = "cli"

    @property
    def pm(self) -> pluggy.PluginManager:
        if self._pm is None:
            self._pm = make_plugin_manager(allow=self.settings.plugins, disable=self.settings.disable_plugins)
        return self._pm

    @property
    def otvet(self) -> Otvet:
        if self._otvet is None:
            self._otvet = Otvet(self.settings, self.pm, service=self.service)
        return self._otvet


pass_context = click.make_pass_decorator(Context)


def run(otvet: Otvet, work: Callable[[Otvet], Awaitable[T]], *, storage_only: bool = False) -> T:
    """Start ``otvet``, run ``work`` with it, stop it; configuration mistakes become clear CLI errors.

    ``storage_only`` connects the store and nothing else (no migrations, no startup hooks): for commands
    such as ``migrate`` that must work on a database without Otvet's tables.
    """

    async def main() -> T:
        log = logging.getLogger(__name__)
        try:
            await otvet.store.connect()
        except Exception as exc:
            # An unreachable database or a wrong password: say which, without a traceback.
            log.debug("connecting storage failed", exc_info=True)
            raise click.ClickException(
                f"Otvet could not open the database at {redact(otvet.settings.resolved_database_url)}: "
                f"{exc or type(exc).__name__}"
            ) from None
        if not storage_only:
            try:
                await otvet.start()
            except Exception as exc:
                # The connection must close, or its worker thread keeps the process alive after the error.
                await otvet.store.close()
                if isinstance(exc, RegistryError):
                    raise
                # A failed migration or plugin startup: the log has the traceback (--log-level DEBUG).
                log.debug("start failed", exc_info=True)
                raise click.ClickException(f"Otvet could not start: {exc or type(exc).__name__}") from None
        try:
            return await work(otvet)
        finally:
            await (otvet.store.close() if storage_only else otvet.stop())

    try:
        return asyncio.run(main())
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from None


def run_on_store(
    otvet: Otvet,
    work: Callable[[Otvet], Awaitable[T]],
    *,
    user_errors: tuple[type[Exception], ...] = (),
) -> T:
    """Run ``work`` on the database only (no knowledge loading, no plugin startup), migrating it first when
    ``auto_migrate`` is on, so that commands such as ``otvet admin create`` bootstrap a fresh database.

    ``user_errors`` (a wrong name, an unknown id) become clear CLI errors without a traceback.
    """

    async def main(otvet: Otvet) -> T:
        if otvet.settings.auto_migrate:
            try:
                await otvet.store.migrate()
            except Exception as exc:
                raise click.ClickException(f"a migration failed: {exc}") from None
        try:
            return await work(otvet)
        except user_errors as exc:
            raise click.ClickException(str(exc)) from None

    return run(otvet, main, storage_only=True)


def redact(url: str) -> str:
    """A database URL without its password, fit for messages and logs."""
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(__version__, prog_name="otvet")
@click.option(
    "--log-level",
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"], case_sensitive=False),
    default=None,
    help="Logging level (default: OTVET_LOG_LEVEL; one-shot commands only warn).",
)
@click.option("--debug", is_flag=True, help="Log everything and show tracebacks (same as --log-level DEBUG).")
@click.pass_context
def cli(ctx: click.Context, log_level: str | None, debug: bool) -> None:
    """Otvet: a question-answering bot grounded in your knowledge base.

    Settings come from OTVET_* environment variables, a .env file or otvet.toml (see config/).
    """
    if not isinstance(ctx.obj, Context):
        ctx.obj = Context(load_settings())
    settings = ctx.obj.settings
    service = ctx.invoked_subcommand if ctx.invoked_subcommand in LONG_RUNNING else "cli"
    ctx.obj.service = service
    if ctx.invoked_subcommand not in (None, "config", "plugins"):
        _note_new_data_folder(settings)
    log_level = "DEBUG" if debug else log_level
    if log_level:
        settings.log_level = log_level.upper()
        configure_logging(log_level, settings, service)
    elif ctx.invoked_subcommand in LONG_RUNNING:
        configure_logging(settings.log_level, settings, service)
    else:
        # One-shot commands print their results; routine INFO lines would only bury them.
        level = "WARNING" if settings.log_level.upper() in ("INFO", "") else settings.log_level
        configure_logging(level, settings, service)


def _note_new_data_folder(settings: Settings) -> None:
    """Say so when the default data folder (``data`` here) does not exist: run from another folder, a
    command would otherwise quietly start an empty knowledge base and conversations there."""
    if "data_dir" in settings.model_fields_set or settings.data_dir.exists():
        return
    click.echo(
        f"Note: no data folder at {settings.data_dir.resolve()}: starting a new, empty one. Run Otvet from "
        "your project's folder, or set OTVET_DATA_DIR, to use an existing one.",
        err=True,
    )


def load_settings() -> Settings:
    """The settings, or one clear error per mistake: the variable's name as the user writes it, the config
    file and where in it, a config file named but missing."""
    path = config_file()
    if os.environ.get("OTVET_CONFIG_FILE") and not path.is_file():
        raise click.ClickException(
            f"OTVET_CONFIG_FILE names {str(path)!r}, which is not a file: fix the path or unset it"
        )
    try:
        return Settings()
    except ValidationError as exc:
        lines = [
            f"OTVET_{'__'.join(str(p).upper() for p in e['loc'])}: {e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors()
        ]
        if len(lines) == 1:
            raise click.ClickException(f"invalid setting {lines[0]}") from None
        raise click.ClickException("invalid settings:\n" + "\n".join(f"  {line}" for line in lines)) from None
    except tomllib.TOMLDecodeError as exc:
        raise click.ClickException(f"{path} is not valid TOML: {exc}") from None
    except OSError as exc:
        raise click.ClickException(f"cannot read the config file {path}: {exc.strerror or exc}") from None


def configure_logging(level: str, settings: Settings | None = None, service: str = "cli") -> None:
    """Logging as the settings ask (text or JSON), with every configured secret masked (core/logs.py).
    One-shot commands log no tracebacks unless debugging: a user reads one line per problem."""
    from otvet.core import logs

    logs.configure_logging(
        level,
        fmt=settings.log_format if settings else "text",
        secrets=logs.settings_secrets(settings) if settings else (),
        service=service,
        tracebacks=service != "cli",
    )


def load_commands() -> None:
    """Import the modules whose commands join ``cli`` (plugins add theirs through ``register_commands``)."""
    from otvet.frontends.cli import (
        admin,  # noqa: F401  (otvet admin ..., otvet key ...)
        candidates,  # noqa: F401  (otvet candidates ...)
        commands,  # noqa: F401  (registers the built-in commands)
        jobs,  # noqa: F401  (otvet worker, otvet retrain, otvet jobs ...)
        sources,  # noqa: F401  (otvet sources list|show|remove)
        status,  # noqa: F401  (otvet config)
        versions,  # noqa: F401  (otvet versions, promote, rollback, checks ...)
    )


def main(argv: list[str] | None = None) -> Any:
    """Entry point of the ``otvet`` script: loads plugins' commands, then runs the CLI."""
    load_commands()

    not_text = _not_utf8(sys.argv[1:] if argv is None else argv)
    if not_text:
        click.echo(f"Error: {not_text}", err=True)
        sys.exit(2)
    try:
        context = Context(load_settings())
        context.pm.hook.register_commands(cli=cli)
        # Settings Otvet would otherwise ignore without a word: a typo in a name is a warning naming the
        # closest real one. Plugins' own sections (OTVET_<PLUGIN>__*) are theirs to read.
        plugins = [name for name, plugin in context.pm.list_name_plugin() if plugin is not None]
        for warning in setting_warnings(plugins):
            click.echo(f"Warning: {warning}", err=True)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except PluginLoadError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)
    try:
        return cli.main(args=argv, prog_name="otvet", obj=context)
    except Exception as exc:
        # The last net: whatever no command turned into a clear error is still one line, not a traceback.
        if context.settings.log_level.upper() == "DEBUG":
            raise
        click.echo(
            f"Error: {type(exc).__name__}: {exc} (run again with --debug to see where it happened)", err=True
        )
        sys.exit(1)


def _not_utf8(args: list[str]) -> str:
    """What is wrong with an argument that is not UTF-8 text, or "". A terminal in another encoding (Latin-1,
    CP1251) passes its bytes on, and Python hands undecodable ones over as lone surrogates. No database, log
    or reply can write those, so a question, key name or check would fail deep inside as a confusing error."""
    for number, arg in enumerate(args, 1):
        if _SURROGATE.search(arg):
            shown = arg.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            return (
                f"argument {number} ({shown!r}) is not UTF-8 text: set the terminal to UTF-8 "
                "(for example LANG=C.UTF-8) and type it again"
            )
    return ""


_SURROGATE = re.compile("[\ud800-\udfff]")


def echo_table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    """Print rows under a header in columns as wide as their widest cell."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def echo_json(data: object) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))
