"""The built-in CLI commands. Each one translates arguments into an engine or knowledge-base call."""

from __future__ import annotations

import asyncio
import errno
import getpass
import re
import socket
import sys
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import click

from otvet.core.app import Otvet
from otvet.core.embeddings import EmbeddingError
from otvet.core.ingest import IngestProblems, ingest_paths, is_url
from otvet.core.plugins import plugin_infos
from otvet.core.store import UsageRow
from otvet.core.types import Delta, Failure, Final, Turn
from otvet.frontends.cli.main import Context, cli, echo_json, pass_context, redact, run


@cli.command()
@click.option("--host", default=None, help="Interface to listen on (default: OTVET_HOST, 127.0.0.1).")
@click.option(
    "--port",
    default=None,
    type=click.IntRange(0, 65535),
    help="Port to listen on (default: OTVET_PORT, 8000; 0 picks a free one).",
)
@pass_context
def serve(context: Context, host: str | None, port: int | None) -> None:
    """Run everything in one process: the HTTP API, every enabled frontend, background jobs and, with a
    token in polling mode, the Telegram bot. For one machine; `otvet api`, `otvet worker` and
    `otvet telegram` run the same parts as separate services."""
    # One machine, one process: it also runs the jobs (retrains) unless `otvet worker` processes do.
    serve_http(context, host, port, jobs=context.settings.worker.in_process)


@cli.command()
@click.option("--host", default=None, help="Interface to listen on (default: OTVET_HOST, 127.0.0.1).")
@click.option(
    "--port",
    default=None,
    type=click.IntRange(0, 65535),
    help="Port to listen on (default: OTVET_PORT, 8000; 0 picks a free one).",
)
@click.option(
    "--workers",
    default=None,
    type=click.IntRange(1, 64),
    help="Processes serving the port, one core each (default: OTVET_API__WORKERS, 1).",
)
@pass_context
def api(context: Context, host: str | None, port: int | None, workers: int | None) -> None:
    """Run the HTTP service alone: GraphQL, the widget, the OpenAI-compatible endpoint, the Telegram webhook,
    health and metrics. Stateless: run as many replicas as the load needs, with `otvet worker` for jobs."""
    # Only here: `serve` also runs jobs and a polling Telegram bot, which must not run once per process.
    workers = context.settings.api.workers if workers is None else workers
    serve_http(context, host, port, jobs=False, workers=workers)


def serve_http(context: Context, host: str | None, port: int | None, *, jobs: bool, workers: int = 1) -> None:
    """Serve the HTTP app until SIGTERM or Ctrl-C, which drain it first (frontends/server.py)."""
    from otvet.frontends.server import TlsConfigError, check_tls

    settings = context.settings
    host = settings.host if host is None else host
    port = settings.port if port is None else port
    try:
        check_tls(settings)
    except TlsConfigError as exc:
        raise click.ClickException(str(exc)) from None
    probe_database(context)
    scheme = "https" if settings.tls.enabled else "http"
    from otvet.frontends.workers import Supervisor, bind

    # Bound here, before saying where: a port in use is one clear line, and port 0 prints the port chosen.
    try:
        sock = bind(host, port)
    except OSError as exc:
        raise click.ClickException(listen_error(host, port, exc)) from None
    where = f"{scheme}://{host}:{sock.getsockname()[1]}"
    if workers == 1:
        click.echo(f"Otvet ({context.service}) is serving on {where}", err=True)
        if not _serve_one(context, host, port, jobs=jobs, sock=sock):
            sys.exit(3)  # the log says why (a failed start)
        return
    click.echo(f"Otvet ({context.service}) is serving on {where} with {workers} workers", err=True)

    def serve(sock: socket.socket, ready: Callable[[], None]) -> int:
        return 0 if _serve_one(context, host, port, jobs=jobs, sock=sock, on_started=ready) else 3

    sys.exit(Supervisor(workers, sock, serve).run())


def probe_database(context: Context) -> None:
    """Open and close the database once before serving: unreachable, or a wrong password, is then the same
    one line as for any command, not a traceback from the server's start-up."""
    from otvet.core.storage import compose_store

    async def probe() -> None:
        store = compose_store(context.otvet)  # a store of its own: the server's opens in its event loop
        try:
            await store.connect()
        except Exception as exc:
            raise click.ClickException(
                f"Otvet could not open the database at {redact(context.settings.resolved_database_url)}: "
                f"{exc or type(exc).__name__}"
            ) from None
        await store.close()

    asyncio.run(probe())


