"""A plugin shipped as its own installed package (entry point ``otvet``) adds a provider, a detector, a CLI
command and a GraphQL field, with typed settings of its own, and Otvet's code knows nothing of it."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.support.cli import clean_env, run_otvet
from tests.support.plugins import FIXTURES, pip_install
from tests.support.server import service


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example plugin installed with pip into a folder of its own (no network: no build isolation)."""
    return pip_install(FIXTURES / "otvet-example-plugin", tmp_path_factory.mktemp("site"))


def env_with_plugin(tmp_path: Path, site: Path, **extra: str) -> dict[str, str]:
    env = clean_env(tmp_path / "data")
    env.pop("OTVET_PLUGINS")  # load every installed plugin, as a user's installation does
    env["PYTHONPATH"] = str(site)
    env.update(extra)
    return env


def test_otvet_plugins_lists_the_installed_plugin_with_its_hooks(plugin_site: Path, tmp_path: Path) -> None:
    result = run_otvet("plugins", "--json", env=env_with_plugin(tmp_path, plugin_site), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    plugins = {p["name"]: p for p in json.loads(result.stdout)}
    example = plugins["example"]
    assert example["builtin"] is False
    assert example["version"] == "1.2.3"
    assert example["hooks"] == [
        "detect_language",
        "register_commands",
        "register_graphql",
        "register_providers",
    ]


def test_the_plugin_provider_and_detector_answer(plugin_site: Path, tmp_path: Path) -> None:
    env = env_with_plugin(tmp_path, plugin_site, OTVET_PROVIDER="example")
    result = run_otvet("ask", "--json", "privet, kak dela s Telegram?", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    final = json.loads(result.stdout)
    assert final["provider"] == "example"
    assert final["language"] == "ru"  # the plugin's detector, not the script heuristic (Latin letters)
    assert final["text"].startswith("[example/ru] ")


def test_the_allow_list_can_leave_the_plugin_out(plugin_site: Path, tmp_path: Path) -> None:
    env = env_with_plugin(tmp_path, plugin_site, OTVET_PLUGINS="[]")
    result = run_otvet("plugins", "--json", env=env, cwd=tmp_path)
    assert "example" not in {p["name"] for p in json.loads(result.stdout)}
    missing = run_otvet(
        "plugins", env=env_with_plugin(tmp_path, plugin_site, OTVET_PLUGINS="nonesuch"), cwd=tmp_path
    )
    assert missing.returncode == 1
    assert "nonesuch" in missing.stderr and "installed: example" in missing.stderr


def test_the_plugin_adds_a_command_that_reads_its_own_typed_settings(
    plugin_site: Path, tmp_path: Path
) -> None:
    env = env_with_plugin(tmp_path, plugin_site, OTVET_EXAMPLE__GREETING="Privet")
    result = run_otvet("example-greet", "Ann", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "Privet, Ann!"
    helped = run_otvet("--help", env=env_with_plugin(tmp_path, plugin_site), cwd=tmp_path)
    assert "example-greet" in helped.stdout


async def test_the_plugin_adds_a_graphql_field(plugin_site: Path, tmp_path: Path) -> None:
    config = tmp_path / "otvet.toml"
    config.write_text('[example]\ngreeting = "Hi"\n', encoding="utf-8")
    env = env_with_plugin(tmp_path, plugin_site, OTVET_CONFIG_FILE=str(config))
    async with service("serve", env, tmp_path, ready_path="/readyz") as serve, httpx.AsyncClient() as client:
        body = {"query": 'query Greet { exampleGreeting(name: "Ann") }', "operationName": "Greet"}
        response = await client.post(f"{serve.base}/graphql", json=body)
    assert response.status_code == 200, response.text
    assert response.json() == {"data": {"exampleGreeting": "Hi, Ann!"}}
