"""Telegram HTML rendering: escaping, the sources block, and splitting to Telegram's length limit."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from otvet.core.i18n import I18n, Translator
from otvet.core.types import SourceRef
from otvet.frontends.telegram.formatting import (
    MESSAGE_LIMIT,
    SOURCE_LABEL_LIMIT,
    Rendered,
    escape,
    heard,
    prefixed,
    render_answer,
    render_partial,
    split_text,
    telegram_length,
)
from otvet.plugins.locales import LOCALE_DIR


class TelegramView(HTMLParser):
    """What Telegram shows for an HTML message: checks tags are known and balanced, collects the text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.open: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        assert tag in {"b", "a"}, f"unexpected tag <{tag}>"
        assert not self.open, f"<{tag}> nested in <{self.open[-1]}>"
        if tag == "a":
            (name, value), *more = attrs
            assert name == "href" and value and not more
            self.links.append(value)
        self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.open and self.open.pop() == tag, f"unbalanced </{tag}>"

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def view(html: str) -> TelegramView:
    parser = TelegramView()
    parser.feed(html)
    parser.close()
    assert not parser.open, f"unclosed {parser.open}"
    assert "&" not in re.sub(r"&(amp|lt|gt|quot);", "", html), "a bare or unknown entity"
    return parser


def shown(html: str) -> str:
    return "".join(view(html).text)


def assert_sendable(parts: list[Rendered], limit: int = MESSAGE_LIMIT) -> None:
    """Each part is balanced HTML whose visible text is its plain twin, within Telegram's limit."""
    for part in parts:
        assert shown(part.html) == part.plain
        assert 0 < telegram_length(part.plain) <= limit
        assert part.plain == part.plain.strip()


def words(text: str) -> list[str]:
    return text.split()


@pytest.fixture(scope="module")
def i18n() -> I18n:
    return I18n([LOCALE_DIR], ("en", "ru"), "en")


@pytest.fixture(scope="module")
def en(i18n: I18n) -> Translator:
    return i18n.get("en")


# -- escaping --


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<b>", "&lt;b&gt;"),
        ("a & b", "a &amp; b"),
        ("x<y", "x&lt;y"),
        ("&amp;", "&amp;amp;"),
        ('say "hi" it\'s', 'say "hi" it\'s'),
        ("Привет 😀", "Привет 😀"),
    ],
)
def test_escape_makes_user_text_show_literally(text: str, expected: str) -> None:
    assert escape(text) == expected
    assert shown(escape(text)) == text


def test_telegram_length_counts_utf16_code_units() -> None:
    assert telegram_length("abc") == 3
    assert telegram_length("Привет") == 6
    assert telegram_length("😀") == 2  # outside the BMP: a surrogate pair
    assert telegram_length("€") == 1
    assert telegram_length("a😀b") == 4


# -- the answer and its sources --


def test_answer_with_sources_exact_output(en: Translator) -> None:
    sources = [
        SourceRef("Guide", url='https://example.org/a?b=1&c="2"', section="Setup"),
        SourceRef("FAQ", section="FAQ"),
    ]
    [part] = render_answer("Use <b> & x<y [1][2].", sources, en)
    assert part.html == (
        "Use &lt;b&gt; &amp; x&lt;y [1][2].\n\n<b>Sources:</b>\n"
        '[1] <a href="https://example.org/a?b=1&amp;c=&quot;2&quot;">Guide › Setup</a>\n'
        "[2] FAQ"
    )
    assert part.plain == "Use <b> & x<y [1][2].\n\nSources:\n[1] Guide › Setup\n[2] FAQ"
    assert view(part.html).links == ['https://example.org/a?b=1&c="2"']


def test_the_sources_header_is_translated(i18n: I18n) -> None:
    [part] = render_answer("Ответ [1].", [SourceRef("Справка")], i18n.get("ru"))
    assert part.html == "Ответ [1].\n\n<b>Источники:</b>\n[1] Справка"


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", "tg://resolve?domain=x", "ftp://example.org/f", "https://", "http://a b/c"]
)
def test_only_web_urls_become_links(en: Translator, url: str) -> None:
    [part] = render_answer("Answer.", [SourceRef("Doc <1>", url=url)], en)
    assert "<a" not in part.html
    assert part.html.endswith("[1] Doc &lt;1&gt;")


def test_titles_and_sections_are_escaped(en: Translator) -> None:
    [part] = render_answer("A.", [SourceRef("R&D <team>", url="http://x.org", section="a>b")], en)
    assert '<a href="http://x.org">R&amp;D &lt;team&gt; › a&gt;b</a>' in part.html
    assert_sendable([part])


