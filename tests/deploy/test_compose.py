"""deploy/compose.yaml as Docker Compose itself reads it: ``docker compose config`` (or Debian's
docker-compose 1.29) must accept it, and what it resolves to must start the services in the right order,
locked down, with health checks on the ports Otvet listens on and only settings Otvet knows."""

from __future__ import annotations

import os
import re
import subprocess
from typing import Any

import pytest
import yaml

from tests.deploy.conftest import (
    DEPLOY,
    compose_command,
    final_stage_env,
    read_env_file,
    setting_problem,
    settings_from,
)

OTVET_SERVICES = {"migrate": "migrate", "api": "api", "worker": "worker", "telegram": "telegram"}
#: Which port each long-running service's health check must ask (the setting that decides it).
LISTENER = {"api": "port", "worker": "ops", "telegram": "ops"}


def run_config(*extra: str) -> dict[str, Any]:
    # Only what compose needs from the developer's environment: no OTVET_* or POSTGRES_* leaking in.
    env = {key: os.environ[key] for key in ("PATH", "HOME") if key in os.environ}
    done = subprocess.run(
        [*compose_command(), "-f", str(DEPLOY / "compose.yaml"), *extra, "config"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert done.returncode == 0, f"compose rejects deploy/compose.yaml:\n{done.stderr}"
    return yaml.safe_load(done.stdout)


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    return run_config("--profile", "telegram")


def environment(service: dict[str, Any]) -> dict[str, str]:
    """The service's environment (compose merges env_file into it), as strings; both formats handled."""
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.partition("=")[::2] for item in env)
    return {key: "" if value is None else str(value) for key, value in env.items()}


def seconds(duration: str | int | float) -> float:
    """Compose durations: ``45s``, ``1m30s``, or a number of seconds."""
    if isinstance(duration, int | float):
        return float(duration)
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", duration)
    assert parts, f"not a duration: {duration!r}"
    return sum(float(n) * units[u] for n, u in parts)


def container_ports(service: dict[str, Any]) -> set[int]:
    ports = set()
    for port in service.get("ports", []):
        if isinstance(port, dict):
            ports.add(int(port["target"]))
        else:
            ports.add(int(str(port).split("/")[0].rsplit(":", 1)[-1]))
    return ports


def test_the_services_and_their_commands(config: dict[str, Any], otvet_commands: set[str]) -> None:
    services = config["services"]
    assert set(services) == {"postgres", *OTVET_SERVICES}
    for name, command in OTVET_SERVICES.items():
        assert services[name]["command"] == [command], name
        assert command in otvet_commands, f"`otvet {command}` does not exist"
    images = {services[name]["image"] for name in OTVET_SERVICES}
    assert len(images) == 1, f"the Otvet services run different images: {images}"
    # The poller needs a token: it starts only with --profile telegram (and `config` shows it only then).
    assert services["telegram"]["profiles"] == ["telegram"]
    assert 8000 in container_ports(services["api"]), "the api's port is not published"
    assert all(not container_ports(services[name]) for name in ("postgres", "worker", "telegram", "migrate"))


def test_start_order_waits_for_a_healthy_database_and_a_finished_migration(config: dict[str, Any]) -> None:
    services = config["services"]
    postgres = services["postgres"]
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    assert postgres["image"].split(":")[1].startswith("16"), "PostgreSQL 16"
    assert any(
        str(v).startswith("pgdata:") or (isinstance(v, dict) and v.get("source") == "pgdata")
        for v in postgres["volumes"]
    ), "the database is not on the named volume"
    assert "pgdata" in config["volumes"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["migrate"]["restart"] == "no", "a one-shot migration must not restart"
    for name in ("api", "worker", "telegram"):
        depends = services[name]["depends_on"]
        assert depends["postgres"]["condition"] == "service_healthy", name
        assert depends["migrate"]["condition"] == "service_completed_successfully", name


def test_otvet_containers_are_locked_down(config: dict[str, Any]) -> None:
    data_dir = final_stage_env()["OTVET_DATA_DIR"]
    for name in OTVET_SERVICES:
        service = config["services"][name]
        assert service["read_only"] is True, f"{name}: writable root filesystem"
        assert {"/tmp", data_dir} <= {t.split(":")[0] for t in service["tmpfs"]}, f"{name}: no writable tmpfs"
        assert service["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in service["security_opt"], name
        assert "user" not in service or service["user"] not in ("0", "root"), f"{name} runs as root"
        # Docker's 10 s default would kill a service in the middle of its drain.
        env = environment(service)
        drain = float(env.get("OTVET_SHUTDOWN_SECONDS", "30"))
        assert seconds(service["stop_grace_period"]) >= drain + 5, f"{name}: stop_grace_period too short"


def test_health_checks_ask_the_port_each_service_listens_on(config: dict[str, Any]) -> None:
    image_env = final_stage_env()
    for name, listener in LISTENER.items():
        service = config["services"][name]
        env = {**image_env, **environment(service)}
        port = env["OTVET_PORT"] if listener == "port" else env["OTVET_OPS__PORT"]
        test = service["healthcheck"]["test"]
        assert test[0] == "CMD", f"{name}: exec form (no shell in the way)"
        command = " ".join(test[1:])
        assert re.search(rf"127\.0\.0\.1:{port}/(healthz|readyz)\b", command), (
            f"{name}: checks not port {port}"
        )
        if test[1:3] == ["python", "-c"]:
            compile(test[3], f"{name} healthcheck", "exec")  # a syntax error would read as "unhealthy"
    assert config["services"]["migrate"]["healthcheck"]["test"] == ["NONE"], "migrate exits: no health check"


def test_settings_are_real_and_valid(config: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    for name in OTVET_SERVICES:
        env = environment(config["services"][name])
        problems = [p for p in map(setting_problem, env) if p]
        assert not problems, f"{name}: {problems}"
        with monkeypatch.context() as patch:
            settings = settings_from({**final_stage_env(), **env}, patch)
        url = settings.database_url.get_secret_value()
        # The URL compose builds must point at the postgres service, with the password it was created with.
        postgres = environment(config["services"]["postgres"])
        assert url == (
            f"postgres://{postgres['POSTGRES_USER']}:{postgres['POSTGRES_PASSWORD']}@postgres:5432/"
            f"{postgres['POSTGRES_DB']}"
        ), f"{name}: {url}"
        assert settings.auto_migrate is False, f"{name}: the migrate service runs migrations"
        assert settings.worker.in_process is False


def test_the_example_env_file_holds_only_settings_and_placeholders() -> None:
    example = read_env_file(DEPLOY / "compose.env.example")
    assert [p for p in map(setting_problem, example) if p] == []
    # compose.yaml builds the database URL; one in the file would be silently overridden.
    assert "OTVET_DATABASE_URL" not in example
    assert "local-only" in example["OTVET_API__SECRET_KEY"], "the example's secret must read as a placeholder"
    assert "${OTVET_ENV_FILE:-compose.env.example}" in (DEPLOY / "compose.yaml").read_text()
