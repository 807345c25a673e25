"""Text analysis shared by retrieval and the extractive answerer: words → stemmed, meaningful terms.

Each word is stemmed by the stemmer of its own script (Russian Snowball for Cyrillic words, English Porter2
otherwise), so a mixed sentence ("Как подключить Telegram?") is handled word by word. Russian action nouns
are brought to their verb's stem first (see ``_RU_ACTION_NOUN``).
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache
from typing import Protocol

import Stemmer

from otvet.core.stopwords import ENGLISH, RUSSIAN

_WORD = re.compile(r"\w+", re.UNICODE)
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")

# The stopword lists (core/stopwords.py) lack most forms of the words questions are made of ("какова",
# "кем", "сколько", "which of them"): a question holds one in nearly every sentence, no document is about
# it, and a question word the knowledge base lacks would count against every passage as a missing term.
_QUESTION_WORDS = """
    какие каким какими каких какое каком какому какую какого каков какова каково каковы кем кому чему чей чья
    чье чьи чьего чьей чьих чьим сколько скольких скольким который которая которое которые которого которой
    которому которую которым которыми которых котором почему отчего откуда насколько каковой
    это эта эти этим этими этих всё вся весь всем всеми всей всему мои моего моей мое моем моим моих мою
    моему наш наша наше наши нашего нашей нашу нашим наших ваш ваша ваше ваши вашего вашей вашу вашим ваших
    свой своя свое свои своего своей своим своих свою своем также либо ещё её является являются являлся
    являлась являлось являлись был была было были будут будем буду
    would could might must shall also much many whose cannot can't does doesn't did didn't im i'm ive i've
    dont doesnt didnt cant wont isnt arent wasnt u ur yes yeah
"""
STOPWORDS: frozenset[str] = ENGLISH | RUSSIAN | frozenset(_QUESTION_WORDS.split())
#: Words that only make a message polite or chatty ("hi, could you tell me please..."). They still make a
#: message small talk (llm_extractive), but a search ignores them: no document is about "please".
FILLER: frozenset[str] = frozenset(
    """
    hi hello hey hiya thanks thank thx ty please pls plz tell know guys anyone someone somebody want wanna
    need wondering quick ok okay
    привет здравствуйте здравствуй добрый спасибо благодарю пожалуйста плиз пжл пж подскажите подскажи
    скажите скажи расскажите расскажи знать хочу хотел хотела хотим нужно надо помогите помоги ребята народ
    ок окей
    """.split()  # noqa: SIM905 (a word list reads better as text)
)
_NOT_SOUGHT = STOPWORDS | FILLER

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
# A verb's two aspects stem apart too ("удалить" → "удал", "удалять" → "удаля"; "добавить" → "добав",
# "добавлять" → "добавля", "добавление" → "добавл"): the imperfective's "я" and the "л" inserted after a
# labial ("добавл", "оформл", "представл") are cut, so all of them meet at the perfective's stem.
_RU_ASPECT = re.compile(r"(?<=...[бвмпф])л(?=я?$)|(?<=..[^аеиоуыэюяь])я$")
_MIN_ROOT = 3  # "решение" → "реш" like "решить"; "мнение" keeps its Snowball stem

# PyStemmer objects are not thread-safe; retrieval runs in worker threads, so each thread has its own.
_local = threading.local()


class _Stemmer(Protocol):
    """What PyStemmer's ``Stemmer`` offers (it publishes no types)."""

    def stemWord(self, word: str) -> str: ...


def _stemmers() -> tuple[_Stemmer, _Stemmer]:
    pair = getattr(_local, "stemmers", None)
    if pair is None:
        pair = (Stemmer.Stemmer("russian"), Stemmer.Stemmer("english"))
        _local.stemmers = pair
    return pair


# A tag starts with its name right after "<" ("a < b" is not one); "_" marks emphasis only at a word's edge
# ("_plans_"), never inside one ("OTVET_TELEGRAM__TOKEN").
_MARKUP = re.compile(
    r"</?[a-z][a-z0-9-]*(?:\s[^<>]{0,200})?/?>|&(?:[a-z]+|#\d+);|[*`~]+|(?<!\w)_+|_+(?!\w)", re.IGNORECASE
)
_MARKUP_SIGNS = frozenset("<&*`~_")


def plain(text: str) -> str:
    """``text`` without HTML tags and entities or Markdown emphasis: what a search should read of a question
    pasted with its formatting ("<b>what is Otvet?</b>", "**pricing**")."""
    if _MARKUP_SIGNS.isdisjoint(text):
        return text
    return " ".join(_MARKUP.sub(" ", text).split())


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
        return _RU_ASPECT.sub("", word[: suffix.start()])
    return _RU_ASPECT.sub("", russian.stemWord(word))


def terms(text: str) -> list[str]:
    """The stemmed terms of ``text`` without stopwords or one-letter words, in order (duplicates kept)."""
    return [stem(w) for w in words(text) if len(w) > 1 and w not in STOPWORDS]


def query_terms(text: str) -> list[str]:
    """The distinct terms a search looks for in a question: :func:`terms` without the politeness and
    chatter of :data:`FILLER`, in order."""
    return list(query_words(text))


def query_words(text: str) -> dict[str, str]:
    """:func:`query_terms` with the word each term was first written as (term → word), in order."""
    found: dict[str, str] = {}
    for word in words(text):
        if len(word) > 1 and word not in _NOT_SOUGHT:
            found.setdefault(stem(word), word)
    return found
