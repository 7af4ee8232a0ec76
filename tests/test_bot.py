"""The bot end to end: the real python-telegram-bot stack against the local Bot API.

Every call the bot makes is checked against the official Bot API description, and every
message against Telegram's rules (HTML, length); each test ends by asserting that none was
invalid.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import re
import signal
import sys
import threading
import time
import traceback
from collections.abc import AsyncIterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from rapidfuzz import process
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from telegram.ext import Application

from bot import cli, logs
from bot.app import COMMANDS
from bot.config import Settings
from bot.devserver import FakeBotApi
from bot.devserver.limits import RateLimits
from bot.records import Paper
from bot.sources import arxiv_feed
from storage import queries, subscriptions
from storage.models import PaperRow, RatingRow
from tests.conftest import BACKENDS
from tests.httpserver import Reply, free_port, serve
from tests.telegram_helpers import TOKEN, bot_api_spec, running_bot

# The chat flows here do not depend on the database: SQLite only (tests/conftest.py);
# the tests below that store, move or delete data run on both backends.
pytestmark = pytest.mark.backends("sqlite")

ALICE, BOB, ADMIN = 1001, 1002, 1003
GROUP, FORUM, CHANNEL = -2001, -1002002, -1002003

PAPERS = [
    Paper("Graph Neural Networks at Scale", "We train GNNs (graph neural networks) on graphs."),
    Paper("Pruning Mixture-of-Experts", "We prune MoE experts without retraining.", "2401.00002"),
    Paper(
        "<script>alert(1)</script> & Friends", "A paper whose title is hostile HTML, on pruning."
    ),
    *(Paper(f"Pruning Study {n}", f"Pruning study number {n} of many.") for n in range(12)),
]


@dataclass
class Bot:
    api: FakeBotApi
    app: Application  # type: ignore[type-arg]
    sessions: sessionmaker[Session]

    async def say(
        self,
        user: int,
        text: str,
        chat: int | None = None,
        thread_id: int | None = None,
        timeout: float = 5.0,
    ) -> str:
        """A user writes; returns everything the bot showed in that chat afterwards (nothing
        if it stays silent for `timeout` seconds)."""
        replies = await self.api.converse(
            user, text, chat_id=chat, thread_id=thread_id, timeout=timeout
        )
        return "\n".join(message.shown for message in replies)

    async def until(self, chat: int, text: str, timeout: float = 30.0) -> str:
        """Wait for a message with `text` in the chat (a reply a background task sends);
        returns it."""
        deadline = asyncio.get_running_loop().time() + timeout
        while not (found := [m.shown for m in self.api.sent(chat) if text in m.shown]):
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"no message with {text!r} in {timeout}s")
            await asyncio.sleep(0.02)
        return found[-1]

    async def delivered(self, chat: int, at_least: int, timeout: float = 30.0) -> int:
        """How many papers the chat counts as sent, once at least `at_least` (or after
        `timeout` seconds): a handler records them in a thread after Telegram's answer, which
        a loaded machine can delay past the moment its reply is seen."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            with self.sessions() as session:
                row = subscriptions.find(session, chat)
                count = subscriptions.delivered_count(session, row.id) if row else 0
            if count >= at_least or asyncio.get_running_loop().time() > deadline:
                return count
            await asyncio.sleep(0.05)

    async def press(self, user: int, label: str, chat: int | None = None) -> str:
        message = next(
            m
            for m in reversed(self.api.sent(chat or user))
            if label in json.dumps(m.reply_markup, ensure_ascii=False)
        )
        before = len(self.api.sent(chat or user))
        answered = len(self.api.answers)
        self.api.user_presses(user, message.message_id, label, chat_id=chat)
        # The tap's answer first: the bot answers after its work in a thread, which on a busy
        # machine can outlast wait_idle's quiet spell; then whatever follows it (edits).
        deadline = asyncio.get_running_loop().time() + 30
        while len(self.api.answers) == answered:
            assert asyncio.get_running_loop().time() < deadline, f"the tap on {label} unanswered"
            await asyncio.sleep(0.02)
        await self.api.wait_idle()
        edited = self.api.sent(chat or user)[self.api.sent(chat or user).index(message)]
        new = [m.shown for m in self.api.sent(chat or user)[before:]]
        return "\n".join([edited.shown, *new])


