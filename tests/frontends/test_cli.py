"""The ``otvet`` command, run as a real process on a fresh data directory."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.support.cli import clean_env, run_otvet


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A data dir that has been through ``otvet migrate`` and a first question (which loads the demo)."""
    work = tmp_path_factory.mktemp("cli")
    env = clean_env(work / "data")
    result = run_otvet("migrate", env=env, cwd=work)
    assert result.returncode == 0, result.stderr
    assert "up to date" in result.stdout
    return work, env


def test_ask_in_russian_answers_from_the_demo_knowledge_base_in_russian(demo_dir: tuple[Path, dict]) -> None:
    work, env = demo_dir
    result = run_otvet("ask", "Как добавить обучающие данные?", env=env, cwd=work)
    assert result.returncode == 0, result.stderr
    answer, _, sources = result.stdout.partition("Источники:")
    assert "otvet ingest" in answer
    assert "[1]" in answer
    assert "Обучающие данные" in sources or "обучающие данные" in sources.lower()


def test_ask_in_english_answers_in_english_with_sources(demo_dir: tuple[Path, dict]) -> None:
    work, env = demo_dir
    result = run_otvet("ask", "How do I connect Telegram?", env=env, cwd=work)
    assert result.returncode == 0, result.stderr
    answer, _, sources = result.stdout.partition("Sources:")
    assert "BotFather" in answer
    assert "Connecting Telegram" in sources


