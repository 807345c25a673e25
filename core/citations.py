"""Citation markers in a streamed answer, renumbered as they arrive.

A model sees passages numbered ``[1]..[n]`` and cites some of them, in any order: "… [3] … [1]". The user sees
only the cited sources, listed in the order the answer first cites them, so the markers must follow that
order too: "… [1] … [2]". Doing it on the stream (not on the finished text) keeps every frontend's streamed
text identical to the final one. Markers naming no passage ("[9]" with five passages) are dropped: a link to
nothing is worse than no link.
"""

from __future__ import annotations

import re

# One marker group: [1], [1, 2], [1][2] is two groups. Anything else in brackets is ordinary text.
_MARKER = re.compile(r"\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]")
# An unfinished marker at the end of the text so far: hold it back until the next delta completes it.
_OPEN_TAIL = re.compile(r"\[[\d\s,]{0,16}$")


class CitationRenumberer:
    """Feed deltas in, get text out with markers renumbered; ``cited`` lists the passages in marker order.

    ``shown`` maps the model's numbers to passage indexes: marker ``m`` refers to ``shown[m - 1]``.
    """

    def __init__(self, shown: tuple[int, ...]) -> None:
        self.shown = shown
        self._numbers: dict[int, int] = {}  # passage index -> the number the user sees
        self._pending = ""

    @property
    def cited(self) -> tuple[int, ...]:
        """Passage indexes in the order the answer cited them first."""
        return tuple(self._numbers)

    def feed(self, delta: str) -> str:
        """Return the part of ``pending + delta`` that is safe to show now."""
        text = self._pending + delta
        tail = _OPEN_TAIL.search(text)
        if tail is not None:
            text, self._pending = text[: tail.start()], text[tail.start() :]
        else:
            self._pending = ""
        return _MARKER.sub(self._replace, text)

    def flush(self) -> str:
        """What is still held back, at the end of the answer."""
        text, self._pending = self._pending, ""
        return _MARKER.sub(self._replace, text)

    def _replace(self, match: re.Match[str]) -> str:
        numbers = []
        for part in match.group(1).split(","):
            marker = int(part)
            if not 1 <= marker <= len(self.shown):
                continue
            index = self.shown[marker - 1]
            number = self._numbers.setdefault(index, len(self._numbers) + 1)
            if number not in numbers:
                numbers.append(number)
        return "".join(f"[{number}]" for number in numbers)


def renumber(text: str, shown: tuple[int, ...]) -> tuple[str, tuple[int, ...]]:
    """Renumber a whole text at once (for providers that do not stream)."""
    renumberer = CitationRenumberer(shown)
    out = renumberer.feed(text) + renumberer.flush()
    return out, renumberer.cited


# A marker group with the spaces before it: "noon [1]." reads "noon." without it.
_SPACED_MARKERS = re.compile(r"[ \t]*" + _MARKER.pattern)


def strip_markers(text: str) -> str:
    """``text`` without its citation markers, for reuse where the passages they point at are not shown."""
    return _SPACED_MARKERS.sub("", text).strip()
