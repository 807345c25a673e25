"""HTTPS and WSS on Otvet's own ports, with a throwaway certificate authority (trustme): a client that trusts
the CA connects, plain HTTP and untrusting clients get nowhere, mutual TLS refuses clients without a
certificate, and a broken TLS setting stops the service with a message naming it."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import trustme
import websockets

from tests.frontends.widget.client import WidgetSocket
from tests.support.cli import clean_env, run_otvet_async
from tests.support.server import service

pytestmark = pytest.mark.slow


@dataclass
class Pki:
    ca: trustme.CA
    cert: Path
    key: Path
    ca_file: Path

    def trusting(self) -> ssl.SSLContext:
        """A client context that trusts this CA (and nothing else)."""
        context = ssl.create_default_context()
        self.ca.configure_trust(context)
        return context


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    root = tmp_path_factory.mktemp("pki")
    ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1", "localhost")
    cert, key, ca_file = root / "tls.crt", root / "tls.key", root / "ca.crt"
    server.cert_chain_pems[0].write_to_path(str(cert))
    server.private_key_pem.write_to_path(str(key))
    ca.cert_pem.write_to_path(str(ca_file))
    return Pki(ca, cert, key, ca_file)


def tls_env(tmp_path: Path, pki: Pki, **extra: str) -> dict[str, str]:
    return clean_env(
        tmp_path / "data", OTVET_TLS__CERT_FILE=str(pki.cert), OTVET_TLS__KEY_FILE=str(pki.key), **extra
    )


async def test_serve_speaks_https_and_wss_to_clients_that_trust_its_ca(tmp_path: Path, pki: Pki) -> None:
    trusted = pki.trusting()
    async with service(
        "serve", tls_env(tmp_path, pki), tmp_path, ready_path="/readyz", scheme="https", verify=trusted
    ) as serve:
        async with httpx.AsyncClient(verify=trusted) as client:
            ready = await client.get(f"{serve.base}/readyz")
        assert ready.status_code == 200
        assert ready.headers["strict-transport-security"].startswith("max-age=31536000")

        wss = serve.base.replace("https://", "wss://") + "/ws/chat"
        async with websockets.connect(wss, ssl=trusted) as connection:
            widget = WidgetSocket(connection)
            assert (await widget.hello())["type"] == "welcome"
            _, answer = await widget.ask("How do I connect Telegram?")
        assert answer["type"] == "answer" and "BotFather" in answer["text"]

        # Plain HTTP on the TLS port gets no HTTP answer at all.
        plain = serve.base.replace("https://", "http://")
        with pytest.raises(httpx.HTTPError):
            async with httpx.AsyncClient() as client:
                await client.get(f"{plain}/readyz")
        # A client that does not trust the CA refuses the server's certificate.
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            async with httpx.AsyncClient(verify=ssl.create_default_context()) as client:
                await client.get(f"{serve.base}/readyz")


async def test_mutual_tls_refuses_clients_without_a_certificate_from_the_ca(tmp_path: Path, pki: Pki) -> None:
    env = tls_env(tmp_path, pki, OTVET_TLS__CA_FILE=str(pki.ca_file), OTVET_TLS__CLIENT_CERT="required")
    with_cert = pki.trusting()
    pki.ca.issue_cert("prometheus.monitoring").configure_cert(with_cert)
    async with service("api", env, tmp_path, ready_path="/healthz", scheme="https", verify=with_cert) as api:
        async with httpx.AsyncClient(verify=with_cert) as client:
            assert (await client.get(f"{api.base}/metrics")).status_code == 200
        other_ca = trustme.CA()
        stranger = pki.trusting()
        other_ca.issue_cert("intruder").configure_cert(stranger)
        for context in (pki.trusting(), stranger):  # no certificate; one from another CA
            with pytest.raises(httpx.HTTPError):
                async with httpx.AsyncClient(verify=context) as client:
                    await client.get(f"{api.base}/healthz")


async def test_the_workers_ops_port_speaks_tls_too(tmp_path: Path, pki: Pki) -> None:
    trusted = pki.trusting()
    env = tls_env(tmp_path, pki)
    code, _, err = await run_otvet_async("migrate", env=env, cwd=tmp_path)
    assert code == 0, err
    async with (
        service(
            "worker",
            env,
            tmp_path,
            ready_path="/readyz",
            scheme="https",
            verify=trusted,
            port_option="--ops-port",
        ) as worker,
        httpx.AsyncClient(verify=trusted) as client,
    ):
        assert (await client.get(f"{worker.base}/metrics")).status_code == 200


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"OTVET_TLS__CERT_FILE": "/nonexistent/tls.crt"}, "OTVET_TLS__CERT_FILE: no such file"),
        ({"OTVET_TLS__KEY_FILE": "KEY"}, "OTVET_TLS__KEY_FILE is set without OTVET_TLS__CERT_FILE"),
        ({"OTVET_TLS__CERT_FILE": "CA", "OTVET_TLS__KEY_FILE": "CA"}, "cannot be used"),
        (
            {
                "OTVET_TLS__CERT_FILE": "CERT",
                "OTVET_TLS__KEY_FILE": "KEY",
                "OTVET_TLS__CLIENT_CERT": "required",
            },
            "needs OTVET_TLS__CA_FILE",
        ),
    ],
)
async def test_a_broken_tls_setting_stops_the_service_naming_it(
    tmp_path: Path, pki: Pki, settings: dict[str, str], message: str
) -> None:
    files = {"CERT": str(pki.cert), "KEY": str(pki.key), "CA": str(pki.ca_file)}
    env = clean_env(tmp_path / "data", **{name: files.get(value, value) for name, value in settings.items()})
    code, _, err = await run_otvet_async("api", "--port", "0", env=env, cwd=tmp_path)
    assert code == 1 and message in err, err
    assert "Traceback" not in err
