"""Registers the OpenAI transcriber as ``openai``: ``OTVET_TRANSCRIPTION__PROVIDER=openai`` (or ``auto`` with
a key or server configured) turns voice messages into questions.

The factory imports the ``openai`` package when it is called, like the chat provider's, so deployments that
take no voice messages do not pay for the import.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from otvet import hookimpl

if TYPE_CHECKING:
    from otvet.core.app import Otvet
    from otvet.core.transcription import Transcriber, TranscriberFactory


def openai_transcriber(otvet: Otvet) -> Transcriber:
    from otvet.plugins.transcribe_openai.transcriber import OpenAITranscriber

    return OpenAITranscriber(otvet)


@hookimpl
def register_transcribers(register: Callable[[str, TranscriberFactory], None]) -> None:
    register("openai", openai_transcriber)
