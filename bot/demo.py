"""`paperboy demo`: the bot at work with no token and no network.

Starts the local Bot API stand-in on 127.0.0.1, ingests a few pages into a throwaway
database, plays a short conversation through the real bot and returns the transcript.

Each step waits until the bot has finished handling it (every message of a digest sent,
paced a second apart as Telegram asks) before the next one is played, so the transcript
shows the messages in the order they were sent.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Callable, Sequence
from importlib.resources import as_file, files
from pathlib import Path

from pydantic import SecretStr
from telegram import Update
from telegram.ext import ContextTypes, TypeHandler

from bot.app import build_application, register_commands, stop_digests
from bot.config import Settings
from bot.devserver import ChatMessage, FakeBotApi
from bot.devserver.limits import RateLimits
from bot.fetch import FetchPolicy
from bot.ingest import SourceReport, expand_sources, ingest_all
from storage import db

USER = 424242
# A step is what the user types, or "[label]": a tap on the button with that label under
# the bot's newest message that has one.
SCRIPT = (
    "/start",
    "/help",
    "/subscribe graph neural networks, prunning, MoE, the",
    "/subscibe LoRA",
    "/search quantisation",
    "/digest",
    "[1 👍]",
    "/settings",
)
# The last handler group: it runs once the bot's own handlers are done with an update.
_DONE_GROUP = 1_000
STEP_TIMEOUT = 30.0


def sample_page() -> str:
    with as_file(files("bot") / "data" / "sample_page.txt") as path:
        return str(path)


def _shown(name: str, text: str, markup: object) -> list[str]:
    """A message as a person reads it: who wrote it, its text, its buttons."""
    first, *rest = text.split("\n")
    lines = [f"{name}: {first}" if first else f"{name}:", *(f"    {line}" for line in rest)]
    rows = markup.get("inline_keyboard", []) if isinstance(markup, dict) else []
    lines += ["    " + " ".join(f"[{button['text']}]" for button in row) for row in rows]
    return lines


class _Player:
    """Plays the script's steps one at a time, each once the previous one is done."""

    def __init__(self, api: FakeBotApi, bot_name: str) -> None:
        self.api = api
        self.bot_name = bot_name
        self.handled = 0  # updates the bot has finished handling
        self.lines: list[str] = []

    async def done(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        self.handled += 1

    async def _until(self, ready: Callable[[], bool]) -> None:
        deadline = time.monotonic() + STEP_TIMEOUT
        while not ready():
            if time.monotonic() > deadline:
                raise TimeoutError(f"the bot did not finish a step in {STEP_TIMEOUT:.0f} s")
            await asyncio.sleep(0.01)
        await self.api.wait_idle(STEP_TIMEOUT)

    async def step(self, line: str) -> None:
        before = self.api.sent(USER)
        versions = [(len(message.edits), message.text) for message in before]
        answers = len(self.api.answers)
        expected = self.handled + 1
        if line.startswith("[") and line.endswith("]"):
            label = line[1:-1]
            message = _with_button(before, label)
            self.api.user_presses(USER, message.message_id, label)
            self.lines.append(f"You tap [{label}]")
        else:
            self.api.user_sends(USER, line)
            self.lines.append(f"You: {line}")
        await self._until(lambda: self.handled >= expected)
        after = self.api.sent(USER)
        for answer in self.api.answers[answers:]:
            if answer.text:
                self.lines.append(f"{self.bot_name} (notice): {answer.text}")
        for message, (seen, text) in zip(after, versions, strict=False):
            if len(message.edits) > seen:
                self.lines += _edited(self.bot_name, message, message.text == text)
        for message in after[len(before) :]:
            self.lines += _shown(self.bot_name, message.shown, message.reply_markup)


def _with_button(messages: Sequence[ChatMessage], label: str) -> ChatMessage:
    for message in reversed(messages):
        if any(button.get("text") == label for button in message.buttons()):
            return message
    raise LookupError(f"no message has a button [{label}]")


def _edited(name: str, message: ChatMessage, same_text: bool) -> list[str]:
    if same_text:
        rows = (message.reply_markup or {}).get("inline_keyboard", [])
        return [f"{name} (updates the buttons):"] + [
            "    " + " ".join(f"[{button['text']}]" for button in row) for row in rows
        ]
    return _shown(f"{name} (edits its message)", message.shown, message.reply_markup)


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
            player = _Player(api, api.bot.first_name)
            application.add_handler(TypeHandler(Update, player.done), group=_DONE_GROUP)
            async with application:
                await register_commands(application)
                await application.start()
                assert application.updater is not None
                await application.updater.start_polling(poll_interval=0.0, timeout=1)
                try:
                    for line in script:
                        await player.step(line)
                finally:
                    await application.updater.stop()
                    await application.stop()
                    await stop_digests(application)
        engine.dispose()
    return reports, "\n".join(player.lines)
