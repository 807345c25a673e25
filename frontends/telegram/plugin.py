"""Wires the Telegram bot into Otvet: the webhook route, its lifecycle in ``otvet serve``, and the
``otvet telegram`` commands (long polling, webhook management).
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import json
import logging
import signal
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from otvet import hookimpl
from otvet.core.inbox import Inbox
from otvet.core.store import DatabaseUnavailable, InboxItem
from otvet.frontends.http_auth import retry_after
from otvet.frontends.untrusted import BodyTooLarge, load_json, read_body

if TYPE_CHECKING:
    from otvet.core.app import Otvet

log = logging.getLogger(__name__)

STATE_KEY = "telegram"
#: otvet.state key of the webhook's inbox (core/inbox.py).
INBOX_KEY = "telegram_inbox"
#: otvet.state key of the polling bot ``otvet serve`` runs: (stop event, task).
POLLING_KEY = "telegram_polling"
WEBHOOK_PATH = "/telegram/webhook"
#: Telegram's updates are small; anything bigger is not from Telegram.
MAX_UPDATE_BYTES = 1_000_000


def webhook_enabled(otvet: Otvet) -> bool:
    settings = otvet.settings.telegram
    return settings.mode == "webhook" and bool(settings.token.get_secret_value())


async def telegram_webhook(request: Request) -> Response:
    """Receive one update from Telegram: check the secret token, store the update, then acknowledge it."""
    from telegram import Update

    otvet: Otvet = request.app.state.otvet
    application: Any = otvet.state.get(STATE_KEY)
    if application is None:
        return JSONResponse({"error": "the Telegram webhook is not enabled"}, status_code=404)
    secret = otvet.settings.telegram.secret_token.get_secret_value()
    given = request.headers.get("x-telegram-bot-api-secret-token", "")
    if not secret:
        # The path is the same in every deployment: without a secret anyone could post updates in any
        # user's name (an admin's too), so none is accepted.
        return JSONResponse({"error": "the webhook needs OTVET_TELEGRAM__SECRET_TOKEN"}, status_code=403)
    if not hmac.compare_digest(given.encode(), secret.encode()):
        return JSONResponse({"error": "wrong secret token"}, status_code=403)
    try:
        # Counted while it arrives: a huge body is refused without holding it in memory.
        body = await read_body(request, MAX_UPDATE_BYTES)
    except BodyTooLarge:
        return JSONResponse({"error": "update too large"}, status_code=413)
    except ClientDisconnect:  # gone mid-body: nobody to answer, and no traceback to log
        return JSONResponse({"error": "the update did not arrive in full"}, status_code=400)
    try:
        data = load_json(body)  # JSONDecodeError (a ValueError) also for non-UTF-8 and too deep nesting
        update = Update.de_json(data, application.bot)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        log.warning("rejected a malformed webhook update: %s", exc)
        return JSONResponse({"error": "not a Telegram update"}, status_code=400)
    if update is None:
        return JSONResponse({"error": "not a Telegram update"}, status_code=400)
    inbox: Inbox = otvet.state[INBOX_KEY]  # type: ignore[assignment]
    try:
        # Stored before the 200: Telegram sends an acknowledged update never again, so from here on it must
        # survive this process. A resend of one already stored is acknowledged and not handled twice. Update
        # ids are unique per bot: with the bot's id, a new token's updates are never taken for resends.
        await inbox.receive(f"{application.bot.id}:{update.update_id}", body.decode("utf-8"), update)
    except DatabaseUnavailable as exc:
        # Not acknowledged: Telegram keeps the update and sends it again later.
        return JSONResponse(
            {"error": "the database is unavailable; send the update again later"},
            status_code=503,
            headers=retry_after(exc.retry_after),
        )
    return JSONResponse({"ok": True})


async def handle_update(application: Any, item: InboxItem) -> None:
    """Handle one stored update like python-telegram-bot would, returning once it is handled."""
    from telegram import Update

    update = item.decoded or Update.de_json(json.loads(item.payload), application.bot)
    await application.update_processor.process_update(update, application.process_update(update))


@hookimpl
def register_routes(register: Callable[[BaseRoute], None]) -> None:
    register(Route(WEBHOOK_PATH, telegram_webhook, methods=["POST"]))


def polling_in_serve(otvet: Otvet) -> bool:
    """``otvet serve`` runs everything on one machine: with a token in polling mode, the bot too."""
    settings = otvet.settings.telegram
    return (
        otvet.lifecycle.service == "serve"
        and settings.mode == "polling"
        and bool(settings.token.get_secret_value())
    )


@hookimpl
def startup(otvet: Otvet) -> Any:
    if polling_in_serve(otvet):
        return _start_polling_task(otvet)
    if not webhook_enabled(otvet) or otvet.lifecycle.service not in ("serve", "api"):
        return None

    async def start_bot() -> None:
        from otvet.frontends.telegram.bot import CHANNEL, build_application
        from otvet.frontends.telegram.updates import MAX_CONCURRENT_UPDATES

        application = build_application(otvet, webhook=True)
        await application.initialize()
        await application.start()
        otvet.state[STATE_KEY] = application
        inbox = Inbox(
            otvet, CHANNEL, functools.partial(handle_update, application), concurrency=MAX_CONCURRENT_UPDATES
        )
        inbox.start()
        otvet.state[INBOX_KEY] = inbox
        if not otvet.settings.telegram.secret_token.get_secret_value():
            log.error(
                "telegram.secret_token (OTVET_TELEGRAM__SECRET_TOKEN) is not set: every webhook update is "
                "refused until it is (set it, then run otvet telegram set-webhook again)"
            )
        else:
            log.info("Telegram webhook ready at %s", WEBHOOK_PATH)

    return start_bot()


async def _start_polling_task(otvet: Otvet) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(run_polling(otvet, stop))
    otvet.state[POLLING_KEY] = (stop, task)


@hookimpl
def shutdown(otvet: Otvet) -> Any:
    polling: Any = otvet.state.pop(POLLING_KEY, None)
    if polling is not None:
        stop, task = polling

        async def stop_polling() -> None:
            stop.set()
            await asyncio.gather(task, return_exceptions=True)

        return stop_polling()
    application: Any = otvet.state.pop(STATE_KEY, None)
    inbox: Any = otvet.state.pop(INBOX_KEY, None)
    if application is None:
        return None

    async def stop_bot() -> None:
        if inbox is not None:
            await inbox.stop()
        await application.stop()
        await application.shutdown()

    return stop_bot()


async def run_polling(otvet: Otvet, stop: asyncio.Event) -> None:
    """Fetch updates by long polling until ``stop`` is set, then finish the answers in progress (up to
    ``shutdown_seconds``) before stopping: a restart cuts nobody's answer off."""
    from otvet.frontends.telegram.bot import build_application

    application = build_application(otvet)

    async def polling() -> str | None:
        updater = application.updater
        return None if application.running and updater is not None and updater.running else "not polling"

    # Added first: until the bot polls, the service is not ready ("not polling").
    otvet.lifecycle.add_check("telegram", polling)
    try:
        async with application:
            await application.start()
            assert application.updater is not None
            await application.updater.start_polling(allowed_updates=["message", "callback_query"])
            log.info("Telegram bot @%s is polling for updates", application.bot.username)
            await stop.wait()
            otvet.lifecycle.begin_drain()
            await application.updater.stop()  # no new updates; the ones fetched are being answered
            await otvet.lifecycle.wait_idle(otvet.settings.shutdown_seconds)
            await application.stop()
    except Exception:
        # In `otvet serve` the bot is one part among others: its failure (a revoked token) is logged, and the
        # readiness check says so, rather than taking the HTTP API down with it.
        if otvet.lifecycle.service != "serve":
            raise
        log.exception("the Telegram bot stopped")
    finally:
        otvet.lifecycle.remove_check("telegram")


