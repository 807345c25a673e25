"""Check-set files: the questions a knowledge version is evaluated on, written by an admin.

A JSON or YAML list, or a CSV/TSV table with a header row, of checks with these keys:

- ``question`` (required);
- ``source``: the name (``hours.md``, a URL) or title of the source expected to answer it;
- ``answer``: words a good answer contains;
- ``language`` (optional).

``expectedSource`` and ``expectedAnswer`` (as the API and the console's export name them) are read as
``source`` and ``answer``. A check needs a ``source`` or an ``answer`` (or both). Every problem is reported
at once, with its row.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any

import yaml

from otvet.core.sources import storable_text
from otvet.core.store import NewCheck

MAX_QUESTION_CHARS = 2000
MAX_ANSWER_CHARS = 20000
MAX_SOURCE_CHARS = 512
_KEYS = {"question", "source", "answer", "language"}
#: Other names of the keys, compared in lower case (a CSV header is read in lower case).
_ALIASES = {
    "expectedsource": "source",
    "expected_source": "source",
    "expectedanswer": "answer",
    "expected_answer": "answer",
}


class CheckFileError(ValueError):
    """A check-set file that cannot be used; ``problems`` lists every one found."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = list(problems)


def validate_check(
    question: str,
    source: str | None,
    answer: str | None,
    language: str | None,
    languages: Sequence[str],
) -> tuple[NewCheck | None, list[str]]:
    """A check from its fields, or the problems with them (shared by files, the CLI and GraphQL)."""
    question, source, answer = question.strip(), (source or "").strip(), (answer or "").strip()
    language = (language or "").strip() or None
    problems = []
    if not question:
        problems.append("the question is empty")
    elif len(question) > MAX_QUESTION_CHARS:
        problems.append(f"the question is longer than {MAX_QUESTION_CHARS} characters")
    if not source and not answer:
        problems.append("name the expected source, the expected answer, or both")
    if len(source) > MAX_SOURCE_CHARS:
        problems.append(f"the source is longer than {MAX_SOURCE_CHARS} characters")
    if len(answer) > MAX_ANSWER_CHARS:
        problems.append(f"the answer is longer than {MAX_ANSWER_CHARS} characters")
    if language is not None and language not in languages:
        problems.append(f"unknown language {language!r}: choose from {', '.join(languages)}")
    if problems:
        return None, problems
    return NewCheck(question, source or None, answer or None, language), []


def parse_checks(data: bytes, name: str, languages: Sequence[str]) -> list[NewCheck]:
    """Parse a check-set file (by its extension: ``.json``, ``.yaml``/``.yml``, ``.csv``/``.tsv``)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CheckFileError([f"{name}: not UTF-8 text (byte {exc.start})"]) from None
    suffix = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    rows = _rows(text, name, suffix)
    checks: list[NewCheck] = []
    problems: list[str] = []
    for number, row in rows:
        fields = _fields(row)
        if isinstance(fields, str):
            problems.append(f"{name}: check {number}{fields}")
            continue
        check, found = validate_check(
            fields["question"] or "", fields["source"], fields["answer"], fields["language"], languages
        )
        problems.extend(f"{name}: check {number}: {problem}" for problem in found)
        if check is not None:
            checks.append(check)
    if problems:
        raise CheckFileError(problems)
    if not checks:
        raise CheckFileError([f"{name}: no checks found"])
    return checks


def _fields(row: Any) -> dict[str, str | None] | str:
    """A row's values by key, made storable (a JSON escape can make a NUL), or what is wrong with the row."""
    if not isinstance(row, dict):
        return " is not an object with a question"
    keys = [_ALIASES.get(str(key).lower(), str(key)) for key in row]
    unknown = sorted(key for key in keys if key not in _KEYS)
    if unknown:
        return f" has unknown keys {', '.join(unknown)}"
    twice = sorted({key for key in keys if keys.count(key) > 1})
    if twice:
        return f" gives {', '.join(twice)} twice, under two names"
    given = dict(zip(keys, row.values(), strict=True))
    if any(value is not None and not isinstance(value, str) for value in given.values()):
        return ": every value must be text"
    return {key: None if given.get(key) is None else storable_text(given[key]) for key in _KEYS}


def _rows(text: str, name: str, suffix: str) -> list[tuple[int, Any]]:
    if suffix in ("csv", "tsv"):
        try:
            dialect: Any = csv.Sniffer().sniff(text.split("\n", 1)[0], delimiters=",;\t")
        except csv.Error:
            dialect = csv.excel_tab if suffix == "tsv" else csv.excel
        reader = csv.DictReader(io.StringIO(text), dialect=dialect)
        try:
            # Row numbers as a spreadsheet shows them: the header is row 1.
            return [
                (reader.line_num, {k.strip().lower(): v for k, v in row.items() if k})
                for row in reader
                if any((v or "").strip() for v in row.values() if isinstance(v, str))
            ]
        except csv.Error as exc:
            raise CheckFileError([f"{name}: not a valid CSV table ({exc})"]) from None
    try:
        if suffix == "json":
            document = json.loads(text)
        elif suffix in ("yaml", "yml"):
            # BaseLoader: every value stays text (no "yes" → True, "1.0" → 1.0).
            document = yaml.load(text, Loader=yaml.BaseLoader)
        else:
            raise CheckFileError([f"{name}: use a .json, .yaml, .yml, .csv or .tsv file"])
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise CheckFileError([f"{name}: not valid {suffix.upper()} ({exc})"]) from None
    if isinstance(document, dict) and isinstance(document.get("checks"), list):
        document = document["checks"]
    if not isinstance(document, list):
        raise CheckFileError([f"{name}: expected a list of checks"])
    return list(enumerate(document, 1))
