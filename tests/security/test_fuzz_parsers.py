"""Property-based fuzzing of every training-source parser and of the small parsers on the request path.

Robustness: for every registered source type, arbitrary bytes, arbitrary (even unencodable) text and damaged
real files either parse into something the knowledge base can store and chunk, or raise
:class:`~otvet.core.sources.SourceError` with a message for the admin: never another exception, never a
hang (the per-test timeout), never a memory blow-up (hostile structures are measured with tracemalloc).
Correctness: a valid document keeps its text, Markdown and HTML headings become sections, Q&A files keep
every pair exactly. Request path: Accept-Language negotiation, GraphQL cursors, widget frames and list
settings refuse bad input with their own error types.
"""

from __future__ import annotations

import csv
import dataclasses
import html
import io
import json
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from otvet.config.settings import Settings
from otvet.core.app import Otvet
from otvet.core.chunking import chunk_source
from otvet.core.ingest import parse_data
from otvet.core.knowledge import NewSource
from otvet.core.sources import MAX_TITLE_CHARS, ParsedSource, SourceError, SourceType
from otvet.frontends.graphql.errors import BAD_USER_INPUT, ApiError
from otvet.frontends.graphql.pagination import decode_cursor, encode_cursor
from otvet.frontends.untrusted import load_json
from otvet.frontends.widget import protocol
from otvet.plugins.sources_html import _Extractor, escape_unclosed_tail
from tests.conftest import make_settings
from tests.plugins.test_sources_docx import make_docx
from tests.plugins.test_sources_pdf import make_pdf
from tests.security.fuzzing import FUZZ_TIMEOUT, WORDS, hostile_text, mutated, prose, sentences

pytestmark = FUZZ_TIMEOUT

#: Every built-in source type; a new one must be added here (the test below fails until it is).
SOURCE_TYPES = ("text", "markdown", "html", "pdf", "docx", "qa_csv", "qa_json", "qa_yaml")
#: How each type's files start, so random bytes also get past the first check of each parser.
MAGIC = [
    b"",
    b"%PDF-1.7\n",
    b"PK\x03\x04",
    b"---\n",
    b"<html><body>",
    b"question,answer\n",
    b"[{",
    b"pairs:\n",
]


@pytest.fixture(scope="module")
def otvet(tmp_path_factory: pytest.TempPathFactory) -> Otvet:
    """Otvet with its built-in plugins registered (not started): the source types and the catalogs."""
    return Otvet(make_settings(tmp_path_factory.mktemp("fuzz")))


@pytest.fixture(scope="module")
def source_types(otvet: Otvet) -> dict[str, SourceType]:
    return {name: otvet.source_types.get(name) for name in otvet.source_types}


def _strings(parsed: ParsedSource) -> Iterator[str]:
    yield parsed.title
    yield parsed.language or ""
    for section in parsed.sections:
        yield from (section.title, section.text)
    for pair in parsed.qa_pairs:
        yield from (pair.question, pair.answer)


def parse_or_refuse(source_type: SourceType, data: bytes) -> NewSource | None:
    """Parse as an upload is parsed; None for a clear refusal. Whatever parses must be storable (valid
    UTF-8 without NUL, which PostgreSQL's text type refuses) and chunkable."""
    try:
        source = parse_data(data, source_type, f"fuzzed{source_type.extensions[0]}")
    except SourceError as exc:
        refusal = str(exc)
    else:
        refusal = ""
    if refusal:
        assert refusal.startswith("fuzzed"), f"the error does not name the file: {refusal}"
        return None
    for text in _strings(source.parsed):
        assert "\x00" not in text, f"a NUL would make PostgreSQL refuse the source: {text!r}"
        text.encode("utf-8")  # a lone surrogate raises here, as it would in the database driver
    for title in (source.parsed.title, *(section.title for section in source.parsed.sections)):
        assert len(title) <= MAX_TITLE_CHARS and "\n" not in title, f"a title to show with answers: {title!r}"
    pieces = list(chunk_source(source.parsed, max_chars=300, overlap=60))
    assert pieces and all(piece.text.strip() for piece in pieces)
    return source


