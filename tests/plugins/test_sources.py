"""Parsers for training sources: what they extract, and how they refuse bad input."""

from __future__ import annotations

import pytest

from otvet.core.ingest import parse_data
from otvet.core.sources import MAX_TITLE_CHARS, SourceError
from otvet.plugins.sources_qa import CsvQASource, JsonQASource, YamlQASource
from otvet.plugins.sources_text import MarkdownSource, TextSource


def test_markdown_sections_follow_headings_and_front_matter_sets_title_and_language() -> None:
    data = (
        b"---\ntitle: Guide\nlanguage: ru\n---\n# Ignored H1\n\nIntro line one\nwrapped.\n\n"
        b"## Install\n\n- step **one**\n- step [two](https://x)\n\n```\ncode # not a heading\n```\n"
    )
    parsed = MarkdownSource().parse(data, origin="guide.md")
    assert parsed.title == "Guide" and parsed.language == "ru"
    assert [(s.title, s.text) for s in parsed.sections] == [
        ("Ignored H1", "Intro line one wrapped."),
        ("Install", "step one\nstep two\n\ncode # not a heading"),
    ]


def test_markdown_title_falls_back_to_the_first_h1_then_the_file_name() -> None:
    assert MarkdownSource().parse(b"# Hello\n\ntext", origin="x.md").title == "Hello"
    assert MarkdownSource().parse(b"just text", origin="my_notes.md").title == "My notes"


def test_titles_are_one_line_and_long_ones_are_cut_at_a_word() -> None:
    """A title is shown with every answer that cites its source: a heading that is really a paragraph, or a
    title spread over lines, must not become a citation the size of a page."""
    words = " ".join(f"word{i}" for i in range(2000))
    yaml = b"title: |\n  First line\n  second line\npairs:\n  - question: Q?\n    answer: A.\n"
    assert parse_data(yaml, YamlQASource(), "faq.yaml").parsed.title == "First line second line"
    parsed = parse_data(f"# {words}\n\nThe text.".encode(), MarkdownSource(), "long.md").parsed
    (section,) = parsed.sections
    assert len(section.title) <= MAX_TITLE_CHARS and section.title.endswith("…")
    assert words.startswith(section.title[:-1]) and section.title[-2] != " "
    assert section.text == "The text."


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"---\ntitle: x\n\n# never closed", "front matter"),
        (b"# Only a heading\n", "nothing to learn from"),
        (b"text\n```\nunclosed", "never closed"),
        (b"\xff\xfe bad bytes", "not valid UTF-8"),
        (b"\x00\x01binary", "binary"),
    ],
)
def test_markdown_refuses_bad_input_clearly(data: bytes, message: str) -> None:
    with pytest.raises(SourceError, match=message) as info:
        MarkdownSource().parse(data, origin="bad.md")
    assert str(info.value).startswith("bad.md")


def test_text_unwraps_paragraphs_and_keeps_list_items() -> None:
    parsed = TextSource().parse(b"First line\ncontinues.\n\n- item one\n- item two\n", origin="a.txt")
    assert parsed.sections[0].text == "First line continues.\n\nitem one\nitem two"
    with pytest.raises(SourceError, match="empty"):
        TextSource().parse(b"  \n\n ", origin="empty.txt")


def test_csv_pairs_with_any_delimiter_and_russian_headers() -> None:
    parsed = CsvQASource().parse('Вопрос;Ответ\nКто?;Я.\n\n"Где; там?";Здесь\n'.encode(), origin="qa.csv")
    assert [(p.question, p.answer) for p in parsed.qa_pairs] == [("Кто?", "Я."), ("Где; там?", "Здесь")]


def test_csv_language_column_sets_the_source_language_when_uniform() -> None:
    parsed = CsvQASource().parse(b"question,answer,language\nA?,B,en\nC?,D,en\n", origin="qa.csv")
    assert parsed.language == "en"
    mixed = CsvQASource().parse(b"question,answer,language\nA?,B,en\nC?,D,ru\n", origin="qa.csv")
    assert mixed.language is None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"q1,a1\nx,y\n", "needs a header row with 'question' and 'answer' columns; found: q1, a1"),
        (b"question,answer\nWhat?,\n", r"qa.csv:2: the answer is empty"),
        (b"question,answer\n,Yes\n", r"qa.csv:2: the question is empty"),
        (b"question,answer\nA,B,C\n", r"qa.csv:2: has 3 fields but the header has 2"),
        (b"question,answer\n", "no question/answer rows"),
        (b"", "is empty"),
    ],
)
def test_csv_refuses_bad_rows_with_their_line(data: bytes, message: str) -> None:
    with pytest.raises(SourceError, match=message):
        CsvQASource().parse(data, origin="qa.csv")


def test_json_accepts_a_list_or_an_object_with_pairs() -> None:
    plain = JsonQASource().parse(b'[{"question": "A?", "answer": "B"}]', origin="faq.json")
    assert plain.title == "Faq" and plain.qa_pairs[0].answer == "B"
    titled = JsonQASource().parse(
        '{"title": "ЧаВо", "language": "ru", "pairs": [{"question": "А?", "answer": "Б"}]}'.encode(),
        origin="faq.json",
    )
    assert (titled.title, titled.language, len(titled.qa_pairs)) == ("ЧаВо", "ru", 1)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'[{"question": "A?"', "faq.json:1: is not valid JSON"),
        (b'{"pairs": "nope"}', "must be a list"),
        (b'[{"question": "A?", "answer": ""}]', "item 1: the answer is empty"),
        (b"[1]", "item 1 is not an object"),
        (b"[]", "no question/answer pairs"),
        (b'{"language": 5, "pairs": [{"question": "A", "answer": "B"}]}', "language"),
    ],
)
def test_json_refuses_bad_documents_clearly(data: bytes, message: str) -> None:
    with pytest.raises(SourceError, match=message):
        JsonQASource().parse(data, origin="faq.json")


def test_yaml_takes_the_json_shapes_and_keeps_answers_as_written() -> None:
    plain = YamlQASource().parse(b"- question: Open on Sunday?\n  answer: no\n", origin="faq.yml")
    assert plain.title == "Faq"
    assert [(p.question, p.answer) for p in plain.qa_pairs] == [("Open on Sunday?", "no")]
    titled = YamlQASource().parse(
        "title: ЧаВо\nlanguage: ru\npairs:\n  - question: Версия?\n    answer: 1.10\n"
        "  - question: Много строк?\n    answer: |\n      Первая.\n      Вторая.\n".encode(),
        origin="faq.yaml",
    )
    assert (titled.title, titled.language) == ("ЧаВо", "ru")
    assert [p.answer for p in titled.qa_pairs] == ["1.10", "Первая.\nВторая."]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"- question: A?\n  answer: [unclosed\n", r"faq.yaml:3: is not valid YAML"),
        (b"pairs:\n  - question: A?\n   answer: B\n", r"faq.yaml:3: is not valid YAML"),
        (b"pairs:\n  - question: A?\n    answer:\n", "item 1: the answer is empty"),
        (b"just text", "must be a list"),
        (b"- a\n", "item 1 is not an object"),
        (b"- question: A\n  answer: B\n---\n- question: C\n  answer: D\n", r"faq.yaml:3: is not valid YAML"),
        (b"!!python/object:os.system {}\n", "is not valid YAML"),
    ],
)
def test_yaml_refuses_bad_documents_with_their_line(data: bytes, message: str) -> None:
    with pytest.raises(SourceError, match=message):
        YamlQASource().parse(data, origin="faq.yaml")
