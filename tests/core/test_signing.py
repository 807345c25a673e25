"""The deployment secret and widget tokens: one secret per machine, made once; tokens nobody can forge."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from pydantic import SecretStr

from otvet.core import signing
from otvet.core.signing import (
    deployment_secret,
    derive_key,
    issue_user_token,
    issue_visitor_token,
    read_user_token,
    read_visitor_token,
    sign,
    verify,
)
from tests.conftest import make_settings

KEY = derive_key(b"s" * 48, signing.WIDGET_PURPOSE)
T0 = 1_900_000_000


def test_an_unset_secret_is_made_once_per_machine_readable_by_its_owner_only(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    secret = deployment_secret(settings)
    path = settings.data_dir / "secret.key"
    assert path.stat().st_mode & 0o777 == 0o600
    assert len(secret) >= 48 and path.read_bytes().strip() == secret
    signing._cache.clear()  # a restarted process reads the same secret
    assert deployment_secret(settings) == secret
    settings.api.secret_key = SecretStr("configured " * 4)
    assert deployment_secret(settings) == b"configured " * 4


def test_processes_starting_together_agree_on_one_secret(tmp_path: Path) -> None:
    code = "import sys; from pathlib import Path; from otvet.core.signing import machine_secret; "
    code += "sys.stdout.write(machine_secret(Path(sys.argv[1])).decode())"
    processes = [
        subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True)
        for _ in range(6)
    ]
    secrets = {process.communicate(timeout=60)[0] for process in processes}
    assert len(secrets) == 1 and secrets == {(tmp_path / "secret.key").read_text().strip()}


def test_signatures_are_checked_and_purposes_do_not_mix() -> None:
    signature = sign(KEY, "payload")
    assert verify(KEY, "payload", signature)
    assert not verify(KEY, "payload!", signature)
    assert not verify(derive_key(b"s" * 48, "otvet login token v1"), "payload", signature)
    assert not verify(KEY, "payload", "я")


def test_visitor_tokens_last_their_age_and_cannot_be_forged() -> None:
    token = issue_visitor_token(KEY, now=T0)
    visitor = token.split(".")[1]
    assert read_visitor_token(KEY, token, max_age=100, now=T0 + 99) == visitor
    assert read_visitor_token(KEY, token, max_age=100, now=T0 + 100) is None
    assert issue_visitor_token(KEY, visitor, now=T0 + 50).split(".")[1] == visitor
    payload, _, sig = token.rpartition(".")
    # The last character changed to a different one: always "A" was the token itself in 1 run of 16
    # (the last of 43 base64 characters holds 4 bits of the digest: 132 of 2,000 runs failed).
    other_sig = sig[:-1] + ("B" if sig.endswith("A") else "A")
    for bad in [f"{payload}x.{sig}", f"{payload}.{other_sig}", token.replace("v1.", "u1."), "", "v1", None]:
        assert read_visitor_token(KEY, bad, max_age=100, now=T0) is None
    assert read_visitor_token(derive_key(b"other" * 10, signing.WIDGET_PURPOSE), token, 100, T0) is None


def test_user_tokens_carry_the_key_and_user_until_they_expire() -> None:
    token = issue_user_token(KEY, 7, "клиент/42", T0 + 60)
    claim = read_user_token(KEY, token, now=T0)
    assert claim is not None and (claim.api_key_id, claim.user_id, claim.expires) == (7, "клиент/42", T0 + 60)
    assert read_user_token(KEY, token, now=T0 + 60) is None
    assert read_user_token(KEY, token.replace("u1.7.", "u1.8."), now=T0) is None
    assert read_user_token(KEY, issue_visitor_token(KEY, now=T0), now=T0) is None