@hookimpl
def register_commands(cli: click.Group) -> None:
    from otvet.frontends.cli.main import Context, pass_context, run

    @cli.group(invoke_without_command=True)
    @click.option(
        "--ops-port",
        type=int,
        default=None,
        help="Serve /healthz, /readyz and /metrics on this port (default: OTVET_OPS__PORT; none when unset).",
    )
    @click.pass_context
    def telegram(ctx: click.Context, ops_port: int | None) -> None:
        """Run the Telegram bot by long polling (for hosts without a public HTTPS address).

        \b
        Needs OTVET_TELEGRAM__TOKEN from @BotFather. With a public address, use the webhook instead:
          OTVET_TELEGRAM__MODE=webhook otvet serve   and   otvet telegram set-webhook
        """
        if ctx.invoked_subcommand is not None:
            return
        context: Context = ctx.find_object(Context)
        from otvet.frontends.server import ops_listener

        async def work(otvet: Otvet) -> None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()

            def on_signal() -> None:
                if stop.is_set():
                    otvet.lifecycle.hurry()  # a second signal: stop waiting for the answers in progress
                stop.set()

            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, on_signal)
            async with ops_listener(otvet, port=ops_port):
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
    """``work`` once a token is set, with the Bot API's refusals and outages at start as one clear line."""

    async def checked(otvet: Otvet) -> Any:
        from telegram.error import InvalidToken, NetworkError

        settings = otvet.settings.telegram
        if not settings.token.get_secret_value():
            raise click.ClickException(
                "OTVET_TELEGRAM__TOKEN is not set: create a bot with @BotFather and put its token there"
            )
        try:
            return await work(otvet)
        except InvalidToken:
            raise click.ClickException(
                "Telegram refused the bot token in OTVET_TELEGRAM__TOKEN: copy it again from @BotFather"
            ) from None
        except NetworkError as exc:  # TimedOut too: the Bot API could not be reached at all
            raise click.ClickException(
                f"cannot reach the Telegram Bot API at {settings.base_url} ({exc.message}): check the "
                "network, or OTVET_TELEGRAM__BASE_URL for a Bot API server of your own"
            ) from None

    return checked
