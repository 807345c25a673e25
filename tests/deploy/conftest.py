"""What the deployment tests share: the repository's paths, the external tools they run (kubectl, docker
compose, promtool), and checks of setting names and values against ``otvet.config.settings.Settings``.

No test here needs a container engine, a cluster or the network: manifests are rendered and validated
offline. A missing tool skips its tests, unless ``OTVET_TEST_REQUIRE_DEPLOY_TOOLS=1`` (``make test``, which
installs them first with ``make deploy-tools``) turns the skip into a failure.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from otvet.config.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
KUBERNETES = DEPLOY / "kubernetes"
DOCS = ROOT / "docs" / "deploy"

#: How to get each tool, named in the failure when OTVET_TEST_REQUIRE_DEPLOY_TOOLS=1.
INSTALL_HINTS = {
    "kubectl": "make deploy-tools (apt-get install kubernetes-client), or kubectl from kubernetes.io",
    "docker-compose": "make deploy-tools (apt-get install docker-compose), or the docker compose v2 plugin",
    "promtool": "make deploy-tools (apt-get install prometheus, which ships promtool)",
}


def require_tool(name: str) -> str:
    """The path of ``name``; if missing, skips the test (fails with OTVET_TEST_REQUIRE_DEPLOY_TOOLS=1)."""
    path = shutil.which(name)
    if path:
        return path
    message = f"{name} is not installed: {INSTALL_HINTS[name]}"
    if os.environ.get("OTVET_TEST_REQUIRE_DEPLOY_TOOLS") == "1":
        pytest.fail(message)
    pytest.skip(message)


def compose_command() -> list[str]:
    """``docker compose`` (v2) when the plugin works, else Debian's ``docker-compose`` (1.29)."""
    docker = shutil.which("docker")
    if docker:
        probe = subprocess.run([docker, "compose", "version"], capture_output=True, timeout=30, check=False)
        if probe.returncode == 0:
            return [docker, "compose"]
    return [require_tool("docker-compose")]


def setting_problem(name: str) -> str | None:
    """Why ``name`` (``OTVET_A__B``) is not one of Otvet's settings, or None when it is.

    Settings ignores unknown variables (``extra="ignore"``), so a typo in a manifest would be silently
    dropped at runtime: the name is resolved against the model's fields instead, section by section.
    """
    if not name.startswith("OTVET_"):
        return f"{name} does not start with OTVET_"
    model: type[BaseModel] = Settings
    parts = name.removeprefix("OTVET_").lower().split("__")
    for depth, part in enumerate(parts):
        field = model.model_fields.get(part)
        if field is None:
            return f"{name}: {model.__name__} has no field {part!r}"
        annotation: Any = field.annotation
        if depth == len(parts) - 1:
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                return f"{name} names the whole section {part!r}, not a setting in it"
            return None
        if part == "plugin_settings":
            return None  # free-form sections of third-party plugins
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return f"{name}: {part!r} is a setting, not a section"
        model = annotation
    return None


def settings_from(env: Mapping[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings built from ``env`` as the process environment, exactly as a container would read it: the
    values must validate (a port that is not a number, a log level that does not exist fail here)."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Settings(_env_file=None)  # type: ignore[call-arg]


def read_env_file(path: Path) -> dict[str, str]:
    """``KEY=value`` lines, as ``kubectl create secret --from-env-file`` and compose's env_file read them."""
    values = {}
    for line in path.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep, f"{path.name}: not KEY=value: {line!r}"
        assert key == key.strip() and key, f"{path.name}: spaces around the name in {line!r}"
        values[key] = value
    return values


def cli_commands() -> set[str]:
    """The commands ``otvet`` accepts, plugins' included (``telegram`` and ``finetune`` come from plugins)."""
    from otvet.core.plugins import make_plugin_manager
    from otvet.frontends.cli import (  # noqa: F401  (each import registers its commands)
        admin,
        candidates,
        commands,
        jobs,
        versions,
    )
    from otvet.frontends.cli.main import cli

    make_plugin_manager(allow=[]).hook.register_commands(cli=cli)
    return set(cli.commands)


@dataclass
class Stage:
    """One ``FROM`` of the Dockerfile and the instructions under it, ARGs already substituted."""

    name: str
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def args(self, keyword: str) -> list[str]:
        return [args for word, args in self.instructions if word == keyword]

    def env(self) -> dict[str, str]:
        values: dict[str, str] = {}
        for args in self.args("ENV"):
            for pair in shlex.split(args):
                name, _, value = pair.partition("=")
                values[name] = value
        return values


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(KEYWORD, arguments) pairs as the builder sees them: comments dropped, continuations joined."""
    instructions: list[tuple[str, str]] = []
    pending: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        # Comment lines are dropped, also in the middle of a continued instruction, as docker does.
        if stripped.startswith("#") or (not stripped and not pending):
            continue
        if line.rstrip().endswith("\\"):
            pending.append(line.rstrip()[:-1])
            continue
        pending.append(line)
        word, _, args = "".join(pending).strip().partition(" ")
        instructions.append((word.upper(), args.strip()))
        pending = []
    assert not pending, "the Dockerfile ends in a continuation"
    return instructions


def dockerfile_stages(path: Path = ROOT / "Dockerfile") -> list[Stage]:
    """The stages, with ``${ARG}`` replaced by the ARG defaults in force (global ones only in FROM)."""
    stages: list[Stage] = []
    global_args: dict[str, str] = {}
    stage_args: dict[str, str] = {}

    def substitute(value: str, scope: dict[str, str]) -> str:
        return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: scope.get(m[1] or m[2], m[0]), value)

    for word, args in dockerfile_instructions(path.read_text()):
        if word == "FROM":
            base, _, name = substitute(args, global_args).partition(" AS ")
            stages.append(Stage(name=name.strip() or str(len(stages)), base=base.strip()))
            stage_args = {}
        elif word == "ARG":
            name, has_default, default = args.partition("=")
            scope = stage_args if stages else global_args
            # A bare `ARG NAME` in a stage brings the global default into it.
            scope[name] = default if has_default else global_args.get(name, "")
        elif stages:
            stages[-1].instructions.append((word, substitute(args, {**stage_args})))
    return stages


def final_stage_env() -> dict[str, str]:
    """The environment the image gives every container (the last stage's ENV)."""
    return dockerfile_stages()[-1].env()


@pytest.fixture(scope="session")
def otvet_commands() -> set[str]:
    return cli_commands()
