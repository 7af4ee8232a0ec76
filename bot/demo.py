"""`paperboy demo`: the bot at work with no token and no network.

Starts the local Bot API stand-in on 127.0.0.1, ingests a few pages into a throwaway
database, plays a short conversation through the real bot and returns the transcript.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from importlib.resources import as_file, files
from pathlib import Path

from pydantic import SecretStr

from bot.app import build_application, register_commands, stop_digests
from bot.config import Settings
from bot.devserver import FakeBotApi
from bot.devserver.limits import RateLimits
from bot.fetch import FetchPolicy
from bot.ingest import SourceReport, expand_sources, ingest_all
from storage import db

USER = 424242
SCRIPT = (
    "/start",
    "/subscribe graph neural networks, prunning, MoE",
    "/search quantisation",
    "/digest",
    "/settings",
)


def sample_page() -> str:
    with as_file(files("bot") / "data" / "sample_page.txt") as path:
        return str(path)


async def play(
    pages: Sequence[str], script: Sequence[str] = SCRIPT
) -> tuple[list[SourceReport], str]:
    """Ingest `pages` (default: the bundled sample), then chat; returns reports and transcript."""
    with tempfile.TemporaryDirectory(prefix="paperboy-demo-") as tmp:
        engine = db.make_engine(f"sqlite:///{Path(tmp) / 'demo.db'}")
        db.upgrade(engine)
        sessions = db.make_sessions(engine)
        sources = expand_sources(pages or [sample_page()])
        reports = ingest_all(sessions, sources, FetchPolicy(timeout=10, retries=1))
        # No flood limits: a demo conversation is a burst that Telegram lets through.
        with FakeBotApi(limits=RateLimits(private_chat=None)) as api:
            api.add_user(USER, "You")
            settings = Settings(
                database_url=str(engine.url),
                bot_token=SecretStr("123456:demo-token"),
                bot_api_url=api.base_url.removesuffix("/bot"),
            )
            application = build_application(settings, sessions)
            async with application:
                await register_commands(application)
                await application.start()
                assert application.updater is not None
                await application.updater.start_polling(poll_interval=0.0, timeout=1)
                for line in script:
                    await api.converse(USER, line, timeout=10)
                await application.updater.stop()
                await application.stop()
                await stop_digests(application)
            transcript = api.transcript(USER)
        engine.dispose()
    return reports, transcript
