"""A plugin shipped as its own installed package (entry point ``otvet``) adds a provider and a detector."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cli import clean_env, run_otvet

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "otvet-example-plugin"


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example plugin installed with pip into a folder of its own (no network: no build isolation)."""
    target = tmp_path_factory.mktemp("site")
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
            str(FIXTURE),
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=180,
    )
    return target


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
    assert example["hooks"] == ["detect_language", "register_providers"]


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