def listen_error(host: str, port: int, exc: OSError) -> str:
    """Why ``host:port`` cannot be listened on, and what to do, in one line."""
    if exc.errno == errno.EADDRINUSE:
        return (
            f"port {port} on {host} is already in use (another Otvet, or another program): "
            "choose another with --port or OTVET_PORT"
        )
    if exc.errno == errno.EACCES:
        return f"listening on port {port} needs privileges this user lacks: use a port above 1023"
    if isinstance(exc, socket.gaierror) or exc.errno == errno.EADDRNOTAVAIL:
        return f"cannot listen on {host!r}: this machine has no such address (set --host or OTVET_HOST)"
    return f"cannot listen on {host}:{port}: {exc.strerror or exc}"


def _serve_one(
    context: Context,
    host: str,
    port: int,
    *,
    jobs: bool,
    sock: socket.socket | None = None,
    on_started: Callable[[], None] | None = None,
) -> bool:
    """One process serving the app (on ``sock`` when a supervisor bound it); False if it never started."""
    from otvet.frontends.app import create_app
    from otvet.frontends.server import ServiceServer, uvicorn_config

    otvet = context.otvet
    config = uvicorn_config(create_app(otvet, worker=jobs), context.settings, host, port)
    server = ServiceServer(config, otvet, on_started)
    server.run(sockets=None if sock is None else [sock])
    return server.started


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
@click.argument("sources", nargs=-1, required=True)
@click.option("--note", default="", help="A note stored with the new knowledge version.")
@click.option(
    "--name",
    "base_name",
    default=None,
    help="Name the sources NAME/<path inside the folder given> (NAME for one file) instead of by their path.",
)
@pass_context
def ingest(context: Context, sources: tuple[str, ...], note: str, base_name: str | None) -> None:
    """Add training data: Markdown, text, HTML, PDF, Word, CSV/JSON/YAML Q&A files, folders of them, or web
    pages (http:// or https:// URLs).

    Every file and page is checked first; if any has a problem, nothing is added and each problem is listed.
    Ingesting an unchanged file again does nothing. Your first sources replace the demo knowledge base.
    """
    # The admin is bringing their own knowledge: loading the demo first would only mix it in.
    context.settings.load_demo = False
    urls = [source.strip() for source in sources if is_url(source)]
    paths = [Path(source) for source in sources if not is_url(source)]
    if base_name is not None and (len(paths) != 1 or urls):
        raise click.BadParameter(
            "names the sources of one file or folder: give exactly one", param_hint="--name"
        )

    async def work(otvet: Otvet) -> None:
        bar = _Progress("Parsing")
        try:
            report = await ingest_paths(
                otvet,
                paths,
                urls=urls,
                note=note,
                progress=bar.update,
                detail=bar.detail,
                base_name=base_name,
            )
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
        v = report.version
        if v and v.status != "active":
            reason = (v.metrics or {}).get("decision", v.status)
            click.echo(f"Knowledge version {v.id} was built but not promoted: {reason}", err=True)
            click.echo(f"Promote it anyway with `otvet promote {v.id} --force`.", err=True)
            sys.exit(1)
        if v:
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
    except EmbeddingError as exc:
        # Vectors are computed before anything is stored: the knowledge base is exactly as it was.
        click.echo(f"Nothing was added: the chunks could not be embedded ({exc}).", err=True)
        click.echo(
            "Check the embeddings service (OTVET_RETRIEVAL__EMBEDDER) and run the command again.", err=True
        )
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


class _Moment(click.ParamType):
    """A point in time: ``2026-01-31`` (a UTC day), ``2026-01-31T12:00`` (UTC), or an age: ``7d``, ``24h``."""

    name = "WHEN"

    def __init__(self, *, end_of_day: bool = False) -> None:
        #: A bare day as an upper bound includes that day: ``--until 2026-01-31`` ends at its midnight.
        self.end_of_day = end_of_day

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            return value
        text = str(value).strip()
        age = re.fullmatch(r"(\d+)\s*([dhm])", text.lower())
        if age:
            unit = {"d": "days", "h": "hours", "m": "minutes"}[age.group(2)]
            return datetime.now(UTC) - timedelta(**{unit: int(age.group(1))})
        try:
            if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
                day = date.fromisoformat(text)
                start = datetime(day.year, day.month, day.day, tzinfo=UTC)
                return start + timedelta(days=1) if self.end_of_day else start
            moment = datetime.fromisoformat(text)
        except ValueError:
            pass
        else:
            return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
        self.fail(
            f"{text!r} is not a day (2026-01-31), a UTC time (2026-01-31T12:00) or an age (7d, 24h, 30m)",
            param,
            ctx,
        )


