"""One user's flood never stalls the others (bot/flood.py), and hostile button data.

End to end against the local Bot API with Telegram's own flood limits where the pace matters;
the throttle itself with a fake clock.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr
from sqlalchemy.orm import Session, sessionmaker
from telegram import CallbackQuery, Chat, InlineQuery, Message, Update, User

from bot import handlers
from bot.config import Settings
from bot.devserver import FakeBotApi
from bot.devserver.objects import ChatMessage
from bot.flood import (
    GROUP_UPDATES_PER_MINUTE,
    INLINE_PER_MINUTE,
    SLOW_DOWN,
    SLOW_DOWN_TAPS,
    UPDATES_PER_MINUTE,
    ChatLanes,
    Gate,
    Throttle,
)
from storage import queries
from tests.conftest import BACKENDS
from tests.telegram_helpers import TOKEN, bot_api_spec, running_bot
from tests.test_bot import ALICE, BOB, GROUP, PAPERS, Bot
from tests.test_bot import bot as bot  # the fixture

# The chat flows here do not depend on the database: SQLite only (tests/conftest.py);
# the tests below that store, move or delete data run on both backends.
pytestmark = pytest.mark.backends("sqlite")

# The longest /timezone Telegram delivers: a message is at most 4096 characters.
LONG_TIMEZONE = "/timezone " + "Europe/Berlinx" * 290
WRONG = "something went wrong"


@pytest.fixture
async def paced(sessions: sessionmaker[Session], db_url: str) -> AsyncIterator[Bot]:
    """The bot against a stand-in that keeps Telegram's flood limits (one message a second
    in a private chat, answered 429 beyond)."""
    with sessions.begin() as session:
        queries.store_papers(session, PAPERS, datetime(2026, 11, 24, tzinfo=UTC))
    api = FakeBotApi(bot_api_spec())
    api.start()
    api.add_user(ALICE, "Alice")
    api.add_user(BOB, "Bob")
    settings = Settings(
        database_url=db_url,
        bot_token=SecretStr(TOKEN),
        bot_api_url=api.base_url.removesuffix("/bot"),
        sources=[],
    )
    async with running_bot(api, settings, sessions) as app:
        yield Bot(api, app, sessions)


async def _answered(api: FakeBotApi, count: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while len(api.answers) < count:
        assert time.monotonic() < deadline, f"{len(api.answers)} of {count} taps answered"
        await asyncio.sleep(0.02)
    await api.wait_idle(quiet=0.3)


async def _replies(api: FakeBotApi, chat: int, count: int, timeout: float = 20.0) -> list[str]:
    """The bot's messages in the chat once there are `count` (handlers think in threads
    without calls, which wait_idle alone would take for quiet), after it has gone idle."""
    deadline = time.monotonic() + timeout
    while len(api.sent(chat)) < count:
        assert time.monotonic() < deadline, f"{len(api.sent(chat))} of {count} replies"
        await asyncio.sleep(0.02)
    await api.wait_idle(quiet=0.3)
    replies = [m.shown for m in api.sent(chat)]
    assert len(replies) == count
    return replies


async def _search(bot: Bot, user: int) -> ChatMessage:
    [results] = await bot.api.converse(user, "/search pruning")
    assert "more »" in str(results.reply_markup)
    return results


async def test_a_flood_never_stalls_another_user(paced: Bot) -> None:
    api = paced.api
    results = await _search(paced, ALICE)
    # Texts, taps ("more »" and 👍 under the results) and long commands, all queued before
    # the bot reads any; then Bob asks for help.
    for n in range(60):
        api.user_sends(ALICE, f"hello {n}")
        api.user_presses(ALICE, results.message_id, "more »" if n % 2 else "1 👍")
        if n % 3 == 0:
            api.user_sends(ALICE, LONG_TIMEZONE)
    asked = time.monotonic()
    api.user_sends(BOB, "/help")
    while not api.sent(BOB):
        assert time.monotonic() - asked < 30, "Bob's /help got no answer"
        await asyncio.sleep(0.02)
    waited = time.monotonic() - asked
    alice_then = len(api.sent(ALICE))
    await api.wait_idle(timeout=120, quiet=2.0)
    alice = [m.shown for m in api.sent(ALICE)]
    # Bob was answered while Alice's replies were still going out at Telegram's pace...
    assert len(alice) > alice_then
    assert waited < 10  # about 1 s; before, 30 s and more
    assert "/subscribe" in api.sent(BOB)[0].shown
    # ...and Alice's flood was cut short before any work: a budget's worth of it handled,
    # one notice, every tap answered once, no error.
    assert alice.count(SLOW_DOWN) == 1
    assert len(alice) <= 1 + UPDATES_PER_MINUTE
    assert api.unanswered == 0
    assert len(api.answers) == 60
    assert sum(a.text == SLOW_DOWN_TAPS for a in api.answers) >= 60 - UPDATES_PER_MINUTE
    assert not [m for m in alice if WRONG in m]


async def test_a_slow_reply_holds_up_its_own_chat_only(bot: Bot) -> None:
    # Alice's reply hangs (as one waiting out Telegram's pace for her chat would)...
    bot.api.inject("sendMessage", status=None, delay=3.0)
    bot.api.user_sends(ALICE, "/help")
    await asyncio.sleep(0.3)
    # ...while Bob is answered; Alice's next command waits for her first, in order.
    bot.api.user_sends(ALICE, "/keywords")
    bot.api.user_sends(BOB, "/help")
    deadline = time.monotonic() + 10
    while not bot.api.sent(BOB):
        assert time.monotonic() < deadline, "Bob's /help waited for Alice's reply"
        await asyncio.sleep(0.02)
    assert bot.api.sent(ALICE) == []
    [help_reply, keywords] = await _replies(bot.api, ALICE, 2)
    assert "/subscribe" in help_reply
    assert "keywords" in keywords.lower()


async def test_a_chats_commands_keep_their_order(bot: Bot) -> None:
    bot.api.user_sends(ALICE, "/subscribe GNN")
    bot.api.user_sends(ALICE, "/keywords")
    bot.api.user_sends(ALICE, "/unsubscribe GNN")
    bot.api.user_sends(ALICE, "/keywords")
    replies = await _replies(bot.api, ALICE, 4)
    assert "Subscribed to: GNN" in replies[0]
    assert "• GNN" in replies[1]
    assert "Unsubscribed from: GNN" in replies[2]
    assert "GNN" not in replies[3]


@pytest.mark.parametrize(
    "forged",
    [
        "search:99999999999999999999",
        "search:\u0663",
        "search:3",  # not a page boundary
        "search:-5",
        "search:1000000005",
        "fb:up:abc",
        "fb:up:\u0663",
        "saved:\u0663",
        "saved:99999999999999999999",
        "zz:1",
        "x" * 64,
        "unsub:\u0663:1",
        "unsub:1001:99999999999",
        "unsub:1001",
        "stop:3",  # another user's private chat: nothing to ask Telegram about
        "stop:\u0663",
        "stop:1001:9",
        "digest:1001:1",
        "cancel:1",
        "search",
    ],
)
@pytest.mark.backends(*BACKENDS)
async def test_forged_button_data_gets_a_polite_answer_and_nothing_else(
    bot: Bot, forged: str
) -> None:
    results = await _search(bot, ALICE)
    # A client can send any data: put it on a button of the message, as a forger would.
    bot.api.sent(ALICE)[-1].reply_markup = {
        "inline_keyboard": [[{"text": "tap", "callback_data": forged}]]
    }
    calls = len(bot.api.calls)
    bot.api.user_presses(ALICE, results.message_id, "tap")
    await _answered(bot.api, 1)
    [answer] = bot.api.answers
    assert answer.text
    assert WRONG not in answer.text
    made = [call.method for call in bot.api.calls[calls:]]
    assert set(made) <= {"getUpdates", "answerCallbackQuery"}
    assert made.count("answerCallbackQuery") == 1
    assert bot.api.sent(ALICE) == [results]
    assert bot.api.unanswered == 0


async def test_a_double_tap_on_more_is_silent(bot: Bot) -> None:
    results = await _search(bot, ALICE)
    for _ in range(2):
        bot.api.user_presses(ALICE, results.message_id, "more »")
    await _answered(bot.api, 2)
    [shown] = bot.api.sent(ALICE)
    assert "Papers 6 to 10" in shown.shown
    edits = [c.error for c in bot.api.calls if c.method == "editMessageText"]
    assert len(edits) == 2
    assert "not modified" in str(edits[1])
    assert bot.api.unanswered == 0


async def test_a_tap_whose_handler_fails_is_answered(
    bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    results = await _search(bot, ALICE)

    async def broken(*args: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(handlers, "_page_search", broken)
    bot.api.user_presses(ALICE, results.message_id, "more »")
    await _answered(bot.api, 1)
    [answer] = bot.api.answers
    assert answer.text is not None
    assert WRONG in answer.text
    assert bot.api.unanswered == 0
    assert bot.api.sent(ALICE) == [results]  # said once, in the tap's answer


async def test_taps_and_texts_count_as_well_as_commands(bot: Bot) -> None:
    results = await _search(bot, BOB)
    for n in range(UPDATES_PER_MINUTE + 5):
        bot.api.user_sends(BOB, f"text {n}")
    bot.api.user_presses(BOB, results.message_id, "more »")
    await _answered(bot.api, 1)
    assert bot.api.answers[0].text == SLOW_DOWN_TAPS
    # The search, then the rest of the budget's worth of texts, then one notice.
    replies = await _replies(bot.api, BOB, 1 + UPDATES_PER_MINUTE)
    assert replies[-1] == SLOW_DOWN
    assert replies.count(SLOW_DOWN) == 1
    assert "slow down" not in await bot.say(ALICE, "/help")


@pytest.mark.parametrize(
    ("text", "low", "high", "expected"),
    [
        ("15", 0, 1000, 15),
        ("-1002003", -(10**15), 10**15, -1002003),
        ("\u0663", 0, 1000, None),  # int() would read 3
        ("²", 0, 1000, None),
        ("1\n", 0, 1000, None),
        ("+1", 0, 1000, None),
        (" 1", 0, 1000, None),
        ("1_000", 0, 10**6, None),
        ("9" * 16, 0, 10**20, None),
        ("1001", 0, 1000, None),
        ("-5", 0, 1000, None),
        ("", 0, 1000, None),
    ],
)
def test_button_numbers_are_ascii_digits_within_bounds(
    text: str, low: int, high: int, expected: int | None
) -> None:
    assert handlers.number(text, low, high) == expected


# --- the throttle, with a fake clock -----------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_throttle_admits_its_limit_a_window_and_counts_no_refusal() -> None:
    clock = Clock()
    throttle = Throttle(3, 60.0, clock)
    for _ in range(3):
        assert not throttle.full("a")
        throttle.count("a")
    assert throttle.full("a")
    assert not throttle.full("b")
    assert throttle.notice_due("a")
    assert not throttle.notice_due("a")  # one notice a window
    clock.now += 59
    assert throttle.full("a")
    clock.now += 1
    assert not throttle.full("a")  # refusals did not count: the flood's pause is over
    clock.now += 60
    assert throttle.notice_due("a")


def _user(user_id: int) -> User:
    return User(user_id, "U", False)


def _message(user_id: int, chat: Chat, text: str = "hi", **extra: object) -> Update:
    return Update(
        1,
        message=Message(1, datetime.now(UTC), chat, from_user=_user(user_id), text=text, **extra),  # type: ignore[arg-type]
    )


def test_the_gate_budgets_users_groups_and_inline_queries_apart() -> None:
    gate = Gate(
        Throttle(UPDATES_PER_MINUTE, 60, Clock()),
        Throttle(GROUP_UPDATES_PER_MINUTE, 60, Clock()),
        Throttle(INLINE_PER_MINUTE, 60, Clock()),
    )
    private = Chat(ALICE, Chat.PRIVATE)
    group = Chat(GROUP, Chat.GROUP)
    verdicts = [gate.admit(_message(ALICE, private)) for _ in range(UPDATES_PER_MINUTE)]
    assert set(verdicts) == {"handle"}
    tap = CallbackQuery("1", _user(ALICE), "x", data="search:5")
    assert gate.admit(Update(2, callback_query=tap)) == "notice"
    assert gate.admit(_message(ALICE, group)) == "drop"
    # A group's upgrade is no flood: it is never dropped.
    assert gate.admit(_message(ALICE, group, text="", migrate_to_chat_id=-1002001)) == "handle"
    inline = InlineQuery("1", _user(ALICE), "gnn", "")
    assert gate.admit(Update(3, inline_query=inline)) == "handle"
    # Many users in one group: the group's own budget.
    members = range(1, GROUP_UPDATES_PER_MINUTE + 2)
    verdicts = [gate.admit(_message(member, group)) for member in members]
    assert verdicts[:-1] == ["handle"] * GROUP_UPDATES_PER_MINUTE
    assert verdicts[-1] == "notice"


# --- the lanes, without Telegram ---------------------------------------------------------


async def test_lanes_run_chats_at_once_and_each_chat_in_order() -> None:
    lanes = ChatLanes()
    log: list[str] = []
    release = asyncio.Event()

    async def work(name: str, hold: bool = False) -> None:
        log.append(f"start {name}")
        if hold:
            await release.wait()
        log.append(f"end {name}")

    alice, bob = Chat(ALICE, Chat.PRIVATE), Chat(BOB, Chat.PRIVATE)
    tap = Update(9, callback_query=CallbackQuery("1", _user(ALICE), "x", data="search:5"))
    started = [
        asyncio.create_task(lanes.process_update(update, coroutine))
        for update, coroutine in [
            (_message(ALICE, alice), work("alice 1", hold=True)),
            (_message(ALICE, alice), work("alice 2")),
            (tap, work("alice's tap")),  # taps have their own lane
            (_message(BOB, bob), work("bob")),
        ]
    ]
    await asyncio.sleep(0.1)
    assert log == ["start alice 1", "start alice's tap", "end alice's tap", "start bob", "end bob"]
    release.set()
    await asyncio.gather(*started)
    assert log[5:] == ["end alice 1", "start alice 2", "end alice 2"]
    assert lanes.busy == 0  # idle lanes are forgotten


async def test_a_refused_update_never_starts() -> None:
    lanes = ChatLanes(Gate(inline=Throttle(0)))
    ran = False

    async def work() -> None:
        nonlocal ran
        ran = True

    coroutine = work()
    query = InlineQuery("1", _user(ALICE), "gnn", "")
    await lanes.process_update(Update(1, inline_query=query), coroutine)
    assert not ran
    # Closed: no "never awaited" warning either.
    assert inspect.getcoroutinestate(coroutine) == inspect.CORO_CLOSED
