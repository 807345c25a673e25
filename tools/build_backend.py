"""An in-tree PEP 517 backend: setuptools, after compiling the gettext catalogs (``locales/*.po`` → ``.mo``).

Compiling in the build means a wheel (and an editable install) ships ready ``.mo`` files, and nobody has to
remember a separate ``pybabel compile`` step.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from setuptools import build_meta as _setuptools
from setuptools.build_meta import *  # noqa: F403  (re-export every hook we do not override)

ROOT = Path(__file__).resolve().parent.parent


def compile_catalogs(root: Path = ROOT) -> list[Path]:
    """Compile every ``messages.po`` under ``locales/`` and the plugins into ``messages.mo`` beside it."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    written = []
    for po in sorted(root.glob("**/LC_MESSAGES/*.po")):
        if ".venv" in po.parts or "build" in po.parts:
            continue
        locale = po.parent.parent.name
        with po.open("rb") as fh:
            catalog = read_po(fh, locale=locale)
        mo = po.with_suffix(".mo")
        with mo.open("wb") as fh:
            write_mo(fh, catalog, use_fuzzy=False)
        written.append(mo)
    return written


def build_wheel(
    wheel_directory: str, config_settings: dict[str, Any] | None = None, metadata_directory: str | None = None
) -> str:
    compile_catalogs()
    return _setuptools.build_wheel(wheel_directory, config_settings, metadata_directory)


def build_editable(
    wheel_directory: str, config_settings: dict[str, Any] | None = None, metadata_directory: str | None = None
) -> str:
    compile_catalogs()
    return _setuptools.build_editable(wheel_directory, config_settings, metadata_directory)


def build_sdist(sdist_directory: str, config_settings: dict[str, Any] | None = None) -> str:
    compile_catalogs()
    return _setuptools.build_sdist(sdist_directory, config_settings)


if __name__ == "__main__":
    for path in compile_catalogs():
        print(f"compiled {path.relative_to(ROOT)}")
