"""Match a question's words to a knowledge base's words despite typos and the other alphabet.

Users type "pasword" and "раутер", and write brand names in Cyrillic ("телеграм", "зум", "вотсап",
"эксель") that documentation writes in Latin letters, or the other way round. A word index finds none of
these. :class:`Vocabulary` finds, for a term the index lacks, the index's term that is one or two edits
away, or the term of the other alphabet that *sounds* the same (:func:`sound_key`).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from functools import lru_cache

from rapidfuzz.distance import Levenshtein
from rapidfuzz.process import extract

_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_LATIN = re.compile(r"[a-z]")

# Cyrillic letters as an English speaker would spell their sound; multi-letter sounds first.
_FROM_CYRILLIC = {
    "дж": "j",
    "кс": "x",
    "а": "a",
    "б": "b",
    "в": "v",
    "г": "g",
    "д": "d",
    "е": "e",
    "ж": "zh",
    "з": "z",
    "и": "i",
    "й": "i",
    "к": "k",
    "л": "l",
    "м": "m",
    "н": "n",
    "о": "o",
    "п": "p",
    "р": "r",
    "с": "s",
    "т": "t",
    "у": "u",
    "ф": "f",
    "х": "h",
    "ц": "ts",
    "ч": "ch",
    "ш": "sh",
    "щ": "sh",
    "ъ": "",
    "ы": "i",
    "ь": "",
    "э": "e",
    "ю": "u",
    "я": "a",
    "і": "i",
    "ї": "i",
    "є": "e",
    "ў": "u",
}
_CYRILLIC_SOUNDS = re.compile("|".join(sorted(_FROM_CYRILLIC, key=len, reverse=True)))
# English spellings of one sound, brought to the spelling the Cyrillic side uses (in this order).
_LATIN_SOUNDS = (
    (re.compile(r"ph"), "f"),
    (re.compile(r"th"), "t"),
    (re.compile(r"wh|w"), "v"),
    (re.compile(r"ck|q"), "k"),
    (re.compile(r"c(?=[eiy])"), "s"),
    (re.compile(r"c"), "k"),
    (re.compile(r"ks|xs"), "x"),
    (re.compile(r"oo|ou"), "u"),
    (re.compile(r"ee|ea"), "i"),
    (re.compile(r"(?<=[aeiou])y|y(?=[^aeiou]|$)"), "i"),
    (re.compile(r"y(?=[aeiou])"), ""),
    (re.compile(r"e$"), ""),
)
_DOUBLE = re.compile(r"(.)\1+")
#: Near spellings weighed per word length (the commonest of them wins).
NEAREST_LIMIT = 20
#: The shortest sound matched with an edit: "pops" is not "пояс".
MIN_LOOSE_SOUND = 5


@lru_cache(maxsize=100_000)
def sound_key(term: str) -> str:
    """How a (lower-case) term sounds, spelled the same way whichever alphabet it is written in:
    "telegram" and "телеграм" are both ``telegram``, "whatsapp" and "вацап" ``vatsap``, "excel" and
    "эксель" ``exel``. Doubled letters count once. Used to compare words across alphabets only.
    """
    if _CYRILLIC.search(term):
        spelled = _CYRILLIC_SOUNDS.sub(lambda m: _FROM_CYRILLIC[m.group()], term)
    else:
        spelled = term
        for pattern, replacement in _LATIN_SOUNDS:
            spelled = pattern.sub(replacement, spelled)
    return _DOUBLE.sub(r"\1", spelled)


def script(term: str) -> str:
    """``cyrillic``, ``latin`` or ``other`` (digits, other alphabets): the words a term may be matched to."""
    if _CYRILLIC.search(term):
        return "cyrillic"
    return "latin" if _LATIN.search(term) else "other"


def allowed_edits(term: str) -> int:
    """How many typos a term of this length may hold and still be recognised: none in short words, where
    one edit makes another word ("cat" and "car"), one from 4 letters, two from 9."""
    return 0 if len(term) < 4 else 1 if len(term) < 9 else 2


class Vocabulary:
    """An index's terms, searchable by near spelling and by sound. Built lazily: only questions with a word
    the index lacks (or in the other alphabet) need it. Thread-safe."""

    def __init__(self, terms: Mapping[str, int]) -> None:
        #: term → how many chunks hold it; among equally near terms the commonest wins.
        self._frequency = terms
        self._lock = threading.Lock()
        self._by_length: dict[tuple[str, int], list[str]] | None = None
        self._by_sound: dict[tuple[str, str], list[str]] | None = None
        self._sound_lengths: dict[tuple[str, int], list[str]] | None = None
        self._cache: dict[str, tuple[str, ...]] = {}

    def _build(self) -> None:
        with self._lock:
            if self._by_length is not None:
                return
            by_length: dict[tuple[str, int], list[str]] = {}
            by_sound: dict[tuple[str, str], list[str]] = {}
            sound_lengths: dict[tuple[str, int], list[str]] = {}
            for term in self._frequency:
                kind = script(term)
                if kind == "other":
                    continue
                by_length.setdefault((kind, len(term)), []).append(term)
                key = sound_key(term)
                if key not in by_sound.setdefault((kind, key), []):
                    sound_lengths.setdefault((kind, len(key)), []).append(key)
                by_sound[(kind, key)].append(term)
            self._by_sound, self._sound_lengths = by_sound, sound_lengths
            self._by_length = by_length

    def matches(self, term: str) -> tuple[str, ...]:
        """The terms of the index that ``term``, which the index lacks, stands for: the same sound in the
        other alphabet, else the nearest spelling within :func:`allowed_edits` (the commonest among equally
        near ones), else the nearest sound in the other alphabet. Empty when nothing is near enough.

        A word the index has is never matched to another: "документ" in a knowledge base that has it is not
        also "document", which would bring the English pages of a bilingual one to a Russian question.
        """
        cached = self._cache.get(term)
        if cached is not None:
            return cached
        kind = script(term)
        found: tuple[str, ...] = ()
        if kind != "other":
            self._build()
            other = "latin" if kind == "cyrillic" else "cyrillic"
            key = sound_key(term)
            found = self._sounding(other, key, 0) or self._near(kind, term)
            # Sounds are rougher than spellings: only long ones are matched loosely ("вотсап", "whatsapp").
            if not found and len(key) >= MIN_LOOSE_SOUND:
                found = self._sounding(other, key, allowed_edits(key))
        if len(self._cache) < 50_000:
            self._cache[term] = found
        return found

    def _sounding(self, kind: str, key: str, edits: int) -> tuple[str, ...]:
        assert self._by_sound is not None and self._sound_lengths is not None
        terms = self._by_sound.get((kind, key))
        if terms:
            return (max(terms, key=self._frequency.__getitem__),)
        best = self._nearest(key, edits, self._sound_lengths, kind)
        if best is None:
            return ()
        return (max(self._by_sound[(kind, best)], key=self._frequency.__getitem__),)

    def _near(self, kind: str, term: str) -> tuple[str, ...]:
        assert self._by_length is not None
        best = self._nearest(term, allowed_edits(term), self._by_length, kind)
        return (best,) if best is not None else ()

    def _nearest(
        self, term: str, edits: int, buckets: dict[tuple[str, int], list[str]], kind: str
    ) -> str | None:
        if edits == 0:
            return None
        best: tuple[int, int, str] | None = None  # (distance, -frequency, term)
        for length in range(len(term) - edits, len(term) + edits + 1):
            choices = buckets.get((kind, length))
            if not choices:
                continue
            for candidate, distance, _ in extract(
                term, choices, scorer=Levenshtein.distance, score_cutoff=edits, limit=NEAREST_LIMIT
            ):
                rank = (int(distance), -self._frequency.get(candidate, 0), candidate)
                if best is None or rank < best:
                    best = rank
        return best[2] if best is not None else None