# --- robustness: anything in, a parse or a SourceError out ---------------------------------------------


def test_every_registered_source_type_is_fuzzed(source_types: dict[str, SourceType]) -> None:
    assert sorted(source_types) == sorted(SOURCE_TYPES)


@pytest.mark.parametrize("type_name", SOURCE_TYPES)
@given(prefix=st.sampled_from(MAGIC), body=st.binary(max_size=3000))
def test_arbitrary_bytes_parse_or_are_refused_clearly(
    source_types: dict[str, SourceType], type_name: str, prefix: bytes, body: bytes
) -> None:
    parse_or_refuse(source_types[type_name], prefix + body)


@pytest.mark.parametrize("type_name", SOURCE_TYPES)
@given(text=hostile_text(2000))
@example(text="x" * 5000 + "\x00 after the first 4 KB")
@example(text='[{"question": "nul\\u0000here", "answer": "a"}]')
@example(text='- question: "nul\\0here"\n  answer: a\n')
@example(text='[{"question": "lone \\ud800 surrogate", "answer": "\\u0000"}]')
def test_arbitrary_text_parses_or_is_refused_clearly(
    source_types: dict[str, SourceType], type_name: str, text: str
) -> None:
    # surrogatepass: a lone surrogate becomes the invalid UTF-8 a broken editor writes.
    parse_or_refuse(source_types[type_name], text.encode("utf-8", "surrogatepass"))


def _valid_files() -> dict[str, bytes]:
    """A small real file of each type, to damage."""
    return {
        "text": b"The office opens at nine.\n\nIt closes at six.",
        "markdown": "---\ntitle: Guide\nlanguage: ru\n---\n# Офис\n\nОткрыт с **девяти**.\n\n## Hours\n\n"
        "- [Mon](http://x) to Fri\n\n```\ncode\n```\n".encode(),
        "html": b'<html lang="en"><head><meta charset="utf-8"><title>T</title></head><body><nav>menu</nav>'
        b"<main><h1>Hours</h1><p>Open &amp; <b>ready</b> at nine.</p><table><tr><td>a</td><td>b</td></tr>"
        b"</table></main></body></html>",
        "pdf": make_pdf([["The office opens", "at nine."], ["It closes at six."]], title="Guide", lang="en"),
        "docx": make_docx(
            [
                ("title", "Guide"),
                ("h1", "Hours"),
                ("p", "Open at nine."),
                ("li", "one"),
                ("table", [["a", "b"]]),
            ],
            title="Guide",
            language="en-US",
        ),
        "qa_csv": b'question,answer,language\nWhen?,At nine.,en\n"Why, then?","Because"".",en\n',
        "qa_json": json.dumps(
            {"title": "FAQ", "language": "en", "pairs": [{"question": "Q", "answer": "A"}]}
        ).encode(),
        "qa_yaml": b"title: FAQ\npairs:\n  - question: When?\n    answer: |\n      At nine.\n",
    }


VALID_FILES = _valid_files()


@pytest.mark.parametrize("type_name", SOURCE_TYPES)
def test_the_undamaged_files_parse(source_types: dict[str, SourceType], type_name: str) -> None:
    # Without this, the mutation test below would pass on files that never parsed in the first place.
    assert parse_or_refuse(source_types[type_name], VALID_FILES[type_name]) is not None


@pytest.mark.parametrize("type_name", SOURCE_TYPES)
@given(data=st.data())
def test_damaged_real_files_parse_or_are_refused_clearly(
    source_types: dict[str, SourceType], type_name: str, data: st.DataObject
) -> None:
    parse_or_refuse(source_types[type_name], data.draw(mutated(VALID_FILES[type_name])))


def _alias_bomb(levels: int) -> bytes:
    """YAML whose aliases expand nine-fold per level: 9**levels strings from a few hundred bytes."""
    lines = ['l0: &l0 ["x","x","x","x","x","x","x","x","x"]']
    lines += [f"l{n}: &l{n} [{','.join([f'*l{n - 1}'] * 9)}]" for n in range(1, levels)]
    return ("\n".join(lines) + f"\ntitle: *l{levels - 1}\npairs:\n  - question: q\n    answer: a\n").encode()


