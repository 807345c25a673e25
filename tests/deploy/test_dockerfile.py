"""The Dockerfile, read the way the builder reads it (no container engine here to build it): two stages
from the same pinned Python, wheels built in the first and installed offline in the second, an unprivileged
numeric user that owns the data dir, and a health check that really tells a live service from a dead one."""

from __future__ import annotations

import json
import re
import shlex
import socket
import threading
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

from tests.deploy.conftest import (
    KUBERNETES,
    ROOT,
    Stage,
    dockerfile_stages,
    setting_problem,
    settings_from,
)

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
BUILD_TOOLS = ("build-essential", "gcc", "g++", "make ", "clang")


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    return dockerfile_stages()


def exec_form(args: str) -> list[str]:
    value = json.loads(args)
    assert isinstance(value, list), f"not the exec form: {args}"
    return value


def test_two_stages_from_the_same_pinned_slim_python(stages: list[Stage]) -> None:
    assert len(stages) >= 2, "a single stage would ship the compilers"
    for stage in stages:
        image, _, tag = stage.base.partition(":")
        assert tag and tag != "latest" and "$" not in stage.base, (
            f"{stage.name}: pin a tag, not {stage.base!r}"
        )
        assert image == "python" and tag.startswith("3.11-slim-bookworm"), stage.base
    # Wheels compiled against one base's Python and libc must install on the same one.
    assert len({stage.base for stage in stages}) == 1


def test_the_runtime_stage_installs_only_the_wheels_built_before_it(stages: list[Stage]) -> None:
    *builders, runtime = stages
    build_names = {stage.name for stage in builders}
    assert any("pip wheel" in run for stage in builders for run in stage.args("RUN")), "no wheels are built"
    runs = runtime.args("RUN")
    installs = [run for run in runs if re.search(r"pip install", run)]
    assert installs, "the runtime stage installs nothing"
    mounts = {
        m["target"]
        for run in runs
        for m in (
            dict(kv.split("=", 1) for kv in flag.split(",")) for flag in re.findall(r"--mount=(\S+)", run)
        )
        if m.get("type") == "bind" and m.get("from") in build_names
    }
    copied = {shlex.split(c)[-1] for c in runtime.args("COPY") if re.search(r"--from=(\S+)", c)}
    for run in installs:
        assert "--no-index" in run, "pip may download in the runtime stage"
        links = re.findall(r"--find-links[= ](\S+)", run)
        assert links and all(link in mounts | copied for link in links), (
            f"wheels not from a build stage: {links}"
        )
    text = " ".join(runs)
    assert "pip wheel" not in text and "apt-get install" not in text
    assert not [tool for tool in BUILD_TOOLS if tool in text], "build tools in the runtime image"
    assert not [c for c in runtime.args("COPY") if "--from" not in c], "sources copied into the runtime image"


def test_an_unprivileged_numeric_user_owns_the_data_dir(stages: list[Stage]) -> None:
    runtime = stages[-1]
    users = runtime.args("USER")
    assert users, "the image runs as root"
    uid, _, gid = users[-1].partition(":")
    # Numeric, so that Kubernetes' runAsNonRoot can tell it is not root without reading /etc/passwd.
    assert uid.isdigit() and int(uid) > 0 and (not gid or gid.isdigit()), f"USER {users[-1]}"
    data_dir = runtime.env()["OTVET_DATA_DIR"]
    volumes = [v for args in runtime.args("VOLUME") for v in exec_form(args)]
    assert data_dir in volumes, "the data dir is not a VOLUME"
    run = " ".join(runtime.args("RUN"))
    owner = f"{uid}:{gid}" if gid else uid
    assert re.search(rf"chown {owner} {re.escape(data_dir)}\b", run), "the data dir is not the user's"
    assert re.search(rf"useradd[^&]*--uid {uid}\b", run), "no user with that uid"
    # The manifests must run the pods as the same user, or the data dir is not theirs.
    for manifest in ("base/api.yaml", "base/worker.yaml", "telegram-polling/deployment.yaml"):
        for doc in yaml.safe_load_all((KUBERNETES / manifest).read_text()):
            if doc["kind"] == "Deployment":
                context = doc["spec"]["template"]["spec"]["securityContext"]
                assert (str(context["runAsUser"]), str(context["runAsGroup"])) == (uid, gid or uid), manifest


def test_the_environment_suits_a_read_only_container(
    stages: list[Stage], monkeypatch: pytest.MonkeyPatch
) -> None:
    env = stages[-1].env()
    assert env["PYTHONDONTWRITEBYTECODE"] == "1", "Python would try to write .pyc files at runtime"
    otvet = {name: value for name, value in env.items() if name.startswith("OTVET_")}
    assert [p for p in map(setting_problem, otvet) if p] == []
    settings = settings_from(otvet, monkeypatch)
    assert settings.host == settings.ops.host == "0.0.0.0", "unreachable from outside the container"
    exposed = {int(p.split("/")[0]) for args in stages[-1].args("EXPOSE") for p in args.split()}
    assert exposed == {settings.port, settings.ops.port} == {8000, 9000}


def test_the_entrypoint_is_the_otvet_command(stages: list[Stage], otvet_commands: set[str]) -> None:
    runtime = stages[-1]
    (entrypoint,) = runtime.args("ENTRYPOINT")
    assert exec_form(entrypoint) == ["otvet"], "exec form, so that otvet is PID 1 and receives SIGTERM"
    assert "otvet" in PYPROJECT["project"]["scripts"]
    (cmd,) = runtime.args("CMD")
    command = exec_form(cmd)
    assert command == ["serve", "--host", "0.0.0.0"]
    assert command[0] in otvet_commands


