"""The lock files (requirements/*.txt) agree with pyproject.toml: every dependency is pinned in each file
that installs it, at a version its declared range allows. A range changed without ``make lock`` fails here."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
#: Which extras each lock file holds (requirements/README.md).
LOCKS = {"run.txt": (), "image.txt": ("tracing", "languages"), "test.txt": ("test", "tracing", "languages")}
_PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s;]+)\s*(?:;\s*(.+))?$")


def pins(lock: str) -> dict[str, Version]:
    """The versions ``lock`` installs on this Python and platform (lines whose markers hold here)."""
    found: dict[str, Version] = {}
    for line in (ROOT / "requirements" / lock).read_text().splitlines():
        if match := _PIN.match(line.strip()):
            name, version, marker = match.groups()
            if marker is None or Marker(marker).evaluate():
                found[canonicalize_name(name)] = Version(version)
    return found


def declared(extras: tuple[str, ...]) -> list[Requirement]:
    wanted = [Requirement(r) for r in PROJECT["dependencies"]]
    for extra in extras:
        wanted += [Requirement(r) for r in PROJECT["optional-dependencies"][extra]]
    return [r for r in wanted if r.marker is None or r.marker.evaluate()]


@pytest.mark.parametrize("lock", sorted(LOCKS))
def test_every_dependency_is_locked_within_its_range(lock: str) -> None:
    locked = pins(lock)
    for requirement in declared(LOCKS[lock]):
        name = canonicalize_name(requirement.name)
        assert name in locked, f"{requirement} is not in requirements/{lock}: run make lock"
        assert requirement.specifier.contains(locked[name], prereleases=True), (
            f"requirements/{lock} pins {name}=={locked[name]}, outside {requirement}: run make lock"
        )


def test_the_lock_files_agree_on_every_version() -> None:
    # run.txt and image.txt are resolved within test.txt's versions: what runs is what the suite tested.
    tested = pins("test.txt")
    for lock in ("run.txt", "image.txt"):
        different = {n: (v, tested.get(n)) for n, v in pins(lock).items() if tested.get(n) != v}
        assert not different, f"requirements/{lock} differs from test.txt: {different}"