@pytest.mark.parametrize(
    ("type_name", "data", "message"),
    [
        pytest.param("qa_json", b"[" * 100_000, "nested too deeply", id="json-deep-nesting"),
        pytest.param(
            "qa_json", b'{"pairs": [], "n": ' + b"1" * 5000 + b"}", "number longer", id="json-huge-int"
        ),
        pytest.param("qa_yaml", b"[" * 100_000, "nested too deeply", id="yaml-deep-flow"),
        pytest.param("qa_yaml", b"- " * 5000 + b"x", "nested too deeply", id="yaml-deep-block"),
        pytest.param("qa_yaml", _alias_bomb(9), '"title" must be a string', id="yaml-billion-laughs-title"),
        # Both were quadratic (looking through the open tags, joining the row so far): 100 KB took 6 s, so
        # these would take many minutes and hit the test's timeout; now they take about a second.
        pytest.param("html", b"<div>" * 200_000 + b"deep", None, id="html-deep-nesting"),
        pytest.param("html", b"<tr>" + b"<td>x" * 200_000, None, id="html-long-table-row"),
        # Python's html.parser looked for a ">" from every unclosed "<" to the end: 400 KB of "<!--" took
        # 155 s. These are 1-2 MB each.
        pytest.param("html", b"<p>x</p>" + b"<!--" * 400_000, None, id="html-unclosed-comments"),
        pytest.param("html", b"<p>x</p>" + b"<a" * 500_000, None, id="html-unclosed-tags"),
        pytest.param("html", b"<p>x</p>" + b"</a" * 400_000, None, id="html-unclosed-end-tags"),
        pytest.param("markdown", b"#" * 100_000 + b" x\n\n" + b"*" * 50_000, None, id="markdown-runs"),
        pytest.param(
            "qa_csv", b'question,answer\n"' + b"a" * 200_000 + b'",b\n', "field larger", id="csv-field"
        ),
    ],
)
def test_hostile_structures_are_refused_clearly(
    source_types: dict[str, SourceType], type_name: str, data: bytes, message: str | None
) -> None:
    """Found by fuzzing: deep JSON/YAML nesting escaped as RecursionError, a huge JSON integer as
    ValueError, a YAML title made of aliases expanded to gigabytes (9**9 strings) in ``str()``, and deeply
    nested or very wide HTML took quadratic time."""
    if message is None:
        assert parse_or_refuse(source_types[type_name], data) is not None
    else:
        with pytest.raises(SourceError, match=message):
            parse_data(data, source_types[type_name], f"hostile{source_types[type_name].extensions[0]}")


def test_yaml_aliases_do_not_expand_in_memory(source_types: dict[str, SourceType]) -> None:
    """A few hundred bytes of aliases stand for 9**7 strings: refusing them costs almost nothing (``str()``
    of the title used to build a 24 MB string first; at 9 levels, gigabytes)."""
    data = _alias_bomb(7)
    tracemalloc.start()
    try:
        with pytest.raises(SourceError, match='"title" must be a string'):
            parse_data(data, source_types["qa_yaml"], "bomb.yaml")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * 1024 * 1024, f"refusing {len(data)} bytes of YAML took {peak} bytes"


# --- correctness: a valid document keeps its text ---------------------------------------------------------


def _flat(text: str) -> str:
    return " ".join(text.split())


@given(text=prose())
def test_plain_text_keeps_every_word_in_order(source_types: dict[str, SourceType], text: str) -> None:
    source = parse_or_refuse(source_types["text"], text.encode())
    assert source is not None
    assert _flat("\n".join(s.text for s in source.parsed.sections)) == _flat(text)


heading = st.lists(st.sampled_from(WORDS["en"] + WORDS["ru"]), min_size=1, max_size=5).map(" ".join)


