"""Turn files on disk and web pages into parsed sources: pick a source type, parse, checksum.

Parsing is CPU work and runs in a thread. Every file is parsed before anything is stored, so a batch with
one bad file is refused whole with every problem listed, and the knowledge base never holds half a batch.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from otvet.core.knowledge import IngestReport, NewSource
from otvet.core.sources import (
    SourceError,
    SourceType,
    listening_to_progress,
    stop_listening,
    storable,
    storable_text,
)

if TYPE_CHECKING:
    from otvet.core.app import Otvet
    from otvet.core.fetch import Fetched

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")

#: Files larger than this are refused: a knowledge source, not a data dump.
MAX_FILE_BYTES = 20 * 1024 * 1024


@dataclass(slots=True)
class IngestProblems(Exception):
    """Some files could not be read or parsed; nothing was stored."""

    problems: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return "\n".join(self.problems)


def source_type_for(path: Path, source_types: Iterable[SourceType]) -> SourceType | None:
    suffix = path.suffix.lower()
    for source_type in source_types:
        if suffix in source_type.extensions:
            return source_type
    return None


def expand(
    paths: Sequence[Path], source_types: Sequence[SourceType]
) -> tuple[list[tuple[Path, Path]], list[str]]:
    """Files to ingest, each with the argument it was found under (directories walked recursively, unknown
    kinds skipped), and problems found."""
    files: list[tuple[Path, Path]] = []
    problems: list[str] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and source_type_for(p, source_types))
            if not found:
                problems.append(f"{path}: no files of a known kind in this folder")
            files.extend((file, path) for file in found)
        elif path.is_file():
            if source_type_for(path, source_types) is None:
                known = ", ".join(sorted({e for t in source_types for e in t.extensions}))
                problems.append(f"{path}: unknown kind of file (known: {known})")
            else:
                files.append((path, path))
        else:
            problems.append(f"{path}: no such file or folder")
    return files, problems


def source_name(file: Path, argument: Path, root: Path, base_name: str | None = None) -> str:
    """The name a file's source is stored under, the same however the admin types the path.

    Inside ``root`` (the current folder): its path from there (``docs/billing.md``). Elsewhere: the folder
    given and the path below it (``my-docs/billing.md``), or the file's own name when a file was given, so
    an absolute path never reaches API clients. ``base_name`` stands for the folder (or file) given.
    """
    resolved, given = file.resolve(), argument.resolve()
    below = PurePosixPath(*resolved.relative_to(given).parts) if given != resolved else None
    if base_name:
        return str(PurePosixPath(base_name, below)) if below else base_name
    if resolved.is_relative_to(root):
        return str(PurePosixPath(*resolved.relative_to(root).parts))
    return str(PurePosixPath(given.name, below)) if below else given.name


def parse_file(path: Path, source_type: SourceType, name: str) -> NewSource:
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise SourceError(f"is {size} bytes; the limit is {MAX_FILE_BYTES}", origin=name)
    return parse_data(path.read_bytes(), source_type, name)


def parse_data(data: bytes, source_type: SourceType, name: str) -> NewSource:
    """Parse a file's bytes (from disk or an upload) into a source, or raise :class:`SourceError`."""
    if len(data) > MAX_FILE_BYTES:
        raise SourceError(f"is {len(data)} bytes; the limit is {MAX_FILE_BYTES}", origin=name)
    # Every parser's output (third-party ones too) is made storable here, the one way into the database.
    parsed = storable(source_type.parse(data, origin=name), origin=name)
    if parsed.is_empty:
        raise SourceError("has nothing to learn from", origin=name)
    return NewSource.from_bytes(name, source_type.name, parsed, data)


async def parse_named_files(otvet: Otvet, files: AsyncIterable[tuple[str, bytes]]) -> list[NewSource]:
    """Parse files that come with their names (uploads, files sent to the bot), each name's extension
    picking the parser; :class:`IngestProblems` listing every file's problem when any cannot be used, so
    that nothing of the batch is stored. Files are read one at a time: a batch is not all in memory."""
    source_types = [otvet.source_types.get(name) for name in otvet.source_types]
    known = ", ".join(sorted({e for t in source_types for e in t.extensions}))
    problems: list[str] = []
    parsed: list[NewSource] = []
    seen: set[str] = set()
    async for name, data in files:
        if name in seen:
            problems.append(f"{name}: sent twice")
            continue
        seen.add(name)
        source_type = source_type_for(Path(name), source_types)
        if source_type is None:
            problems.append(f"{name}: unknown kind of file (known: {known})")
            continue
        try:
            parsed.append(await asyncio.to_thread(parse_data, data, source_type, name))
        except SourceError as exc:
            problems.append(str(exc))
    if problems:
        raise IngestProblems(problems)
    return parsed


