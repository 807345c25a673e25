"""The ``Mutation`` type: integrators' mutations (conversing.py) and admins' (training.py, checks.py,
access.py, candidates.py). Other frontends and plugins add theirs through ``register_graphql`` (schema.py):
the widget its user tokens, fine-tuning its job."""

from __future__ import annotations

from strawberry.tools import merge_types

from otvet.frontends.graphql.access import AccessMutations
from otvet.frontends.graphql.candidates import CandidateMutations
from otvet.frontends.graphql.checks import CheckMutations
from otvet.frontends.graphql.conversing import ConversingMutations
from otvet.frontends.graphql.training import TrainingMutations

Mutation = merge_types(
    "Mutation",
    (
        ConversingMutations,
        TrainingMutations,
        CheckMutations,
        CandidateMutations,
        AccessMutations,
    ),
)