def test_long_source_labels_are_shortened(en: Translator) -> None:
    [part] = render_answer("A.", [SourceRef("T" * 1000, url="https://x.org")], en)
    line = part.plain.splitlines()[-1]
    assert line.endswith("…") and telegram_length(line) == len("[1] ") + SOURCE_LABEL_LIMIT
    assert_sendable([part])


def test_no_sources_no_block(en: Translator) -> None:
    assert render_answer("Just this.", [], en) == [Rendered("Just this.", "Just this.")]
    assert render_answer("  \n ", [], en) == []


def test_sources_alone(en: Translator) -> None:
    [part] = render_answer("", [SourceRef("Doc")], en)
    assert part.html == "<b>Sources:</b>\n[1] Doc"


def test_sources_that_do_not_fit_after_the_answer_move_whole_to_a_new_message(en: Translator) -> None:
    answer = "word " * 815  # 4074 characters after stripping: room for "[1] One" but not the whole block
    parts = render_answer(answer, [SourceRef("One"), SourceRef("Two")], en)
    assert_sendable(parts)
    assert [p.html for p in parts] == [answer.strip(), "<b>Sources:</b>\n[1] One\n[2] Two"]


def test_many_sources_spill_over_balanced(en: Translator) -> None:
    sources = [SourceRef(f"Source {n} " + "x" * 300, url=f"https://example.org/{n}") for n in range(60)]
    parts = render_answer("Short answer.", sources, en)
    assert len(parts) >= 3
    assert_sendable(parts)
    assert parts[0].plain.startswith("Short answer.\n\nSources:\n[1] Source 0 ")
    assert sum(p.html.count("<b>") for p in parts) == 1
    numbers = re.findall(r"^\[(\d+)\]", "\n".join(p.plain for p in parts), flags=re.MULTILINE)
    assert numbers == [str(n) for n in range(1, 61)]


# -- splitting --

SENTENCES_EN = [
    "The bot answers from the knowledge base you keep training.",
    "Use <b>otvet ingest</b> to add documents & FAQs [1].",
    "If x<y and y<z, then x<z holds as well.",
    "Citations such as [2] stay plain text, and &amp; is shown literally!",
    "Emoji like 😀 work too, and each of them counts as two units?",
]
SENTENCES_RU = [
    "Бот отвечает по базе знаний, которую вы пополняете.",
    "Команда <b>otvet ingest</b> добавляет документы & ответы [1].",
    "Если x<y, то ответ короткий; иначе он делится на части.",
    "Ссылки вида [3] остаются текстом, а символ & не ломает разметку.",
    "Эмодзи 🚀 занимает две единицы UTF-16, и это учитывается!",
]


def long_answer() -> tuple[str, list[str]]:
    """About 10,000 characters: short paragraphs, and one paragraph longer than a whole message."""
    sentences: list[str] = []
    paragraphs: list[str] = []
    pool = SENTENCES_EN + SENTENCES_RU
    n = 0
    while sum(len(p) + 2 for p in paragraphs) < 10_000:
        size = 80 if len(paragraphs) == 3 else 4 + len(paragraphs) % 3  # paragraph 3 is over 4096
        paragraph = [f"{pool[(n + i) % len(pool)]}" for i in range(size)]
        n += size
        sentences.extend(paragraph)
        paragraphs.append(" ".join(paragraph))
    return "\n\n".join(paragraphs), paragraphs


def test_a_long_answer_splits_on_paragraphs_and_sentences_within_the_limit(en: Translator) -> None:
    answer, paragraphs = long_answer()
    assert len(answer) >= 10_000 and any(telegram_length(p) > MESSAGE_LIMIT for p in paragraphs)
    sources = [SourceRef("Guide", url="https://example.org/guide", section="Ingest"), SourceRef("FAQ")]
    parts = render_answer(answer, sources, en)

    assert len(parts) >= 3
    assert_sendable(parts)
    # Rejoined, the parts are the answer and the sources block; only whitespace at the cuts differs.
    assert words(" ".join(p.plain for p in parts)) == words(answer) + words(
        "Sources:\n[1] Guide › Ingest\n[2] FAQ"
    )
    # A paragraph that fits in a message is never split; neither is any sentence (all are short).
    for paragraph in paragraphs:
        if telegram_length(paragraph) <= MESSAGE_LIMIT:
            assert any(paragraph in p.plain for p in parts), paragraph[:40]
    # Every cut is between sentences: each part starts with a sentence and its answer text ends with one.
    pool = SENTENCES_EN + SENTENCES_RU
    for part in parts:
        text = part.plain.partition("\n\nSources:")[0]
        assert any(text.startswith(s) for s in pool) and any(text.endswith(s) for s in pool), text[-60:]
    assert parts[-1].plain.endswith("Sources:\n[1] Guide › Ingest\n[2] FAQ")


