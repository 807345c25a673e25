"""``otvet config``: which files, data folder, database and plugins this command would use, and every
setting that differs from its default (secrets masked), so "why does it ignore my setting?" has an answer."""

from __future__ import annotations

from pathlib import Path

import click

from otvet.config.check import changed_settings, setting_warnings
from otvet.config.settings import config_file
from otvet.core.plugins import plugin_infos
from otvet.frontends.cli.main import Context, cli, echo_json, pass_context, redact


@cli.command("config")
@click.option("--json", "as_json", is_flag=True, help="Print the same as JSON.")
@pass_context
def config(context: Context, as_json: bool) -> None:
    """Show the config files, data folder, database and plugins in use, and the settings that differ from
    their defaults (secrets masked)."""
    settings = context.settings
    toml, dotenv = config_file().resolve(), Path(".env").resolve()
    data = settings.data_dir.resolve()
    plugins = plugin_infos(context.pm)
    report = {
        "config_file": str(toml) if toml.is_file() else None,
        "env_file": str(dotenv) if dotenv.is_file() else None,
        "data_dir": str(data),
        "data_dir_exists": data.is_dir(),
        "database": redact(settings.resolved_database_url),
        "plugins": [
            {"name": p.name, "builtin": p.builtin, "version": p.version} for p in plugins if not p.builtin
        ],
        "builtin_plugins": sum(p.builtin for p in plugins),
        "changed": dict(changed_settings(settings)),
        "warnings": setting_warnings(p.name for p in plugins),
    }
    if as_json:
        echo_json(report)
        return
    click.echo(f"config file:  {report['config_file'] or f'none ({toml} does not exist)'}")
    click.echo(f".env file:    {report['env_file'] or 'none'}")
    state = "" if data.is_dir() else " (does not exist yet: the first command that needs it creates it)"
    click.echo(f"data folder:  {data}{state}")
    click.echo(f"database:     {report['database']}")
    external = ", ".join(f"{p['name']} {p['version'] or ''}".strip() for p in report["plugins"]) or "none"
    click.echo(f"plugins:      {report['builtin_plugins']} built-in; external: {external}")
    changed = report["changed"]
    click.echo("settings that differ from the defaults:" if changed else "every setting is at its default")
    for name, value in changed.items():
        click.echo(f"  {name}={value}")
