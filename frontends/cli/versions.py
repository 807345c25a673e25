"""``otvet versions``, ``otvet promote``, ``otvet rollback`` and ``otvet checks``: knowledge versions and the
check set they are evaluated on (docs/knowledge.md#versions-and-the-check-set).

Promoting and rolling back run in this process and change which version every process answers from: each
API replica and the Telegram service switch within ``OTVET_RETRIEVAL__REFRESH_SECONDS``.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from otvet.core.app import Otvet
from otvet.core.checks import CheckFileError, parse_checks, validate_check
from otvet.core.store import CheckRecord, NewCheck, NotFound, VersionRecord
from otvet.frontends.cli.main import Context, cli, echo_json, echo_table, pass_context, run_on_store

T = TypeVar("T")


def _run(context: Context, work: Callable[[Otvet], Awaitable[T]]) -> T:
    # A wrong id or a version that cannot be promoted is the admin's mistake: one line, no traceback.
    return run_on_store(context.otvet, work, user_errors=(NotFound, ValueError))


def _json(record: VersionRecord | CheckRecord) -> dict[str, Any]:
    fields = asdict(record)
    return {key: value.isoformat() if isinstance(value, datetime) else value for key, value in fields.items()}


def scores_of(version: VersionRecord) -> str:
    """``hit@1 1.00 hit@3 1.00 ans 0.50`` from a version's evaluation; ``-`` when it has none."""
    metrics = version.metrics or {}
    if not metrics.get("checks"):
        return "-"
    parts = [
        f"{label} {metrics[key]:.2f}"
        for key, label in (("hit1", "hit@1"), ("hitk", f"hit@{metrics.get('k', '')}"), ("answers", "ans"))
        if metrics.get(key) is not None
    ]
    return " ".join(parts)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print as JSON, with each version's evaluation.")
@pass_context
def versions(context: Context, as_json: bool) -> None:
    """List knowledge versions, newest first, with their scores on the check set."""
    records = _run(context, lambda otvet: otvet.store.list_versions())
    if as_json:
        echo_json([_json(version) for version in records])
        return
    if not records:
        click.echo("No knowledge version yet: add sources with `otvet ingest`.")
        return
    header = ("ID", "STATUS", "CHUNKS", "SOURCES", "SCORES", "CREATED", "NOTE")
    rows = [
        (
            str(v.id),
            v.status,
            str(v.chunk_count),
            str(v.source_count),
            scores_of(v),
            f"{v.created_at:%Y-%m-%d %H:%M}",
            v.note[:50],
        )
        for v in records
    ]
    echo_table(header, rows)


def _report(version: VersionRecord, verb: str) -> None:
    reason = (version.metrics or {}).get("decision", "")
    if version.status == "active":
        click.echo(f"Knowledge version {version.id} is active{': ' + reason if reason else '.'}")
        return
    click.echo(f"Knowledge version {version.id} was not {verb}: {reason}", err=True)
    click.echo(f"Promote it anyway with `otvet promote {version.id} --force`.", err=True)
    sys.exit(1)


@cli.command()
@click.argument("version_id", type=int)
@click.option("--force", is_flag=True, help="Promote it even if it scores worse than the active version.")
@pass_context
def promote(context: Context, version_id: int, force: bool) -> None:
    """Make a version active if it scores no worse on the check set than the active one (or --force).

    \b
    Exit status: 0 when the version is active, 1 when it scored worse and was not promoted.
    """
    version = _run(context, lambda otvet: otvet.knowledge.promote(version_id, force=force))
    _report(version, "promoted")


@cli.command()
@click.argument("version_id", type=int, required=False)
@pass_context
def rollback(context: Context, version_id: int | None) -> None:
    """Make an earlier version active again: VERSION_ID, or the one active before the current one.

    A rollback is your decision, so it skips the evaluation gate.
    """
    done = _run(context, lambda otvet: otvet.knowledge.rollback(version_id))
    dropped = done.dropped
    click.echo(f"Rolled back: knowledge version {done.version.id} is active.")
    if dropped:
        # A version is a set of sources: the next ingest or retrain starts from this one's.
        click.echo(f"Its sources are the working set again; {len(dropped)} it did not have were removed:")
        for name in dropped:
            click.echo(f"  removed   {name}")


# --- the check set ------------------------------------------------------------------------------------------