def test_length_is_counted_in_utf16_units_not_characters() -> None:
    text = "😀" * 3000  # 3000 characters, 6000 Telegram units, no place to cut but between emoji
    parts = split_text(text)
    assert [len(p) for p in parts] == [2048, 952]
    assert all(telegram_length(p) <= MESSAGE_LIMIT for p in parts)
    assert "".join(parts) == text


def test_an_answer_under_4096_characters_can_still_be_too_long(en: Translator) -> None:
    answer = "🚀 " * 1500  # 3000 characters but 4500 units
    parts = render_answer(answer, [], en)
    assert len(parts) == 2
    assert_sendable(parts)


def test_escaping_does_not_count_and_never_splits_an_entity(en: Translator) -> None:
    answer = "&<>" * 2000  # 6000 visible characters, 26,000 characters of HTML
    parts = render_answer(answer, [], en)
    assert [telegram_length(p.plain) for p in parts] == [4096, 1904]
    assert_sendable(parts)
    assert "".join(p.plain for p in parts) == answer


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        # Paragraph breaks first, even when a sentence end would fill the message better.
        ("One two. Three four.\n\nFive six. Seven.", 30, ["One two. Three four.", "Five six. Seven."]),
        # Then line breaks.
        ("- item one\n- item two\n- item three", 22, ["- item one\n- item two", "- item three"]),
        # Then sentence ends, also after a citation marker or a closing quote.
        ("Alpha beta gamma. Delta epsilon zeta.", 30, ["Alpha beta gamma.", "Delta epsilon zeta."]),
        ("It is set.[1] Then it runs.", 20, ["It is set.[1]", "Then it runs."]),
        ('He said "go." Then he went.', 20, ['He said "go."', "Then he went."]),
        ("Это первое. Это второе предложение.", 25, ["Это первое.", "Это второе предложение."]),
        # Then spaces.
        ("alpha beta gamma delta", 12, ["alpha beta", "gamma delta"]),
        # A hard cut only inside a word longer than the limit.
        ("abcdefghij", 4, ["abcd", "efgh", "ij"]),
        ("ab 😀😀😀", 5, ["ab", "😀😀", "😀"]),
        # Text that fits is returned as is, stripped.
        ("  fits  ", 10, ["fits"]),
        ("", 10, []),
    ],
)
def test_split_text_prefers_natural_boundaries(text: str, limit: int, expected: list[str]) -> None:
    assert split_text(text, limit) == expected


def test_abbreviations_in_lower_case_are_not_sentence_ends() -> None:
    assert split_text("Use e.g. this one. Next sentence.", 25) == ["Use e.g. this one.", "Next sentence."]


def test_split_text_refuses_a_limit_too_small_for_an_astral_character() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        split_text("😀", 1)


# -- streaming --


def test_partial_text_is_escaped_whole_when_it_fits() -> None:
    assert render_partial("a <b> & c [1]") == "a &lt;b&gt; &amp; c [1]"
    assert render_partial("") == ""


def test_partial_text_keeps_the_head_and_ends_with_an_ellipsis() -> None:
    text = "Начало. " + "<b> & 😀 " * 2000
    html = render_partial(text)
    visible = shown(html)
    assert visible.endswith("…") and visible.startswith("Начало. <b> & 😀")
    assert MESSAGE_LIMIT - 2 <= telegram_length(visible) <= MESSAGE_LIMIT
    assert text.startswith(visible[:-1])


def test_partial_text_at_exactly_the_limit_is_not_cut() -> None:
    text = "x" * (MESSAGE_LIMIT - 2) + "😀"
    assert render_partial(text) == text
    assert render_partial(text + "y").endswith("x…")


def test_what_a_voice_message_said_is_shown_escaped_in_italics_and_cut_when_long() -> None:
    said = heard("<b>Как</b> & что?\n")
    assert said == Rendered("🎤 <i>&lt;b&gt;Как&lt;/b&gt; &amp; что?</i>", "🎤 <b>Как</b> & что?")
    long = heard("слово " * 1000, limit=100)
    assert long.plain.endswith("…") and telegram_length(long.plain) <= 100 + telegram_length("🎤 ")
    assert long.html == f"🎤 <i>{escape(long.plain.removeprefix('🎤 '))}</i>"


def test_a_prefix_joins_the_first_part_when_both_fit_else_goes_first_alone() -> None:
    prefix, parts = heard("Hi?"), [Rendered("<b>A</b>", "A"), Rendered("B", "B")]
    assert prefixed(prefix, parts) == [Rendered("🎤 <i>Hi?</i>\n\n<b>A</b>", "🎤 Hi?\n\nA"), parts[1]]
    full = [Rendered("x" * MESSAGE_LIMIT, "x" * MESSAGE_LIMIT)]
    assert prefixed(prefix, full) == [prefix, *full]
    assert prefixed(prefix, []) == [prefix]
