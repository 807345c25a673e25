"""Turn files on disk into parsed sources: pick a source type by extension, parse, checksum.

Parsing is CPU work and runs in a thread. Every file is parsed before anything is stored, so a batch with
one bad file is refused whole with every problem listed, and the knowledge base never holds half a batch.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from otvet.core.knowledge import IngestReport, NewSource
from otvet.core.sources import SourceError, SourceType

if TYPE_CHECKING:
    from otvet.core.app import Otvet

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


def expand(paths: Sequence[Path], source_types: Sequence[SourceType]) -> tuple[list[Path], list[str]]:
    """Files to ingest (directories walked recursively, unknown kinds skipped) and problems found."""
    files: list[Path] = []
    problems: list[str] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and source_type_for(p, source_types))
            if not found:
                problems.append(f"{path}: no files of a known kind in this folder")
            files.extend(found)
        elif path.is_file():
            if source_type_for(path, source_types) is None:
                known = ", ".join(sorted({e for t in source_types for e in t.extensions}))
                problems.append(f"{path}: unknown kind of file (known: {known})")
            else:
                files.append(path)
        else:
            problems.append(f"{path}: no such file or folder")
    return files, problems


def parse_file(path: Path, source_type: SourceType, name: str) -> NewSource:
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise SourceError(f"is {size} bytes; the limit is {MAX_FILE_BYTES}", origin=name)
    return parse_data(path.read_bytes(), source_type, name)


def parse_data(data: bytes, source_type: SourceType, name: str) -> NewSource:
    """Parse a file's bytes (from disk or an upload) into a source, or raise :class:`SourceError`."""
    if len(data) > MAX_FILE_BYTES:
        raise SourceError(f"is {len(data)} bytes; the limit is {MAX_FILE_BYTES}", origin=name)
    parsed = source_type.parse(data, origin=name)
    if parsed.is_empty:
        raise SourceError("has nothing to learn from", origin=name)
    return NewSource.from_bytes(name, source_type.name, parsed, data)


async def ingest_paths(
    otvet: Otvet,
    paths: Sequence[Path],
    *,
    progress: Callable[[int, int], None] | None = None,
    note: str = "",
    base: Path | None = None,
    prefix: str = "",
) -> IngestReport:
    """Parse every file under ``paths`` and add them to the knowledge base as one batch.

    Sources are named ``prefix`` + their path relative to ``base`` (default: the current directory), so
    ingesting the same file again updates it instead of adding a copy. Raises :class:`IngestProblems`.
    """
    source_types = [otvet.source_types.get(name) for name in otvet.source_types]
    files, problems = expand(paths, source_types)
    parsed: list[NewSource] = []
    root = (base or Path.cwd()).resolve()
    for done, path in enumerate(files, 1):
        resolved = path.resolve()
        name = prefix + (str(resolved.relative_to(root)) if resolved.is_relative_to(root) else str(resolved))
        source_type = source_type_for(path, source_types)
        assert source_type is not None
        try:
            parsed.append(await asyncio.to_thread(parse_file, path, source_type, name))
        except SourceError as exc:
            problems.append(str(exc))
        except OSError as exc:
            problems.append(f"{name}: cannot be read ({exc.strerror or exc})")
        if progress:
            progress(done, len(files))
    if problems:
        raise IngestProblems(problems)
    if not parsed:
        raise IngestProblems(["nothing to ingest"])
    return await otvet.knowledge.add_sources(parsed, note=note)
