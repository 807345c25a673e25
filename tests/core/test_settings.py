"""Settings from the environment, .env and otvet.toml; secrets stay secret; the examples stay valid."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel, Field, ValidationError

from otvet.config.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_environment_with_nested_sections_and_comma_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTVET_PROVIDER", "openai")
    monkeypatch.setenv("OTVET_LANGUAGES", "ru, en")
    monkeypatch.setenv("OTVET_RETRIEVAL__TOP_K", "9")
    monkeypatch.setenv("OTVET_DISABLE_PLUGINS", "demo,language")
    monkeypatch.setenv("OTVET_PLUGINS", "[]")
    settings = Settings(_env_file=None)
    assert settings.provider == "openai"
    assert settings.languages == ("ru", "en")
    assert settings.retrieval.top_k == 9
    assert settings.disable_plugins == ["demo", "language"]
    assert settings.plugins == []


def test_dotenv_and_toml_with_the_environment_winning(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / ".env").write_text("OTVET_PORT=8100\nOTVET_LOG_LEVEL=DEBUG\n", encoding="utf-8")
    toml = tmp_path / "otvet.toml"
    toml.write_text('port = 8200\nprovider = "from-toml"\n[history]\nmax_messages = 3\n', encoding="utf-8")
    monkeypatch.setenv("OTVET_CONFIG_FILE", str(toml))
    monkeypatch.setenv("OTVET_LOG_LEVEL", "WARNING")
    monkeypatch.chdir(tmp_path)
    settings = Settings()
    assert settings.port == 8100  # .env beats otvet.toml
    assert settings.provider == "from-toml"
    assert settings.history.max_messages == 3
    assert settings.log_level == "WARNING"  # the environment beats .env


def test_the_database_url_is_a_secret_and_defaults_to_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, database_url="postgres://otvet:hunter2@db/otvet")
    assert "hunter2" not in repr(settings) and "hunter2" not in str(settings.model_dump())
    assert settings.resolved_database_url == "postgres://otvet:hunter2@db/otvet"
    local = Settings(_env_file=None, data_dir=tmp_path)
    assert local.resolved_database_url == f"sqlite:///{tmp_path.resolve()}/otvet.db"


class Greeting(BaseModel):
    class Loud(BaseModel):
        times: int = 1

    greeting: str = "hi"
    times: int = 1
    loud: Loud = Field(default_factory=Loud)


def test_a_plugins_settings_come_from_its_own_prefix_typed_by_its_model(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OTVET_GREETER__TIMES", "3")
    monkeypatch.setenv("OTVET_GREETER__LOUD__TIMES", "2")
    settings = Settings(_env_file=None)
    read = settings.for_plugin("greeter", Greeting)
    assert type(read) is Greeting
    assert read == Greeting(times=3, loud=Greeting.Loud(times=2))
    assert settings.for_plugin("absent", Greeting) == Greeting()
    monkeypatch.setenv("OTVET_GREETER__TIMES", "many")
    with pytest.raises(ValidationError, match=r"Greeting\ntimes"):
        Settings(_env_file=None).for_plugin("greeter", Greeting)


def test_a_plugins_settings_in_otvet_toml_and_the_older_section_rank_below_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "otvet.toml"
    config.write_text('[greeter]\ngreeting = "privet"\ntimes = 2\n[greeter.loud]\n', encoding="utf-8")
    monkeypatch.setenv("OTVET_CONFIG_FILE", str(config))
    monkeypatch.setenv("OTVET_PLUGIN_SETTINGS__GREETER__GREETING", "older")
    monkeypatch.setenv("OTVET_PLUGIN_SETTINGS__GREETER__LOUD__TIMES", "5")
    assert Settings(_env_file=None).for_plugin("greeter", Greeting) == Greeting(
        greeting="privet", times=2, loud=Greeting.Loud(times=5)
    )
    monkeypatch.setenv("OTVET_GREETER__TIMES", "7")
    (tmp_path / ".env").write_text("OTVET_GREETER__GREETING=from-dotenv\n", encoding="utf-8")
    assert Settings().for_plugin("greeter", Greeting) == Greeting(
        greeting="from-dotenv", times=7, loud=Greeting.Loud(times=5)
    )


@pytest.mark.parametrize("value", ["-1", "70000", "port"])
def test_invalid_values_are_refused_by_name(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("OTVET_PORT", value)
    with pytest.raises(ValidationError, match="port"):
        Settings(_env_file=None)


def test_the_example_files_are_valid_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    defaults = Settings(_env_file=None).model_dump()
    from_env = Settings(_env_file=ROOT / "config" / "example.env")
    monkeypatch.setenv("OTVET_CONFIG_FILE", str(ROOT / "config" / "otvet.example.toml"))
    from_toml = Settings(_env_file=None)
    # The examples document the defaults: if a default changes, they must change with it.
    assert from_env.model_dump() == defaults
    assert from_toml.model_dump() == defaults


def test_widget_origins_come_as_a_comma_list_or_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTVET_WIDGET__ALLOWED_ORIGINS", "https://Shop.example/, https://www.shop.example")
    assert Settings(_env_file=None).widget.allowed_origins == [
        "https://shop.example",
        "https://www.shop.example",
    ]
    monkeypatch.setenv("OTVET_WIDGET__ALLOWED_ORIGINS", '["*"]')
    assert Settings(_env_file=None).widget.allowed_origins == ["*"]
