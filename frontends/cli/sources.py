"""``otvet sources list|show|remove``: the stored training sources, as the GraphQL ``sources`` query and
``removeSources`` mutation give them to integrators."""

from __future__ import annotations

import sys
from typing import Any

import click

from otvet.core.app import Otvet
from otvet.core.knowledge import RemovalResult
from otvet.core.store import NotFound, SourceRecord
from otvet.frontends.cli.main import Context, cli, echo_json, echo_table, pass_context, run, run_on_store


def source_summary(record: SourceRecord) -> dict[str, Any]:
    """A source as listed: what it is, without its content."""
    return {
        "id": record.id,
        "name": record.name,
        "type": record.type,
        "title": record.title,
        "language": record.language,
        "sections": len(record.content.get("sections", [])),
        "qa_pairs": len(record.content.get("qa_pairs", [])),
        "checksum": record.checksum,
        "updated_at": record.updated_at.isoformat(timespec="seconds"),
    }


@cli.group()
def sources() -> None:
    """List, show and remove the training sources (`otvet ingest` adds them)."""


@sources.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the sources as JSON.")
@pass_context
def sources_list(context: Context, as_json: bool) -> None:
    """List the stored sources, by name."""
    found = run_on_store(context.otvet, lambda otvet: otvet.store.list_sources())
    rows = [source_summary(record) for record in sorted(found, key=lambda r: r.name)]
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo("No sources yet: add some with `otvet ingest`.")
        return
    echo_table(
        ("NAME", "TYPE", "LANG", "SECTIONS", "QA", "UPDATED", "TITLE"),
        [
            (
                r["name"],
                r["type"],
                r["language"] or "-",
                str(r["sections"]),
                str(r["qa_pairs"]),
                r["updated_at"][:16].replace("T", " "),
                r["title"][:50],
            )
            for r in rows
        ],
    )


@sources.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print the source, with its content, as JSON.")
@pass_context
def sources_show(context: Context, name: str, as_json: bool) -> None:
    """Show one source: what it is, its sections' titles and its Q&A pairs' questions."""

    async def work(otvet: Otvet) -> SourceRecord:
        for record in await otvet.store.list_sources():
            if record.name == name:
                return record
        raise NotFound(f"there is no source named {name!r} (see `otvet sources list`)")

    record = run_on_store(context.otvet, work, user_errors=(NotFound,))
    summary = source_summary(record)
    if as_json:
        echo_json({**summary, "content": record.content})
        return
    for key in ("name", "title", "type", "language", "updated_at", "checksum"):
        click.echo(f"{key + ':':<12} {summary[key] or '-'}")
    for section in record.content.get("sections", []):
        words = len(str(section.get("text", "")).split())
        click.echo(f"  section  {section.get('title') or '(untitled)'} ({words} words)")
    for pair in record.content.get("qa_pairs", []):
        click.echo(f"  Q&A      {pair.get('question', '')}")


@sources.command("remove")
@click.argument("names", nargs=-1, required=True)
@click.option("--no-rebuild", is_flag=True, help="Only remove them; the next retrain builds without them.")
@pass_context
def sources_remove(context: Context, names: tuple[str, ...], no_rebuild: bool) -> None:
    """Remove sources by name and build a knowledge version without them (older versions keep their copy,
    so `otvet rollback` still answers with them)."""
    context.settings.load_demo = False

    async def work(otvet: Otvet) -> RemovalResult:
        result = await otvet.knowledge.remove_sources(names, rebuild=not no_rebuild, all_or_nothing=True)
        if result.unknown:
            raise NotFound(
                f"no source named {', '.join(repr(n) for n in result.unknown)} (see `otvet sources list`): "
                "nothing was removed"
            )
        return result

    try:
        result = run(context.otvet, work)
    except NotFound as exc:
        raise click.ClickException(str(exc)) from None
    version = result.version
    for name in result.removed:
        click.echo(f"  removed   {name}")
    if version is None:
        click.echo("The active knowledge version stays until the next retrain.")
    elif version.status != "active":
        reason = (version.metrics or {}).get("decision", version.status)
        click.echo(f"Knowledge version {version.id} was built but not promoted: {reason}", err=True)
        click.echo(f"Promote it anyway with `otvet promote {version.id} --force`.", err=True)
        sys.exit(1)
    else:
        click.echo(f"Knowledge version {version.id} is active: {version.chunk_count} chunks.")