@pytest.fixture
async def bot(sessions: sessionmaker[Session], db_url: str, tmp_path: Path) -> AsyncIterator[Bot]:
    with sessions.begin() as session:
        queries.store_papers(session, PAPERS, datetime(2026, 11, 24, tzinfo=UTC))
    source = tmp_path / "page.txt"
    source.write_bytes((Path(__file__).parents[1] / "bot/data/sample_page.txt").read_bytes())
    api = FakeBotApi(bot_api_spec(), limits=RateLimits(private_chat=None, group_chat=None))
    api.start()
    api.add_user(ALICE, "Alice")
    api.add_user(BOB, "Bob")
    api.add_user(ADMIN, "Ada")
    api.add_chat(GROUP, "group", "Reading group", members={ALICE: "administrator", BOB: "member"})
    api.add_chat(FORUM, "supergroup", "Lab", is_forum=True, members={ALICE: "creator"})
    api.add_chat(CHANNEL, "channel", "Papers", username="papers", members={ALICE: "administrator"})
    settings = Settings(
        database_url=db_url,
        bot_token=SecretStr(TOKEN),
        bot_api_url=api.base_url.removesuffix("/bot"),
        admin_ids=[ADMIN],
        sources=[str(source)],
        digest_max=5,
    )
    async with running_bot(api, settings, sessions) as app:
        yield Bot(api, app, sessions)


async def test_menu_comes_from_the_command_list(bot: Bot) -> None:
    [call] = [c for c in bot.api.calls if c.method == "setMyCommands"]
    menu = [c["command"] for c in json.loads(str(call.params["commands"]))]
    assert menu == [c.name for c in COMMANDS if not c.admin]


async def test_private_conversation(bot: Bot) -> None:
    assert "Welcome to paperboy" in await bot.say(ALICE, "/start")
    assert "/subscribe" in await bot.say(ALICE, "/help")
    assert "Subscribed to: GNN, pruning" in await bot.say(ALICE, "/subscribe GNN, pruning")
    assert "Subscribed to: MoE" in await bot.say(ALICE, "/add MoE")
    keywords = await bot.say(ALICE, "/keywords")
    assert "• GNN" in keywords
    assert "• MoE" in keywords
    assert "Tap a keyword" in await bot.say(ALICE, "/unsubscribe")
    assert "Unsubscribed from: MoE" in await bot.press(ALICE, "✕ MoE")
    assert "Unsubscribed from: GNN" in await bot.say(ALICE, "/remove gnn")
    assert "07:30" in await bot.say(ALICE, "/time 07:30")
    assert "Did you mean" in await bot.say(ALICE, "/timezone Europe/Berln")
    assert "Europe/Berlin" in await bot.say(ALICE, "/timezone Europe/Berlin")
    assert "Paused" in await bot.say(ALICE, "/pause")
    assert "Resumed" in await bot.say(ALICE, "/resume")
    settings = await bot.say(ALICE, "/settings")
    assert "active, daily at 07:30 (Europe/Berlin)" in settings
    assert "pruning" in settings
    assert bot.api.answers


async def test_search_pages_with_buttons(bot: Bot) -> None:
    first = await bot.say(ALICE, "/search pruning")
    assert "Papers 1 to 5 of" in first
    second = await bot.press(ALICE, "more »")
    assert "Papers 6 to 10 of" in second
    back = await bot.press(ALICE, "« back")
    assert "Papers 1 to 5 of" in back
    # A swap of two letters is one typo ("prunning" is read as a form of "prune" anyway).
    corrected = await bot.say(ALICE, "/search prunnig")
    assert "showing results for pruning" in corrected
    assert "Type some words" in await bot.say(ALICE, "/search")
    assert "No papers match" in await bot.say(ALICE, '/search " * NEAR -')


async def test_digest_latest_and_more_button(bot: Bot) -> None:
    await bot.say(ALICE, "/subscribe pruning")
    assert "Pruning" in await bot.say(ALICE, "/latest")
    digest = await bot.say(ALICE, "/digest")
    assert digest.count("Pruning") >= 5
    assert "&lt;script&gt;" not in digest  # shown text: the tags arrive escaped, as text
    assert await bot.delivered(ALICE, 5) == 5
    more = await bot.press(ALICE, "9 more")
    assert "Pruning" in more
    assert await bot.delivered(ALICE, 10) == 10
    assert "Pruning" in await bot.say(ALICE, "/digest")
    assert "Nothing new" in await bot.say(ALICE, "/digest")
    assert await bot.delivered(ALICE, 14) == 14


@pytest.mark.backends(*BACKENDS)
async def test_export_import_and_stop(bot: Bot) -> None:
    await bot.say(ALICE, "/subscribe GNN, -survey")
    exported = await bot.say(ALICE, "/export")
    document = exported[exported.index("{") :]
    assert json.loads(document)["keywords"] == ["-survey", "GNN"]
    prompt = await bot.say(BOB, "/import")
    assert "Reply to this message" in prompt
    [prompt_message] = [m for m in bot.api.sent(BOB) if "Reply to this message" in m.shown]
    bot.api.user_sends(BOB, document, reply_to=prompt_message.message_id)
    # The import thinks in a thread, without requests: wait for its reply, not for quiet.
    imported = await bot.until(BOB, "Subscribed to")
    assert "Subscribed to: GNN\nExcluding: survey\n" in imported
    assert "• GNN: 1 paper\n" in imported
    assert await bot.say(BOB, "/stop") == (
        "Delete your keywords, settings, ratings, saved papers, library and history? "
        "This cannot be undone."
    )
    assert (
        await bot.press(BOB, "Yes, delete everything")
        == "Done: your keywords, settings, ratings, saved papers, library and history are "
        "deleted. /start to begin again."
    )
    with bot.sessions() as session:
        assert subscriptions.find(session, BOB) is None


