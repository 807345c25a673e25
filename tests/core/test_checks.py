"""Check-set files: every format an admin may write, and every mistake named with its row."""

from __future__ import annotations

import pytest

from otvet.core.checks import CheckFileError, parse_checks
from otvet.core.store import NewCheck

LANGUAGES = ("en", "ru")


def problems(data: bytes, name: str) -> list[str]:
    with pytest.raises(CheckFileError) as caught:
        parse_checks(data, name, LANGUAGES)
    return caught.value.problems


def test_json_yaml_and_csv_give_the_same_checks() -> None:
    expected = [
        NewCheck("Где парковка?", "parking.md", None, "ru"),
        NewCheck("When does it open?", None, "opens at ten", None),
    ]
    as_json = (
        '{"checks": [{"question": "Где парковка?", "source": "parking.md", "language": "ru"},'
        ' {"question": "When does it open?", "answer": "opens at ten"}]}'
    )
    as_yaml = (
        "- question: Где парковка?\n  source: parking.md\n  language: ru\n"
        "- question: When does it open?\n  answer: opens at ten\n"
    )
    as_csv = (
        "Question;Source;Answer;Language\n"
        "Где парковка?;parking.md;;ru\n"
        ";;;\n"  # a blank row is skipped
        "When does it open?;;opens at ten;\n"
    )
    assert parse_checks(as_json.encode(), "c.json", LANGUAGES) == expected
    assert parse_checks(as_yaml.encode(), "c.yml", LANGUAGES) == expected
    assert parse_checks(("\ufeff" + as_csv).encode(), "c.csv", LANGUAGES) == expected


def test_yaml_values_stay_text() -> None:
    (check,) = parse_checks(b"- question: yes\n  answer: 1.0\n", "c.yaml", LANGUAGES)
    assert (check.question, check.expected_answer) == ("yes", "1.0")


def test_the_apis_field_names_are_read_too_and_text_is_made_storable() -> None:
    # As the console exports them; a JSON escape can make a NUL, which no database column may hold.
    exported = (
        '[{"question": "Q\\u0000?", "expectedSource": "faq", "expectedAnswer": null, "language": "en"}]'
    )
    assert parse_checks(exported.encode(), "c.json", LANGUAGES) == [NewCheck("Q?", "faq", None, "en")]
    as_csv = "question,expected_source,expectedAnswer\nQ,faq,at ten\n"
    assert parse_checks(as_csv.encode(), "c.csv", LANGUAGES) == [NewCheck("Q", "faq", "at ten", None)]
    assert problems(b'[{"question": "Q", "source": "a", "expectedSource": "b"}]', "c.json") == [
        "c.json: check 1 gives source twice, under two names"
    ]


def test_every_problem_is_listed_with_its_check_number() -> None:
    found = problems(
        b'[{"question": ""}, "text", {"question": "Q", "source": "s", "colour": "red"},'
        b' {"question": "Q", "answer": 5}, {"question": "Q", "source": "s", "language": "de"}]',
        "c.json",
    )
    assert found == [
        "c.json: check 1: the question is empty",
        "c.json: check 1: name the expected source, the expected answer, or both",
        "c.json: check 2 is not an object with a question",
        "c.json: check 3 has unknown keys colour",
        "c.json: check 4: every value must be text",
        "c.json: check 5: unknown language 'de': choose from en, ru",
    ]


@pytest.mark.parametrize(
    ("data", "name", "problem"),
    [
        (b"\xff\xfe", "c.json", "c.json: not UTF-8 text (byte 0)"),
        (b"{", "c.json", "c.json: not valid JSON"),
        (b"a: [", "c.yaml", "c.yaml: not valid YAML"),
        (b'{"question": "Q"}', "c.json", "c.json: expected a list of checks"),
        (b"[]", "c.json", "c.json: no checks found"),
        (b"question\n", "c.csv", "c.csv: no checks found"),
        (b"- q", "c.txt", "c.txt: use a .json, .yaml, .yml, .csv or .tsv file"),
    ],
)
def test_files_that_cannot_be_read_say_why(data: bytes, name: str, problem: str) -> None:
    (found,) = problems(data, name)
    assert found.startswith(problem)
