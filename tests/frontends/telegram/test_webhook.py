"""Webhook mode: ``otvet serve`` as a real process takes Telegram's POSTs and answers through the fake API."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest

from tests.support.cli import clean_env, run_otvet
from tests.support.fake_telegram import FakeBotAPI
from tests.support.server import serving
from tests.support.telegram_updates import USER_ID

SECRET = "s3cret-token"


def webhook_env(tmp_path: Path, api: FakeBotAPI, **extra: str) -> dict[str, str]:
    return clean_env(
        tmp_path / "data",
        OTVET_TELEGRAM__TOKEN=api.token,
        OTVET_TELEGRAM__BASE_URL=api.base_url,
        OTVET_TELEGRAM__BASE_FILE_URL=api.base_file_url,
        OTVET_TELEGRAM__MODE="webhook",
        OTVET_TELEGRAM__SECRET_TOKEN=SECRET,
        **extra,
    )


async def test_updates_posted_with_the_secret_are_answered_and_others_refused(tmp_path: Path) -> None:
    async with (
        FakeBotAPI() as api,
        serving(webhook_env(tmp_path, api), tmp_path, ready_path="/readyz") as base,
    ):
        url = f"{base}/telegram/webhook"
        update = api.private_message("Как подключить Telegram?")
        async with httpx.AsyncClient() as client:
            missing = await client.post(url, json=update)
            wrong = await client.post(url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "nope"})
            garbage = await client.post(
                url, content=b"{not json", headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
            )
            accepted = await client.post(
                url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
            )
        assert (missing.status_code, wrong.status_code, garbage.status_code) == (403, 403, 400)
        assert accepted.status_code == 200
        await api.wait_for("sendMessage")
        for _ in range(100):
            finals = [c for c in api.calls if "fb:" in json.dumps(c.params.get("reply_markup", ""))]
            if finals:
                break
            await asyncio.sleep(0.1)
        assert finals and "BotFather" in finals[-1].params["text"]
        assert int(finals[-1].params["chat_id"]) == USER_ID


async def test_set_webhook_registers_the_url_and_secret_with_telegram(tmp_path: Path) -> None:
    async with FakeBotAPI() as api:
        env = webhook_env(
            tmp_path, api, OTVET_TELEGRAM__WEBHOOK_URL="https://bot.example.com/telegram/webhook"
        )
        result = await asyncio.to_thread(run_otvet, "telegram", "set-webhook", env=env, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert api.webhook["url"] == "https://bot.example.com/telegram/webhook"
        assert api.webhook["secret_token"] == SECRET
        removed = await asyncio.to_thread(run_otvet, "telegram", "delete-webhook", env=env, cwd=tmp_path)
        assert removed.returncode == 0 and api.webhook == {}


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"OTVET_TELEGRAM__WEBHOOK_URL": "http://insecure.example.com/hook"}, "https://"),
        ({"OTVET_TELEGRAM__TOKEN": ""}, "OTVET_TELEGRAM__TOKEN is not set"),
    ],
)
def test_bad_webhook_settings_are_clear_errors(tmp_path: Path, extra: dict[str, str], message: str) -> None:
    env = clean_env(
        tmp_path / "data",
        OTVET_TELEGRAM__TOKEN="1:x",
        OTVET_TELEGRAM__WEBHOOK_URL="https://bot.example.com/telegram/webhook",
    )
    env.update(extra)
    result = run_otvet("telegram", "set-webhook", env=env, cwd=tmp_path)
    assert result.returncode == 1 and message in result.stderr
    assert "Traceback" not in result.stderr
