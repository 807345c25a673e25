"""Settings that catch mistakes: names Otvet does not know are warned about with the closest real one,
``otvet config`` says what is in use, and a command run away from the data folder says it starts a new one."""

from __future__ import annotations

import json
from pathlib import Path

from otvet.config.check import unknown_keys, unknown_variables
from tests.support.cli import clean_env, run_otvet


def test_misspelt_variables_and_config_keys_are_warned_about_with_the_closest_name(tmp_path: Path) -> None:
    config = tmp_path / "otvet.toml"
    config.write_text(
        'provder = "extractive"\n[retrival]\ntop_k = 3\n[telegram]\ntokn = "x"\n', encoding="utf-8"
    )
    env = clean_env(tmp_path / "data", OTVET_PROVDER="extractive", OTVET_CONFIG_FILE=str(config))
    result = run_otvet("versions", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr  # a warning, not an error: the command still runs
    warnings = [line for line in result.stderr.splitlines() if line.startswith("Warning:")]
    assert warnings == [
        "Warning: OTVET_PROVDER is not a setting Otvet knows (did you mean OTVET_PROVIDER?); it is ignored",
        f"Warning: {config}: provder is not a setting Otvet knows (did you mean provider?); it is ignored",
        f"Warning: {config}: [retrival] is not a table Otvet knows (did you mean [retrieval]?); "
        "it is ignored",
        f"Warning: {config}: telegram.tokn is not a setting Otvet knows (did you mean telegram.token?); "
        "it is ignored",
    ]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert run_otvet("versions", env=clean_env(tmp_path / "data"), cwd=elsewhere).stderr == ""


def test_a_plugins_own_section_is_its_own_but_not_a_built_in_one() -> None:
    assert unknown_variables(["OTVET_EXAMPLE__GREETING", "OTVET_PROVIDER", "OTVET_TEST_X"], ["example"]) == []
    assert unknown_variables(["OTVET_EXAMPLE__GREETING"]) != []  # no such plugin loaded
    # The telegram plugin's settings are a built-in section: a typo in it is still caught.
    assert unknown_variables(["OTVET_TELEGRAM__TOKN"], ["telegram"]) == [
        "OTVET_TELEGRAM__TOKN is not a setting Otvet knows (did you mean OTVET_TELEGRAM__TOKEN?); "
        "it is ignored"
    ]
    assert (
        unknown_keys({"example": {"greeting": "hi"}, "plugin_settings": {"x": {"y": 1}}}, "f", ["example"])
        == []
    )
    assert unknown_variables(["OTVET_STORAGE_ROLES__CONVERSATIONS", "OTVET_PLUGIN_SETTINGS__X__Y"]) == []


def test_otvet_config_shows_what_is_in_use_with_secrets_masked(tmp_path: Path) -> None:
    (tmp_path / "otvet.toml").write_text('provider = "extractive"\n', encoding="utf-8")
    env = clean_env(
        tmp_path / "data",
        OTVET_OPENAI__API_KEY="sk-very-secret",
        OTVET_DATABASE_URL="postgres://otvet:hunter2@db.internal:5432/otvet",
    )
    env.pop("OTVET_CONFIG_FILE", None)
    result = run_otvet("config", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert f"config file:  {tmp_path / 'otvet.toml'}" in out
    assert f"data folder:  {tmp_path / 'data'} (does not exist yet" in out
    assert "database:     postgres://otvet:***@db.internal:5432/otvet" in out
    assert "  OTVET_PROVIDER=extractive" in out and "  OTVET_OPENAI__API_KEY=********" in out
    assert "sk-very-secret" not in out and "hunter2" not in out
    report = json.loads(run_otvet("config", "--json", env=env, cwd=tmp_path).stdout)
    assert report["changed"]["OTVET_PROVIDER"] == "extractive" and report["data_dir_exists"] is False


def test_a_command_away_from_the_data_folder_says_it_starts_a_new_one(tmp_path: Path) -> None:
    env = clean_env(tmp_path / "unused")
    env.pop("OTVET_DATA_DIR")
    result = run_otvet("versions", env=env, cwd=tmp_path)
    assert result.stderr.startswith(
        f"Note: no data folder at {tmp_path / 'data'}: starting a new, empty one."
    )
    again = run_otvet("versions", env=env, cwd=tmp_path)
    assert "Note:" not in again.stderr  # it exists now