@given(
    intro=st.none() | sentences(),
    body=st.lists(st.tuples(st.integers(1, 6), heading, sentences()), min_size=1, max_size=5),
    bold=st.booleans(),
)
def test_markdown_headings_become_titled_sections(
    source_types: dict[str, SourceType], intro: str | None, body: list[tuple[int, str, str]], bold: bool
) -> None:
    parts = [intro] if intro else []
    for level, title, paragraph in body:
        marked = f"**{paragraph}**" if bold else paragraph
        parts.append(f"{'#' * level} {title}\n\n{marked}")
    source = parse_or_refuse(source_types["markdown"], "\n\n".join(parts).encode())
    assert source is not None
    expected = ([(source.parsed.title, intro)] if intro else []) + [(t, p) for _, t, p in body]
    assert [(s.title, s.text) for s in source.parsed.sections] == expected


@given(body=st.lists(st.tuples(st.integers(1, 6), heading, hostile_text(80)), min_size=1, max_size=4))
def test_html_headings_become_sections_and_escaped_text_comes_back(
    source_types: dict[str, SourceType], body: list[tuple[int, str, str]]
) -> None:
    page = "".join(f"<h{n}>{html.escape(t)}</h{n}><p>{html.escape(p)}</p>" for n, t, p in body)
    source = parse_or_refuse(
        source_types["html"],
        f"<html><body><main>{page}</main></body></html>".encode("utf-8", "surrogatepass"),
    )
    if source is None:
        return  # lone surrogates: refused as invalid UTF-8
    texts = "\n".join(s.text for s in source.parsed.sections)
    for _, _, paragraph in body:
        # html.parser turns a NUL into U+FFFD and drops CRs like a browser; everything else comes back.
        shown = _flat(paragraph.replace("\x00", "\ufffd").replace("\r", " "))
        assert shown in _flat(texts)


html_ish = st.lists(
    st.sampled_from(
        [
            "<",
            ">",
            "</",
            "<!--",
            "-->",
            "<p>",
            "</p>",
            "<h2>",
            "</h2>",
            "<!",
            "<?",
            "<![CDATA[",
            "]]>",
            "<a",
            "<script>",
            "</script>",
            "'",
            '"',
            "=",
            "&lt;",
            "&",
            " ",
            "\n",
            "text",
            "<title>",
            "<main>",
        ]
    )
    | hostile_text(3),
    max_size=40,
).map("".join)


@given(text=html_ish)
@example(text="<p>x</p>tail <!-- unclosed")
@example(text="<p>x<script>if (a<b)")
def test_escaping_the_unclosed_tail_changes_nothing_the_html_parser_reads(text: str) -> None:
    def blocks(page: str) -> list[tuple[int, str]]:
        extractor = _Extractor()
        extractor.feed(page)
        extractor.close()
        return [(block.level, block.text) for block in extractor.blocks]

    assert blocks(escape_unclosed_tail(text)) == blocks(text)


ascii_words = st.lists(st.sampled_from(WORDS["en"]), min_size=1, max_size=8).map(" ".join)


@given(pages=st.lists(st.lists(ascii_words, min_size=1, max_size=4), min_size=1, max_size=3))
def test_pdf_keeps_each_pages_text(source_types: dict[str, SourceType], pages: list[list[str]]) -> None:
    source = parse_or_refuse(source_types["pdf"], make_pdf(pages))
    assert source is not None
    assert [(s.title, _flat(s.text)) for s in source.parsed.sections] == [
        (f"Page {n}", _flat(" ".join(lines))) for n, lines in enumerate(pages, 1)
    ]


@settings(max_examples=20)  # python-docx writes and reads a whole package per example
@given(body=st.lists(st.tuples(st.integers(1, 6), heading, sentences()), min_size=1, max_size=4))
def test_docx_headings_become_sections(
    source_types: dict[str, SourceType], body: list[tuple[int, str, str]]
) -> None:
    blocks: list = []
    for level, title, paragraph in body:
        blocks += [(f"h{level}", title), ("p", paragraph)]
    source = parse_or_refuse(source_types["docx"], make_docx(blocks))
    assert source is not None
    assert [(s.title, s.text) for s in source.parsed.sections] == [(t, p) for _, t, p in body]