async def test_subscribe_cleans_refuses_and_counts(bot: Bot) -> None:
    reply = await bot.say(ALICE, "/subscribe graph neural networks, pruning., a, -survey")
    *lines, when, step = reply.split("\n")
    assert step == "Try /latest now, or /digest for your first digest; /time sets when it comes."
    # The bot runs on the real clock: today's 08:00 UTC may or may not have passed.
    assert re.fullmatch(r"Next digest: (today|tomorrow) at 08:00 \(UTC\)\.", when)
    assert lines == [
        "Subscribed to: graph neural networks, pruning",
        "Excluding: survey",
        "“a” was not added: a single letter matches almost every paper.",
        "Matches among the 15 stored papers now:",
        "• graph neural networks: 1 paper",
        "• pruning: 14 papers",
        "• -survey: no paper to leave out yet",
    ]
    questioned = await bot.say(ALICE, "/subscribe GNN pruning")
    assert "looks like 2 keywords. Did you mean /subscribe GNN, pruning?" in questioned
    assert "Subscribed to: GNN pruning" in await bot.say(ALICE, '/subscribe "GNN pruning"')
    with bot.sessions() as session:
        row = subscriptions.find(session, ALICE)
        assert row is not None
        assert subscriptions.keywords(row) == [
            "-survey", "GNN pruning", "graph neural networks", "pruning",
        ]  # fmt: skip
    # The channel's own keywords, named in the suggestion.
    channel = await bot.say(ALICE, "/subscribe @papers MoE GNN")
    assert "/subscribe @papers MoE, GNN" in channel


async def test_bad_and_hostile_input(bot: Bot) -> None:
    assert await bot.say(ALICE, "/frobnicate") == (
        "I don't know that command. /help lists what I can do."
    )
    assert await bot.say(ALICE, "/subscibe GNN") == (
        "I don't know /subscibe. Did you mean /subscribe?"
    )
    # In a group, another bot's commands (named, or not) are not ours to answer.
    sent = len(bot.api.sent(GROUP))
    for command in ("/frobnicate", "/subscibe@other_bot GNN", "/start@other_bot"):
        bot.api.user_sends(BOB, command, chat_id=GROUP)
        await bot.api.wait_idle()
    assert len(bot.api.sent(GROUP)) == sent
    assert "Did you mean /subscribe?" in await bot.say(
        BOB, "/subscibe@paperboy_test_bot GNN", chat=GROUP
    )
    assert "Usage" in await bot.say(ALICE, "/subscribe")
    assert "at most 100 characters" in await bot.say(ALICE, "/subscribe " + "x" * 150)
    hostile = "<b>bold</b> & <a href='x'>link</a> שלום 🧪 " + "y" * 50
    reply = await bot.say(ALICE, "/subscribe " + hostile)
    assert "Subscribed to: <b>bold</b> &" in reply  # shown as typed, not as markup
    long_search = await bot.say(ALICE, "/search " + " ".join(f"w{n}" for n in range(900)))
    assert "only the first" in long_search
    ten_thousand = ("שלום <i>x</i> & 🧪 " * 700)[:10_000]
    assert "at most 100 characters" in await bot.say(ALICE, "/subscribe " + ten_thousand)
    assert "No papers match" in await bot.say(ALICE, "/search " + ten_thousand)
    bot.api.user_sends_sticker(ALICE)
    await bot.api.wait_idle()
    assert "commands only" in bot.api.sent(ALICE)[-1].shown
    count = len(bot.api.sent(ALICE))
    message_id = bot.api.user_sends(ALICE, "/keywords")
    await bot.api.wait_idle()
    bot.api.user_edits(ALICE, message_id, "/stop")
    await bot.api.wait_idle()
    assert len(bot.api.sent(ALICE)) == count + 1  # the edit was ignored


async def test_digest_without_keywords_says_how_to_add_one(bot: Bot) -> None:
    assert await bot.say(BOB, "/digest") == (
        "There are no keywords yet, so there is nothing to send. "
        "Add keywords with /subscribe keyword, keyword."
    )
    await bot.say(BOB, "/subscribe GNN")
    await bot.say(BOB, "/digest")
    assert await bot.say(BOB, "/digest") == "Nothing new for your keywords right now."


async def test_stop_in_a_group_names_the_group(bot: Bot) -> None:
    await bot.say(ALICE, "/subscribe GNN", chat=GROUP)
    assert await bot.say(ALICE, "/stop", chat=GROUP) == (
        "Delete the keywords, settings, ratings, saved papers, library and history of "
        "Reading group? This cannot be undone."
    )
    assert "of Reading group are deleted." in await bot.press(
        ALICE, "Yes, delete everything", chat=GROUP
    )


