"""Wires the Telegram bot into Otvet: the webhook route, its lifecycle in ``otvet serve``, and the
``otvet telegram`` commands (long polling, webhook management).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import signal
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from otvet import hookimpl

if TYPE_CHECKING:
    from otvet.core.app import Otvet

log = logging.getLogger(__name__)

STATE_KEY = "telegram"
WEBHOOK_PATH = "/telegram/webhook"
#: Telegram's updates are small; anything bigger is not from Telegram.
MAX_UPDATE_BYTES = 1_000_000


def webhook_enabled(otvet: Otvet) -> bool:
    settings = otvet.settings.telegram
    return settings.mode == "webhook" and bool(settings.token.get_secret_value())


async def telegram_webhook(request: Request) -> Response:
    """Receive one update from Telegram: check the secret token, queue the update, answer at once."""
    from telegram import Update

    otvet: Otvet = request.app.state.otvet
    application: Any = otvet.state.get(STATE_KEY)
    if application is None:
        return JSONResponse({"error": "the Telegram webhook is not enabled"}, status_code=404)
    secret = otvet.settings.telegram.secret_token.get_secret_value()
    given = request.headers.get("x-telegram-bot-api-secret-token", "")
    if secret and not hmac.compare_digest(given.encode(), secret.encode()):
        return JSONResponse({"error": "wrong secret token"}, status_code=403)
    body = await request.body()
    if len(body) > MAX_UPDATE_BYTES:
        return JSONResponse({"error": "update too large"}, status_code=413)
    try:
        data = json.loads(body)
        update = Update.de_json(data, application.bot)
    except (ValueError, TypeError, KeyError) as exc:
        log.warning("rejected a malformed webhook update: %s", exc)
        return JSONResponse({"error": "not a Telegram update"}, status_code=400)
    if update is None:
        return JSONResponse({"error": "not a Telegram update"}, status_code=400)
    # Queued, not awaited: Telegram gets its 200 at once and retries nothing.
    await application.update_queue.put(update)
    return JSONResponse({"ok": True})


@hookimpl
def register_routes(register: Callable[[BaseRoute], None]) -> None:
    register(Route(WEBHOOK_PATH, telegram_webhook, methods=["POST"]))


@hookimpl
def startup(otvet: Otvet) -> Any:
    if not webhook_enabled(otvet):
        return None

    async def start_bot() -> None:
        from otvet.frontends.telegram.bot import build_application

        application = build_application(otvet, webhook=True)
        await application.initialize()
        await application.start()
        otvet.state[STATE_KEY] = application
        log.info("Telegram webhook ready at %s", WEBHOOK_PATH)

    return start_bot()


@hookimpl
def shutdown(otvet: Otvet) -> Any:
    application: Any = otvet.state.pop(STATE_KEY, None)
    if application is None:
        return None

    async def stop_bot() -> None:
        await application.stop()
        await application.shutdown()

    return stop_bot()


async def run_polling(otvet: Otvet, stop: asyncio.Event) -> None:
    """Fetch updates by long polling until ``stop`` is set."""
    from otvet.frontends.telegram.bot import build_application

    application = build_application(otvet)
    async with application:
        await application.start()
        assert application.updater is not None
        await application.updater.start_polling(allowed_updates=["message", "callback_query"])
        log.info("Telegram bot @%s is polling for updates", application.bot.username)
        await stop.wait()
        await application.updater.stop()
        await application.stop()


@hookimpl
def register_commands(cli: click.Group) -> None:
    from otvet.frontends.cli.main import Context, pass_context, run

    @cli.group(invoke_without_command=True)
    @click.pass_context
    def telegram(ctx: click.Context) -> None:
        """Run the Telegram bot by long polling (for hosts without a public HTTPS address).

        \b
        Needs OTVET_TELEGRAM__TOKEN from @BotFather. With a public address, use the webhook instead:
          OTVET_TELEGRAM__MODE=webhook otvet serve   and   otvet telegram set-webhook
        """
        if ctx.invoked_subcommand is not None:
            return
        context: Context = ctx.find_object(Context)

        async def work(otvet: Otvet) -> None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            await run_polling(otvet, stop)

        run(context.otvet, _require_token(work))

    @telegram.command("set-webhook")
    @pass_context
    def set_webhook(context: Context) -> None:
        """Tell Telegram to post updates to OTVET_TELEGRAM__WEBHOOK_URL (with the secret token)."""
        settings = context.settings.telegram
        if not settings.webhook_url.startswith("https://"):
            raise click.ClickException(
                "set OTVET_TELEGRAM__WEBHOOK_URL to the public https:// URL of /telegram/webhook"
            )

        async def work(otvet: Otvet) -> None:
            from otvet.frontends.telegram.bot import build_application

            async with build_application(otvet, webhook=True) as application:
                await application.bot.set_webhook(
                    settings.webhook_url,
                    secret_token=settings.secret_token.get_secret_value() or None,
                    allowed_updates=["message", "callback_query"],
                )
            click.echo(f"Telegram will post updates to {settings.webhook_url}")

        run(context.otvet, _require_token(work), storage_only=True)

    @telegram.command("delete-webhook")
    @pass_context
    def delete_webhook(context: Context) -> None:
        """Stop Telegram posting updates (needed before going back to long polling)."""

        async def work(otvet: Otvet) -> None:
            from otvet.frontends.telegram.bot import build_application

            async with build_application(otvet, webhook=True) as application:
                await application.bot.delete_webhook()
            click.echo("The webhook is removed; otvet telegram can poll again.")

        run(context.otvet, _require_token(work), storage_only=True)


def _require_token(work: Callable[[Otvet], Any]) -> Callable[[Otvet], Any]:
    async def checked(otvet: Otvet) -> Any:
        if not otvet.settings.telegram.token.get_secret_value():
            raise click.ClickException(
                "OTVET_TELEGRAM__TOKEN is not set: create a bot with @BotFather and put its token there"
            )
        return await work(otvet)

    return checked
