"""``otvet worker``, ``otvet retrain`` and ``otvet jobs``: the background job queue from the command line.

``otvet worker`` runs jobs until SIGTERM or SIGINT (a job still running then is queued again for another
worker). ``otvet retrain`` queues a retrain; with ``--wait`` it follows the job and exits 0 when it succeeded,
1 when it failed or was cancelled.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from datetime import datetime
from typing import Any, TypeVar

import click

from otvet.core.app import Otvet
from otvet.core.jobs import Worker
from otvet.core.store import FINISHED_JOB_STATES, JobRecord, NotFound
from otvet.frontends.cli.main import Context, cli, echo_json, echo_table, pass_context, run, run_on_store

T = TypeVar("T")
#: Seconds between two reads of a job ``otvet retrain --wait`` follows.
WAIT_POLL_SECONDS = 0.5


def _run_on_store(context: Context, work: Callable[[Otvet], Awaitable[T]]) -> T:
    """Run ``work`` on the database only (no knowledge loading), migrating first when ``auto_migrate``."""
    return run_on_store(context.otvet, work, user_errors=(NotFound,))


@cli.command()
@click.option("--once", is_flag=True, help="Run the jobs that are due, then exit.")
@click.option("--id", "worker_id", default=None, help="Its name in `otvet jobs` (default: host:pid:random).")
@click.option(
    "--ops-port",
    type=int,
    default=None,
    help="Serve /healthz, /readyz and /metrics on this port (default: OTVET_OPS__PORT; none when unset).",
)
@pass_context
def worker(context: Context, once: bool, worker_id: str | None, ops_port: int | None) -> None:
    """Run background jobs (retrains) until stopped with SIGTERM or Ctrl-C.

    Run as many workers as you like, on any machines that reach the database: each job runs on one of them.
    On SIGTERM a worker claims nothing new and gives its running job OTVET_SHUTDOWN_SECONDS to finish; a
    job still running then (or at a second signal) is queued again for another worker. A job whose worker
    dies is picked up again once its lease (OTVET_WORKER__LEASE_SECONDS) runs out.
    """
    from otvet.frontends.server import ops_listener

    async def work(otvet: Otvet) -> int:
        runner = Worker(otvet, worker_id)
        loop = asyncio.get_running_loop()

        def on_signal() -> None:
            if otvet.lifecycle.draining:
                runner.stop()  # a second signal: give the running job back now
                return
            otvet.lifecycle.begin_drain()
            runner.stop(grace=otvet.settings.shutdown_seconds)

        async def running() -> str | None:
            return "stopping" if runner.stopping else None

        otvet.lifecycle.add_check("worker", running)
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, on_signal)
        try:
            async with ops_listener(otvet, port=ops_port):
                click.echo(f"Worker {runner.id} is waiting for jobs.", err=True)
                return await runner.run(once=once)
        finally:
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(signum)

    ran = run(context.otvet, work)
    click.echo(f"Worker stopped after {ran} job(s).", err=True)


def succeeded_or_exit(job: JobRecord) -> dict[str, Any]:
    """A followed job's result; a job that failed or was cancelled is reported and exits with status 1."""
    if job.status != "succeeded":
        click.echo(f"Job {job.id} {job.status}: {job.error or 'no error recorded'}", err=True)
        sys.exit(1)
    return job.result or {}


async def follow_job(otvet: Otvet, job: JobRecord) -> JobRecord:
    """Print a queued job's progress on stderr until it ends (``--wait``); its final state."""
    click.echo("Waiting for a worker (`otvet worker`) to run it; Ctrl-C stops waiting.", err=True)
    shown: tuple[str, float, str | None] | None = None
    while job.status not in FINISHED_JOB_STATES:
        await asyncio.sleep(WAIT_POLL_SECONDS)
        latest = await otvet.store.get_job(job.id)
        if latest is None:
            raise click.ClickException(f"job {job.id} disappeared")
        job = latest
        state = (job.status, round(job.progress, 2), job.message)
        if state != shown:
            shown = state
            click.echo(f"  {job.status} {job.progress:4.0%} {job.message or ''}".rstrip(), err=True)
    return job


