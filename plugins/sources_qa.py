"""Source types for question/answer pairs: CSV (``question,answer[,language]``), JSON and YAML.

Every row is checked before anything is stored: a file with one bad row is refused whole, with the row's
line number, so an admin never ends up with half a file learnt.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Callable
from pathlib import PurePath
from typing import Any

import yaml

from otvet import hookimpl
from otvet.core.sources import ParsedSource, QAPair, SourceError, SourceType, decode_text

QUESTION_COLUMNS = ("question", "q", "вопрос")
ANSWER_COLUMNS = ("answer", "a", "ответ")
LANGUAGE_COLUMNS = ("language", "lang", "язык")
MAX_FIELD_CHARS = 20_000
#: JSON and YAML parsers recurse per nesting level; a Q&A file is two levels deep, so far more is hostile.
TOO_DEEP = "is nested too deeply (thousands of levels of lists or objects): a Q&A file is a flat list"


def _title(origin: str) -> str:
    return (PurePath(origin).stem or origin).replace("_", " ").replace("-", " ").strip().capitalize()


def _pick(columns: dict[str, str], names: tuple[str, ...]) -> str | None:
    for name in names:
        if name in columns:
            return columns[name]
    return None


def _pair(question: Any, answer: Any, *, origin: str, line: int | None) -> QAPair:
    if not isinstance(question, str) or not question.strip():
        raise SourceError("the question is empty", origin=origin, line=line)
    if not isinstance(answer, str) or not answer.strip():
        raise SourceError("the answer is empty", origin=origin, line=line)
    if len(question) > MAX_FIELD_CHARS or len(answer) > MAX_FIELD_CHARS:
        raise SourceError(f"a field is longer than {MAX_FIELD_CHARS} characters", origin=origin, line=line)
    return QAPair(question.strip(), answer.strip())


def _single_language(languages: set[str], origin: str) -> str | None:
    languages.discard("")
    if len(languages) > 1:
        # One source has one language; mixed files are fine, the chunks get detected languages instead.
        return None
    return next(iter(languages), None)


class CsvQASource(SourceType):
    """A CSV file with a header row naming ``question`` and ``answer`` columns (``language`` optional)."""

    name = "qa_csv"
    extensions = (".csv", ".tsv")
    description = "CSV/TSV with question and answer columns (header row required)"

    def parse(self, data: bytes, *, origin: str) -> ParsedSource:
        text = decode_text(data, origin=origin)
        if not text.strip():
            raise SourceError("is empty", origin=origin)
        try:
            sniffed: Any = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
        except csv.Error:
            sniffed = csv.excel_tab if origin.lower().endswith(".tsv") else csv.excel
        # Only the delimiter and spacing are guessed; quoting is RFC 4180's. The sniffer guesses quoting from
        # a sample and gets it wrong: a field `""""` made it turn doubled quotes off, and the answer `"`
        # was learnt as `""`.
        reader = csv.reader(
            io.StringIO(text), delimiter=sniffed.delimiter, skipinitialspace=sniffed.skipinitialspace
        )
        try:
            header = next(reader)
        except csv.Error as exc:
            raise SourceError(f"is not valid CSV: {exc}", origin=origin, line=1) from None
        columns = {name.strip().lower(): name for name in header}
        index = {name.strip().lower(): i for i, name in enumerate(header)}
        question_col = _pick(columns, QUESTION_COLUMNS)
        answer_col = _pick(columns, ANSWER_COLUMNS)
        if question_col is None or answer_col is None:
            raise SourceError(
                "needs a header row with 'question' and 'answer' columns; "
                f"found: {', '.join(header) or 'none'}",
                origin=origin,
                line=1,
            )
        language_col = _pick(columns, LANGUAGE_COLUMNS)
        q_at, a_at = index[question_col.strip().lower()], index[answer_col.strip().lower()]
        l_at = index[language_col.strip().lower()] if language_col else None
        pairs: list[QAPair] = []
        languages: set[str] = set()
        try:
            for row in reader:
                line = reader.line_num
                if not any(cell.strip() for cell in row):
                    continue
                if len(row) != len(header):
                    raise SourceError(
                        f"has {len(row)} fields but the header has {len(header)}", origin=origin, line=line
                    )
                pairs.append(_pair(row[q_at], row[a_at], origin=origin, line=line))
                if l_at is not None:
                    languages.add(row[l_at].strip().lower())
        except csv.Error as exc:
            raise SourceError(f"is not valid CSV: {exc}", origin=origin, line=reader.line_num) from None
        if not pairs:
            raise SourceError("has a header but no question/answer rows", origin=origin)
        return ParsedSource(_title(origin), qa_pairs=pairs, language=_single_language(languages, origin))


class JsonQASource(SourceType):
    """JSON: a list of ``{"question", "answer"}`` objects, or ``{"title", "language", "pairs": [...]}``."""

    name = "qa_json"
    extensions = (".json",)
    description = 'JSON: [{"question": ..., "answer": ...}] or {"title", "language", "pairs": [...]}'

    def parse(self, data: bytes, *, origin: str) -> ParsedSource:
        text = decode_text(data, origin=origin)
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SourceError(
                f"is not valid JSON: {exc.msg} (column {exc.colno})", origin=origin, line=exc.lineno
            ) from None
        except RecursionError:
            raise SourceError(TOO_DEEP, origin=origin) from None
        except ValueError:
            # Valid JSON that Python refuses to convert: an integer longer than sys.get_int_max_str_digits(),
            # a guard against quadratic-time conversion (CVE-2020-10735).
            raise SourceError(
                f"has a number longer than {sys.get_int_max_str_digits()} digits", origin=origin
            ) from None
        return _from_document(document, origin)


def _from_document(document: Any, origin: str) -> ParsedSource:
    """Pairs from a parsed JSON or YAML document: a list of pairs, or an object with ``pairs``."""
    title, language = _title(origin), None
    items: Any = document
    if isinstance(document, dict):
        declared = document.get("title")
        if declared is not None and not isinstance(declared, str | int | float):
            # Not str() of a list or map: in YAML, aliases make a 300-byte title expand into gigabytes.
            raise SourceError('"title" must be a string', origin=origin)
        title = str(declared or title)
        language = document.get("language")
        items = document.get("pairs", document.get("qa"))
    if not isinstance(items, list):
        raise SourceError(
            'must be a list of {"question": ..., "answer": ...} objects or an object with "pairs"',
            origin=origin,
        )
    pairs = []
    for number, item in enumerate(items, 1):
        if not isinstance(item, dict):
            raise SourceError(f"item {number} is not an object", origin=origin)
        try:
            pairs.append(_pair(item.get("question"), item.get("answer"), origin=origin, line=None))
        except SourceError as exc:
            raise SourceError(f"item {number}: {str(exc).split(': ', 1)[-1]}", origin=origin) from None
    if not pairs:
        raise SourceError("has no question/answer pairs", origin=origin)
    if language is not None and not isinstance(language, str):
        raise SourceError('"language" must be a string such as "en" or "ru"', origin=origin)
    return ParsedSource(title, qa_pairs=pairs, language=language)


class _TextLoader(yaml.SafeLoader):
    """PyYAML's safe loader (what ``yaml.safe_load`` uses) with every plain scalar left as text.

    Implicit typing would turn the answer ``yes`` into True, ``1.10`` into 1.1 and ``no`` (Norway's code)
    into False: an answer must stay exactly as written.
    """


_TextLoader.yaml_implicit_resolvers = {}


class YamlQASource(SourceType):
    """YAML in the JSON format's shapes: a list of ``question``/``answer`` maps, or ``title``/``pairs``."""

    name = "qa_yaml"
    extensions = (".yaml", ".yml")
    description = "YAML: a list of question/answer maps, or title, language and pairs"

    def parse(self, data: bytes, *, origin: str) -> ParsedSource:
        text = decode_text(data, origin=origin)
        try:
            document = yaml.load(text, Loader=_TextLoader)  # a SafeLoader: it builds no objects
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            problem = exc.problem or exc.context or "syntax error"
            line = mark.line + 1 if mark else None
            column = f" (column {mark.column + 1})" if mark else ""
            raise SourceError(f"is not valid YAML: {problem}{column}", origin=origin, line=line) from None
        except yaml.YAMLError as exc:
            raise SourceError(f"is not valid YAML: {exc}", origin=origin) from None
        except RecursionError:
            raise SourceError(TOO_DEEP, origin=origin) from None
        return _from_document(document, origin)


@hookimpl
def register_source_types(register: Callable[[SourceType], None]) -> None:
    register(CsvQASource())
    register(JsonQASource())
    register(YamlQASource())
