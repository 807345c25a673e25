"""Catalogs: every user-facing string translated into Russian, language negotiation, plurals."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from otvet.core.i18n import I18n
from otvet.plugins.locales import LOCALE_DIR

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def i18n() -> I18n:
    return I18n([LOCALE_DIR], ("en", "ru"), "en")


CATALOG_LANGUAGES = sorted(p.parent.parent.name for p in LOCALE_DIR.glob("*/LC_MESSAGES/messages.po"))


def test_russian_and_english_catalogs_exist() -> None:
    assert {"en", "ru"} <= set(CATALOG_LANGUAGES)


@pytest.mark.parametrize("language", CATALOG_LANGUAGES)
def test_every_extracted_message_is_in_the_catalog_and_translated(language: str) -> None:
    with (ROOT / "locales" / "messages.pot").open("rb") as fh:
        template = read_po(fh)
    with (LOCALE_DIR / language / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        catalog = read_po(fh, locale=language)
    for message in template:
        if not message.id:
            continue
        translated = catalog.get(message.id)
        assert translated is not None, f"{language}: missing {message.id!r} (run make locales)"
        assert translated.string, f"{language}: untranslated {message.id!r}"
        assert not translated.fuzzy, f"{language}: fuzzy {message.id!r}"


def test_template_is_up_to_date_with_the_code(tmp_path: Path) -> None:
    from babel.messages.extract import extract_from_dir

    found = {
        message[2] if isinstance(message[2], str) else message[2][0]
        for message in extract_from_dir(
            str(ROOT),
            method_map=[
                ("**/tests/**.py", "ignore"),
                ("**/.venv/**", "ignore"),
                ("**/bench/**.py", "ignore"),
                ("**.py", "python"),
            ],
        )
    }
    with (ROOT / "locales" / "messages.pot").open("rb") as fh:
        template = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(fh) if m.id}
    assert found - template == set(), "new user-facing strings: run `make locales` and translate them"


def test_translations_and_parameters(i18n: I18n) -> None:
    ru = i18n.get("ru")
    assert ru.gettext("Sources:") == "Источники:"
    assert "4000" in ru.gettext(
        "Your message is too long (more than %(limit)d characters). Please ask a shorter question.",
        limit=4000,
    )
    assert i18n.get("en").gettext("Sources:") == "Sources:"


def test_unknown_languages_fall_back_to_the_default(i18n: I18n) -> None:
    assert i18n.get("de").language == "en"
    assert i18n.get("ru-RU").language == "ru"
    assert i18n.get(None).language == "en"
    assert i18n.languages == ("en", "ru")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("ru", "ru"),
        ("ru-RU", "ru"),
        ("en-US,en;q=0.9,ru;q=0.8", "en"),
        ("de-DE,de;q=0.9,ru;q=0.8,en;q=0.7", "ru"),
        ("en;q=0.1, ru;q=0.5", "ru"),
        ("fr, de", None),
        ("ru;q=0", None),
        ("ru;q=abc", None),
        ("", None),
        (None, None),
    ],
)
def test_negotiate_reads_accept_language_q_values(
    i18n: I18n, header: str | None, expected: str | None
) -> None:
    assert i18n.negotiate(header) == expected


def test_a_po_newer_than_its_mo_is_compiled_in_memory(tmp_path: Path) -> None:
    catalog = tmp_path / "ru" / "LC_MESSAGES"
    catalog.mkdir(parents=True)
    (catalog / "messages.mo").write_bytes(b"not a real mo file, and older")
    po = catalog / "messages.po"
    po.write_text('msgid ""\nmsgstr ""\n\nmsgid "Hi"\nmsgstr "Привет"\n', encoding="utf-8")
    import os

    os.utime(catalog / "messages.mo", (1, 1))
    assert I18n([tmp_path], ("ru",), "en").get("ru").gettext("Hi") == "Привет"