def _progress_of(name: str, detail: Callable[[str], None]) -> Callable[[int, int, str], None]:
    def listener(done: int, total: int, unit: str) -> None:
        detail(f"{name}: {unit} {done} of {total}")

    return listener


def is_url(text: str) -> bool:
    """True when a command-line argument is meant as a web address rather than a file path.

    Any ``scheme://`` counts, so that ``ftp://...`` is refused as a URL instead of sought as a file.
    """
    return _URL.match(text.strip()) is not None


def source_type_for_page(page: Fetched, source_types: Sequence[SourceType]) -> SourceType | None:
    """The source type for a fetched page: by its content type, or by the URL's extension when the type
    says nothing specific (raw Markdown and CSV files are often served as ``text/plain``)."""
    from otvet.core.fetch import CONTENT_TYPES, GENERIC_TYPES

    by_name = {source_type.name: source_type for source_type in source_types}
    if page.content_type in GENERIC_TYPES:
        by_extension = source_type_for(Path(PurePosixPath(urlsplit(page.final_url).path).name), source_types)
        if by_extension is not None:
            return by_extension
    return by_name.get(CONTENT_TYPES.get(page.content_type, ""))


async def fetch_source(otvet: Otvet, url: str, source_types: Sequence[SourceType]) -> NewSource:
    """Fetch a web page (core/fetch.py says what is refused) and parse it into a source named by its URL."""
    # Imported here: httpx is not worth loading for every ``otvet`` command.
    from otvet.core.fetch import FetchError, fetch

    try:
        page = await fetch(url, otvet.settings.fetch)
    except FetchError as exc:
        raise SourceError(exc.reason, origin=url) from None
    source_type = source_type_for_page(page, source_types)
    if source_type is None:
        raise SourceError(
            f"is {page.content_type or 'of no stated type'}, not a kind of page Otvet can learn from",
            origin=url,
        )
    return await asyncio.to_thread(parse_data, page.data, source_type, url)


async def ingest_paths(
    otvet: Otvet,
    paths: Sequence[Path],
    *,
    urls: Sequence[str] = (),
    progress: Callable[[int, int], None] | None = None,
    detail: Callable[[str], None] | None = None,
    note: str = "",
    base: Path | None = None,
    prefix: str = "",
    base_name: str | None = None,
) -> IngestReport:
    """Parse every file under ``paths`` and every web page in ``urls``; add them to the knowledge base as one
    batch.

    Web pages are named by their URL as given. Files are named ``prefix`` + :func:`source_name` (relative to
    ``base``, default the current directory, else to the folder given; ``base_name`` in place of that
    folder), so ingesting the same file or URL again updates it instead of adding a copy. Raises
    :class:`IngestProblems`.
    """
    source_types = [otvet.source_types.get(name) for name in otvet.source_types]
    files, problems = expand(paths, source_types)
    parsed: list[NewSource] = []
    root = (base or Path.cwd()).resolve()
    if progress:
        progress(0, len(files) + len(urls))  # the bar appears before the first (maybe long) file
    for done, (path, argument) in enumerate(files, 1):
        name = prefix + source_name(path, argument, root, base_name)
        source_type = source_type_for(path, source_types)
        assert source_type is not None
        if storable_text(name) != name:
            # A name written in another encoding (Python hands its bytes over as surrogates) cannot be
            # stored as the source's name: refused like any bad file, shown with U+FFFD where it fails.
            shown = name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            problems.append(f"{shown}: the file name is not UTF-8 text; rename the file")
        else:
            # A long file says how far its parser has got (pages of a PDF): "manual.pdf: page 450 of 900".
            listener = _progress_of(name, detail) if detail else None
            token = listening_to_progress(listener)
            try:
                # to_thread copies this context, listener included, into the parsing thread.
                parsed.append(await asyncio.to_thread(parse_file, path, source_type, name))
            except SourceError as exc:
                problems.append(str(exc))
            except OSError as exc:
                problems.append(f"{name}: cannot be read ({exc.strerror or exc})")
            finally:
                stop_listening(token)
        if progress:
            progress(done, len(files) + len(urls))
    for done, url in enumerate(urls, len(files) + 1):
        try:
            parsed.append(await fetch_source(otvet, url, source_types))
        except SourceError as exc:
            problems.append(str(exc))
        if progress:
            progress(done, len(files) + len(urls))
    if problems:
        raise IngestProblems(problems)
    if not parsed:
        raise IngestProblems(["nothing to ingest"])
    return await otvet.knowledge.add_sources(parsed, note=note)
