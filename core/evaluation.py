"""The evaluation gate: a knowledge version is scored on the admin's check set before it may answer.

Each check is a question with the source expected to answer it (its name or title) and/or words a good
answer contains. A version is scored by retrieval, the part of an answer that the knowledge version decides:

- **hit@1**: the first passage comes from the expected source;
- **hit@k**: one of the first ``training.eval_k`` passages does;
- **answers**: the first ``k`` passages hold at least ``training.answer_recall`` of the expected answer's
  terms (stemmed, without stopwords), so whichever model writes the answer has what it needs.

No provider is called: evaluating costs no tokens, gives the same scores every run, and works offline. A
new version is promoted when none of its scores is below the active version's (scored on the same checks
in the same run, so a check set edited since the last retrain compares like with like) by more than
``training.tolerance``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from otvet.core.store import CheckRecord
from otvet.core.text import terms
from otvet.core.types import Passage

#: Failed checks kept in a version's stored evaluation (enough to see what went wrong, bounded in size).
MAX_FAILURES = 20

Search = Callable[[str, int], Awaitable[list[Passage]]]


@dataclass(frozen=True, slots=True)
class CheckFailure:
    check_id: int
    question: str
    #: Where the expected source ranked (1-based) among the passages, None when it was not among them.
    rank: int | None
    #: Whether the answer check passed; None when the check has no expected answer.
    answer_found: bool | None
    #: Sources of the passages found, first first.
    found: list[str]


@dataclass(frozen=True, slots=True)
class Evaluation:
    """A version's scores on the check set. Scores are None when no check measures them."""

    version_id: int
    checks: int
    k: int
    hit1: float | None = None
    hitk: float | None = None
    answers: float | None = None
    failures: list[CheckFailure] = field(default_factory=list)

    def scores(self) -> dict[str, float | None]:
        return {"hit@1": self.hit1, f"hit@{self.k}": self.hitk, "answers": self.answers}

    def summary(self) -> str:
        """``hit@1 0.75, hit@3 1.00, answers 0.50 on 4 checks``."""
        parts = [f"{name} {value:.2f}" for name, value in self.scores().items() if value is not None]
        return f"{', '.join(parts) or 'nothing scored'} on {self.checks} checks"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether a candidate version may replace the active one, and why, in words an admin reads."""

    promote: bool
    reason: str


def _matches(passage: Passage, expected: str) -> bool:
    wanted = expected.strip().casefold()
    return wanted in {(passage.source.name or "").casefold(), passage.source.title.casefold()}


def _answer_found(passages: Sequence[Passage], expected: str, recall: float) -> bool:
    wanted = set(terms(expected))
    if not wanted:
        return True
    found: set[str] = set()
    for passage in passages:
        found.update(terms(f"{passage.question or ''} {passage.text}"))
    return len(wanted & found) / len(wanted) >= recall


async def evaluate(
    version_id: int, checks: Sequence[CheckRecord], search: Search, *, k: int, answer_recall: float
) -> Evaluation:
    """Score a version, searched through ``search(question, k)``, on ``checks``."""
    sourced = hits1 = hitsk = answered = answers_ok = 0
    failures: list[CheckFailure] = []
    for check in checks:
        passages = (await search(check.question, k))[:k]
        rank: int | None = None
        if check.expected_source:
            sourced += 1
            rank = next(
                (i for i, p in enumerate(passages, 1) if _matches(p, check.expected_source)),
                None,
            )
            hits1 += rank == 1
            hitsk += rank is not None
        answer_found: bool | None = None
        if check.expected_answer:
            answered += 1
            answer_found = _answer_found(passages, check.expected_answer, answer_recall)
            answers_ok += answer_found
        failed = (check.expected_source and rank != 1) or answer_found is False
        if failed and len(failures) < MAX_FAILURES:
            failures.append(
                CheckFailure(
                    check_id=check.id,
                    question=check.question,
                    rank=rank,
                    answer_found=answer_found,
                    found=[p.source.name or p.source.title for p in passages],
                )
            )
    return Evaluation(
        version_id=version_id,
        checks=len(checks),
        k=k,
        hit1=hits1 / sourced if sourced else None,
        hitk=hitsk / sourced if sourced else None,
        answers=answers_ok / answered if answered else None,
        failures=failures,
    )


def decide(candidate: Evaluation, active: Evaluation | None, *, tolerance: float) -> Decision:
    """Promote ``candidate`` unless one of its scores falls below ``active``'s by more than ``tolerance``."""
    if active is None:
        return Decision(True, f"no version was active; scored {candidate.summary()}")
    if candidate.checks == 0:
        return Decision(True, "the check set is empty: promoted without evaluation")
    worse = [
        f"{name} {mine:.2f} < {theirs:.2f}"
        for (name, mine), theirs in zip(candidate.scores().items(), active.scores().values(), strict=True)
        if mine is not None and theirs is not None and mine < theirs - tolerance
    ]
    if worse:
        return Decision(
            False,
            f"scored worse than active version {active.version_id} on {candidate.checks} checks: "
            + ", ".join(worse),
        )
    return Decision(
        True,
        f"not worse than active version {active.version_id}: {candidate.summary()} "
        f"(active: {active.summary()})",
    )
