"""`paperboy run` and `paperboy digest --now`: the commands that talk to Telegram, and so
the only ones that import python-telegram-bot, the application and the scheduler."""

from __future__ import annotations

import argparse
import asyncio
import gc
import hashlib
import logging
import socket
import sys

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from telegram import Bot, Update
from telegram.error import NetworkError

from bot import __version__, operations
from bot.app import build_application
from bot.cli_preview import digest_chats, why_none
from bot.config import Settings
from bot.digests import Digests, Outcome
from bot.lease import leadership
from bot.schedule import utc_now
from bot.scheduler import make_sender

log = logging.getLogger("paperboy")

# `digest --now` waits this long for another process's digest run to end.
LEASE_WAIT = 90.0


async def digest_now(settings: Settings, sessions: sessionmaker[Session], chat: int | None) -> int:
    # A rejected token or an unreachable Bot API is one line, not a failure for every chat.
    await reach_telegram(settings, settings.token())
    digests = Digests(
        sessions, make_sender(settings), settings.digest_max, recommend=settings.recommend_max
    )
    lease = leadership(sessions)
    try:
        waited = 0.0
        while not await asyncio.to_thread(lease.acquire, utc_now()):
            if waited == 0:
                print(
                    f"waiting: another process delivers digests ({lease.holder()})", file=sys.stderr
                )
            if waited >= LEASE_WAIT:
                print(
                    "paperboy: the other process still holds the digests; try later",
                    file=sys.stderr,
                )
                return 1
            await asyncio.sleep(2.0)
            waited += 2.0
        flood = digests.flood_wait_until()
        if flood is not None:
            print(
                f"paperboy: Telegram's flood wait lasts until {flood:%Y-%m-%d %H:%M} UTC",
                file=sys.stderr,
            )
            return 1
        chats = digest_chats(sessions, chat)
        if not chats:
            print(why_none(sessions))
            return 0
        report = await digests.run(chats, lease, daily=chat is None)
    finally:
        await asyncio.to_thread(lease.release)
        await digests.sender.close()
    print(report.summary())
    failed = report.outcomes.get(Outcome.FAILED.value, 0)
    return 1 if failed or report.flood_wait is not None else 0


async def reach_telegram(settings: Settings, token: str) -> None:
    """Ask the Bot API who the bot is, once: a rejected token or an unreachable server is
    then one line from main(), before PTB would log it with a traceback."""
    api = settings.bot_api_url.rstrip("/")
    try:
        async with Bot(token, base_url=f"{api}/bot"):
            pass  # entering fetches getMe
    except NetworkError as exc:
        raise NetworkError(f"cannot reach the Bot API at {api}: {exc}") from None


def _free_port(host: str, port: int, variable: str) -> None:
    """Raise OSError, saying which setting, if nothing can listen there: found out later,
    inside PTB or the metrics thread, it is a traceback."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers bind
            probe.bind((host, port))
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise OSError(f"cannot listen on {host}:{port} ({variable}): {reason}") from None


def cmd_run(args: argparse.Namespace, settings: Settings, engine: Engine) -> int:
    token = settings.token()
    if settings.webhook_url:
        _free_port(settings.webhook_listen, settings.webhook_port, "PAPERBOY_WEBHOOK_PORT")
    if settings.metrics_port is not None:
        _free_port(settings.metrics_host, settings.metrics_port, "PAPERBOY_METRICS_PORT")
    asyncio.run(reach_telegram(settings, token))
    application = build_application(settings, operations.sessions(engine))
    # What is loaded by now lives as long as the process: frozen, the collector's full passes
    # no longer walk it (some 80,000 objects, about 30 ms each time: a pause in a reply).
    gc.collect()
    gc.freeze()
    log.info("paperboy %s starting (%s)", __version__, settings.webhook_url or "long polling")
    # PTB runs on the current event loop and closes it when it stops: give it a fresh one, so
    # that this also works when called again in one process.
    asyncio.set_event_loop(asyncio.new_event_loop())
    if settings.webhook_url:
        application.run_webhook(
            listen=settings.webhook_listen,
            port=settings.webhook_port,
            url_path="telegram",
            webhook_url=settings.webhook_url,
            # Telegram echoes it in a header, so forged updates from others are refused.
            secret_token=hashlib.sha256(token.encode()).hexdigest()[:32],
            allowed_updates=Update.ALL_TYPES,
        )
    else:
        application.run_polling(allowed_updates=Update.ALL_TYPES)
    return 0
