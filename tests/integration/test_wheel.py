"""A plain wheel install: everything under ``otvet/``, catalogs compiled, demo data included, importable."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.support.plugins import pip_install

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(out),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    (found,) = out.glob("otvet-*.whl")
    return found


def test_the_wheel_installs_only_the_otvet_namespace(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/")[0] for name in names}
    assert top == {"otvet", next(t for t in top if t.endswith(".dist-info"))}
    for expected in (
        "otvet/__init__.py",
        "otvet/core/engine.py",
        "otvet/plugins/storage/migrations/0001_initial.py",
        "otvet/locales/ru/LC_MESSAGES/messages.mo",
        "otvet/locales/en/LC_MESSAGES/messages.mo",
        "otvet/plugins/demo/knowledge/ru/training.md",
        "otvet/config/example.env",
        "otvet/testing/storage_contract.py",
        "otvet/frontends/graphql/graphiql/graphiql-3.8.3.min.js.gz",
        "otvet/frontends/graphql/graphiql/index.html",
        "otvet/frontends/widget/static/demo.css",
    ):
        assert expected in names, expected
    assert not any(name.startswith("otvet/tests/") for name in names)


def test_the_installed_wheel_answers_a_question(wheel: Path, tmp_path: Path) -> None:
    target = pip_install(wheel, tmp_path / "site")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTVET_")}
    env.update({"PYTHONPATH": str(target), "OTVET_DATA_DIR": str(tmp_path / "data"), "OTVET_PLUGINS": "[]"})
    code = (
        "import otvet, sys; assert otvet.__file__.startswith(sys.argv[1]), otvet.__file__;"
        "from otvet.frontends.cli.main import main; main(['ask', 'Что такое Otvet?'])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(target)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "Источники:" in result.stdout