@cli.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.pass_context
def checks(ctx: click.Context, as_json: bool) -> None:
    """The check set: questions every new knowledge version must answer no worse than the active one."""
    if ctx.invoked_subcommand is not None:
        return
    context = ctx.find_object(Context)
    assert context is not None
    records = _run(context, lambda otvet: otvet.store.list_checks())
    if as_json:
        echo_json([_json(check) for check in records])
        return
    if not records:
        click.echo("The check set is empty: add checks with `otvet checks add` or `otvet checks import`.")
        return
    header = ("ID", "QUESTION", "SOURCE", "ANSWER", "LANG")
    rows = [
        (
            str(c.id),
            c.question[:60],
            (c.expected_source or "-")[:40],
            (c.expected_answer or "-")[:40],
            c.language or "-",
        )
        for c in records
    ]
    echo_table(header, rows)


@checks.command("add")
@click.argument("question")
@click.option("--source", default=None, help="Name or title of the source that should answer it.")
@click.option("--answer", default=None, help="Words a good answer contains.")
@click.option("--lang", "language", default=None, help="The question's language.")
@pass_context
def checks_add(
    context: Context, question: str, source: str | None, answer: str | None, language: str | None
) -> None:
    """Add one check: a question with its expected source and/or answer."""
    check, problems = validate_check(question, source, answer, language, context.otvet.i18n.languages)
    if check is None:
        raise click.UsageError("; ".join(problems))

    async def work(otvet: Otvet) -> tuple[Any, list[str]]:
        (added,) = await otvet.store.add_checks([check])
        return added, await _unknown_sources(otvet, [check])

    added, unknown = _run(context, work)
    click.echo(f"Added check {added.id}.")
    _warn_unknown(unknown)


@checks.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--replace", is_flag=True, help="Remove every existing check first.")
@pass_context
def checks_import(context: Context, file: Path, replace: bool) -> None:
    """Add the checks in a JSON, YAML or CSV file (see docs/knowledge.md#the-check-set).

    If any check has a problem, nothing is added and each problem is listed.
    """
    try:
        new = parse_checks(file.read_bytes(), file.name, context.otvet.i18n.languages)
    except CheckFileError as exc:
        click.echo("Nothing was added. Fix these and run the command again:", err=True)
        for problem in exc.problems:
            click.echo(f"  {problem}", err=True)
        sys.exit(1)

    async def work(otvet: Otvet) -> tuple[int, int, list[str]]:
        removed = 0
        if replace:
            removed = await otvet.store.delete_checks([c.id for c in await otvet.store.list_checks()])
        return removed, len(await otvet.store.add_checks(new)), await _unknown_sources(otvet, new)

    removed, added, unknown = _run(context, work)
    click.echo(f"Added {added} checks" + (f" (removed {removed})." if replace else "."))
    _warn_unknown(unknown)


async def _unknown_sources(otvet: Otvet, new: Sequence[NewCheck]) -> list[str]:
    """The expected sources of ``new`` that name no stored source (by name or title, as evaluation
    matches them): such a check fails on every version until the source is ingested."""
    known = {k.casefold() for s in await otvet.store.list_sources() for k in (s.name, s.title)}
    wanted = {c.expected_source for c in new if c.expected_source}
    return sorted(source for source in wanted if source.strip().casefold() not in known)


def _warn_unknown(unknown: list[str]) -> None:
    for source in unknown:
        click.echo(
            f"Warning: no source is named or titled {source!r} (see `otvet sources list`): checks expecting "
            "it fail until it is ingested",
            err=True,
        )


@checks.command("remove")
@click.argument("check_ids", nargs=-1, type=int, required=True)
@pass_context
def checks_remove(context: Context, check_ids: tuple[int, ...]) -> None:
    """Remove checks by id."""
    removed = _run(context, lambda otvet: otvet.store.delete_checks(check_ids))
    click.echo(f"Removed {removed} of {len(check_ids)} checks.")


@checks.command("run")
@click.argument("version_id", type=int, required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the evaluation as JSON.")
@pass_context
def checks_run(context: Context, version_id: int | None, as_json: bool) -> None:
    """Evaluate a version (default: the active one) on the check set now, and list the checks it fails."""

    async def work(otvet: Otvet) -> Any:
        store = otvet.store
        version = await (store.get_version(version_id) if version_id else store.active_version())
        if version is None:
            raise NotFound(f"there is no knowledge version {version_id or '(none is active)'}")
        found = await store.list_checks()
        if not found:
            raise ValueError("the check set is empty: add checks with `otvet checks add` first")
        return await otvet.knowledge.evaluate(version, found)

    evaluation = _run(context, work)
    if as_json:
        echo_json(evaluation.as_dict())
        return
    click.echo(f"Version {evaluation.version_id}: {evaluation.summary()}.")
    for failure in evaluation.failures:
        where = "not found" if failure.rank is None else f"ranked {failure.rank}"
        answer = {None: "", True: "", False: "; answer words missing"}[failure.answer_found]
        click.echo(f"  check {failure.check_id}: {failure.question[:60]} (source {where}{answer})")
