"""``otvet finetune export|start``: fine-tuning an OpenAI model on the approved Q&A pairs, added to the CLI by
this plugin's ``register_commands``.

``export`` writes the training file (chat-format JSONL) to look at before paying for a fine-tune; ``start``
queues the ``fine_tune`` job a worker runs (finetune.py). With ``--wait`` it follows the job and prints the
setting that switches answers to the new model; it exits 1 when the job did not succeed.
"""

from __future__ import annotations

from typing import BinaryIO

import click

from otvet.core.app import Otvet
from otvet.core.store import JobRecord
from otvet.frontends.cli.jobs import follow_job, succeeded_or_exit
from otvet.frontends.cli.main import Context, pass_context, run_on_store
from otvet.plugins.llm_openai.finetune import Examples, FineTuneError, export_examples, start_fine_tune


def add_commands(cli: click.Group) -> None:
    """Add ``otvet finetune`` to ``cli``."""
    cli.add_command(finetune)


@click.group()
def finetune() -> None:
    """Fine-tune an OpenAI model on the approved Q&A pairs (docs/llm.md#fine-tuning)."""


@finetune.command("export")
@click.argument("file", type=click.File("wb"))
@pass_context
def finetune_export(context: Context, file: BinaryIO) -> None:
    """Write the training examples to FILE (chat-format JSONL; `-` for stdout), one per distinct Q&A pair."""
    examples: Examples = run_on_store(context.otvet, export_examples)
    file.write(examples.jsonl())
    file.flush()
    click.echo(f"{len(examples)} example(s).", err=True)


@finetune.command("start")
@click.option("--model", default=None, help="The base model (default: OTVET_OPENAI__FINE_TUNE_MODEL).")
@click.option("--suffix", default=None, help="Put into the new model's name (default: otvet).")
@click.option("--wait/--no-wait", default=False, show_default=True, help="Follow the job until it ends.")
@pass_context
def finetune_start(context: Context, model: str | None, suffix: str | None, wait: bool) -> None:
    """Queue a fine-tune: a worker uploads the examples, starts the OpenAI job and follows it.

    \b
    Exit status with --wait: 0 when the job succeeded, 1 when it failed or was cancelled.
    """

    async def work(otvet: Otvet) -> JobRecord:
        job = await start_fine_tune(otvet, model, suffix)
        click.echo(f"Queued job {job.id} (fine_tune).", err=True)
        return await follow_job(otvet, job) if wait else job

    job = run_on_store(context.otvet, work, user_errors=(FineTuneError,))
    if not wait:
        click.echo(job.id)
        return
    result = succeeded_or_exit(job)
    click.echo(f"Job {job.id} succeeded: fine-tuned model {result.get('fine_tuned_model')}.")
    click.echo(f"Answer with it: {result.get('setting')}")
