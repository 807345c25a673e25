"""Training-source types: parsers that turn an uploaded file into sections of text and Q&A pairs."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import ClassVar


class SourceError(ValueError):
    """A source could not be parsed. The message says what is wrong and where, for the admin to fix."""

    def __init__(self, message: str, *, origin: str = "", line: int | None = None) -> None:
        where = origin + (f":{line}" if line is not None else "")
        super().__init__(f"{where}: {message}" if where else message)
        self.origin = origin
        self.line = line


@dataclass(frozen=True, slots=True)
class Section:
    """A titled stretch of prose (a Markdown section, a plain-text file)."""

    text: str
    title: str = ""


@dataclass(frozen=True, slots=True)
class QAPair:
    """A question with its approved answer."""

    question: str
    answer: str


@dataclass(slots=True)
class ParsedSource:
    """What a source type extracted from one file."""

    title: str
    sections: list[Section] = field(default_factory=list)
    qa_pairs: list[QAPair] = field(default_factory=list)
    #: The source's language when the file says so (front matter, a ``language`` column); else detected.
    language: str | None = None

    @property
    def is_empty(self) -> bool:
        return not any(s.text.strip() for s in self.sections) and not self.qa_pairs


class SourceType(ABC):
    """A kind of training source. ``name`` is unique; ``extensions`` pick it for ``otvet ingest FILE``."""

    name: ClassVar[str] = ""
    #: Lower-case file suffixes with the dot, e.g. ``(".md", ".markdown")``.
    extensions: ClassVar[tuple[str, ...]] = ()
    description: ClassVar[str] = ""

    @abstractmethod
    def parse(self, data: bytes, *, origin: str) -> ParsedSource:
        """Parse ``data`` (the file's bytes; ``origin`` names it in errors) or raise :class:`SourceError`."""


def decode_text(data: bytes, *, origin: str) -> str:
    """Decode a text file as UTF-8 (with or without BOM), refusing binary or mis-encoded input clearly."""
    if b"\x00" in data[:4096]:
        raise SourceError("looks like a binary file, not text", origin=origin)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise SourceError(
            f"is not valid UTF-8 (byte {exc.start}); save it as UTF-8", origin=origin, line=line
        ) from None
