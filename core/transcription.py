"""The transcriber contract: what a speech-to-text service gets (a voice message's bytes) and returns (the
words heard, and their language when the service tells)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from otvet.core.app import Otvet


@dataclass(frozen=True, slots=True)
class Transcript:
    """What was heard: ``text`` (empty when no words were), and its ISO 639-1 ``language`` when known."""

    text: str
    language: str | None = None


class TranscriptionError(Exception):
    """A transcriber could not transcribe; ``code`` is a stable reason for machines: ``timeout``,
    ``rate_limited``, ``quota`` (the service's own allowance is spent), ``rejected`` (it refused the audio),
    ``unauthorized`` or ``upstream`` (anything else on the service's side)."""

    def __init__(self, message: str, code: str = "upstream") -> None:
        super().__init__(message)
        self.code = code


class Transcriber(ABC):
    """A speech-to-text service for voice questions."""

    #: Shown in ``otvet plugins`` and in the activity overview, as the provider of a transcription.
    name: ClassVar[str] = ""
    #: The model transcribing, for the activity overview and cost estimates; empty when there is none.
    model: str = ""

    @abstractmethod
    async def transcribe(
        self, audio: bytes, *, filename: str, mime_type: str | None, language_hint: str | None
    ) -> Transcript:
        """Transcribe ``audio`` (``filename``'s extension names its format: ``voice.ogg``, ``note.mp4``).

        ``language_hint`` is a language the speaker chose (an ISO 639-1 code) or None. Raise
        :class:`TranscriptionError` on failure; retries, if any, happen inside.
        """

    async def aclose(self) -> None:
        """Release connections; called when Otvet stops."""


TranscriberFactory = Callable[["Otvet"], Transcriber]
