"""Every mistake a new user makes gets one clear line naming what is wrong and what to do, never a
traceback (``--debug`` shows it): each case runs the real ``otvet`` command."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cli import clean_env, run_otvet

UNREACHABLE = "http://127.0.0.1:9"  # the discard port: nothing listens, the connection is refused at once


def errors(tmp_path: Path, *args: str, cwd: Path | None = None, **env: str) -> tuple[int, str]:
    result = run_otvet(*args, env=clean_env(tmp_path / "data", **env), cwd=cwd or tmp_path)
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output
    return result.returncode, output


def test_a_config_file_that_is_not_toml_is_named_with_the_line(tmp_path: Path) -> None:
    (tmp_path / "bad.toml").write_text('provider = "extractive"\nlanguages = [en, ru]\n', encoding="utf-8")
    code, output = errors(tmp_path, "versions", OTVET_CONFIG_FILE=str(tmp_path / "bad.toml"))
    assert code == 1
    assert (
        output.strip()
        == f"Error: {tmp_path / 'bad.toml'} is not valid TOML: Invalid value (at line 2, column 14)"
    )
    # The same mistake in otvet.toml of the current folder, found without being named.
    (tmp_path / "otvet.toml").write_text("provider = \n", encoding="utf-8")
    code, output = errors(tmp_path, "versions")
    assert code == 1 and output.startswith("Error: otvet.toml is not valid TOML:") and "line 1" in output


def test_a_config_file_named_but_missing_is_an_error(tmp_path: Path) -> None:
    code, output = errors(tmp_path, "versions", OTVET_CONFIG_FILE=str(tmp_path / "nope.toml"))
    assert code == 1 and "OTVET_CONFIG_FILE names" in output and "nope.toml', which is not a file" in output


def test_an_openai_server_that_does_not_answer_is_named_in_one_line_each(tmp_path: Path) -> None:
    code, output = errors(
        tmp_path,
        "ask",
        "How do I connect Telegram?",
        OTVET_OPENAI__BASE_URL=f"{UNREACHABLE}/v1",
        OTVET_FALLBACK_PROVIDER="",
    )
    assert code == 1  # not answered
    lines = output.strip().splitlines()
    assert lines[-1] == "Sorry, I could not answer right now. Please try again in a minute."
    assert len(lines) <= 5, output  # two retries, the failure, the answer
    assert f"OpenAI chat (gpt-4o-mini at {UNREACHABLE}/v1) failed (cannot reach the server" in output
    # With the fallback (the default), the warnings name the server too, and the user gets an answer.
    code, output = errors(
        tmp_path, "ask", "How do I connect Telegram?", OTVET_OPENAI__BASE_URL=f"{UNREACHABLE}/v1"
    )
    assert code == 0 and "BotFather" in output and f"at {UNREACHABLE}/v1" in output


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    env = clean_env(tmp_path / "data", OTVET_OPENAI__BASE_URL=f"{UNREACHABLE}/v1", OTVET_FALLBACK_PROVIDER="")
    result = run_otvet("--debug", "ask", "How do I connect Telegram?", env=env, cwd=tmp_path)
    assert "Traceback" in result.stderr and "APIConnectionError" in result.stderr


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (
            "OTVET_OPENAI__BASE_URL",
            "not-a-url",
            "invalid setting OTVET_OPENAI__BASE_URL: 'not-a-url' is not an",
        ),
        ("OTVET_TELEGRAM__BASE_URL", "api.telegram.org", "invalid setting OTVET_TELEGRAM__BASE_URL:"),
        ("OTVET_PORT", "70000", "invalid setting OTVET_PORT: Input should be less than or equal to 65535"),
        ("OTVET_DATABASE_URL", "garbage", "this is not a database URL: Otvet keeps its data in SQLite"),
        ("OTVET_DATABASE_URL", "mysql://u:secret@db/otvet", "mysql:// databases are not supported"),
    ],
)
def test_a_wrong_setting_is_one_line_naming_it(
    tmp_path: Path, variable: str, value: str, message: str
) -> None:
    code, output = errors(tmp_path, "versions", **{variable: value})
    assert code == 1 and len(output.strip().splitlines()) == 1 and message in output, output
    assert "secret" not in output


def test_an_unreachable_bot_api_is_named(tmp_path: Path) -> None:
    code, output = errors(
        tmp_path, "telegram", OTVET_TELEGRAM__TOKEN="123:abc", OTVET_TELEGRAM__BASE_URL=f"{UNREACHABLE}/bot"
    )
    assert code == 1
    assert (
        output.strip()
        .splitlines()[-1]
        .startswith(f"Error: cannot reach the Telegram Bot API at {UNREACHABLE}/bot (")
    )


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        yield taken.getsockname()[1]


def test_a_port_out_of_range_or_in_use_is_refused_before_serving(tmp_path: Path, busy_port: int) -> None:
    code, output = errors(tmp_path, "serve", "--port", "99999")
    assert code == 2 and "'--port': 99999 is not in the range 0<=x<=65535" in output
    code, output = errors(tmp_path, "serve", "--port", str(busy_port))
    assert code == 1 and "serving on" not in output
    assert output.strip() == (
        f"Error: port {busy_port} on 127.0.0.1 is already in use (another Otvet, or another program): "
        "choose another with --port or OTVET_PORT"
    )


def test_a_service_whose_database_is_unreachable_says_so_before_it_serves(tmp_path: Path) -> None:
    url = "postgres://otvet:hunter2@127.0.0.1:9/otvet"
    code, output = errors(tmp_path, "serve", "--port", "0", OTVET_DATABASE_URL=url)
    assert code == 1 and "serving on" not in output and "hunter2" not in output
    assert (
        output.strip()
        .splitlines()[-1]
        .startswith("Error: Otvet could not open the database at postgres://otvet:***@127.0.0.1:9/otvet: ")
    )
