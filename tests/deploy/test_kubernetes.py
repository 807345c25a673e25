"""The Kubernetes manifests as an operator would meet them: rendered by ``kubectl kustomize`` (the base, each
overlay, each overlay with the Telegram poller added as its comment says), every document valid against the
API schemas, and the references between them right: selectors, ports, probe paths Otvet really serves,
setting names Otvet really reads, secret keys the example documents, timings that let a pod drain."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from otvet.config.settings import Settings
from tests.deploy.conftest import (
    DOCS,
    KUBERNETES,
    ROOT,
    read_env_file,
    require_tool,
    setting_problem,
    settings_from,
)

#: The oldest Kubernetes the manifests support (preStop `sleep` is on by default from 1.30) and a recent one.
KUBERNETES_VERSIONS = ("1.30.0", "1.33.0")
OVERLAYS = ("aws", "azure")
VARIANTS = ("base", *(f"overlays/{o}" for o in OVERLAYS), *(f"overlays/{o}+telegram" for o in OVERLAYS))
#: The line each overlay carries for the poller, commented out; uncommenting it is the documented way in.
TELEGRAM_LINE = "  # - ../../telegram-polling\n"
#: Which port a command's probes and metrics live on: its own HTTP port, or the ops listener.
PORT_SETTING = {"api": "port", "serve": "port", "worker": "ops", "telegram": "ops"}
#: Routes of `otvet api` that only probes and Prometheus may reach, and those users need through the Ingress
#: (``{param}`` segments read as ``x``). A new route fails the Ingress test until it is put in one of them.
INTERNAL_PATHS = {"/metrics", "/healthz", "/readyz"}
PUBLIC_PATHS = {"/", "/graphql", "/v1/chat/completions", "/v1/models", "/v1/models/x", "/ws/chat"}
PUBLIC_PATHS |= {"/widget.js", "/widget.css", "/demo.css", "/telegram/webhook"}
PUBLIC_PATHS |= {"/admin", "/admin/assets/x", "/admin/session", "/graphiql/x"}
#: Keys only kustomize from v2.0 to v5 reads alike (deploy/kubernetes/base/kustomization.yaml says why).
PORTABLE_KUSTOMIZE_KEYS = {
    "apiVersion",
    "kind",
    "bases",
    "resources",
    "namespace",
    "images",
    "configMapGenerator",
    "generatorOptions",
}

Doc = dict[str, Any]


# --- rendering ------------------------------------------------------------------------------------------


def kustomize(directory: Path) -> list[Doc]:
    kubectl = require_tool("kubectl")
    done = subprocess.run(
        [kubectl, "kustomize", str(directory)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, f"kubectl kustomize {directory} failed:\n{done.stderr}"
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Doc]]:
    # The Telegram variants edit a copy of the tree: overlays refer to ../../base, so the layout must stay.
    copy = tmp_path_factory.mktemp("kubernetes") / "kubernetes"
    shutil.copytree(KUBERNETES, copy)
    renders = {}
    for variant in VARIANTS:
        name, _, extra = variant.partition("+")
        if extra:
            kustomization = copy / name / "kustomization.yaml"
            text = kustomization.read_text()
            assert TELEGRAM_LINE in text, f"{name} no longer offers `{TELEGRAM_LINE.strip()}` to uncomment"
            kustomization.write_text(text.replace(TELEGRAM_LINE, TELEGRAM_LINE.replace("# ", "", 1)))
            renders[variant] = kustomize(copy / name)
        else:
            renders[variant] = kustomize(KUBERNETES / name)
    return renders


@pytest.fixture(scope="module")
def app_paths(tmp_path_factory: pytest.TempPathFactory) -> dict[str, set[str]]:
    """The paths ``otvet api`` serves, and those of the ops listener (``otvet worker`` and ``telegram``)."""
    from otvet.core.app import Otvet
    from otvet.frontends.app import OPS_PLUGINS

    settings = Settings(_env_file=None, plugins=[], data_dir=tmp_path_factory.mktemp("data"))  # type: ignore[call-arg]
    otvet = Otvet(settings, service="api")

    def paths(routes: list[Any]) -> set[str]:
        return {re.sub(r"\{[^}]*\}", "x", route.path) for route in routes}

    return {"port": paths(otvet.routes()), "ops": paths(otvet.routes(OPS_PLUGINS))}


def of_kind(docs: list[Doc], kind: str) -> dict[str, Doc]:
    return {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == kind}


def containers(deployment: Doc, *, init: bool = True) -> Iterator[Doc]:
    spec = deployment["spec"]["template"]["spec"]
    yield from spec.get("initContainers", []) if init else []
    yield from spec["containers"]


def matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """Whether a selector (a Service's plain map, or matchLabels/matchExpressions) selects ``labels``."""
    if "matchLabels" not in selector and "matchExpressions" not in selector:
        selector = {"matchLabels": selector}
    if not selector.get("matchLabels") and not selector.get("matchExpressions"):
        return True
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        key, operator, values = expression["key"], expression["operator"], expression.get("values", [])
        ok = {
            "In": labels.get(key) in values,
            "NotIn": labels.get(key) not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }[operator]
        if not ok:
            return False
    return True


def pod_labels(deployment: Doc) -> dict[str, str]:
    return deployment["spec"]["template"]["metadata"]["labels"]


def selected(docs: list[Doc], selector: dict[str, Any]) -> list[str]:
    return [name for name, d in of_kind(docs, "Deployment").items() if matches(selector, pod_labels(d))]


def container_env(docs: list[Doc], container: Doc) -> dict[str, str]:
    """The container's OTVET_* environment with secrets replaced by secret.example.env's placeholders."""
    secrets = read_env_file(KUBERNETES / "secret.example.env")
    configmaps = of_kind(docs, "ConfigMap")
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        name = source["configMapRef"]["name"]
        assert name in configmaps, f"{container['name']}: envFrom names the missing ConfigMap {name}"
        env.update(configmaps[name]["data"])
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = item["value"]
        else:
            env[item["name"]] = secrets.get(item["valueFrom"]["secretKeyRef"]["key"], "")
    return env


def port_number(container: Doc, port: int | str) -> int:
    if isinstance(port, int):
        return port
    named = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
    assert port in named, f"{container['name']}: no container port named {port!r}"
    return named[port]


def command_of(container: Doc) -> str:
    """The otvet sub-command: the image's ENTRYPOINT is `otvet`, so `args` is what follows it."""
    assert "command" not in container, f"{container['name']}: `command` would bypass the image's entrypoint"
    return container["args"][0]


# --- schema and shape -----------------------------------------------------------------------------------


#: Documents already validated, per Kubernetes version: the variants share most of them.
_validated: set[tuple[str, str]] = set()


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_document_is_valid_against_the_kubernetes_api(
    rendered: dict[str, list[Doc]], variant: str, version: str
) -> None:
    for doc in rendered[variant]:
        key = (version, json.dumps(doc, sort_keys=True))
        if key in _validated:
            continue
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            path = "/".join(str(p) for p in exc.path)
            pytest.fail(f"{variant}: {doc['kind']}/{doc['metadata']['name']} at {path}: {exc.message}")
        _validated.add(key)


@pytest.mark.parametrize("variant", VARIANTS)
def test_each_variant_ships_what_it_says(rendered: dict[str, list[Doc]], variant: str) -> None:
    docs = rendered[variant]
    deployments = set(of_kind(docs, "Deployment"))
    telegram = variant.endswith("+telegram")
    assert deployments == {"otvet-api", "otvet-worker"} | ({"otvet-telegram"} if telegram else set())
    assert set(of_kind(docs, "HorizontalPodAutoscaler")) == {"otvet-api", "otvet-worker"}
    assert set(of_kind(docs, "PodDisruptionBudget")) == {"otvet-api", "otvet-worker"}
    assert set(of_kind(docs, "Ingress")) == (set() if variant == "base" else {"otvet"})
    # A Secret here would overwrite the operator's real one on every `kubectl apply`.
    assert not of_kind(docs, "Secret"), "the manifests must not carry a Secret"
    # CRDs (PrometheusRule, ServiceMonitor, ...) stay out: clusters without their operator would refuse them.
    assert {doc["kind"] for doc in docs} <= {
        "ServiceAccount",
        "ConfigMap",
        "Service",
        "Deployment",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "NetworkPolicy",
        "Ingress",
    }
    namespaces = {doc["metadata"].get("namespace") for doc in docs}
    assert namespaces == ({None} if variant == "base" else {"otvet"})


@pytest.mark.parametrize(
    "path", ["base", "telegram-polling", *(f"overlays/{o}" for o in OVERLAYS)], ids=lambda p: p
)
def test_kustomizations_use_only_portable_fields(path: str) -> None:
    kustomization = yaml.safe_load((KUBERNETES / path / "kustomization.yaml").read_text())
    unportable = set(kustomization) - PORTABLE_KUSTOMIZE_KEYS
    assert not unportable, f"{path}: {sorted(unportable)} render differently (or not at all) on old kustomize"
    # kustomize v2.0 reads only files under `resources`; directories go under `bases`.
    for entry in kustomization.get("resources", []):
        assert (KUBERNETES / path / entry).is_file(), f"{path}: resource {entry} is not a file"


# --- references between objects -------------------------------------------------------------------------


@pytest.mark.parametrize("variant", VARIANTS)
def test_selectors_and_targets_reach_the_right_pods(rendered: dict[str, list[Doc]], variant: str) -> None:
    docs = rendered[variant]
    deployments = of_kind(docs, "Deployment")
    for name, deployment in deployments.items():
        assert matches(deployment["spec"]["selector"], pod_labels(deployment)), f"{name} selects not its pods"
        others = [n for n in selected(docs, deployment["spec"]["selector"]) if n != name]
        assert not others, f"{name}'s selector also matches {others}: rollouts would fight"
        for spread in deployment["spec"]["template"]["spec"].get("topologySpreadConstraints", []):
            assert matches(spread["labelSelector"], pod_labels(deployment)), f"{name}: spread selects others"
    for name, service in of_kind(docs, "Service").items():
        (target,) = selected(docs, service["spec"]["selector"]) or [None]
        assert target == name, f"Service {name} selects {target}, not the Deployment of the same name"
        pod = deployments[name]
        for port in service["spec"]["ports"]:
            main = next(containers(pod, init=False))
            port_number(main, port["targetPort"])  # a named targetPort must exist on the container
    for name, pdb in of_kind(docs, "PodDisruptionBudget").items():
        assert selected(docs, pdb["spec"]["selector"]) == [name], f"PDB {name} selects the wrong pods"
    for name, hpa in of_kind(docs, "HorizontalPodAutoscaler").items():
        target = hpa["spec"]["scaleTargetRef"]
        assert (target["kind"], target["name"]) == ("Deployment", name), f"HPA {name} scales {target}"
        assert target["name"] in deployments
    for name, ingress in of_kind(docs, "Ingress").items():
        services = of_kind(docs, "Service")
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                assert backend["name"] in services, f"Ingress {name} routes to a missing Service"
                names = {p.get("name") for p in services[backend["name"]]["spec"]["ports"]}
                numbers = {p["port"] for p in services[backend["name"]]["spec"]["ports"]}
                assert backend["port"].get("name") in names or backend["port"].get("number") in numbers
    accounts = of_kind(docs, "ServiceAccount")
    for name, deployment in deployments.items():
        spec = deployment["spec"]["template"]["spec"]
        assert spec["serviceAccountName"] in accounts, f"{name} runs as a ServiceAccount that is not shipped"
        volumes = {v["name"] for v in spec.get("volumes", [])}
        for container in containers(deployment):
            for mount in container.get("volumeMounts", []):
                assert mount["name"] in volumes, f"{name}/{container['name']} mounts a missing volume"


@pytest.mark.parametrize("variant", VARIANTS)
def test_probes_and_metrics_point_at_what_each_service_serves(
    rendered: dict[str, list[Doc]],
    variant: str,
    app_paths: dict[str, set[str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    docs = rendered[variant]
    for name, deployment in of_kind(docs, "Deployment").items():
        main = next(containers(deployment, init=False))
        command = command_of(main)
        with monkeypatch.context() as patch:
            settings = settings_from(container_env(docs, main), patch)
        listener = PORT_SETTING[command]
        expected = settings.port if listener == "port" else settings.ops.port
        assert expected, f"{name}: `otvet {command}` has no listener (OTVET_OPS__PORT unset?)"
        if listener == "ops":
            assert settings.ops.host == "0.0.0.0", f"{name}: the ops listener is not reachable from outside"
        else:
            assert settings.host == "0.0.0.0", f"{name}: OTVET_HOST keeps the port off the pod's network"
        for probe, path in (
            ("startupProbe", "/healthz"),
            ("livenessProbe", "/healthz"),
            ("readinessProbe", "/readyz"),
        ):
            assert probe in main, f"{name}: no {probe}"
            get = main[probe]["httpGet"]
            assert get["path"] == path, f"{name}: {probe} asks {get['path']}, expected {path}"
            assert get["path"] in app_paths[listener], (
                f"{name}: `otvet {command}` does not serve {get['path']}"
            )
            assert port_number(main, get["port"]) == expected, f"{name}: {probe} port is not {expected}"
        annotations = deployment["spec"]["template"]["metadata"].get("annotations", {})
        assert annotations.get("prometheus.io/scrape") == "true", f"{name} is not scraped"
        assert int(annotations["prometheus.io/port"]) == expected, (
            f"{name}: Prometheus scrapes the wrong port"
        )
        assert annotations["prometheus.io/path"] in app_paths[listener]
        assert expected in {p["containerPort"] for p in main["ports"]}, (
            f"{name} does not declare port {expected}"
        )


@pytest.mark.parametrize("variant", VARIANTS)
def test_network_policies_admit_every_port_in_use(rendered: dict[str, list[Doc]], variant: str) -> None:
    docs = rendered[variant]
    policies = of_kind(docs, "NetworkPolicy").values()
    for name, deployment in of_kind(docs, "Deployment").items():
        labels = pod_labels(deployment)
        applying = [p for p in policies if matches(p["spec"]["podSelector"], labels)]
        assert applying, f"no NetworkPolicy covers {name}"
        allowed = {
            port["port"] for p in applying for rule in p["spec"].get("ingress", []) for port in rule["ports"]
        }
        main = next(containers(deployment, init=False))
        in_use = {p["containerPort"] for p in main["ports"]}
        annotations = deployment["spec"]["template"]["metadata"].get("annotations", {})
        in_use.add(int(annotations["prometheus.io/port"]))
        assert in_use <= allowed, f"{name}: NetworkPolicy refuses ports {sorted(in_use - allowed)}"


# --- settings and secrets -------------------------------------------------------------------------------


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_setting_is_one_otvet_reads_with_a_valid_value(
    rendered: dict[str, list[Doc]], variant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = rendered[variant]
    for configmap in of_kind(docs, "ConfigMap").values():
        for key in configmap["data"]:
            assert setting_problem(key) is None, setting_problem(key)
    for name, deployment in of_kind(docs, "Deployment").items():
        for container in containers(deployment):
            env = container_env(docs, container)
            problems = [p for p in map(setting_problem, env) if p]
            assert not problems, f"{name}/{container['name']}: {problems}"
            with monkeypatch.context() as patch:
                settings = settings_from(env, patch)
            assert settings.database_url.get_secret_value().startswith("postgres://"), (
                f"{name}: no PostgreSQL"
            )
            assert settings.auto_migrate is False, f"{name}: migrations belong to the init container"
            assert settings.log_format == "json"


def test_secret_keys_are_exactly_those_the_example_documents(rendered: dict[str, list[Doc]]) -> None:
    documented = read_env_file(KUBERNETES / "secret.example.env")
    used: dict[str, set[bool]] = {}
    for docs in rendered.values():
        for deployment in of_kind(docs, "Deployment").values():
            for container in containers(deployment):
                for item in container.get("env", []):
                    ref = item.get("valueFrom", {}).get("secretKeyRef")
                    if ref:
                        assert ref["name"] == "otvet", f"{item['name']} reads the Secret {ref['name']}"
                        used.setdefault(ref["key"], set()).add(bool(ref.get("optional")))
    assert set(used) <= set(documented), f"undocumented secret keys: {sorted(set(used) - set(documented))}"
    assert set(documented) <= set(used), f"documented but unused: {sorted(set(documented) - set(used))}"
    # The two every pod needs are never optional: a pod without them must not start half-configured.
    assert used["database-url"] == {False}
    assert used["secret-key"] == {False}
    guide = (DOCS / "kubernetes.md").read_text()
    assert "kubectl -n otvet create secret generic otvet --from-env-file=" in guide


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlays_verify_the_database_certificate(
    rendered: dict[str, list[Doc]], overlay: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = rendered[f"overlays/{overlay}"]
    for name, deployment in of_kind(docs, "Deployment").items():
        volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
        for container in containers(deployment):
            with monkeypatch.context() as patch:
                settings = settings_from(container_env(docs, container), patch)
            assert settings.database_ssl.mode == "verify-full", f"{name}/{container['name']}"
            cert = settings.database_ssl.root_cert
            assert cert is not None
            mounts = [m for m in container["volumeMounts"] if cert.is_relative_to(m["mountPath"])]
            assert mounts, f"{name}/{container['name']}: nothing is mounted at {cert}"
            volume = volumes[mounts[0]["name"]]
            assert "configMap" in volume, f"{name}: the CA bundle should come from a ConfigMap"
            key = cert.relative_to(mounts[0]["mountPath"]).as_posix()
            # The guide's command must create exactly the ConfigMap and key the pods read.
            command = f"create configmap {volume['configMap']['name']} --from-file={key}="
            assert command in (DOCS / f"{overlay}.md").read_text(), (
                f"docs/deploy/{overlay}.md lacks `{command}`"
            )


# --- security, resources, lifecycle ---------------------------------------------------------------------


@pytest.mark.parametrize("variant", VARIANTS)
def test_no_container_runs_as_root_or_writes_its_image(rendered: dict[str, list[Doc]], variant: str) -> None:
    for name, deployment in of_kind(rendered[variant], "Deployment").items():
        spec = deployment["spec"]["template"]["spec"]
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True and pod["runAsUser"] > 0, f"{name}: may run as root"
        assert pod["seccompProfile"]["type"] == "RuntimeDefault", name
        assert spec["automountServiceAccountToken"] is False, f"{name}: mounts an API token it never uses"
        # A Service named `otvet` would otherwise inject OTVET_PORT=tcp://..., which Otvet reads as its port.
        assert spec["enableServiceLinks"] is False, f"{name}: service links inject OTVET_* variables"
        emptydirs = {v["name"] for v in spec["volumes"] if "emptyDir" in v}
        for container in containers(deployment):
            where = f"{name}/{container['name']}"
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, where
            assert context["allowPrivilegeEscalation"] is False, where
            assert context["capabilities"]["drop"] == ["ALL"], where
            assert context.get("runAsUser", pod["runAsUser"]) > 0, where
            assert context.get("privileged") is not True, where
            resources = container["resources"]
            assert {"cpu", "memory"} <= set(resources["requests"]), f"{where}: requests"
            assert "memory" in resources["limits"], f"{where}: no memory limit"
            writable = {m["mountPath"] for m in container["volumeMounts"] if m["name"] in emptydirs}
            assert {"/tmp", "/var/lib/otvet"} <= writable, f"{where}: /tmp and the data dir must be writable"


@pytest.mark.parametrize("variant", VARIANTS)
def test_pods_get_time_to_drain(
    rendered: dict[str, list[Doc]], variant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = rendered[variant]
    services = of_kind(docs, "Service")
    for name, deployment in of_kind(docs, "Deployment").items():
        spec = deployment["spec"]["template"]["spec"]
        main = next(containers(deployment, init=False))
        with monkeypatch.context() as patch:
            settings = settings_from(container_env(docs, main), patch)
        pause = main.get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds", 0)
        behind_service = name in services and services[name]["spec"].get("clusterIP") != "None"
        if behind_service:
            # Without the pause, SIGTERM can arrive before endpoints and load balancers stop sending.
            assert pause >= 5, f"{name} receives traffic but has no preStop pause"
        needed = settings.shutdown_seconds + pause
        grace = spec["terminationGracePeriodSeconds"]
        assert grace >= needed + 5, (
            f"{name}: {grace}s grace < preStop {pause}s + drain {settings.shutdown_seconds}s"
        )


@pytest.mark.parametrize("variant", VARIANTS)
def test_schema_migrations_run_before_each_service(rendered: dict[str, list[Doc]], variant: str) -> None:
    docs = rendered[variant]
    for name, deployment in of_kind(docs, "Deployment").items():
        inits = deployment["spec"]["template"]["spec"].get("initContainers", [])
        assert [command_of(c) for c in inits] == ["migrate"], f"{name}: no `otvet migrate` init container"
        (init,) = inits
        main = next(containers(deployment, init=False))
        assert init["envFrom"] == main["envFrom"], f"{name}: migrate sees other settings than the service"
        database = {e["name"]: e for e in main["env"]}["OTVET_DATABASE_URL"]
        assert database in init["env"], f"{name}: migrate would upgrade another database"


@pytest.mark.parametrize("variant", VARIANTS)
def test_one_image_everywhere_with_a_real_tag(rendered: dict[str, list[Doc]], variant: str) -> None:
    images = {c["image"] for d in of_kind(rendered[variant], "Deployment").values() for c in containers(d)}
    assert len(images) == 1, f"containers run different images: {sorted(images)}"
    (image,) = images
    name, _, tag = image.rpartition(":")
    assert name and "/" not in tag and tag not in ("", "latest"), f"{image}: pin a release tag"
    if variant != "base":
        registry = name.split("/")[0]
        assert "." in registry, f"{image}: an overlay must point at its registry (ECR, ACR, ...)"


def test_the_manifests_pin_this_release() -> None:
    # Overlays' `images:` rewrite every tag, which would hide a stale one in a file they do not render.
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    images = set()
    for manifest in sorted(KUBERNETES.glob("*/*.yaml")):
        for doc in yaml.safe_load_all(manifest.read_text()):
            if doc and doc.get("kind") == "Deployment":
                images |= {c["image"] for c in containers(doc)}
    assert images == {f"otvet:{version}"}, f"the manifests name {sorted(images)}, not otvet:{version}"
    for overlay in OVERLAYS:
        (entry,) = yaml.safe_load((KUBERNETES / "overlays" / overlay / "kustomization.yaml").read_text())[
            "images"
        ]
        assert (entry["name"], entry["newTag"]) == ("otvet", version), f"{overlay} deploys another release"


@pytest.mark.parametrize("variant", VARIANTS)
def test_replicas_are_left_to_the_autoscalers_and_the_poller_stays_single(
    rendered: dict[str, list[Doc]], variant: str
) -> None:
    docs = rendered[variant]
    deployments = of_kind(docs, "Deployment")
    hpas = of_kind(docs, "HorizontalPodAutoscaler")
    for name, hpa in hpas.items():
        # `replicas` in the manifest would reset the autoscaler's choice on every `kubectl apply`.
        assert "replicas" not in deployments[name]["spec"], f"{name} sets replicas although an HPA scales it"
        assert hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
        assert any(m["type"] == "Resource" for m in hpa["spec"]["metrics"]), f"{name}: no CPU metric"
        resources = next(containers(deployments[name], init=False))["resources"]
        assert "cpu" in resources["requests"], f"{name}: CPU utilization needs a CPU request"
    assert hpas["otvet-api"]["spec"]["minReplicas"] >= 2, "one api pod: every restart stops answering"
    pdb = of_kind(docs, "PodDisruptionBudget")["otvet-api"]["spec"]
    assert pdb["maxUnavailable"] < hpas["otvet-api"]["spec"]["minReplicas"], (
        "a drain could evict every api pod"
    )
    assert deployments["otvet-api"]["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    if "otvet-telegram" in deployments:
        telegram = deployments["otvet-telegram"]["spec"]
        # Two pollers for one token make Telegram refuse both: never two at once, not even during a rollout.
        assert telegram["replicas"] == 1 and telegram["strategy"]["type"] == "Recreate"
        assert "otvet-telegram" not in hpas


# --- the ingress ----------------------------------------------------------------------------------------


def routed(paths: list[Doc], request: str) -> bool:
    """Whether an Ingress with these paths sends ``request`` to Otvet (ImplementationSpecific as Prefix)."""
    for path in paths:
        if path["pathType"] == "Exact":
            if request == path["path"]:
                return True
            continue
        prefix = path["path"].rstrip("/")
        if prefix == "" or request == prefix or request.startswith(prefix + "/"):
            return True
    return False


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_ingress_routes_public_paths_only(
    rendered: dict[str, list[Doc]], overlay: str, app_paths: dict[str, set[str]]
) -> None:
    (ingress,) = of_kind(rendered[f"overlays/{overlay}"], "Ingress").values()
    spec = ingress["spec"]
    assert spec.get("ingressClassName"), "no ingress class: the cluster's default may not be the one meant"
    assert "defaultBackend" not in spec, "a default backend routes every path, /metrics included"
    hosts = {rule["host"] for rule in spec["rules"]}
    assert hosts <= {host for tls in spec["tls"] for host in tls["hosts"]}, "a host is served without TLS"
    paths = [path for rule in spec["rules"] for path in rule["http"]["paths"]]
    for request in sorted(app_paths["port"]):
        if request in INTERNAL_PATHS:
            assert not routed(paths, request), f"the Ingress exposes {request}"
        else:
            assert request in PUBLIC_PATHS | {"/v1/models/x"}, (
                f"{request} is new: decide whether it is public"
            )
            assert routed(paths, request), f"the Ingress does not route {request}"
    assert not routed(paths, "/metricsx") and not routed(paths, "/adminx"), "the Ingress routes too much"