@cli.command()
@click.option(
    "--since",
    type=_Moment(),
    default="7d",
    show_default=True,
    help="Start: a UTC day (2026-01-31), a UTC time (2026-01-31T12:00) or an age (7d, 24h).",
)
@click.option(
    "--until", type=_Moment(end_of_day=True), default=None, help="End (default: now); a day is included."
)
@click.option(
    "--by",
    "group_by",
    type=click.Choice(["user", "day", "provider"]),
    default="user",
    show_default=True,
    help="One row per user, UTC day or provider.",
)
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@pass_context
def usage(context: Context, since: datetime, until: datetime | None, group_by: str, as_json: bool) -> None:
    """Show questions, answers and tokens per user, day or provider.

    \b
    Examples:
      otvet usage                       # the last 7 days, by user
      otvet usage --since 2026-01-01 --until 2026-01-31 --by day
    """
    until = until or datetime.now(UTC)
    if since >= until:
        raise click.BadParameter("must be before --until (or now)", param_hint="--since")

    async def work(otvet: Otvet) -> list[UsageRow]:
        try:
            return await otvet.store.usage_report(since, until, cast(Any, group_by))
        except Exception as exc:
            raise click.ClickException(
                f"could not read usage (has `otvet migrate` run?): {exc or type(exc).__name__}"
            ) from None

    # Only the database: reading a report must not migrate, load knowledge or start plugins.
    rows = run(context.otvet, work, storage_only=True)
    total = _usage_total(rows)
    if as_json:
        echo_json(
            {
                "since": since.isoformat(),
                "until": until.isoformat(),
                "by": group_by,
                "rows": [{**asdict(row), "total_tokens": row.total_tokens} for row in rows],
                "total": {**asdict(total), "total_tokens": total.total_tokens},
            }
        )
        return
    span = f"{since:%Y-%m-%d %H:%M} to {until:%Y-%m-%d %H:%M} UTC"
    if not rows:
        click.echo(f"No questions or answers from {span}.")
        return
    click.echo(f"Usage from {span}, by {group_by}:")
    table = [
        (group_by, "questions", "answers", "failed", "rejected", "prompt", "completion", "tokens"),
        *(_usage_cells(row) for row in rows),
        _usage_cells(total),
    ]
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
    for number, line in enumerate(table):
        if number == len(table) - 1:  # the total, set apart
            click.echo("  ".join("-" * width for width in widths))
        # The name left-aligned, the numbers right-aligned.
        cells = [cell.rjust(width) for cell, width in zip(line, widths, strict=True)]
        cells[0] = line[0].ljust(widths[0])
        click.echo("  ".join(cells).rstrip())


def _usage_cells(row: UsageRow) -> tuple[str, ...]:
    counts = (row.questions, row.answers, row.failed, row.rejected)
    tokens = (row.prompt_tokens, row.completion_tokens, row.total_tokens)
    return (row.label, *(f"{n:,}" for n in (*counts, *tokens)))


def _usage_total(rows: list[UsageRow]) -> UsageRow:
    return UsageRow(
        key="",
        label="total",
        questions=sum(r.questions for r in rows),
        answers=sum(r.answers for r in rows),
        failed=sum(r.failed for r in rows),
        rejected=sum(r.rejected for r in rows),
        prompt_tokens=sum(r.prompt_tokens for r in rows),
        completion_tokens=sum(r.completion_tokens for r in rows),
    )


class _Progress:
    """A click progress bar on stderr, created once the total is known."""

    def __init__(self, label: str) -> None:
        self.label = label
        self._bar: Any = None
        self._done = 0

    def update(self, done: int, total: int) -> None:
        if self._bar is None:
            self._bar = click.progressbar(
                length=total,
                label=self.label,
                file=sys.stderr,
                show_pos=True,
                item_show_func=lambda item: item,
            )
            self._bar.__enter__()
        self._bar.update(done - self._done, current_item="")
        self._done = done

    def detail(self, text: str) -> None:
        """How far the file being read has got ("manual.pdf: page 450 of 900"), beside the bar."""
        if self._bar is None:
            return
        self._bar.update(0, current_item=text)

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
