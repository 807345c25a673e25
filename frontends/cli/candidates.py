"""``otvet candidates ...``: review candidate training data (liked answers, corrections) from a shell.

The rules are core/feedback.py's (docs/knowledge.md#feedback); this module only prints and parses.
"""

from __future__ import annotations

import getpass
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from datetime import datetime
from typing import Any, TypeVar

import click

from otvet.core import feedback
from otvet.core.app import Otvet
from otvet.core.embeddings import EmbeddingError
from otvet.core.knowledge import IngestReport
from otvet.core.store import CandidateRecord, NotFound
from otvet.frontends.cli.main import (
    Context,
    cli,
    echo_json,
    echo_table,
    pass_context,
    run,
    run_on_store,
)

T = TypeVar("T")
STATUSES = ("pending", "approved", "rejected", "all")
#: Characters of a question or answer a table row shows.
CELL_CHARS = 50


def _admin() -> str:
    """Who reviews from this shell: there is no login on the command line, so the OS user is recorded."""
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no user name in a bare container
        return "cli"


def _run_review(context: Context, work: Callable[[Otvet], Awaitable[T]]) -> T:
    """Run a review with the whole Otvet started (it may build a knowledge version)."""
    # Approved answers are the admin's own knowledge: loading the demo first would only mix it in.
    context.settings.load_demo = False

    async def guarded(otvet: Otvet) -> T:
        try:
            return await work(otvet)
        except (NotFound, ValueError) as exc:
            raise click.ClickException(str(exc)) from None
        except EmbeddingError as exc:
            raise click.ClickException(
                f"the review is saved, but the chunks could not be embedded ({exc}): the knowledge base "
                "is as it was; run the same command again once the embeddings service works"
            ) from None

    return run(context.otvet, guarded)


@cli.group()
def candidates() -> None:
    """Review candidate training data: answers users liked and admins' corrections.

    Approved candidates become the Q&A pairs of one source, `otvet-feedback:approved`.
    """


@candidates.command("list")
@click.option(
    "--status",
    type=click.Choice(STATUSES),
    default="pending",
    show_default=True,
    help="Only candidates in this state.",
)
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--json", "as_json", is_flag=True, help="Print as JSON, whole texts included.")
@pass_context
def candidates_list(context: Context, status: str, limit: int, as_json: bool) -> None:
    """List candidates, oldest first."""
    wanted = None if status == "all" else status
    records = run_on_store(context.otvet, lambda otvet: otvet.store.list_candidates(wanted, limit=limit))
    if as_json:
        echo_json([_json(record) for record in records])
        return
    if not records:
        click.echo(f"No {'' if wanted is None else wanted + ' '}candidates.")
        return
    header = ("ID", "STATUS", "ORIGIN", "LANG", "MESSAGE", "QUESTION", "ANSWER")
    rows = [
        (
            str(c.id),
            c.status,
            c.origin,
            c.language or "-",
            "-" if c.message_id is None else str(c.message_id),
            _cell(c.question),
            _cell(c.answer),
        )
        for c in records
    ]
    echo_table(header, rows)


@candidates.command("approve")
@click.argument("ids", nargs=-1, required=True, type=int)
@click.option("--no-rebuild", is_flag=True, help="Update the source only; build a version later.")
@pass_context
def candidates_approve(context: Context, ids: tuple[int, ...], no_rebuild: bool) -> None:
    """Approve candidates: they become Q&A pairs of the knowledge base."""
    review = _run_review(
        context, lambda otvet: feedback.approve(otvet, ids, _admin(), rebuild=not no_rebuild)
    )
    _report(review)


@candidates.command("reject")
@click.argument("ids", nargs=-1, required=True, type=int)
@click.option("--no-rebuild", is_flag=True, help="Update the source only; build a version later.")
@pass_context
def candidates_reject(context: Context, ids: tuple[int, ...], no_rebuild: bool) -> None:
    """Reject candidates; approved ones leave the knowledge base again."""
    review = _run_review(context, lambda otvet: feedback.reject(otvet, ids, _admin(), rebuild=not no_rebuild))
    _report(review)


@candidates.command("correct")
@click.argument("message_id", type=int)
@click.argument("answer")
@pass_context
def candidates_correct(context: Context, message_id: int, answer: str) -> None:
    """Propose ANSWER instead of the stored answer MESSAGE_ID (a pending candidate to approve)."""
    record = run_on_store(
        context.otvet,
        lambda otvet: feedback.correct(otvet, message_id, answer, _admin()),
        user_errors=(NotFound, ValueError),
    )
    click.echo(f"Candidate {record.id} ({record.status}): {_cell(record.question)}")


def _report(review: feedback.Review) -> None:
    for c in review.candidates:
        click.echo(f"  {c.status:<9} {c.id}  {_cell(c.question)}")
    report: IngestReport = review.report
    if report.removed and feedback.APPROVED_SOURCE in report.removed:
        click.echo(f"No candidate is approved now: {feedback.APPROVED_SOURCE} was removed.")
    elif report.added or report.updated:
        click.echo(f"{feedback.APPROVED_SOURCE} now holds the approved answers.")
    if report.version is not None:
        click.echo(f"Knowledge version {report.version.id} is {report.version.status}.")
    elif report.added or report.updated or report.removed:
        click.echo("No version was built: run `otvet retrain` to use the change.")
    else:
        click.echo("The approved answers did not change: the active knowledge version stays.")


def _cell(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= CELL_CHARS else line[: CELL_CHARS - 1] + "…"


def _json(record: CandidateRecord) -> dict[str, Any]:
    """A candidate for ``--json``: times in ISO 8601."""
    fields = asdict(record)
    return {key: value.isoformat() if isinstance(value, datetime) else value for key, value in fields.items()}
