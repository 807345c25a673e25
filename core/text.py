"""Text analysis shared by retrieval and the extractive answerer: words → stemmed, meaningful terms.

Each word is stemmed by the stemmer of its own script (Russian Snowball for Cyrillic words, English Porter2
otherwise), so a mixed sentence ("Как подключить Telegram?") is handled word by word. Russian action nouns
are brought to their verb's stem first (see ``_RU_ACTION_NOUN``).
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache

import Stemmer
from bm25s.stopwords import STOPWORDS_EN_PLUS, STOPWORDS_RUSSIAN

_WORD = re.compile(r"\w+", re.UNICODE)
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
STOPWORDS: frozenset[str] = frozenset(STOPWORDS_EN_PLUS) | frozenset(STOPWORDS_RUSSIAN)

# Snowball keeps a verb and its action noun apart ("подключить" → "подключ", "подключение" → "подключен"),
# yet users ask with the verb ("как подключить бота?") what documentation titles with the noun
# ("Подключение бота"). Cutting these suffixes makes both meet at the verb's stem. Only suffixes that rarely
# end anything else are listed: a general "-ка" rule would also cut "сотрудника" apart from "сотрудник".
_RU_ACTION_NOUN = re.compile(
    r"(?:(?<=[ая])н|ен)(?:ие|ия|ию|ием|ии|ий|иям|иями|иях)$"  # создание → созда, подключение → подключ
    r"|енн(?:ый|ая|ое|ые|ого|ой|ому|ым|ую|ыми|ых|ом)$"  # подключенный → подключ
    r"|(?<=[вз])к(?:а|и|у|е|ой|ам|ами|ах)$"  # установка → установ, загрузка → загруз
    r"|йк(?:а|и|у|е|ой|ам|ами|ах)$"  # настройка → настро
)
_MIN_ROOT = 3  # "решение" → "реш" like "решить"; "мнение" keeps its Snowball stem

# PyStemmer objects are not thread-safe; retrieval runs in worker threads, so each thread has its own.
_local = threading.local()


def _stemmers() -> tuple[Stemmer.Stemmer, Stemmer.Stemmer]:
    pair = getattr(_local, "stemmers", None)
    if pair is None:
        pair = (Stemmer.Stemmer("russian"), Stemmer.Stemmer("english"))
        _local.stemmers = pair
    return pair


def words(text: str) -> list[str]:
    """Lower-cased words (letters and digits), with ё folded to е as Russian search expects."""
    return [w.replace("ё", "е") for w in _WORD.findall(text.lower())]


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """Stem one lower-case word with the stemmer of its script (a Russian action noun to its verb's stem)."""
    russian, english = _stemmers()
    if not _CYRILLIC.search(word):
        return english.stemWord(word)
    suffix = _RU_ACTION_NOUN.search(word)
    if suffix is not None and suffix.start() >= _MIN_ROOT + (word[suffix.start()] in "кй"):
        return word[: suffix.start()]
    return russian.stemWord(word)


def terms(text: str) -> list[str]:
    """The stemmed terms of ``text`` without stopwords or one-letter words, in order (duplicates kept)."""
    return [stem(w) for w in words(text) if len(w) > 1 and w not in STOPWORDS]
