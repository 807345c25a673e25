"""Admin mutations on the knowledge base: sources in (text, Q&A pairs, files, URLs) and out, retraining,
and promoting or rolling back a knowledge version.

Sources go through the same parsers as ``otvet ingest`` (``otvet.source_types``): text is read as
Markdown, Q&A pairs as the ``qa_json`` format, files by their extension. Each change builds a new version
and promotes it through the evaluation gate unless ``rebuild: false`` (to batch several changes, then
``retrain`` once). Web pages are fetched by core/fetch.py (SSRF protection) inside the request. ``retrain``
queues a job for a worker (``otvet worker``, or the one ``otvet serve`` runs), since a large knowledge base
takes longer to build than a request should.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import strawberry
from strawberry.file_uploads import Upload
from strawberry.types import Info

from otvet.core.app import Otvet
from otvet.core.embeddings import EmbeddingError
from otvet.core.ingest import fetch_source, parse_data
from otvet.core.knowledge import NewSource
from otvet.core.sources import SourceError, given_title
from otvet.core.store import NotFound
from otvet.frontends.graphql.context import context_of
from otvet.frontends.graphql.errors import (
    NOT_FOUND,
    NOT_IMPLEMENTED,
    SERVICE_UNAVAILABLE,
    ApiError,
    bad_input,
)
from otvet.frontends.graphql.inputs import QaPairInput
from otvet.frontends.graphql.pagination import parse_id
from otvet.frontends.graphql.permissions import scoped_mutation
from otvet.frontends.graphql.types import IngestResult, Job, KnowledgeVersion, RemoveSourcesResult
from otvet.frontends.graphql.uploads import parse_uploads

#: The sources table's limit on names.
MAX_NAME_CHARS = 500
#: A note says why a version or a job was made, in a line: longer is a paste gone wrong.
MAX_NOTE_CHARS = 1000


@contextmanager
def _training() -> Iterator[None]:
    """The knowledge base's expected failures, as API errors."""
    try:
        yield
    except EmbeddingError as exc:
        raise ApiError(
            SERVICE_UNAVAILABLE,
            f"the embeddings service failed, so nothing was changed; try again later ({exc})",
        ) from None


def _name(name: str) -> str:
    name = name.strip()
    if not name:
        raise bad_input("name is empty")
    if len(name) > MAX_NAME_CHARS:
        raise bad_input(f"name is longer than {MAX_NAME_CHARS} characters")
    return name


def _note(note: str) -> str:
    note = note.strip()
    if len(note) > MAX_NOTE_CHARS:
        raise bad_input(f"note is longer than {MAX_NOTE_CHARS} characters")
    return note


def _title(title: str | None) -> str | None:
    try:
        return given_title(title)
    except ValueError as exc:
        raise bad_input(str(exc)) from None


def _language(otvet: Otvet, language: str | None) -> str | None:
    if language is not None and language not in otvet.i18n.languages:
        raise bad_input(f"unknown language {language!r}: choose from {', '.join(otvet.i18n.languages)}")
    return language


async def _parse(otvet: Otvet, type_name: str, data: bytes, name: str) -> NewSource:
    if type_name not in otvet.source_types:
        raise ApiError(NOT_IMPLEMENTED, f"the {type_name!r} source type is not loaded (see `otvet plugins`)")
    try:
        return await asyncio.to_thread(parse_data, data, otvet.source_types.get(type_name), name)
    except SourceError as exc:
        raise bad_input(str(exc), problems=[str(exc)]) from None


async def _add(otvet: Otvet, sources: list[NewSource], rebuild: bool, note: str) -> IngestResult:
    with _training():
        report = await otvet.knowledge.add_sources(sources, rebuild=rebuild, note=note)
    return IngestResult.from_report(report)


