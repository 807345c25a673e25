"""Catch settings Otvet would silently ignore: ``OTVET_*`` variables (environment or ``.env``) and config-file
keys it does not know, each with the closest name it does; and a readable account of the settings in use
(``otvet config``), secrets masked.
"""

from __future__ import annotations

import difflib
import os
import tomllib
import typing
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr

from otvet.config.settings import Settings, config_file

PREFIX = "OTVET_"
#: Variables Otvet reads that are not settings fields.
EXTRA_VARIABLES = frozenset({"OTVET_CONFIG_FILE"})
#: Variable prefixes of the test suite and benchmarks, not of users.
IGNORED_PREFIXES = ("OTVET_TEST_", "OTVET_BENCH_")
#: Fields whose contents are free-form (a plugin's section, as first spelt).
FREE_FORM = frozenset({"plugin_settings"})


def _section(annotation: Any) -> type[BaseModel] | None:
    """The model class of a settings section, or None for a plain value."""
    for candidate in (annotation, *typing.get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _names(model: type[BaseModel], path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every setting's path (``("telegram", "token")``), sections included."""
    for name, field in model.model_fields.items():
        yield (*path, name)
        section = _section(field.annotation)
        if section is not None and name not in FREE_FORM:
            yield from _names(section, (*path, name))


def known_variables() -> set[str]:
    return {PREFIX + "__".join(part.upper() for part in path) for path in _names(Settings)} | EXTRA_VARIABLES


def unknown_variables(names: Iterable[str], plugins: Iterable[str] = ()) -> list[str]:
    """Warnings for ``OTVET_*`` names that set nothing, each naming the closest setting."""
    known = known_variables()
    # A plugin's own section (OTVET_<PLUGIN>__*) is the plugin's to read, unless a built-in section of the
    # same name (the telegram plugin's settings are Otvet's own) says what is in it.
    sections = set(Settings.model_fields) - FREE_FORM
    open_prefixes = tuple(
        f"{PREFIX}{name.upper()}__" for name in (*FREE_FORM, *plugins) if name not in sections
    )
    warnings = []
    for name in sorted(set(names)):
        if (
            not name.startswith(PREFIX)
            or name in known
            or name.startswith(IGNORED_PREFIXES)
            or name.startswith(open_prefixes)
        ):
            continue
        warnings.append(f"{name} is not a setting Otvet knows{_closest(name, known)}; it is ignored")
    return warnings


def unknown_keys(table: Mapping[str, Any], where: str, plugins: Iterable[str] = ()) -> list[str]:
    """Warnings for keys and tables of a config file that set nothing, each naming the closest."""
    return list(_unknown_keys(table, Settings, (), where, frozenset(plugins)))


def _unknown_keys(
    table: Mapping[str, Any],
    model: type[BaseModel],
    path: tuple[str, ...],
    where: str,
    plugins: frozenset[str],
) -> Iterator[str]:
    fields = model.model_fields
    for key, value in table.items():
        if not path and key in plugins and key not in fields:
            continue  # a plugin's own table, which the plugin reads (Settings.for_plugin)
        if key not in fields:
            is_table = isinstance(value, dict)
            kind = "table" if is_table else "setting"
            match = difflib.get_close_matches(key, list(fields), n=1, cutoff=0.6)
            close = f" (did you mean {_spelt((*path, match[0]), table=is_table)}?)" if match else ""
            shown = _spelt((*path, key), table=is_table)
            yield f"{where}: {shown} is not a {kind} Otvet knows{close}; it is ignored"
            continue
        section = _section(fields[key].annotation)
        if section is not None and key not in FREE_FORM and isinstance(value, dict):
            yield from _unknown_keys(value, section, (*path, key), where, plugins)


def _spelt(path: tuple[str, ...], *, table: bool) -> str:
    joined = ".".join(path)
    return f"[{joined}]" if table else joined


def _closest(name: str, known: Iterable[str]) -> str:
    match = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f" (did you mean {match[0]}?)" if match else ""


def dotenv_names(path: Path = Path(".env")) -> list[str]:
    """The variable names a ``.env`` file sets (``NAME=value`` lines; ``export`` allowed)."""
    if not path.is_file():
        return []
    names = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        line = line.strip().removeprefix("export ").strip()
        if line and not line.startswith("#") and "=" in line:
            names.append(line.split("=", 1)[0].strip())
    return names


def setting_warnings(plugins: Iterable[str] = ()) -> list[str]:
    """Everything the environment, ``.env`` and the config file set that Otvet will not read."""
    plugins = list(plugins)
    warnings = unknown_variables([*os.environ, *dotenv_names()], plugins)
    path = config_file()
    if path.is_file():
        with path.open("rb") as file:
            warnings += unknown_keys(tomllib.load(file), str(path), plugins)
    return warnings


def changed_settings(settings: Settings) -> list[tuple[str, str]]:
    """``(OTVET_NAME, value)`` of every setting that differs from its default, secrets masked."""
    defaults = Settings.model_construct()
    return sorted(_changed(settings, defaults, ()))


def _changed(current: BaseModel, default: BaseModel, path: tuple[str, ...]) -> Iterator[tuple[str, str]]:
    for name, field in type(current).model_fields.items():
        value, base = getattr(current, name), getattr(default, name, None)
        if isinstance(value, BaseModel) and isinstance(base, BaseModel) and _section(field.annotation):
            yield from _changed(value, base, (*path, name))
        elif value != base:
            variable = PREFIX + "__".join(part.upper() for part in (*path, name))
            yield variable, _shown(value)


def _shown(value: Any) -> str:
    if isinstance(value, SecretStr):
        return "********" if value.get_secret_value() else ""
    if isinstance(value, list | tuple):
        return ",".join(str(item) for item in value)
    return str(value)
