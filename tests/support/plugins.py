"""Install a plugin from tests/fixtures as a user installs one: with pip, into a folder of its own."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def pip_install(name: str, target: Path) -> Path:
    """Install the fixture project ``tests/fixtures/<name>`` into ``target`` (no network, no build isolation:
    setuptools comes from this environment) and return ``target``, to put on PYTHONPATH."""
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
            str(FIXTURES / name),
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=180,
    )
    return target