@pytest.mark.backends(*BACKENDS)
async def test_groups_admins_topics_and_migration(bot: Bot) -> None:
    refused = await bot.say(BOB, "/subscribe@paperboy_test_bot GNN", chat=GROUP)
    assert "Only the group's administrators" in refused
    assert "Subscribed to: GNN" in await bot.say(
        ALICE, "/subscribe@paperboy_test_bot GNN", chat=GROUP
    )
    assert "1 paper matches:" in await bot.say(BOB, "/search graph", chat=GROUP)
    await bot.say(ALICE, "/subscribe pruning", chat=FORUM, thread_id=77)
    with bot.sessions() as session:
        forum = subscriptions.find(session, FORUM)
        assert forum is not None
        assert forum.thread_id == 77
    await bot.say(ALICE, "/digest", chat=FORUM, thread_id=77)
    assert {m.thread_id for m in bot.api.sent(FORUM)} == {77}
    bot.api.migrate_group(GROUP, -1009999, by=ALICE)
    await bot.api.wait_idle()
    with bot.sessions() as session:
        assert subscriptions.find(session, GROUP) is None
        moved = subscriptions.find(session, -1009999)
        assert moved is not None
        assert subscriptions.keywords(moved) == ["GNN"]


async def test_channels_are_managed_from_a_private_chat(bot: Bot) -> None:
    assert "Subscribed to: GNN" in await bot.say(ALICE, "/subscribe @papers GNN")
    assert "• GNN" in await bot.say(ALICE, "/keywords @papers")
    assert "Only administrators of @papers" in await bot.say(BOB, "/subscribe @papers MoE")
    assert "cannot find @nowhere" in await bot.say(ALICE, "/subscribe @nowhere MoE")
    bot.api.chat(CHANNEL).members[bot.api.bot.id] = "member"
    assert "cannot post in @papers" in await bot.say(ALICE, "/subscribe @papers MoE")
    bot.api.chat(CHANNEL).members[bot.api.bot.id] = "administrator"
    assert "Unsubscribed from: GNN" in await bot.say(ALICE, "/unsubscribe @papers GNN")
    # A name typed by the user is escaped like everything else.
    assert "cannot find @<b>x" in await bot.say(ALICE, "/subscribe @<b>x MoE")


async def test_only_a_channels_admins_rate_for_it(bot: Bot) -> None:
    # A channel's ratings shape what every reader gets, and ≈ posts into the channel: a
    # reader's taps change nothing (found by a review).
    await bot.say(ALICE, "/subscribe @papers GNN")
    await bot.say(ALICE, "/digest @papers")
    [post] = [m for m in bot.api.sent(CHANNEL) if m.reply_markup]
    posts = len(bot.api.sent(CHANNEL))
    for label in ("1 👎", "1 🔖", "1 ≈"):
        bot.api.user_presses(BOB, post.message_id, label, chat_id=CHANNEL)
        await bot.api.wait_idle(quiet=0.3)
        assert bot.api.answers[-1].text == "Only the channel's administrators can rate papers here."
    assert len(bot.api.sent(CHANNEL)) == posts
    with bot.sessions() as session:
        assert session.scalar(select(func.count()).select_from(RatingRow)) == 0
    bot.api.user_presses(ALICE, post.message_id, "1 👍", chat_id=CHANNEL)
    await bot.api.wait_idle(quiet=0.3)
    assert "Noted" in (bot.api.answers[-1].text or "")
    with bot.sessions() as session:
        assert session.scalar(select(func.count()).select_from(RatingRow)) == 1


async def test_import_into_a_channel_through_the_reply(bot: Bot) -> None:
    prompt = await bot.say(ALICE, "/import @papers")
    assert "Reply to this message" in prompt
    [message] = [m for m in bot.api.sent(ALICE) if "Reply to this message" in m.shown]
    document = json.dumps({"format": "paperboy-subscription/1", "keywords": ["channel kw"]})
    bot.api.user_sends(ALICE, document, reply_to=message.message_id)
    await bot.api.wait_idle()
    with bot.sessions() as session:
        channel = subscriptions.find(session, CHANNEL)
        assert channel is not None
        assert subscriptions.keywords(channel) == ["channel kw"]
        assert subscriptions.find(session, ALICE) is None


async def test_a_kicked_channel_is_deactivated_not_its_admin(bot: Bot) -> None:
    await bot.say(ALICE, "/start")
    await bot.say(ALICE, "/subscribe @papers pruning")
    await bot.say(ALICE, "/subscribe pruning")
    bot.api.chat(CHANNEL).kicked = True
    reply = await bot.say(ALICE, "/digest @papers")
    assert "cannot" in reply
    with bot.sessions() as session:
        alice = subscriptions.find(session, ALICE)
        assert alice is not None
        assert alice.active


