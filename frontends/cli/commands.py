"""The built-in CLI commands. Each one translates arguments into an engine or knowledge-base call."""

from __future__ import annotations

import getpass
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click

from otvet.core.app import Otvet
from otvet.core.ingest import IngestProblems, ingest_paths
from otvet.core.plugins import plugin_infos
from otvet.core.types import Delta, Failure, Final, Turn
from otvet.frontends.cli.main import Context, cli, echo_json, pass_context, run


@cli.command()
@click.option("--host", default=None, help="Interface to listen on (default: OTVET_HOST, 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Port to listen on (default: OTVET_PORT, 8000).")
@pass_context
def serve(context: Context, host: str | None, port: int | None) -> None:
    """Run everything in one process: the HTTP API and every enabled frontend."""
    import uvicorn

    from otvet.frontends.app import create_app

    settings = context.settings
    host = settings.host if host is None else host
    port = settings.port if port is None else port
    app = create_app(context.otvet)
    where = f"http://{host}:{port}" if port else f"{host}, on a free port (uvicorn names it below)"
    click.echo(f"Otvet is serving on {where}", err=True)
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level=settings.log_level.lower(),
        # Uvicorn's lines go through Otvet's logging setup, in the same format as everything else.
        log_config=None,
        proxy_headers=True,
    )


@cli.command()
@click.argument("question", nargs=-1, required=True)
@click.option("--user", default=None, help="Whose conversation this is (default: your login name).")
@click.option("--lang", "language", default=None, help="Answer in this language instead of the question's.")
@click.option(
    "--new", "new_conversation", is_flag=True, help="Start a new conversation (forget the history)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the final answer as JSON instead of streaming.")
@pass_context
def ask(
    context: Context,
    question: tuple[str, ...],
    user: str | None,
    language: str | None,
    new_conversation: bool,
    as_json: bool,
) -> None:
    """Ask a question and print the answer with its sources.

    \b
    Example:
      otvet ask "How do I connect Telegram?"
    """
    text = " ".join(question)
    # An explicit --lang is this turn's choice only: the user's stored preference is left alone.
    turn = Turn(channel="cli", user_id=user or _login(), text=text, language=language)

    async def work(otvet: Otvet) -> Final | Failure:
        if language and language not in otvet.i18n.languages:
            raise click.BadParameter(f"choose one of {', '.join(otvet.i18n.languages)}", param_hint="--lang")
        if new_conversation:
            await otvet.engine.reset(turn.channel, turn.user_id)
        final: Final | Failure | None = None
        async for event in otvet.engine.stream(turn):
            if isinstance(event, Delta):
                if not as_json:
                    click.echo(event.text, nl=False)
            else:
                final = event
        assert final is not None
        if not as_json and isinstance(final, Final):
            click.echo()
            if final.sources:
                t = otvet.i18n.get(final.language)
                click.echo()
                click.echo(t.gettext("Sources:"))
                for number, source in enumerate(final.sources, 1):
                    click.echo(f"  [{number}] {source.label()}")
        return final

    final = run(context.otvet, work)
    if as_json:
        echo_json(asdict(final))
    if isinstance(final, Failure):
        if not as_json:
            click.echo(final.message, err=True)
        sys.exit(1)


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--note", default="", help="A note stored with the new knowledge version.")
@pass_context
def ingest(context: Context, paths: tuple[Path, ...], note: str) -> None:
    """Add training data: Markdown, text, CSV or JSON Q&A files, or folders of them.

    Every file is checked first; if any has a problem, nothing is added and each problem is listed.
    Ingesting an unchanged file again does nothing. Your first sources replace the demo knowledge base.
    """
    # The admin is bringing their own knowledge: loading the demo first would only mix it in.
    context.settings.load_demo = False

    async def work(otvet: Otvet) -> None:
        bar = _Progress("Parsing")
        try:
            report = await ingest_paths(otvet, list(paths), note=note, progress=bar.update)
        finally:
            bar.close()
        for label, names in (
            ("added", report.added),
            ("updated", report.updated),
            ("unchanged", report.unchanged),
        ):
            for name in names:
                click.echo(f"  {label:<9} {name}")
        if report.removed:
            click.echo(f"  removed   the demo knowledge base ({len(report.removed)} sources)")
        if report.version:
            v = report.version
            click.echo(
                f"Knowledge version {v.id} is active: {_count(v.chunk_count, 'chunk')} "
                f"from {_count(v.source_count, 'source')}."
            )
        else:
            click.echo("Nothing changed: the active knowledge version stays.")

    try:
        run(context.otvet, work)
    except IngestProblems as exc:
        click.echo("Nothing was added. Fix these and run the command again:", err=True)
        for problem in exc.problems:
            click.echo(f"  {problem}", err=True)
        sys.exit(1)


@cli.command()
@pass_context
def migrate(context: Context) -> None:
    """Create or upgrade the database schema to the latest version."""

    async def work(otvet: Otvet) -> list[str]:
        try:
            return await otvet.store.migrate()
        except Exception as exc:
            raise click.ClickException(f"a migration failed: {exc}") from None

    applied = run(context.otvet, work, storage_only=True)
    if applied:
        for name in applied:
            click.echo(f"  applied {name}")
    click.echo("The database schema is up to date.")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@pass_context
def plugins(context: Context, as_json: bool) -> None:
    """List the loaded plugins and the hooks each one implements."""
    infos = plugin_infos(context.pm)
    if as_json:
        echo_json([asdict(info) for info in infos])
        return
    for info in infos:
        origin = "built-in" if info.builtin else f"external {info.version or ''}".strip()
        click.echo(f"{info.name}  ({origin}, {info.module})")
        click.echo(f"    hooks: {', '.join(info.hooks) or '-'}")


class _Progress:
    """A click progress bar on stderr, created once the total is known."""

    def __init__(self, label: str) -> None:
        self.label = label
        self._bar: Any = None
        self._done = 0

    def update(self, done: int, total: int) -> None:
        if self._bar is None:
            self._bar = click.progressbar(length=total, label=self.label, file=sys.stderr, show_pos=True)
            self._bar.__enter__()
        self._bar.update(done - self._done)
        self._done = done

    def close(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _login() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers
        return "cli"
