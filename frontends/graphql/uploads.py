"""Uploaded files (the GraphQL multipart request spec) → parsed sources, with the CLI's parsers and rules.

As with ``otvet ingest``: the file's extension picks the source type, every file is parsed before anything is
stored, and a batch with one bad file is refused whole with every problem listed.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Sequence
from pathlib import PurePath
from typing import Any

from otvet.core.app import Otvet
from otvet.core.ingest import MAX_FILE_BYTES, IngestProblems, parse_named_files
from otvet.core.knowledge import NewSource
from otvet.frontends.graphql.errors import bad_input

MAX_FILES = 50


def source_name(filename: str | None, index: int) -> str:
    """The source's name: the file's own name (uploading it again updates the source), no folders."""
    name = PurePath((filename or "").replace("\\", "/")).name.strip()
    return name or f"upload-{index}"


async def _read(upload: Any) -> bytes:
    # Starlette's UploadFile reads asynchronously; a plain file object (another server) does not.
    data = upload.read(MAX_FILE_BYTES + 1)
    return await data if inspect.isawaitable(data) else data


async def read_upload(upload: Any, name: str) -> bytes:
    """One upload's bytes, or ``BAD_USER_INPUT`` past the size a file may have (as for sources)."""
    data = await _read(upload)
    if len(data) > MAX_FILE_BYTES:
        problem = f"{name}: larger than the limit of {MAX_FILE_BYTES} bytes"
        raise bad_input(problem, problems=[problem])
    return data


async def parse_uploads(otvet: Otvet, uploads: Sequence[Any]) -> list[NewSource]:
    """Parse every upload, or raise ``BAD_USER_INPUT`` listing each file's problem (nothing is stored)."""
    if not uploads:
        raise bad_input("send at least one file")
    if len(uploads) > MAX_FILES:
        raise bad_input(f"send at most {MAX_FILES} files at once")

    async def named() -> AsyncIterator[tuple[str, bytes]]:
        for index, upload in enumerate(uploads, 1):
            yield source_name(getattr(upload, "filename", None), index), await _read(upload)

    try:
        return await parse_named_files(otvet, named())
    except IngestProblems as exc:
        problems = exc.problems
        raise bad_input(
            f"{len(problems)} of {len(uploads)} file(s) cannot be used, so nothing was stored: "
            + "; ".join(problems),
            problems=problems,
        ) from None
