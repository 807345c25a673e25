"""The admin mutation that queues fine-tuning an OpenAI model on the approved Q&A pairs (docs/llm.md), added
to the GraphQL API by this plugin's ``register_graphql``.

The work runs in a worker (the ``fine_tune`` job of finetune.py); the mutation only checks that it can start
and queues it. Follow it with the ``jobs`` query: its ``result`` names the new model.
"""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from otvet.frontends.graphql.context import context_of
from otvet.frontends.graphql.errors import bad_input
from otvet.frontends.graphql.permissions import scoped_mutation
from otvet.frontends.graphql.types import Job
from otvet.plugins.llm_openai.finetune import FineTuneError, start_fine_tune


@strawberry.type
class FineTuneMutations:
    @scoped_mutation(
        "admin",
        "Queue a job that fine-tunes an OpenAI model on the approved Q&A pairs (at least 10). `model` is the "
        "base model (default `OTVET_OPENAI__FINE_TUNE_MODEL`), `suffix` goes into the new model's name. "
        "When the job succeeded, its `result.fine_tuned_model` is the model to set as `OTVET_OPENAI__MODEL`.",
    )
    async def start_fine_tune(self, info: Info, model: str | None = None, suffix: str | None = None) -> Job:
        try:
            record = await start_fine_tune(context_of(info).otvet, model, suffix)
        except FineTuneError as exc:
            raise bad_input(str(exc)) from None
        return Job.from_record(record)
