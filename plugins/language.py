"""Default language detection: the writing system first, then lingua among languages sharing a script.

Short chat messages defeat statistical detectors ("ok", "спасибо!"), but the script alone settles them when
only one offered language is written in it, which is the Russian/English case. lingua is consulted only
when several offered languages share a script (say English and German), and loaded lazily with just those
languages, so it costs nothing until a deployment needs it. It is the optional ``languages`` extra
(``pip install "otvet[languages]"``, 96 MB): without it, such a question goes by the user's own language
hint (Telegram's, the browser's), and the log says once what to install.
"""

from __future__ import annotations

import logging
import threading
import unicodedata
from collections import Counter
from functools import lru_cache
from typing import Any

from otvet import hookimpl

#: The script each catalog language is written in; languages not listed are treated as Latin-script.
SCRIPTS: dict[str, str] = {
    "ru": "CYRILLIC",
    "uk": "CYRILLIC",
    "be": "CYRILLIC",
    "bg": "CYRILLIC",
    "sr": "CYRILLIC",
    "kk": "CYRILLIC",
    "mk": "CYRILLIC",
    "mn": "CYRILLIC",
    "el": "GREEK",
    "he": "HEBREW",
    "ar": "ARABIC",
    "fa": "ARABIC",
    "hy": "ARMENIAN",
    "ka": "GEORGIAN",
    "zh": "CJK",
    "ja": "CJK",
    "ko": "HANGUL",
    "th": "THAI",
    "hi": "DEVANAGARI",
}
#: Fewer letters than this is too little to go on; the client's hint decides instead.
MIN_LETTERS = 2

_lock = threading.Lock()
#: Whether the log already said lingua is missing (once per process is enough).
_warned = False
log = logging.getLogger(__name__)


@lru_cache(maxsize=8192)
def script_of(char: str) -> str | None:
    """The Unicode script family of a letter (``LATIN``, ``CYRILLIC``...), None for non-letters.

    Cached: a text uses a few dozen distinct characters, and looking up a character's Unicode name is what
    made detecting the language of every chunk of a large knowledge base most of a retrain's time.
    """
    if not char.isalpha():
        return None
    name = unicodedata.name(char, "")
    for script in (
        "LATIN",
        "CYRILLIC",
        "GREEK",
        "HEBREW",
        "ARABIC",
        "ARMENIAN",
        "GEORGIAN",
        "HANGUL",
        "THAI",
        "DEVANAGARI",
    ):
        if name.startswith(script):
            return script
    if name.startswith(("CJK", "HIRAGANA", "KATAKANA")):
        return "CJK"
    return None


def dominant_script(text: str) -> tuple[str | None, int]:
    """The script most letters of ``text`` are in, and how many letters that is."""
    counts: dict[str, int] = {}
    # Counting characters is done in C; only each distinct character's script is looked up.
    for char, count in Counter(text).items():
        script = script_of(char)
        if script:
            counts[script] = counts.get(script, 0) + count
    if not counts:
        return None, 0
    script = max(counts, key=counts.__getitem__)
    return script, counts[script]


@lru_cache(maxsize=16)
def _lingua_detector(languages: tuple[str, ...]) -> Any:
    from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

    wanted = [Language.from_iso_code_639_1(IsoCode639_1.from_str(code)) for code in languages]
    return LanguageDetectorBuilder.from_languages(*wanted).build()


def detect(text: str, languages: tuple[str, ...]) -> str | None:
    """The language of ``text`` among ``languages``, or None when the text does not tell."""
    script, letters = dominant_script(text)
    if script is None or letters < MIN_LETTERS:
        return None
    candidates = tuple(lang for lang in languages if SCRIPTS.get(lang, "LATIN") == script)
    if not candidates:
        return None
    if len(candidates) == 1:
        return candidates[0]
    try:
        with _lock:  # building the detector is not thread-safe; detection itself is cheap
            detector = _lingua_detector(tuple(sorted(candidates)))
        found = detector.detect_language_of(text)
    except ValueError:  # a catalog language lingua does not know
        return None
    except ImportError:
        _missing_lingua(candidates)
        return None
    if found is None:
        return None
    code = found.iso_code_639_1.name.lower()
    return code if code in candidates else None


def _missing_lingua(candidates: tuple[str, ...]) -> None:
    global _warned
    if not _warned:
        _warned = True
        log.warning(
            "languages %s share a writing system and telling them apart needs lingua:"
            ' pip install "otvet[languages]" (until then the user\'s own language setting decides)',
            ", ".join(candidates),
        )


@hookimpl(trylast=True)
def detect_language(text: str, hint: str | None, languages: tuple[str, ...], otvet: Any) -> str | None:
    detected = detect(text, languages)
    if detected is not None:
        return detected
    return otvet.i18n.negotiate(hint) if hint else None
