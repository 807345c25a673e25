"""``otvet serve`` as a real process: health and readiness over a real socket."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.cli import clean_env
from tests.support.server import get, serving


def test_serve_is_live_and_ready_with_the_demo_knowledge_base(tmp_path: Path) -> None:
    with serving(clean_env(tmp_path / "data"), tmp_path) as base:
        status, body = get(f"{base}/healthz")
        assert status == 200 and json.loads(body) == {"status": "ok"}
        status, body = get(f"{base}/readyz")
        ready = json.loads(body)
        assert status == 200, ready
        assert ready["checks"]["database"] == "ok"
        assert ready["checks"]["knowledge_version"] == 1


def test_readyz_is_503_without_an_active_knowledge_version(tmp_path: Path) -> None:
    env = clean_env(tmp_path / "data", OTVET_LOAD_DEMO="false")
    with serving(env, tmp_path) as base:
        status, body = get(f"{base}/readyz")
        assert status == 503
        assert json.loads(body)["checks"] == {"database": "ok", "knowledge_version": None}
        assert get(f"{base}/healthz")[0] == 200