def test_ask_with_the_default_retrieval_matches_brands_written_in_cyrillic(tmp_path: Path) -> None:
    """The README's first questions with nothing configured: the local embedder, synonyms and the other
    alphabet's spelling all in the real command ("телеграм" is written "Telegram" in the knowledge base)."""
    env = clean_env(tmp_path / "data")
    del env["OTVET_RETRIEVAL__EMBEDDER"]  # the default, as a user gets it
    result = run_otvet("ask", "--json", "как подключить телеграм?", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    final = json.loads(result.stdout)
    assert final["grounded"] and final["text"].startswith(
        "Чтобы подключить Telegram, создайте бота через @BotFather"
    )
    off_topic = run_otvet("ask", "--json", "What is the boiling point of mercury?", env=env, cwd=tmp_path)
    assert not json.loads(off_topic.stdout)["grounded"]


def test_arguments_and_file_names_that_are_not_utf8_are_refused_clearly(
    demo_dir: tuple[Path, dict], tmp_path: Path
) -> None:
    """A Latin-1 terminal sends "é" as the byte 0xE9, which Python hands over as a lone surrogate. A question
    or key name holding one failed deep inside (a traceback, or "could not find a free API key prefix"); a
    file so named failed the whole ingest with a traceback."""
    work, env = demo_dir
    for args in (("ask", "Caf\udce9?"), ("key", "create", "caf\udce9", "--scope", "ask")):
        result = run_otvet(*args, env=env, cwd=work)  # subprocess passes "\udce9" as the byte 0xE9
        assert result.returncode == 2, result
        assert "('Caf\ufffd?') is not UTF-8 text" in result.stderr or "('caf\ufffd')" in result.stderr
        assert "set the terminal to UTF-8" in result.stderr and "Traceback" not in result.stderr
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / os.fsdecode(b"caf\xe9.md")).write_text("# Caf\u00e9\n\nOpen at nine.\n")
    (folder / "good.md").write_text("# Good\n\nA good file.\n")
    result = run_otvet("ingest", str(folder), env=env, cwd=tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result
    output = result.stdout + result.stderr
    assert "Nothing was added" in output and "docs/caf\ufffd.md: the file name is not UTF-8 text" in output


def test_a_question_outside_the_knowledge_base_gets_a_localized_i_dont_know(
    demo_dir: tuple[Path, dict],
) -> None:
    work, env = demo_dir
    english = run_otvet("ask", "What is the boiling point of mercury?", env=env, cwd=work)
    russian = run_otvet("ask", "Какая температура кипения ртути?", env=env, cwd=work)
    assert english.returncode == 0 and russian.returncode == 0
    assert "I don't know" in english.stdout and "Sources:" not in english.stdout
    assert "не знаю" in russian.stdout and "Источники:" not in russian.stdout


def test_ask_json_gives_the_final_event(demo_dir: tuple[Path, dict]) -> None:
    work, env = demo_dir
    result = run_otvet("ask", "--json", "Which languages does Otvet speak?", env=env, cwd=work)
    assert result.returncode == 0, result.stderr
    final = json.loads(result.stdout)
    assert final["type"] == "final" and final["language"] == "en"
    assert "Russian and English" in final["text"]
    assert final["sources"][0]["title"] == "Otvet FAQ"


def test_ask_with_an_unknown_language_is_a_clear_error(demo_dir: tuple[Path, dict]) -> None:
    work, env = demo_dir
    result = run_otvet("ask", "--lang", "xx", "hello", env=env, cwd=work)
    assert result.returncode == 2
    assert "--lang" in result.stderr and "en, ru" in result.stderr


def test_ingest_adds_files_and_answers_from_them_then_skips_unchanged(tmp_path: Path) -> None:
    env = clean_env(tmp_path / "data", OTVET_LOAD_DEMO="false")
    (tmp_path / "kb").mkdir()
    (tmp_path / "kb" / "office.md").write_text(
        "# Office\n\nThe office opens at nine and closes at six.\n", encoding="utf-8"
    )
    (tmp_path / "kb" / "faq.csv").write_text(
        "question,answer\nWho is the manager?,Anna Petrova manages the office.\n", encoding="utf-8"
    )
    first = run_otvet("ingest", "kb", env=env, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "added     kb/office.md" in first.stdout and "added     kb/faq.csv" in first.stdout
    assert "Knowledge version 1 is active: 2 chunks from 2 sources." in first.stdout

    answer = run_otvet("ask", "When does the office open?", env=env, cwd=tmp_path)
    assert "nine" in answer.stdout and "Office" in answer.stdout
    manager = run_otvet("ask", "who is the manager", env=env, cwd=tmp_path)
    assert manager.stdout.startswith("Anna Petrova manages the office.")

    again = run_otvet("ingest", "kb", env=env, cwd=tmp_path)
    assert again.returncode == 0
    assert "unchanged kb/office.md" in again.stdout
    assert "Nothing changed" in again.stdout


def test_ingest_with_a_bad_file_adds_nothing_and_names_the_problem(tmp_path: Path) -> None:
    env = clean_env(tmp_path / "data", OTVET_LOAD_DEMO="false")
    (tmp_path / "good.md").write_text("# Good\n\nGood content.\n", encoding="utf-8")
    (tmp_path / "bad.csv").write_text("question,answer\nWhat?,\n", encoding="utf-8")
    (tmp_path / "broken.json").write_text('[{"question": "a", "answer": "b"},', encoding="utf-8")
    result = run_otvet("ingest", "good.md", "bad.csv", "broken.json", "missing.md", env=env, cwd=tmp_path)
    assert result.returncode == 1
    assert "Nothing was added" in result.stderr
    assert "bad.csv:2: the answer is empty" in result.stderr
    assert "broken.json:1: is not valid JSON" in result.stderr
    assert "missing.md: no such file or folder" in result.stderr
    ask = run_otvet("ask", "--json", "good content?", env=env, cwd=tmp_path)
    assert json.loads(ask.stdout)["grounded"] is False  # good.md was not added either


def test_plugins_lists_the_built_in_plugins_with_their_hooks(tmp_path: Path) -> None:
    result = run_otvet("plugins", "--json", env=clean_env(tmp_path), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    plugins = {p["name"]: p for p in json.loads(result.stdout)}
    assert plugins["llm_extractive"]["hooks"] == ["register_providers"]
    assert plugins["language"]["hooks"] == ["detect_language"]
    assert all(p["builtin"] for p in plugins.values())


def test_every_command_has_help(tmp_path: Path) -> None:
    env = clean_env(tmp_path)
    for command in ("serve", "ask", "ingest", "migrate", "plugins"):
        result = run_otvet(command, "--help", env=env, cwd=tmp_path)
        assert result.returncode == 0 and "Usage: otvet" in result.stdout, command


def test_invalid_settings_are_reported_by_name(tmp_path: Path) -> None:
    result = run_otvet("plugins", env=clean_env(tmp_path, OTVET_PORT="not-a-port"), cwd=tmp_path)
    assert result.returncode == 1
    assert "OTVET_PORT" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unknown_provider_is_a_clear_error(tmp_path: Path) -> None:
    result = run_otvet("ask", "hi", env=clean_env(tmp_path, OTVET_PROVIDER="gpt9"), cwd=tmp_path)
    assert result.returncode == 1
    assert "unknown LLM provider 'gpt9'; known: extractive" in result.stderr
    assert "Traceback" not in result.stderr


async def test_migrate_ingest_and_ask_on_each_database(empty_db_url: str, tmp_path: Path) -> None:
    """The same commands a user types, against SQLite and a real PostgreSQL server."""
    env = clean_env(tmp_path / "data", OTVET_DATABASE_URL=empty_db_url, OTVET_AUTO_MIGRATE="false")
    migrated = run_otvet("migrate", env=env, cwd=tmp_path)
    assert migrated.returncode == 0, migrated.stderr
    assert "applied otvet.0001_initial" in migrated.stdout
    assert "applied" not in run_otvet("migrate", env=env, cwd=tmp_path).stdout  # nothing left to apply

    (tmp_path / "hours.md").write_text("# Hours\n\nThe library opens at ten.\n", encoding="utf-8")
    ingested = run_otvet("ingest", "hours.md", env=env, cwd=tmp_path)
    assert ingested.returncode == 0, ingested.stderr
    answer = run_otvet("ask", "--json", "When does the library open?", env=env, cwd=tmp_path)
    final = json.loads(answer.stdout)
    assert final["text"] == "The library opens at ten. [1]"
    assert final["sources"][0]["title"] == "Hours"


def test_an_unreachable_database_is_a_clear_error_without_the_password(tmp_path: Path) -> None:
    from tests.support.server import free_port

    url = f"postgres://otvet:hunter2@127.0.0.1:{free_port()}/otvet"
    result = run_otvet("ask", "hi", env=clean_env(tmp_path, OTVET_DATABASE_URL=url), cwd=tmp_path)
    assert result.returncode == 1
    assert "could not open the database at postgres://otvet:***@127.0.0.1" in result.stderr
    assert "hunter2" not in result.stderr and "Traceback" not in result.stderr


def test_an_invalid_log_level_is_refused_clearly(tmp_path: Path) -> None:
    bad_option = run_otvet("--log-level", "LOUD", "plugins", env=clean_env(tmp_path), cwd=tmp_path)
    assert bad_option.returncode == 2 and "'LOUD' is not one of" in bad_option.stderr
    bad_setting = run_otvet("plugins", env=clean_env(tmp_path, OTVET_LOG_LEVEL="loud"), cwd=tmp_path)
    assert bad_setting.returncode == 1 and "OTVET_LOG_LEVEL" in bad_setting.stderr
    assert "Traceback" not in bad_option.stderr + bad_setting.stderr


def test_ingest_replaces_the_demo_and_never_loads_it_into_a_fresh_knowledge_base(tmp_path: Path) -> None:
    env = clean_env(tmp_path / "data")
    (tmp_path / "tea.md").write_text("# Tea\n\nGreen tea is steeped for two minutes.\n", encoding="utf-8")
    first = run_otvet("ingest", "tea.md", env=env, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "Knowledge version 1 is active: 1 chunk from 1 source." in first.stdout

    other = clean_env(tmp_path / "other")
    assert run_otvet("ask", "What is Otvet?", env=other, cwd=tmp_path).returncode == 0  # loads the demo
    replaced = run_otvet("ingest", "tea.md", env=other, cwd=tmp_path)
    assert "removed   the demo knowledge base (10 sources)" in replaced.stdout
    assert "from 1 source." in replaced.stdout


def test_a_failing_plugin_startup_is_reported_as_such(tmp_path: Path) -> None:
    plugin = tmp_path / "site" / "failing_startup.py"
    plugin.parent.mkdir()
    plugin.write_text(
        "from otvet import hookimpl\n\n\n@hookimpl\ndef startup(otvet):\n"
        "    raise RuntimeError('no licence file')\n",
        encoding="utf-8",
    )
    (tmp_path / "site" / "failing_startup-1.0.dist-info").mkdir()
    (tmp_path / "site" / "failing_startup-1.0.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: failing-startup\nVersion: 1.0\n", encoding="utf-8"
    )
    (tmp_path / "site" / "failing_startup-1.0.dist-info" / "entry_points.txt").write_text(
        "[otvet]\nfailing = failing_startup\n", encoding="utf-8"
    )
    env = clean_env(tmp_path / "data", OTVET_PLUGINS="failing", PYTHONPATH=str(tmp_path / "site"))
    result = run_otvet("ask", "hi", env=env, cwd=tmp_path)
    assert result.returncode == 1
    assert "Error: Otvet could not start: no licence file" in result.stderr
    assert "database" not in result.stderr and "Traceback" not in result.stderr
