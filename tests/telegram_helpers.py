"""Helpers for tests that run the real python-telegram-bot stack against bot.devserver."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker
from telegram.ext import Application

from bot.app import build_application, register_commands, stop_digests
from bot.config import Settings
from bot.devserver import FakeBotApi
from tests.conftest import REPO

TOKEN = "123:ABC"
SPEC = REPO.parent / "shared" / "telegram" / "bot-api-10.1.json"


def bot_api_spec() -> Path:
    """The official Bot API description; skips the test without it (fails under CI=true)."""
    if not SPEC.is_file():
        reason = (
            f"Bot API description not found at {SPEC} (it comes from ../shared beside the repo)"
        )
        # CI always has ../shared: a missing description there is a failure, never a skip.
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return SPEC


@asynccontextmanager
async def running_bot(
    api: FakeBotApi, settings: Settings, sessions: sessionmaker[Session]
) -> AsyncIterator[Application]:  # type: ignore[type-arg]
    """The real bot, polling the stand-in until the block ends; then the stand-in must have
    seen no call that breaks the Bot API's rules and no message Telegram would refuse."""
    app = build_application(settings, sessions)
    await app.initialize()
    await register_commands(app)
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0.0, timeout=1)
    try:
        yield app
        assert api.violations == []
        assert api.rejected == []
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
        await stop_digests(app)
        api.stop()