@strawberry.type
class TrainingMutations:
    @scoped_mutation(
        "admin",
        "Add (or replace, by `name`) a text source. The text is read as Markdown: each heading starts a "
        "section.",
    )
    async def add_text_source(
        self,
        info: Info,
        name: str,
        text: str,
        title: str | None = None,
        language: str | None = None,
        rebuild: bool = True,
    ) -> IngestResult:
        otvet = context_of(info).otvet
        name, title, language = _name(name), _title(title), _language(otvet, language)
        source = await _parse(otvet, "markdown", text.encode("utf-8"), name)
        if title:
            source.parsed.title = title
        if language:
            source.parsed.language = language
        # The title and language are part of what is stored: changing them alone is a change.
        source = NewSource.from_bytes(
            name, source.type, source.parsed, f"{title}\0{language}\0{text}".encode()
        )
        return await _add(otvet, [source], rebuild, f"addTextSource {name}")

    @scoped_mutation("admin", "Add (or replace, by `name`) a set of question/answer pairs.")
    async def add_qa_pairs(
        self,
        info: Info,
        name: str,
        pairs: list[QaPairInput],
        title: str | None = None,
        language: str | None = None,
        rebuild: bool = True,
    ) -> IngestResult:
        otvet = context_of(info).otvet
        name, title, language = _name(name), _title(title), _language(otvet, language)
        document: dict[str, object] = {"pairs": [{"question": p.question, "answer": p.answer} for p in pairs]}
        if title:
            document["title"] = title
        if language:
            document["language"] = language
        data = json.dumps(document, ensure_ascii=False).encode("utf-8")
        source = await _parse(otvet, "qa_json", data, name)
        return await _add(otvet, [source], rebuild, f"addQaPairs {name}")

    @scoped_mutation(
        "admin",
        "Add (or refresh) a web page as a source: HTML, PDF, Markdown, text or Q&A files, fetched now with "
        "the protection `otvet ingest URL` has (no loopback, private, link-local or metadata addresses "
        "unless `OTVET_FETCH__ALLOW_HOSTS` allows them; size and time limits). The URL names the source, "
        "so answers link to it.",
    )
    async def add_url_source(self, info: Info, url: str, rebuild: bool = True) -> IngestResult:
        otvet = context_of(info).otvet
        url = url.strip()
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise bad_input(f"{url!r} is not an http(s) URL")
        source_types = [otvet.source_types.get(name) for name in otvet.source_types]
        try:
            source = await fetch_source(otvet, url, source_types)
        except SourceError as exc:
            raise bad_input(str(exc), problems=[str(exc)]) from None
        return await _add(otvet, [source], rebuild, f"addUrlSource {url}")

    @scoped_mutation(
        "admin",
        "Upload files (the GraphQL multipart request spec; send an `Apollo-Require-Preflight: true` "
        "header). Each file's extension picks its parser, as for `otvet ingest`; its name names the "
        "source. If any file is bad, nothing is stored and the error lists every problem.",
    )
    async def upload_sources(
        self, info: Info, files: list[Upload], note: str = "", rebuild: bool = True
    ) -> IngestResult:
        otvet = context_of(info).otvet
        note = _note(note)  # before the files are read
        sources = await parse_uploads(otvet, files)
        return await _add(otvet, sources, rebuild, note or "uploadSources")

    @scoped_mutation(
        "admin",
        "Remove sources by name; unknown names are ignored. Older versions keep their copy (rollback).",
    )
    async def remove_sources(self, info: Info, names: list[str], rebuild: bool = True) -> RemoveSourcesResult:
        otvet = context_of(info).otvet
        if not names:
            raise bad_input("name at least one source")
        wanted = [_name(name) for name in names]
        with _training():
            result = await otvet.knowledge.remove_sources(wanted, rebuild=rebuild)
        return RemoveSourcesResult(
            removed=len(result.removed), version=KnowledgeVersion.maybe(result.version)
        )

    @scoped_mutation(
        "admin",
        "Queue a retrain: a worker builds a knowledge version from every source, evaluates it on the check "
        "set and promotes it unless it scores worse than the active version (`force` promotes it anyway). "
        "Follow it with `jobProgress`; its `result` says whether the version was promoted and why.",
    )
    async def retrain(self, info: Info, note: str = "", force: bool = False) -> Job:
        note = _note(note)
        payload: dict[str, object] = {"note": note} if note else {}
        if force:
            payload["force"] = True
        return Job.from_record(await context_of(info).otvet.store.enqueue_job("retrain", payload))

    @scoped_mutation(
        "admin",
        "Promote a kept version: it is evaluated on today's check set and becomes active unless it scores "
        "worse than the active one (then it comes back `REJECTED`, with the reason in `evaluation`); "
        "`force` promotes it anyway. Every process switches within `retrieval.refresh_seconds`.",
    )
    async def promote_version(self, info: Info, id: strawberry.ID, force: bool = False) -> KnowledgeVersion:
        otvet = context_of(info).otvet
        with _versions():
            return KnowledgeVersion.from_record(await otvet.knowledge.promote(parse_id(id), force=force))

    @scoped_mutation(
        "admin",
        "Roll back: make an earlier version active again (`id`, or the one active before the current one). "
        "A rollback skips the evaluation gate, and makes that version's sources the working set again: "
        "stored sources it did not have are removed (newer versions keep their copies).",
    )
    async def rollback_version(self, info: Info, id: strawberry.ID | None = None) -> KnowledgeVersion:
        otvet = context_of(info).otvet
        with _versions():
            done = await otvet.knowledge.rollback(None if id is None else parse_id(id))
        return KnowledgeVersion.from_record(done.version)


@contextmanager
def _versions() -> Iterator[None]:
    try:
        yield
    except NotFound as exc:
        raise ApiError(NOT_FOUND, str(exc)) from None
    except ValueError as exc:  # building or failed
        raise bad_input(str(exc)) from None
