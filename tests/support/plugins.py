"""Install a package (a plugin from tests/fixtures, Otvet's wheel) as a user would: with pip, into a folder
of its own."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def pip_install(source: Path, target: Path) -> Path:
    """Install ``source`` (a project folder or a wheel) into ``target`` without its dependencies, the network
    or build isolation (setuptools comes from this environment); ``target``, to put on PYTHONPATH."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--target",
            str(target),
            str(source),
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return target
