"""Feedback in chat end to end: the real python-telegram-bot stack against the local Bot API.

Papers in a digest, /latest, /search and "more like this" carry numbered 👍/👎/🔖/≈ buttons;
a tap is answered once, recorded for the chat the buttons are in, and shown on the buttons.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr
from sqlalchemy.orm import Session, sessionmaker

from bot import profile
from bot.app import COMMANDS
from bot.config import Settings
from bot.devserver import FakeBotApi
from bot.devserver.limits import RateLimits
from bot.devserver.objects import ChatMessage
from bot.records import Paper
from storage import feedback, queries, subscriptions
from tests.telegram_helpers import TOKEN, bot_api_spec, running_bot

ALICE, BOB = 1001, 1002
GROUP = -2001
OUT_OF_DATE = "That button is out of date."

PAPERS = [
    Paper("Graph Neural Networks at Scale", "We train GNNs (graph neural networks) on graphs."),
    Paper("Pruning Mixture-of-Experts", "We prune MoE experts without retraining.", "2401.00002"),
    *(
        Paper(f"Pruning Study {n}", f"Pruning study number {n} of many pruned networks.")
        for n in range(8)
    ),
    # Other topics, so that pruning's words are not in most papers (too common to tell
    # papers apart for "more like this").
    *(
        Paper(f"Protein Folding Model {n}", f"Protein structure prediction, variant {n}.")
        for n in range(10)
    ),
]


@dataclass
class Chat:
    api: FakeBotApi
    sessions: sessionmaker[Session]

    async def say(self, user: int, text: str, chat: int | None = None) -> list[ChatMessage]:
        # 30 s, not 5: on a busy machine a late reply would be counted with the next one's.
        return await self.api.converse(user, text, chat_id=chat, timeout=30)

    async def tap(self, user: int, message: ChatMessage, label: str, times: int = 1) -> str:
        """`user` taps the button `times` times in a row (before the bot answers any);
        returns the last answer shown, after checking each tap got exactly one."""
        before = len(self.api.answers)
        for _ in range(times):
            self.api.user_presses(user, message.message_id, label, chat_id=message.chat_id)
        # The answers first (the bot may work in a thread for longer than wait_idle's quiet
        # spell before it answers on a loaded machine), then whatever follows them (edits).
        deadline = asyncio.get_running_loop().time() + 10
        while len(self.api.answers) - before < times:
            assert asyncio.get_running_loop().time() < deadline, "a tap was not answered"
            await asyncio.sleep(0.02)
        await self.api.wait_idle(quiet=0.3)
        answers = self.api.answers[before:]
        assert len(answers) == times
        return answers[-1].text or ""

    def current(self, message: ChatMessage) -> ChatMessage:
        [now] = [m for m in self.api.sent(message.chat_id) if m.message_id == message.message_id]
        return now

    def labels(self, message: ChatMessage) -> list[list[str]]:
        rows = (self.current(message).reply_markup or {}).get("inline_keyboard", [])
        return [[button["text"] for button in row] for row in rows]

    def data(self, message: ChatMessage) -> list[str]:
        rows = (self.current(message).reply_markup or {}).get("inline_keyboard", [])
        return [button["callback_data"] for row in rows for button in row]

    def paper_id(self, message: ChatMessage, number: int) -> int:
        """The id of the paper numbered `number` in the message, from its 👍 button."""
        rows = (self.current(message).reply_markup or {})["inline_keyboard"]
        [row] = [row for row in rows if row[0]["text"].startswith(f"{number} ")]
        return int(row[0]["callback_data"].rsplit(":", 1)[1])

    def marks(self, chat_id: int) -> feedback.Feedback:
        with self.sessions() as session:
            row = subscriptions.find(session, chat_id)
            assert row is not None
            return feedback.feedback(session, row.id)

    def stored_marks(self) -> int:
        """All ratings and saved papers of every chat."""
        with self.sessions() as session:
            total = 0
            for chat_id in (ALICE, BOB, GROUP):
                row = subscriptions.find(session, chat_id)
                if row is not None:
                    found = feedback.feedback(session, row.id)
                    total += len(found.liked) + len(found.disliked) + len(found.saved)
            return total

    def errors(self, chat_id: int) -> list[str]:
        return [m.shown for m in self.api.sent(chat_id) if "something went wrong" in m.shown]


@pytest.fixture
async def chat(sessions: sessionmaker[Session], db_url: str) -> AsyncIterator[Chat]:
    with sessions.begin() as session:
        queries.store_papers(session, PAPERS, datetime(2026, 11, 24, tzinfo=UTC))
    api = FakeBotApi(bot_api_spec(), limits=RateLimits(private_chat=None, group_chat=None))
    api.start()
    api.add_user(ALICE, "Alice")
    api.add_user(BOB, "Bob")
    api.add_chat(GROUP, "group", "Reading group", members={ALICE: "administrator", BOB: "member"})
    settings = Settings(
        database_url=db_url,
        bot_token=SecretStr(TOKEN),
        bot_api_url=api.base_url.removesuffix("/bot"),
        digest_max=3,
    )
    async with running_bot(api, settings, sessions):
        yield Chat(api, sessions)


async def _digest(chat: Chat, user: int, group: int | None = None) -> ChatMessage:
    await chat.say(user, "/subscribe pruning", group)
    [message] = await chat.say(user, "/digest", group)
    return message


async def test_a_digest_carries_numbered_feedback_buttons(chat: Chat) -> None:
    message = await _digest(chat, ALICE)
    assert "\n\n1. Pruning" in message.shown
    assert "\n\n3. " in message.shown
    # One row per paper, numbered as the text numbers them; "N more" stays the last row.
    assert chat.labels(message) == [
        ["1 👍", "1 👎", "1 🔖", "1 ≈"],
        ["2 👍", "2 👎", "2 🔖", "2 ≈"],
        ["3 👍", "3 👎", "3 🔖", "3 ≈"],
        ["6 more"],
    ]
    first = chat.paper_id(message, 1)
    assert chat.data(message)[:4] == [f"fb:{a}:{first}" for a in ("up", "down", "save", "sim")]
    assert all(len(data.encode()) <= 64 for data in chat.data(message))
    assert "Pruning" in (await chat.say(ALICE, "/digest"))[0].shown  # the rest, still served


async def test_like_undo_and_switch(chat: Chat) -> None:
    message = await _digest(chat, ALICE)
    paper = chat.paper_id(message, 1)
    assert await chat.tap(ALICE, message, "1 👍") == "👍 Noted — you'll see more like this"
    assert chat.marks(ALICE).liked == [paper]
    assert chat.labels(message)[0] == ["1 👍✓", "1 👎", "1 🔖", "1 ≈"]
    assert await chat.tap(ALICE, message, "1 👍✓") == "Rating removed"
    assert chat.marks(ALICE).liked == []
    assert chat.labels(message)[0] == ["1 👍", "1 👎", "1 🔖", "1 ≈"]
    await chat.tap(ALICE, message, "1 👍")
    assert await chat.tap(ALICE, message, "1 👎") == "👎 Noted — fewer like this"
    assert (chat.marks(ALICE).liked, chat.marks(ALICE).disliked) == ([], [paper])
    assert chat.labels(message)[0] == ["1 👍", "1 👎✓", "1 🔖", "1 ≈"]
    assert chat.labels(message)[-1] == ["6 more"]  # the other rows are kept
    assert await chat.tap(ALICE, message, "1 👎✓") == "Rating removed"
    assert chat.stored_marks() == 0


async def test_save_toggles(chat: Chat) -> None:
    message = await _digest(chat, ALICE)
    paper = chat.paper_id(message, 2)
    assert await chat.tap(ALICE, message, "2 🔖") == "🔖 Saved — /saved lists them"
    assert chat.marks(ALICE).saved == [paper]
    assert chat.labels(message)[1] == ["2 👍", "2 👎", "2 🔖✓", "2 ≈"]
    assert chat.labels(message)[0] == ["1 👍", "1 👎", "1 🔖", "1 ≈"]
    assert await chat.tap(ALICE, message, "2 🔖✓") == "Removed from saved"
    assert chat.marks(ALICE).saved == []
    assert chat.labels(message)[1] == ["2 👍", "2 👎", "2 🔖", "2 ≈"]


async def test_a_groups_ratings_belong_to_the_group(chat: Chat) -> None:
    message = await _digest(chat, ALICE, GROUP)
    paper = chat.paper_id(message, 1)
    # Bob is no administrator, yet any member may rate for the group.
    assert "Noted" in await chat.tap(BOB, message, "1 👍")
    assert chat.marks(GROUP).liked == [paper]
    assert chat.labels(message)[0][0] == "1 👍✓"
    with chat.sessions() as session:
        assert subscriptions.find(session, BOB) is None
        assert subscriptions.find(session, ALICE) is None


@pytest.mark.parametrize(
    "forged",
    [
        "fb:up:99999999999999999999",
        # Beyond PostgreSQL's INTEGER: refused, not a database error (found by a review).
        "fb:up:999999999999999999",
        "fb:sim:2147483648",
        "fb:up:\u0663",
        "fb:zz:1",
        "fb:up:1\n",
        "fb:up:-1",
        "fb:",
    ],
)
async def test_forged_or_stale_data_is_answered_politely(chat: Chat, forged: str) -> None:
    message = await _digest(chat, ALICE)
    # A client can send any data: put it on a button of the message, as a forger would.
    chat.current(message).reply_markup = {
        "inline_keyboard": [[{"text": "1 👍", "callback_data": forged}]]
    }
    assert await chat.tap(ALICE, message, "1 👍") == OUT_OF_DATE
    assert chat.stored_marks() == 0
    assert chat.errors(ALICE) == []


async def test_similar_with_an_id_out_of_range_is_answered(chat: Chat) -> None:
    for wanted in ("2147483648", "999999999999999999"):
        [reply] = await chat.say(ALICE, f"/similar {wanted}")
        assert "something went wrong" not in (reply.text or "")
    assert chat.errors(ALICE) == []


async def test_an_unknown_paper_is_out_of_date(chat: Chat) -> None:
    message = await _digest(chat, ALICE)
    for action in ("up", "save", "sim"):
        chat.current(message).reply_markup = {
            "inline_keyboard": [[{"text": "x", "callback_data": f"fb:{action}:424242"}]]
        }
        assert await chat.tap(ALICE, message, "x") == OUT_OF_DATE
    assert chat.stored_marks() == 0
    assert len(chat.api.sent(ALICE)) == 2  # the /subscribe reply and the digest, nothing more


async def test_a_double_tap_is_silent_and_idempotent(chat: Chat) -> None:
    message = await _digest(chat, ALICE)
    paper = chat.paper_id(message, 1)
    assert "Noted" in await chat.tap(ALICE, message, "1 👍", times=2)
    assert chat.marks(ALICE).liked == [paper]
    assert chat.labels(message)[0][0] == "1 👍✓"
    await chat.tap(ALICE, message, "3 🔖", times=3)
    assert len(chat.marks(ALICE).saved) == 1
    assert chat.errors(ALICE) == []
    assert len(chat.api.sent(ALICE)) == 2


async def test_more_like_this_and_similar(chat: Chat) -> None:
    message = await _digest(chat, ALICE)
    before = len(chat.api.sent(ALICE))
    await chat.tap(ALICE, message, "1 ≈")
    [similar] = chat.api.sent(ALICE)[before:]
    assert similar.shown.startswith("≈ Papers like Pruning")
    assert "\n\n1. " in similar.shown
    labels = chat.labels(similar)
    assert 1 <= len(labels) <= 5
    assert labels[0] == ["1 👍", "1 👎", "1 🔖", "1 ≈"]
    assert chat.paper_id(message, 1) not in [
        chat.paper_id(similar, n + 1) for n in range(len(labels))
    ]
    # Its buttons work as any other's.
    assert "Saved" in await chat.tap(ALICE, similar, "1 🔖")
    assert chat.labels(similar)[0][2] == "1 🔖✓"

    [reply] = await chat.say(ALICE, "/similar arXiv:2401.00002v2")
    assert reply.shown.startswith("≈ Papers like Pruning Mixture-of-Experts")
    assert chat.labels(reply)[0][0] == "1 👍"
    [unknown] = await chat.say(ALICE, "/similar 2999.99999")
    assert unknown.shown == "No stored paper has the id 2999.99999: check it with /search."
    [usage] = await chat.say(ALICE, "/similar")
    assert "Usage" in usage.shown


async def test_latest_and_search_carry_buttons(chat: Chat) -> None:
    await chat.say(ALICE, "/subscribe pruning")
    [latest] = await chat.say(ALICE, "/latest")
    assert "\n\n1. " in latest.shown
    assert chat.labels(latest)[0] == ["1 👍", "1 👎", "1 🔖", "1 ≈"]
    assert "Noted" in await chat.tap(ALICE, latest, "2 👍")
    liked = chat.paper_id(latest, 2)

    [page] = await chat.say(ALICE, "/search pruning")
    labels = chat.labels(page)
    assert labels[0] == ["1 👍", "1 👎", "1 🔖", "1 ≈"]
    assert labels[-1] == ["more »"]  # paging stays the last row
    await chat.tap(ALICE, page, "more »")
    labels = chat.labels(page)
    assert labels[0][0].startswith("6 ")  # numbered as the page numbers its results
    assert labels[-1] == ["« back"]
    # The paper liked in /latest shows its 👍✓ wherever it comes again.
    shown = [chat.paper_id(page, n) for n in range(6, 6 + len(labels) - 1)]
    if liked in shown:
        assert labels[shown.index(liked)][0].endswith("👍✓")
    assert await chat.tap(ALICE, page, "6 🔖") == "🔖 Saved — /saved lists them"
    assert chat.labels(page)[-1] == ["« back"]


async def test_recommend_on_and_off(chat: Chat) -> None:
    [state] = await chat.say(ALICE, "/recommend")
    assert state.shown.startswith("Recommendations: on.")
    [off] = await chat.say(ALICE, "/recommend off")
    assert "Recommendations off" in off.shown
    [settings] = await chat.say(ALICE, "/settings")
    assert "Recommendations: off (/recommend)" in settings.shown
    with chat.sessions() as session:
        row = subscriptions.find(session, ALICE)
        assert row is not None
        assert row.recommend is False
    await chat.say(ALICE, "/recommend on")
    [settings] = await chat.say(ALICE, "/settings")
    assert "Recommendations: on" in settings.shown
    # In a group, only administrators change it.
    [refused] = await chat.say(BOB, "/recommend off", GROUP)
    assert "administrators" in refused.shown


async def _recommended(chat: Chat, command: str) -> list[str]:
    """Send a command and return the titles of the "Recommended for you" message it brings
    (a digest's later messages wait for the per-chat pause), or [] if none comes."""
    before = len(chat.api.sent(ALICE))
    await chat.say(ALICE, command)
    deadline = asyncio.get_running_loop().time() + 5
    while asyncio.get_running_loop().time() < deadline:
        found = [m.shown for m in chat.api.sent(ALICE)[before:] if m.shown.startswith("✨")]
        if found:
            assert "because your library has Protein Folding Model" in found[0]
            return re.findall(r"^\d+\. (.+)$", found[0], re.MULTILINE)
        await asyncio.sleep(0.05)
    return []


async def test_a_digest_recommends_papers_like_the_library_once(chat: Chat) -> None:
    library = "\n".join(
        f"@misc{{p{n}, title = {{Protein Folding Model {n}}}}}" for n in range(4)
    ).encode()
    with chat.sessions.begin() as session:
        report = profile.import_library(
            session, ALICE, "private", library, "lib.bib", datetime.now(UTC)
        )
    assert report.matched == 4
    await chat.say(ALICE, "/subscribe pruning")
    first = await _recommended(chat, "/digest")
    # Papers like the library's, none of the library's own, none a keyword matched.
    assert len(first) == 3
    assert all(t.startswith("Protein Folding Model ") for t in first), first
    assert not set(first) & {f"Protein Folding Model {n}" for n in range(4)}
    # Once only: the next digest recommends others.
    second = await _recommended(chat, "/digest")
    assert second
    assert not set(second) & set(first)
    await chat.say(ALICE, "/recommend off")
    assert await _recommended(chat, "/digest") == []


def test_the_menu_names_the_new_commands() -> None:
    assert {"similar", "recommend"} <= {c.name for c in COMMANDS if not c.admin}