def test_labels_match_the_project(stages: list[Stage]) -> None:
    runtime = stages[-1]
    labels = dict(pair.split("=", 1) for args in runtime.args("LABEL") for pair in shlex.split(args))
    for key in ("title", "description", "version", "revision", "licenses"):
        assert f"org.opencontainers.image.{key}" in labels, key
    assert labels["org.opencontainers.image.licenses"] == PYPROJECT["project"]["license"]
    assert labels["org.opencontainers.image.version"] == PYPROJECT["project"]["version"], "bump VERSION too"


def test_the_image_installs_the_locked_versions_of_its_dependencies(stages: list[Stage]) -> None:
    build, runtime = stages[0], stages[-1]
    copies = [args for word, args in build.instructions if word == "COPY"]
    runs = [args for word, args in build.instructions if word == "RUN"]
    # The lock file alone is copied first, and every dependency's wheel is built from it.
    assert copies[0].split() == ["requirements/image.txt", "./requirements/"]
    assert any(run.split()[:2] == ["pip", "wheel"] and "-r requirements/image.txt" in run for run in runs)
    # The runtime installs from those wheels only: no index, so no other version can be chosen.
    (install,) = [run for run in runtime.args("RUN") if "pip install" in run]
    assert "--no-index" in install and "--find-links=/wheels" in install
    # Every optional group the image can be built with is in that lock file (tests/test_lock.py checks the
    # versions against pyproject.toml's ranges).
    (default,) = re.findall(r"otvet\[([^\]]*)\]", install)  # OTVET_EXTRAS's default, substituted
    locked = (ROOT / "requirements" / "image.txt").read_text()
    assert default == "tracing"
    for extra in filter(None, default.split(",")):
        for dependency in PYPROJECT["project"]["optional-dependencies"][extra]:
            assert f"\n{Requirement(dependency).name}==" in locked, dependency


# --- the health check -----------------------------------------------------------------------------------


def healthcheck_code(stages: list[Stage]) -> str:
    (args,) = stages[-1].args("HEALTHCHECK")
    options, _, command = args.partition("CMD ")
    assert "--interval" in options and "--timeout" in options and "--start-period" in options
    argv = exec_form(command)
    assert argv[:2] == ["python", "-c"], "no curl in the image: the check is Python"
    return argv[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serving(status: int) -> Iterator[int]:
    """An HTTP server answering ``status`` on /healthz (404 elsewhere); yields its port."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(status if self.path == "/healthz" else 404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def check(code: str, main: int, ops: int, monkeypatch: pytest.MonkeyPatch) -> int:
    """Run the health check's code as the container would, with the ports in its environment."""
    monkeypatch.setenv("OTVET_PORT", str(main))
    monkeypatch.setenv("OTVET_OPS__PORT", str(ops))
    monkeypatch.delenv("OTVET_TLS__CERT_FILE", raising=False)
    try:
        exec(compile(code, "HEALTHCHECK", "exec"), {"__name__": "__main__"})
    except SystemExit as exc:
        return int(exc.code or 0)
    pytest.fail("the health check must exit with a status")


def test_the_health_check_tells_a_live_service_from_a_dead_one(
    stages: list[Stage], monkeypatch: pytest.MonkeyPatch
) -> None:
    code = healthcheck_code(stages)
    assert check(code, free_port(), free_port(), monkeypatch) == 1, "healthy with nothing listening"
    with serving(200) as port:
        assert check(code, port, free_port(), monkeypatch) == 0, "api/serve (main port) reported unhealthy"
        assert check(code, free_port(), port, monkeypatch) == 0, "worker/telegram (ops port) unhealthy"
    with serving(503) as port:
        assert check(code, port, free_port(), monkeypatch) == 1, "a 503 counted as healthy"


# --- the build context ----------------------------------------------------------------------------------


def ignored(patterns: list[str], path: str) -> bool:
    """Whether .dockerignore keeps ``path`` out of the build context (last matching rule wins)."""

    def regex(pattern: str) -> re.Pattern[str]:
        out = ""
        for token in re.split(r"(\*\*/|/\*\*|\*\*|\*|\?)", pattern.strip("/")):
            out += {"**/": "(?:.*/)?", "/**": "(?:/.*)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}.get(
                token, re.escape(token)
            )
        return re.compile(out)

    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    result = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        if any(regex(pattern.lstrip("!")).fullmatch(c) for c in candidates):
            result = not negate
    return result


def package_files() -> list[str]:
    """Every file the wheel is built from, as pyproject.toml's setuptools configuration names them."""
    setuptools = PYPROJECT["tool"]["setuptools"]
    files = ["pyproject.toml", PYPROJECT["project"]["readme"]]
    files += [f"{path}/build_backend.py" for path in PYPROJECT["build-system"]["backend-path"]]
    for package in setuptools["packages"]:
        folder = ROOT / Path(*package.split(".")[1:])
        files += [p.relative_to(ROOT).as_posix() for p in folder.glob("*.py")]
    for pattern in setuptools["package-data"]["otvet"]:
        files += [p.relative_to(ROOT).as_posix() for p in ROOT.glob(pattern) if p.is_file()]
    return files


def test_the_build_context_has_the_sources_and_no_secrets() -> None:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    needed = package_files()
    assert len(needed) > 50 and "core/engine.py" in needed
    excluded = [path for path in needed if ignored(patterns, path)]
    assert not excluded, f".dockerignore leaves out files the build needs: {excluded[:5]}"
    for path in (
        ".env",
        "data/otvet.db",
        ".git/config",
        ".venv/bin/python",
        "tests/conftest.py",
        "otvet.egg-info/PKG-INFO",
        "core/__pycache__/engine.cpython-311.pyc",
        "otvet.toml",
    ):
        assert ignored(patterns, path), f"{path} would be sent to the builder"
