"""``otvet serve`` as a real process: health and readiness over a real socket."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.support.cli import clean_env
from tests.support.server import serving


async def test_serve_is_live_and_ready_with_the_demo_knowledge_base(tmp_path: Path) -> None:
    async with serving(clean_env(tmp_path / "data"), tmp_path) as base, httpx.AsyncClient() as client:
        health = await client.get(f"{base}/healthz")
        assert health.status_code == 200 and health.json() == {"status": "ok"}
        ready = await client.get(f"{base}/readyz")
        assert ready.status_code == 200, ready.json()
        assert ready.json()["checks"] == {
            "service": "serve",
            "provider": {"name": "extractive"},
            "database": "ok",
            "knowledge_version": 1,
        }


async def test_readyz_is_503_without_an_active_knowledge_version(tmp_path: Path) -> None:
    env = clean_env(tmp_path / "data", OTVET_LOAD_DEMO="false")
    async with serving(env, tmp_path) as base, httpx.AsyncClient() as client:
        ready = await client.get(f"{base}/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"] == {
            "service": "serve",
            "provider": {"name": "extractive"},
            "database": "ok",
            "knowledge_version": None,
        }
        assert (await client.get(f"{base}/healthz")).status_code == 200