@pytest.mark.backends(*BACKENDS)
async def test_blocked_user_is_deactivated_and_start_revives(bot: Bot) -> None:
    await bot.say(BOB, "/subscribe pruning")
    bot.api.chat(BOB).blocked = True
    await bot.say(BOB, "/digest")
    with bot.sessions() as session:
        row = subscriptions.find(session, BOB)
        assert row is not None
        assert not row.active
    bot.api.chat(BOB).blocked = False
    await bot.say(BOB, "/start")
    with bot.sessions() as session:
        row = subscriptions.find(session, BOB)
        assert row is not None
        assert row.active


async def test_admin_commands(bot: Bot) -> None:
    assert "for the bot's administrators" in await bot.say(ALICE, "/stats")
    assert "Papers: 15" in await bot.say(ADMIN, "/stats")
    assert "Added https://example.org/feed" in await bot.say(
        ADMIN, "/sources add https://example.org/feed"
    )
    listing = await bot.say(ADMIN, "/sources")
    assert "https://example.org/feed" in listing
    assert "page.txt (PAPERBOY_SOURCES)" in listing
    assert "Removed" in await bot.say(ADMIN, "/sources remove https://example.org/feed")
    assert "Ingesting all sources" in await bot.say(ADMIN, "/ingest")
    report = await bot.until(ADMIN, "failed.")
    assert "6 papers, 6 new" in report
    assert "1 source, 6 new papers, 0 failed." in report


async def _ingest(bot: Bot) -> str:
    """/ingest, and wait for its report: the run may outlast the devserver's idle wait."""
    before = len(bot.api.sent(ADMIN))
    await bot.say(ADMIN, "/ingest")
    for _ in range(600):
        shown = [m.shown for m in bot.api.sent(ADMIN)[before:]]
        if any(" failed." in text for text in shown):
            return "\n".join(shown)
        await asyncio.sleep(0.05)
    raise AssertionError("no ingest report after 30 s")


async def test_sources_added_from_chat_stay_outside(bot: Bot) -> None:
    page = (Path(__file__).parents[1] / "bot/data/sample_page.txt").read_bytes()
    with serve({"/feed": Reply(body=page)}) as internal:
        url = internal.url("/feed")
        for spelled in (
            url,
            url.replace("127.0.0.1", "localhost"),
            url.replace("127.0.0.1", "[::ffff:127.0.0.1]"),
            url.replace("127.0.0.1", "2130706433"),
        ):
            reply = await bot.say(ADMIN, f"/sources add {spelled}")
            assert reply.startswith("Not added: "), reply
        assert url not in await bot.say(ADMIN, "/sources")
        # Added while it resolved elsewhere, or before the guard: refused when fetched.
        with bot.sessions.begin() as session:
            queries.schedule_source(session, url, True)
        report = await _ingest(bot)
        assert f"⚠ {url}: 127.0.0.1 is a loopback address" in report
        assert internal.count("/feed") == 0
        settings: Settings = bot.app.bot_data["settings"]
        bot.app.bot_data["settings"] = settings.model_copy(update={"allow_private_sources": True})
        assert "Added" in await bot.say(ADMIN, f"/sources add {url}")
        assert "0 failed" in await _ingest(bot)
        assert internal.count("/feed") == 1


async def test_too_many_commands_are_slowed_down(bot: Bot) -> None:
    for _ in range(20):
        bot.api.user_sends(BOB, "/help")
    await bot.api.wait_idle()
    assert "slow down" in await bot.say(BOB, "/help")
    assert "slow down" not in await bot.say(ALICE, "/help")


async def test_the_token_never_reaches_the_logs(
    bot: Bot, capfd: pytest.CaptureFixture[str]
) -> None:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    logs.configure("DEBUG", [TOKEN])
    # httpx writes request URLs, token included, at DEBUG and INFO: let it, to prove the
    # redaction rather than the silence.
    logging.getLogger("httpx").setLevel(logging.DEBUG)
    try:
        bot.api.inject("sendMessage", status=500)
        await bot.say(ALICE, "/help")
        err = capfd.readouterr().err
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    assert "[redacted]" in err
    assert TOKEN not in err


