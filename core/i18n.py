"""Translations of user-facing strings from gettext catalogs, one :class:`Translator` per language.

Catalogs live in folders registered through the ``register_locale_dirs`` hook, laid out as
``DIR/<lang>/LC_MESSAGES/messages.{po,mo}``. The build compiles ``.mo`` files; when one is missing or older
than its ``.po`` (a source checkout edited by hand), the ``.po`` is compiled in memory instead, so a
translator's edit shows up without a rebuild.
"""

from __future__ import annotations

import gettext
import io
import logging
from collections.abc import Iterable
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

log = logging.getLogger(__name__)

DOMAIN = "messages"


def _load_catalog(directory: Path, language: str) -> gettext.NullTranslations | None:
    base = directory / language / "LC_MESSAGES"
    po, mo = base / f"{DOMAIN}.po", base / f"{DOMAIN}.mo"
    if mo.exists() and (not po.exists() or mo.stat().st_mtime >= po.stat().st_mtime):
        with mo.open("rb") as fh:
            return Translations(fh, domain=DOMAIN)
    if po.exists():
        with po.open("rb") as fh:
            catalog = read_po(fh, locale=language)
        buffer = io.BytesIO()
        write_mo(buffer, catalog)
        buffer.seek(0)
        return Translations(buffer, domain=DOMAIN)
    return None


class Translator:
    """gettext for one language: ``t.gettext("Hello")``, ``t.ngettext("%(n)d file", "%(n)d files", n)``."""

    def __init__(self, language: str, translations: gettext.NullTranslations) -> None:
        self.language = language
        self._translations = translations

    def gettext(self, message: str, **params: object) -> str:
        text = self._translations.gettext(message)
        return text % params if params else text

    def ngettext(self, singular: str, plural: str, n: int, **params: object) -> str:
        text = self._translations.ngettext(singular, plural, n)
        return text % {"n": n, **params}

    __call__ = gettext


class I18n:
    """All catalogs Otvet knows, merged per language; plugin catalogs add to (and may override) core ones."""

    def __init__(self, directories: Iterable[Path], languages: Iterable[str], default_language: str) -> None:
        self.directories = list(directories)
        self.default_language = default_language
        self._translators: dict[str, Translator] = {}
        for language in dict.fromkeys([*languages, default_language]):
            merged: gettext.NullTranslations | None = None
            for directory in self.directories:
                catalog = _load_catalog(directory, language)
                if catalog is None:
                    continue
                if merged is None:
                    merged = catalog
                else:
                    # gettext consults the fallback only for messages the first catalog lacks, so a later
                    # (plugin) directory's catalog goes first to let it override.
                    catalog.add_fallback(merged)
                    merged = catalog
            if merged is None:
                if language != default_language:
                    log.warning(
                        "no %s catalog in %s; %s is not offered", language, self.directories, language
                    )
                    continue
                # The default language may rely on msgids being written in it (English source strings).
                merged = NullTranslations()
            self._translators[language] = Translator(language, merged)

    @property
    def languages(self) -> tuple[str, ...]:
        """Languages that have a catalog, the default first."""
        rest = [lang for lang in self._translators if lang != self.default_language]
        return (self.default_language, *rest)

    def get(self, language: str | None) -> Translator:
        """The translator for ``language``, falling back to the default language."""
        if language and language in self._translators:
            return self._translators[language]
        base = (language or "").replace("_", "-").split("-")[0].lower()
        return self._translators.get(base) or self._translators[self.default_language]

    def negotiate(self, hint: str | None) -> str | None:
        """Pick one of our languages from a client hint: ``ru``, ``en-US``, ``ru-RU,ru;q=0.9,en;q=0.8``."""
        if not hint:
            return None
        candidates: list[tuple[float, int, str]] = []
        for position, part in enumerate(hint.split(",")):
            tag, _, params = part.strip().partition(";")
            quality = 1.0
            for param in params.split(";"):
                key, _, value = param.strip().partition("=")
                if key == "q":
                    try:
                        quality = float(value)
                    except ValueError:
                        quality = 0.0
            if tag and quality > 0:
                candidates.append((-quality, position, tag.strip()))
        for _, _, tag in sorted(candidates):
            base = tag.replace("_", "-").split("-")[0].lower()
            if base in self._translators:
                return base
        return None