#: Text an admin may write in a Q&A file: any printable character, no NUL or surrogate (those are refused
#: or dropped, see above), not only whitespace.
qa_text = st.text(
    st.characters(exclude_categories=("Cs", "Cc", "Zl", "Zp"), exclude_characters="\ufeff"),
    min_size=1,
    max_size=60,
).filter(lambda s: s.strip() and s == s.strip())
qa_pairs = st.lists(st.tuples(qa_text, qa_text), min_size=1, max_size=6)


def _csv(pairs: list[tuple[str, str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerows([("question", "answer"), *pairs])
    return out.getvalue().encode()


@pytest.mark.parametrize(
    ("type_name", "write"),
    [
        ("qa_csv", _csv),
        ("qa_json", lambda pairs: json.dumps([{"question": q, "answer": a} for q, a in pairs]).encode()),
        (
            "qa_yaml",
            lambda pairs: yaml.safe_dump(
                {"pairs": [{"question": q, "answer": a} for q, a in pairs]}, allow_unicode=True
            ).encode(),
        ),
    ],
)
@given(pairs=qa_pairs)
@example(pairs=[("0", '"')])  # found: the CSV sniffer turned doubled quotes off, and '"' came back as '""'
def test_qa_files_keep_every_pair_exactly(
    source_types: dict[str, SourceType], type_name: str, write: object, pairs: list[tuple[str, str]]
) -> None:
    assert callable(write)
    source = parse_or_refuse(source_types[type_name], write(pairs))
    assert source is not None
    assert [(p.question, p.answer) for p in source.parsed.qa_pairs] == pairs


# --- small parsers on the request path ---------------------------------------------------------------------

language_tag = st.sampled_from(["ru", "en", "de", "RU", "en-US", "ru_RU", "*", "", "x-klingon", "zh-Hant-TW"])
quality = st.sampled_from(
    ["", ";q=1", ";q=0", ";q=0.5", ";q=0.9", ";q=nan", ";q=inf", ";q=-1", ";q=x", ";level=1"]
)
accept_language = st.lists(st.tuples(language_tag, quality).map("".join), max_size=6).map(",".join)


@given(header=accept_language | hostile_text())
@example(header="ru;q=nan,en;q=0.1")
def test_accept_language_picks_an_offered_language_or_none(otvet: Otvet, header: str) -> None:
    chosen = otvet.i18n.negotiate(header)
    assert chosen is None or chosen in otvet.i18n.languages
    assert otvet.i18n.negotiate(header) == chosen


@given(header=accept_language)
def test_accept_language_never_picks_a_refused_language(otvet: Otvet, header: str) -> None:
    refused = {part.split(";")[0].lower()[:2] for part in header.split(",") if part.endswith(";q=0")}
    offered = {part.split(";")[0].lower()[:2] for part in header.split(",") if not part.endswith(";q=0")}
    chosen = otvet.i18n.negotiate(header)
    assert chosen is None or chosen not in refused - offered


@given(kind=st.sampled_from(["source", "job", "message"]), item_id=st.integers(1, 2**63))
def test_cursors_round_trip_and_belong_to_their_list(kind: str, item_id: int) -> None:
    cursor = encode_cursor(kind, item_id)
    assert decode_cursor(kind, cursor) == item_id
    with pytest.raises(ApiError) as refused:
        decode_cursor("other", cursor)
    assert refused.value.code == BAD_USER_INPUT


@given(cursor=hostile_text() | st.binary(max_size=60).map(lambda b: encode_cursor("job", 1)[:2] + b.hex()))
@example(cursor="am9iOjE")  # "job:1" unpadded: the real cursor of job 1
@example(cursor="am9iOi0x")  # "job:-1"
def test_any_cursor_decodes_to_an_id_or_is_bad_input(cursor: str) -> None:
    try:
        found: int | str | None = decode_cursor("job", cursor)
    except ApiError as exc:
        found = exc.code
    assert isinstance(found, int) or found == BAD_USER_INPUT


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | hostile_text(20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(hostile_text(10), children, max_size=4),
    max_leaves=12,
)
frame_fields = st.fixed_dictionaries(
    {"type": st.sampled_from(["hello", "question", "feedback", "reset", "language", "ping", "nope", 1])},
    optional={
        name: json_values for name in ("id", "text", "language", "visitor", "user", "message_id", "value")
    },
)


@given(text=hostile_text() | json_values.map(json.dumps) | frame_fields.map(json.dumps))
@example(text="[" * 20_000)  # found: RecursionError escaped parse() and ended the socket
@example(text='{"type": "question", "id": "' + "i" * 65 + '", "text": "x"}')
@example(text='{"type": "question", "id": "q", "text": "\\ud800"}')  # found: reached the engine, which failed
def test_widget_frames_parse_or_raise_bad_frame(text: str) -> None:
    try:
        frame: object = protocol.parse(text)
    except protocol.BadFrame as exc:
        frame = str(exc)
    assert isinstance(frame, protocol.ClientFrame) or (isinstance(frame, str) and frame)
    if isinstance(frame, protocol.ClientFrame):
        # What a frame carries is stored and logged: it must be text UTF-8 can write.
        for field in dataclasses.fields(frame):  # type: ignore[arg-type]
            value = getattr(frame, field.name)
            if isinstance(value, str):
                value.encode("utf-8")
    question_id = protocol.question_id_of(text)
    assert question_id is None or len(question_id) <= protocol.MAX_ID_CHARS


def _strings_of(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings_of(key)
            yield from _strings_of(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings_of(item)


@given(
    data=json_values.map(json.dumps)
    | json_values.map(lambda value: json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass"))
    | st.binary(max_size=200)
)
@example(data=b'{"q": "\\ud83d\\ude00"}')  # a pair of escapes is one emoji: kept
@example(data=b'{"q": "\\\\ud800"}')  # an escaped backslash, then letters: kept
def test_request_json_loads_as_text_or_is_refused_as_bad_json(data: str | bytes) -> None:
    """Every frontend reads JSON through load_json: what it returns is text UTF-8 can write (a lone surrogate,
    escaped or raw, is refused), and valid JSON that is text loads exactly as json.loads loads it."""
    try:
        value = load_json(data)
    except json.JSONDecodeError:
        return
    for text in _strings_of(value):
        text.encode("utf-8")
    assert json.dumps(value) == json.dumps(json.loads(data))  # dumped: NaN is not equal to itself


#: What an environment variable can hold: no NUL, nothing UTF-8 cannot encode.
env_value = (hostile_text(100) | json_values.map(json.dumps)).map(
    lambda text: text.replace("\x00", "").encode("utf-8", "ignore").decode()
)


@pytest.mark.parametrize(
    "field", ["languages", "disable_plugins", "forwarded_allow_ips", "fetch__allow_networks"]
)
@given(value=env_value)
@example(value="[" * 20_000)  # found: RecursionError escaped pydantic instead of a validation error
@example(value="10.0.0.0/33")
def test_list_settings_validate_or_raise_validation_error(
    tmp_path_factory: pytest.TempPathFactory, field: str, value: str, monkeypatch_env: pytest.MonkeyPatch
) -> None:
    monkeypatch_env.setenv(f"OTVET_{field.upper()}", value)
    try:
        settings = Settings(_env_file=None)
    except ValidationError as exc:
        # Refused with pydantic's message, naming the setting (and nothing else).
        refused = {str(error["loc"][0]) for error in exc.errors()}
    else:
        refused = set()
    if refused:
        assert refused == {field.split("__")[0]}
        return
    section, _, name = field.rpartition("__")
    parsed = getattr(getattr(settings, section) if section else settings, name)
    assert isinstance(parsed, list | tuple) and all(isinstance(item, str) for item in parsed)


@pytest.fixture(scope="module")
def monkeypatch_env() -> Iterator[pytest.MonkeyPatch]:
    """A module-wide MonkeyPatch (Hypothesis runs many examples in one test call; the function-scoped one
    would be shared by them anyway), undone after the module."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OTVET_CONFIG_FILE", str(Path("/nonexistent/otvet.toml")))
        yield patch
