"""A third-party storage backend, installed as a plugin of its own, takes over the conversations role (and
usage and feedback, which follow it) while knowledge and jobs stay on SQLite: ``otvet ask`` answers through
it, and Otvet's code knows nothing of it. The same backend passes the contract suite in-process
(tests/plugins/test_storage_contract.py)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.support.cli import clean_env, run_otvet
from tests.support.plugins import FIXTURES, pip_install


@pytest.fixture(scope="module")
def store_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return pip_install(FIXTURES / "otvet-memory-store", tmp_path_factory.mktemp("site"))


def env_with_backend(tmp_path: Path, site: Path, **extra: str) -> dict[str, str]:
    env = clean_env(tmp_path / "data")
    env.pop("OTVET_PLUGINS")  # every installed plugin, as a user's installation loads them
    env["PYTHONPATH"] = str(site)
    env.update(extra)
    return env


def counts(data_dir: Path) -> dict[str, int]:
    with sqlite3.connect(data_dir / "otvet.db") as db:
        return {
            table: db.execute(f"SELECT count(*) FROM otvet_{table}").fetchone()[0]
            for table in ("user", "conversation", "message", "knowledge_version")
        }


def test_the_backend_is_listed_as_an_installed_plugin(store_site: Path, tmp_path: Path) -> None:
    result = run_otvet("plugins", "--json", env=env_with_backend(tmp_path, store_site), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    plugin = {p["name"]: p for p in json.loads(result.stdout)}["memory_store"]
    assert (plugin["builtin"], plugin["hooks"]) == (False, ["register_storage"])


def test_otvet_ask_answers_with_conversations_kept_by_the_plugin(store_site: Path, tmp_path: Path) -> None:
    env = env_with_backend(tmp_path, store_site, OTVET_STORAGE_ROLES__CONVERSATIONS="memory")
    result = run_otvet("ask", "--json", "How do I connect Telegram?", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "BotFather" in json.loads(result.stdout)["text"]
    # The demo knowledge version is in SQLite; the user, conversation and messages are not.
    assert counts(tmp_path / "data") == {"user": 0, "conversation": 0, "message": 0, "knowledge_version": 1}

    env.pop("OTVET_STORAGE_ROLES__CONVERSATIONS")
    again = run_otvet("ask", "--json", "How do I connect Telegram?", env=env, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert counts(tmp_path / "data") == {"user": 1, "conversation": 1, "message": 2, "knowledge_version": 1}


def test_a_role_the_backend_does_not_serve_is_refused_by_name(store_site: Path, tmp_path: Path) -> None:
    env = env_with_backend(tmp_path, store_site, OTVET_STORAGE_ROLES__JOBS="memory")
    result = run_otvet("ask", "hello", env=env, cwd=tmp_path)
    assert result.returncode != 0
    assert "storage backend 'memory' does not serve the 'jobs' role" in result.stderr
    assert "OTVET_STORAGE_ROLES__JOBS" in result.stderr
