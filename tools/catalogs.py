"""Catalog upkeep for ``make locales``: English, the source language, gets msgstr = msgid where empty.

Translators then only ever edit real translations (``locales/ru/...``); the test suite fails while any
message is missing or untranslated.
"""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
SOURCE_LANGUAGE = "en"


def fill_source_language(root: Path = ROOT) -> int:
    po = root / "locales" / SOURCE_LANGUAGE / "LC_MESSAGES" / "messages.po"
    with po.open("rb") as fh:
        catalog = read_po(fh, locale=SOURCE_LANGUAGE)
    filled = 0
    for message in catalog:
        if message.id and not message.string:
            message.string = message.id
            filled += 1
    with po.open("wb") as fh:
        write_po(fh, catalog, width=110, omit_header=False)
    return filled


if __name__ == "__main__":
    print(f"{fill_source_language()} English messages filled from their msgid", file=sys.stderr)
