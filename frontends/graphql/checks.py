"""The check set through GraphQL: the questions every new knowledge version is evaluated on before it is
promoted (core/evaluation.py, docs/knowledge.md#versions-and-the-check-set)."""

from __future__ import annotations

import asyncio
from datetime import datetime

import strawberry
from strawberry.file_uploads import Upload
from strawberry.types import Info

from otvet.core.checks import CheckFileError, parse_checks, validate_check
from otvet.core.store import CheckRecord, NewCheck
from otvet.frontends.graphql.context import context_of
from otvet.frontends.graphql.errors import NOT_FOUND, ApiError, bad_input
from otvet.frontends.graphql.pagination import parse_id
from otvet.frontends.graphql.permissions import scoped_field, scoped_mutation
from otvet.frontends.graphql.uploads import read_upload, source_name

#: Checks one ``addChecks`` or ``importChecks`` may add (a check set is tens to hundreds of questions; add
#: more in batches).
MAX_CHECKS_PER_REQUEST = 1000


@strawberry.type(description="A check-set question and what a good knowledge version finds for it.")
class Check:
    id: strawberry.ID
    question: str
    expected_source: str | None = strawberry.field(description="Name or title of the source expected first.")
    expected_answer: str | None = strawberry.field(description="Words a good answer's passages contain.")
    language: str | None
    created_at: datetime

    @classmethod
    def from_record(cls, record: CheckRecord) -> Check:
        return cls(
            id=strawberry.ID(str(record.id)),
            question=record.question,
            expected_source=record.expected_source,
            expected_answer=record.expected_answer,
            language=record.language,
            created_at=record.created_at,
        )


@strawberry.input(description="A check's question with its expected source, expected answer, or both.")
class CheckInput:
    question: str
    expected_source: str | None = None
    expected_answer: str | None = None
    language: str | None = None


@strawberry.type
class CheckMutations:
    @scoped_mutation(
        "admin",
        "Add checks to the check set. If any is invalid, none is added and the error lists every problem.",
    )
    async def add_checks(self, info: Info, checks: list[CheckInput]) -> list[Check]:
        otvet = context_of(info).otvet
        if not checks:
            raise bad_input("give at least one check")
        if len(checks) > MAX_CHECKS_PER_REQUEST:
            raise bad_input(f"at most {MAX_CHECKS_PER_REQUEST} checks per request")
        valid: list[NewCheck] = []
        problems: list[str] = []
        for number, given in enumerate(checks, 1):
            check, found = validate_check(
                given.question,
                given.expected_source,
                given.expected_answer,
                given.language,
                otvet.i18n.languages,
            )
            problems.extend(f"check {number}: {problem}" for problem in found)
            if check is not None:
                valid.append(check)
        if problems:
            raise bad_input("; ".join(problems), problems=problems)
        return [Check.from_record(record) for record in await otvet.store.add_checks(valid)]

    @scoped_mutation(
        "admin",
        "Change a check: it takes every field of `check` (one left out becomes empty) and keeps its id. If "
        "the check is invalid, nothing changes and the error lists every problem; an unknown id is "
        "`NOT_FOUND`.",
    )
    async def update_check(self, info: Info, id: strawberry.ID, check: CheckInput) -> Check:
        otvet = context_of(info).otvet
        check_id = parse_id(id)
        new, problems = validate_check(
            check.question, check.expected_source, check.expected_answer, check.language, otvet.i18n.languages
        )
        if new is None:
            raise bad_input("; ".join(problems), problems=problems)
        record = await otvet.store.update_check(check_id, new)
        if record is None:
            raise ApiError(NOT_FOUND, f"there is no check {check_id}")
        return Check.from_record(record)

    @scoped_mutation(
        "admin",
        "Add the checks in a file (the GraphQL multipart request spec; send an `Apollo-Require-Preflight: "
        "true` header), read as `otvet checks import` reads it: a JSON or YAML list, or a CSV/TSV table with "
        "a header row, with the keys `question`, `source`, `answer` and `language`. If any check has a "
        "problem, none is added and the error lists every problem with its row.",
    )
    async def import_checks(self, info: Info, file: Upload) -> list[Check]:
        otvet = context_of(info).otvet
        name = source_name(getattr(file, "filename", None), 1)
        data = await read_upload(file, name)
        try:
            checks = await asyncio.to_thread(parse_checks, data, name, otvet.i18n.languages)
        except CheckFileError as exc:
            raise bad_input(f"no check was added: {exc}", problems=exc.problems) from None
        if len(checks) > MAX_CHECKS_PER_REQUEST:
            raise bad_input(f"{name}: at most {MAX_CHECKS_PER_REQUEST} checks per file; split it")
        return [Check.from_record(record) for record in await otvet.store.add_checks(checks)]

    @scoped_mutation("admin", "Remove checks by id; unknown ids are ignored. Returns how many were removed.")
    async def remove_checks(self, info: Info, ids: list[strawberry.ID]) -> int:
        return await context_of(info).otvet.store.delete_checks([parse_id(id) for id in ids])


@strawberry.type(description="A check a version failed, and what it found instead.")
class CheckFailureInfo:
    check_id: strawberry.ID
    question: str
    rank: int | None = strawberry.field(
        description="Where the expected source ranked among the passages (1 first); null when not among them."
    )
    answer_found: bool | None = strawberry.field(
        description="Whether the passages held the expected answer; null when the check has none."
    )
    found: list[str] = strawberry.field(description="The sources of the passages found, best first.")


@strawberry.type(description="A version's scores on today's check set, with every check it fails.")
class CheckRun:
    version_id: strawberry.ID
    checks: int
    k: int
    hit_at_1: float | None
    hit_at_k: float | None
    answers: float | None
    summary: str = strawberry.field(description="The scores in words: `hit@1 0.75, hit@3 1.00 on 4 checks`.")
    failures: list[CheckFailureInfo]


@strawberry.type
class CheckQueries:
    @scoped_field(
        "admin",
        "Run the check set against a version now (default: the active one): its scores and every check it "
        "fails. Changes nothing; a version's stored scores change only when it is built or promoted.",
    )
    async def check_run(self, info: Info, version_id: strawberry.ID | None = None) -> CheckRun:
        otvet = context_of(info).otvet
        store = otvet.store
        if version_id is None:
            version = await store.active_version()
            if version is None:
                raise ApiError(NOT_FOUND, "no knowledge version is active yet: add sources first")
        else:
            version = await store.get_version(parse_id(version_id, "versionId"))
            if version is None:
                raise ApiError(NOT_FOUND, f"there is no knowledge version {version_id}")
        checks = await store.list_checks()
        if not checks:
            raise bad_input("the check set is empty: add checks first")
        evaluation = await otvet.knowledge.evaluate(version, checks)
        return CheckRun(
            version_id=strawberry.ID(str(evaluation.version_id)),
            checks=evaluation.checks,
            k=evaluation.k,
            hit_at_1=evaluation.hit1,
            hit_at_k=evaluation.hitk,
            answers=evaluation.answers,
            summary=evaluation.summary(),
            failures=[
                CheckFailureInfo(
                    check_id=strawberry.ID(str(f.check_id)),
                    question=f.question,
                    rank=f.rank,
                    answer_found=f.answer_found,
                    found=list(f.found),
                )
                for f in evaluation.failures
            ],
        )