@cli.command()
@click.option("--note", default="", help="A note kept with the new knowledge version.")
@click.option("--force", is_flag=True, help="Promote the new version even if it scores worse.")
@click.option("--wait/--no-wait", default=True, show_default=True, help="Follow the job until it ends.")
@pass_context
def retrain(context: Context, note: str, force: bool, wait: bool) -> None:
    """Queue a retrain: a worker builds a knowledge version from every source, evaluates it on the check
    set (`otvet checks`) and promotes it unless it scores worse than the active version.

    \b
    Exit status with --wait: 0 when the new version is active; 1 when it was not promoted (the reason is
    printed), or the job failed or was cancelled.
    """
    payload: dict[str, Any] = {"note": note} if note else {}
    if force:
        payload["force"] = True

    async def work(otvet: Otvet) -> JobRecord:
        job = await otvet.store.enqueue_job("retrain", payload)
        click.echo(f"Queued job {job.id} (retrain).", err=True)
        return await follow_job(otvet, job) if wait else job

    job = _run_on_store(context, work)
    if not wait:
        click.echo(job.id)
        return
    result = succeeded_or_exit(job)
    version = result.get("version_id")
    if result.get("promoted") is False:
        click.echo(
            f"Job {job.id}: knowledge version {version} was not promoted: {result.get('reason')}", err=True
        )
        click.echo(f"Promote it anyway with `otvet promote {version} --force`.", err=True)
        sys.exit(1)
    click.echo(f"Job {job.id} succeeded: knowledge version {version} is active ({result.get('reason', '')}).")


@cli.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.option("--status", default=None, help="Only jobs in this state (queued, running, succeeded, ...).")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
@click.pass_context
def jobs(ctx: click.Context, as_json: bool, status: str | None, limit: int) -> None:
    """List background jobs, newest first; `otvet jobs cancel ID` cancels one."""
    if ctx.invoked_subcommand is not None:
        return
    context = ctx.find_object(Context)
    assert context is not None
    records = _run_on_store(context, lambda otvet: otvet.store.list_jobs(status=status, limit=limit))
    if as_json:
        echo_json([_json(job) for job in records])
        return
    if not records:
        click.echo("No jobs yet: queue one with `otvet retrain`.")
        return
    header = ("ID", "TYPE", "STATUS", "PROGRESS", "ATTEMPTS", "WORKER", "CREATED", "ERROR")
    rows = [
        (
            str(job.id),
            job.type,
            job.status + (" (cancelling)" if job.cancel_requested and job.status == "running" else ""),
            f"{job.progress:.0%}",
            str(job.attempts),
            job.locked_by or "-",
            f"{job.created_at:%Y-%m-%d %H:%M}",
            (job.error or "")[:60],
        )
        for job in records
    ]
    echo_table(header, rows)


@jobs.command("cancel")
@click.argument("job_id", type=int)
@pass_context
def jobs_cancel(context: Context, job_id: int) -> None:
    """Cancel a job: a queued one at once, a running one at its worker's next heartbeat."""
    job = _run_on_store(context, lambda otvet: otvet.store.cancel_job(job_id))
    if job.status == "cancelled":
        click.echo(f"Job {job.id} cancelled.")
    elif job.status == "running":
        click.echo(f"Job {job.id} will stop at its worker's next heartbeat.")
    else:
        click.echo(f"Job {job.id} had already ended ({job.status}).")


def _json(job: JobRecord) -> dict[str, Any]:
    """A job for ``--json``: times in ISO 8601."""
    fields = asdict(job)
    return {key: value.isoformat() if isinstance(value, datetime) else value for key, value in fields.items()}