async def test_paperboy_run_in_a_real_process(
    db_url: str, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    """`paperboy run` as an operator starts it: token from a file, the API URL from the
    environment, stopped with SIGINT; the token appears nowhere in its output. A digest that
    fell due while it was down is delivered at start."""
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    now = datetime.now(UTC)
    with sessions.begin() as session:
        queries.store_papers(session, PAPERS[:2], now)
        row = subscriptions.enroll(session, ALICE, "private", now)
        subscriptions.add_keywords(row, ["GNN"])
        row.next_digest_at = now - timedelta(hours=3)  # missed while the bot was down
    with FakeBotApi(bot_api_spec()) as api:
        api.add_user(ALICE, "Alice")
        env = {
            **os.environ,
            "PAPERBOY_DATABASE_URL": db_url,
            "PAPERBOY_BOT_TOKEN_FILE": str(token_file),
            "PAPERBOY_BOT_API_URL": api.base_url.removesuffix("/bot"),
            "PAPERBOY_LOG_LEVEL": "DEBUG",
            "PAPERBOY_SOURCES": "",
            # No sentence model: no chat here rated a paper, and making every paper's vector
            # at start-up would only slow the test down.
            "PAPERBOY_MODEL_DIR": "/nonexistent/paperboy-model",
        }
        process = await asyncio.create_subprocess_exec(
            str(Path(sys.executable).with_name("paperboy")),
            "run",
            env=env,
            cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            for _ in range(300):
                if api.sent(ALICE):
                    break
                await asyncio.sleep(0.1)
            [digest] = api.sent(ALICE)
            assert "Graph Neural Networks at Scale" in digest.shown
            [reply] = await api.converse(ALICE, "/start", timeout=30)
            assert "Welcome to paperboy" in reply.shown
        finally:
            process.send_signal(signal.SIGINT)
            output, _ = await asyncio.wait_for(process.communicate(), timeout=30)
        assert process.returncode == 0
        assert api.violations == []
        assert api.tokens == {TOKEN}
    text = output.decode()
    assert "Application started" in text
    assert TOKEN not in text


async def test_webhook_mode(db_url: str, tmp_path: Path) -> None:
    """With PAPERBOY_WEBHOOK_URL, the bot sets its webhook and takes updates over HTTP,
    refusing posts that lack the secret token Telegram is given."""
    port = free_port()
    with FakeBotApi(bot_api_spec()) as api:
        api.add_user(ALICE, "Alice")
        env = {
            **os.environ,
            "PAPERBOY_DATABASE_URL": db_url,
            "PAPERBOY_BOT_TOKEN": TOKEN,
            "PAPERBOY_BOT_API_URL": api.base_url.removesuffix("/bot"),
            "PAPERBOY_WEBHOOK_URL": "https://bot.example.org/telegram",
            "PAPERBOY_WEBHOOK_LISTEN": "127.0.0.1",
            "PAPERBOY_WEBHOOK_PORT": str(port),
            "PAPERBOY_SOURCES": "",
            # No sentence model: no chat here rated a paper, and making every paper's vector
            # at start-up would only slow the test down.
            "PAPERBOY_MODEL_DIR": "/nonexistent/paperboy-model",
        }
        process = await asyncio.create_subprocess_exec(
            str(Path(sys.executable).with_name("paperboy")),
            "run",
            env=env,
            cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        update = {
            "update_id": 1,
            "message": {
                "message_id": 1,
                "date": 1_790_000_000,
                "chat": {"id": ALICE, "type": "private", "first_name": "Alice"},
                "from": {"id": ALICE, "is_bot": False, "first_name": "Alice"},
                "text": "/start",
                "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
            },
        }
        secret = hashlib.sha256(TOKEN.encode()).hexdigest()[:32]
        url = f"http://127.0.0.1:{port}/telegram"
        try:
            async with httpx.AsyncClient() as client:
                for _ in range(100):
                    try:
                        forged = await client.post(url, json=update)
                        break
                    except httpx.ConnectError:
                        await asyncio.sleep(0.1)
                assert forged.status_code == 403
                answer = await client.post(
                    url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": secret}
                )
                assert answer.status_code == 200
            for _ in range(100):
                if api.sent(ALICE):
                    break
                await asyncio.sleep(0.1)
        finally:
            process.send_signal(signal.SIGINT)
            await asyncio.wait_for(process.communicate(), timeout=30)
        [welcome] = api.sent(ALICE)
        assert "Welcome to paperboy" in welcome.shown
        [webhook] = [call for call in api.calls if call.method == "setWebhook"]
        assert webhook.params["url"] == "https://bot.example.org/telegram"
        assert api.violations == []


def test_a_rejected_token_is_reported_without_the_token(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    unauthorized = Reply(
        401, json.dumps(UNAUTHORIZED).encode(), {"Content-Type": "application/json"}
    )
    with serve({f"/bot{TOKEN}/getMe": unauthorized}) as server:
        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("PAPERBOY_DATABASE_URL", db_url)
        monkeypatch.setenv("PAPERBOY_BOT_TOKEN", TOKEN)
        monkeypatch.setenv("PAPERBOY_BOT_API_URL", server.url("").rstrip("/"))
        assert cli.main(["run"]) == 2
    err = capsys.readouterr().err
    assert "Telegram error" in err
    assert "[redacted]" in err
    assert TOKEN not in err


UNAUTHORIZED = {"ok": False, "error_code": 401, "description": "Unauthorized"}


@pytest.mark.backends(*BACKENDS)
async def test_papers_count_as_sent_only_once_telegram_accepted_them(bot: Bot) -> None:
    await bot.say(ALICE, "/subscribe pruning")
    bot.api.inject("sendMessage", status=400)
    assert "did not take the digest" in await bot.say(ALICE, "/digest")
    with bot.sessions() as session:
        row = subscriptions.find(session, ALICE)
        assert row is not None
        assert subscriptions.delivered_count(session, row.id) == 0
    assert "Pruning" in await bot.say(ALICE, "/digest")
    assert await bot.delivered(ALICE, 5) == 5


async def test_follow_an_author_and_a_refused_category(bot: Bot) -> None:
    feed = (Path(__file__).parent / "fixtures" / "arxiv_crosslist.atom").read_text()
    with bot.sessions.begin() as session:
        papers = arxiv_feed.parse(feed).papers
        queries.store_papers(session, papers, datetime(2026, 11, 25, tzinfo=UTC))
    followed = await bot.say(ALICE, "/follow Yann LeCun")
    assert 'Subscribed to: author:"Yann LeCun"' in followed
    assert '• author:"Yann LeCun": 2 papers' in followed
    refused = await bot.say(ALICE, "/subscribe cat:cs.CLL, cat:cs.cv diffusion")
    assert (
        "“cat:cs.CLL” was not added: cat:cs.CLL is not an arXiv category; "
        "did you mean cat:cs.CL (Computation and Language)?"
    ) in refused
    assert "Subscribed to: cat:cs.CV diffusion" in refused
    assert "Usage: /follow" in await bot.say(ALICE, "/follow")
    latest = await bot.say(ALICE, "/latest")
    # Yann LeCun's papers and cs.CV diffusion papers, never Xavier LeCun's robots by author.
    assert "Joint Embedding Predictive Architectures" in latest
    assert 'matched author:"Yann LeCun" (author)' in latest
    assert "Diffusion Policies for Legged Robots" in latest  # by cat:cs.CV diffusion
    await bot.say(ALICE, "/unsubscribe cat:cs.CV diffusion")
    assert "Legged Robots" not in await bot.say(ALICE, "/latest")
    search = await bot.say(ALICE, "/search cat:cs.CL pruning")
    assert "Structured Pruning of Language Models" in search
    # Found by a review: a phone's curly quotes, several names, a category or an exclusion.
    quoted = await bot.say(ALICE, "/follow “Johannes Schafl”, Maria Garcia-Lopez")
    assert 'Subscribed to: author:"Johannes Schafl", author:"Maria Garcia-Lopez"' in quoted
    assert "Subscribed to" not in await bot.say(ALICE, "/follow cat:cs.LG")
    assert "-author:NAME" in await bot.say(ALICE, "/follow -Hinton")
    assert "“author:” was not added: author: needs a value" in await bot.say(
        ALICE, "/subscribe author:"
    )


class LoopWatch:
    """The bot's sessionmaker, noting every session opened on the event loop's thread (the
    main one here): a handler's database work belongs in a thread (handlers.in_thread)."""

    def __init__(self, real: sessionmaker[Session]) -> None:
        self.real = real
        self.on_loop: list[str] = []

    def _check(self) -> None:
        if threading.current_thread() is threading.main_thread():
            self.on_loop.append("".join(traceback.format_stack(limit=4)))

    def __call__(self) -> Session:
        self._check()
        return self.real()

    def begin(self) -> AbstractContextManager[Session]:
        self._check()
        return self.real.begin()


async def test_no_handler_opens_a_session_on_the_event_loop(bot: Bot) -> None:
    watch = LoopWatch(bot.sessions)
    bot.app.bot_data["sessions"] = watch
    with bot.sessions() as session:
        paper = session.scalar(select(PaperRow.id).order_by(PaperRow.id))
    # Two users: each stays under the commands a minute that one may send.
    for user, command in (
        *((ALICE, command) for command in ("/start", "/subscribe pruning, GNN", "/follow LeCun")),
        *((ALICE, command) for command in ("/keywords", "/unsubscribe", "/remove gnn")),
        *((ALICE, command) for command in ("/time 07:30", "/schedule weekly fri")),
        *((ALICE, command) for command in ("/timezone Europe/Berln", "/timezone Europe/Berlin")),
        *((ALICE, command) for command in ("/nothingnew on", "/recommend off", "/pause")),
        *((ALICE, command) for command in ("/resume", "/settings", "/export")),
        *((BOB, command) for command in ("/subscribe pruning", "/latest", "/trending week")),
        *((BOB, command) for command in ("/search pruning", f"/similar {paper}", "/saved")),
        (BOB, "/saved bib"),
    ):
        # Each is answered: a long wait costs nothing, and a busy machine's first /similar
        # (the worker's first import of scikit-learn) can take more than the usual 5 s.
        assert await bot.say(user, command, timeout=60), command
    await bot.press(ALICE, "✕ pruning")
    await bot.say(BOB, "/latest")
    await bot.press(BOB, "1 👍")
    await bot.press(BOB, "1 🔖")
    await bot.say(BOB, "/stop")
    await bot.press(BOB, "Yes, delete everything")
    await bot.say(BOB, "/digest")
    for command in ("/stats", "/sources", "/sources add https://example.org/feed", "/ingest"):
        assert await bot.say(ADMIN, command), command
    await bot.until(ADMIN, "failed.")
    # The error handler too: a chat that blocked the bot is deactivated.
    bot.api.chat(ALICE).blocked = True
    await bot.say(ALICE, "/help")
    with bot.sessions() as session:
        row = subscriptions.find(session, ALICE)
        assert row is not None
        assert not row.active
    assert watch.on_loop == []


def _big_page(papers: int) -> bytes:
    """A Hugging Face JSON page of `papers` distinct papers."""
    items = [
        {
            "paper": {
                "id": f"{2300 + n // 90_000}.{10_000 + n % 90_000:05d}",
                "title": f"Synthetic study {n} of sparse graph pruning",
                "summary": f"We study synthetic problem {n} of graphs, pruning and attention.",
                "authors": [{"name": f"Author {n}"}],
            }
        }
        for n in range(papers)
    ]
    return json.dumps(items).encode()


@pytest.mark.backends(*BACKENDS)
async def test_other_chats_are_answered_while_a_big_page_is_ingested(
    bot: Bot, tmp_path: Path, db_url: str
) -> None:
    # The bot's configured source (the fixture's page.txt), now a big page: seconds of
    # parsing and storing, in batches, in a thread. PostgreSQL stores papers several times
    # slower than SQLite: a quarter of them takes as long.
    papers = 20_000 if db_url.startswith("sqlite") else 5_000
    (tmp_path / "page.txt").write_bytes(_big_page(papers))
    # Users enough to ask every half second for minutes, under the commands a minute.
    users = range(3001, 3011)
    for user in users:
        bot.api.add_user(user, f"Reader {user}")
    bot.api.user_sends(ADMIN, "/ingest")
    await bot.until(ADMIN, "Ingesting all sources")
    assert "under way already" in await bot.say(ADMIN, "/ingest")
    # A write waits for one batch of papers at most, not for the page (it took 50 s).
    [subscribed] = await bot.api.converse(ADMIN, "/subscribe pruning", timeout=30)
    assert "Subscribed to: pruning" in subscribed.shown
    assert not [m for m in bot.api.sent(ADMIN) if "failed." in m.shown]
    waits: list[float] = []
    while not [m for m in bot.api.sent(ADMIN) if "failed." in m.shown]:
        asked = time.monotonic()
        replies = await bot.api.converse(users[len(waits) % len(users)], "/help", timeout=30)
        waits.append(time.monotonic() - asked)
        assert "/subscribe" in replies[0].shown
        await asyncio.sleep(0.5)
    # Answered while the ingest ran, each promptly (a generous bound: the machine is shared).
    assert len(waits) >= 2
    assert max(waits) < 5.0, waits
    report = await bot.until(ADMIN, "failed.", timeout=120)
    assert f"{papers:,} papers, {papers:,} new" in report
    with bot.sessions() as session:
        assert session.scalar(select(func.count()).select_from(PaperRow)) == papers + len(PAPERS)


async def test_a_long_time_zone_is_answered_at_once(
    bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    guesses: list[tuple[int, bool]] = []
    extract = process.extract

    def watched(query: str, *args: object, **kwargs: object) -> object:
        guesses.append((len(query), threading.current_thread() is threading.main_thread()))
        return extract(query, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(process, "extract", watched)
    bot.api.user_sends(ALICE, "/timezone " + "Europe/Berln" * 340)
    asked = time.monotonic()
    [help_reply] = await bot.api.converse(BOB, "/help")
    waited = time.monotonic() - asked
    # Alice's answer is worked out in a thread: wait_idle alone can return before it.
    await bot.until(ALICE, "Did you mean")
    await bot.api.wait_idle()
    assert "Did you mean: Europe/Berlin" in bot.api.sent(ALICE)[-1].shown
    assert "/subscribe" in help_reply.shown
    # The suggestion is guessed from the start of the name, in a thread.
    assert guesses == [(64, False)]
    assert waited < 3.0


async def test_long_admin_replies_fit_telegram(bot: Bot) -> None:
    now = datetime(2026, 11, 24, tzinfo=UTC)
    with bot.sessions.begin() as session:
        for n in range(40):
            location = f"https://example.org/{n:02d}/" + "x" * 300
            queries.record_source_failure(session, location, "HTTP 500: " + "e" * 400, now)
    stats = await bot.say(ADMIN, "/stats")
    assert "Sources: 40 (40 failing)" in stats
    assert stats.count("⚠ https://example.org/") == 20
    assert "… and 20 more failing sources." in stats
    long_url = "https://example.org/feed?" + "a=1&" * 750
    added = await bot.say(ADMIN, f"/sources add {long_url}")
    assert added.startswith("Added https://example.org/feed?a=1&a=1")
    assert "…: it is ingested on every run" in added
    listing = await bot.say(ADMIN, "/sources")
    assert "• https://example.org/feed?a=1&a=1" in listing
    assert len(listing) < 1000
    assert "Removed https://example.org/feed" in await bot.say(ADMIN, f"/sources remove {long_url}")
    # running_bot checks, as the fixture ends, that Telegram refused no message.
