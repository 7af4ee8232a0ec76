"""Inline mode in bot.devserver: inline_query updates, answerInlineQuery checked as Telegram
checks it, answers read back, and a chosen result sent into a chat via the bot."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from telegram import (
    Bot,
    InlineQueryResultArticle,
    InlineQueryResultsButton,
    InputTextMessageContent,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest

from bot.devserver import FakeBotApi
from tests.telegram_helpers import TOKEN, bot_api_spec

ALICE, GROUP, ELSEWHERE = 1001, -100, -200


@pytest.fixture
def api() -> Iterator[FakeBotApi]:
    with FakeBotApi(bot_api_spec(), limits=None) as running:
        running.add_user(ALICE, "Alice")
        running.add_chat(GROUP, "group", "Readers", members={ALICE: "member"})
        running.add_chat(ELSEWHERE, "group", "No bot here", members={ALICE: "member"})
        running.chat(ELSEWHERE).members.pop(running.bot.id)
        yield running


@pytest.fixture
async def bot(api: FakeBotApi) -> AsyncIterator[Bot]:
    async with Bot(TOKEN, base_url=api.base_url) as running:
        yield running


def article(
    result_id: str, text: str = "<b>A paper</b>", **fields: Any
) -> InlineQueryResultArticle:
    return InlineQueryResultArticle(
        result_id,
        fields.pop("title", "A paper"),
        InputTextMessageContent(text, parse_mode=ParseMode.HTML),
        **fields,
    )


async def test_an_inline_query_arrives_and_its_answer_is_kept(api: FakeBotApi, bot: Bot) -> None:
    assert (await bot.get_me()).supports_inline_queries is True
    query_id = api.user_types_inline(ALICE, "pruning", offset="10", chat_type="group")
    (update,) = await bot.get_updates()
    query = update.inline_query
    assert query is not None
    assert (query.id, query.query, query.offset, query.chat_type) == (
        query_id,
        "pruning",
        "10",
        "group",
    )
    assert query.from_user.id == ALICE
    assert api.inline_answer(query_id) is None
    results = [article("1", url="https://arxiv.org/abs/2401.00002", description="snippet")]
    assert await bot.answer_inline_query(query_id, results, cache_time=60, next_offset="20")
    answer = api.inline_answer(query_id)
    assert answer is not None
    assert (answer.cache_time, answer.is_personal, answer.next_offset) == (60, False, "20")
    assert answer.result("1")["description"] == "snippet"
    # Answered once: a second answer is too late, as in Telegram.
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.answer_inline_query(query_id, results)
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.answer_inline_query("nope", results)
    assert api.rejected == []
    assert api.violations == []


@pytest.mark.parametrize(
    ("results", "error"),
    [
        ([article(str(n)) for n in range(51)], "RESULTS_TOO_MUCH"),
        ([article("1"), article("1")], "RESULT_ID_DUPLICATE"),
        ([article("x" * 65)], "RESULT_ID_INVALID"),
        ([article("é" * 33)], "RESULT_ID_INVALID"),  # 66 bytes: ids count bytes
        ([article("1", text="<b>unclosed")], "can't parse entities"),
        ([article("1", text="x" * 4097)], "message is too long"),
        ([article("1", text=" ")], "MESSAGE_EMPTY"),
        ([article("1", title=" ")], "RESULT_TITLE_EMPTY"),
    ],
)
async def test_answers_telegram_refuses(
    api: FakeBotApi, bot: Bot, results: list[InlineQueryResultArticle], error: str
) -> None:
    query_id = api.user_types_inline(ALICE, "q")
    with pytest.raises(BadRequest, match=f"(?i){error}"):
        await bot.answer_inline_query(query_id, results)
    [rejection] = api.rejected
    assert (rejection.method, error in rejection.description) == ("answerInlineQuery", True)
    # A refused answer leaves the query open: the bot may answer again.
    assert await bot.answer_inline_query(query_id, [article("1")])
    assert api.violations == []


async def test_offsets_and_buttons_are_checked(api: FakeBotApi, bot: Bot) -> None:
    query_id = api.user_types_inline(ALICE, "q")
    with pytest.raises(BadRequest, match=r"(?i)NEXT_OFFSET_INVALID"):
        await bot.answer_inline_query(query_id, [], next_offset="9" * 65)
    with pytest.raises(BadRequest, match=r"(?i)START_PARAM_INVALID"):
        await bot.answer_inline_query(
            query_id, [], button=InlineQueryResultsButton("Help", start_parameter="no spaces")
        )
    button = InlineQueryResultsButton("How to search", start_parameter="inline_help")
    assert await bot.answer_inline_query(query_id, [], button=button)
    answer = api.inline_answer(query_id)
    assert answer is not None
    assert answer.results == ()
    assert answer.cache_time == 300
    assert answer.button == {"text": "How to search", "start_parameter": "inline_help"}


async def test_a_chosen_result_is_sent_via_the_bot(api: FakeBotApi, bot: Bot) -> None:
    query_id = api.user_types_inline(ALICE, "q")
    await bot.answer_inline_query(query_id, [article("7", text='<a href="https://x.org">A</a> b')])
    answer = api.inline_answer(query_id)
    assert answer is not None
    await bot.get_updates()
    message_id = api.user_chooses(ALICE, answer, "7", chat_id=GROUP)
    (update,) = await bot.get_updates(offset=2)
    message = update.message
    assert message is not None
    assert message.via_bot is not None
    assert (message.message_id, message.text, message.via_bot.id) == (message_id, "A b", api.bot.id)
    assert message.from_user is not None
    assert message.from_user.id == ALICE
    assert api.transcript(GROUP) == "Alice: A b"
    # Into a chat without the bot: the message is there, the bot hears nothing.
    api.user_chooses(ALICE, answer, "7", chat_id=ELSEWHERE)
    assert await bot.get_updates(offset=update.update_id + 1, timeout=0) == ()
    assert api.transcript(ELSEWHERE) == "Alice: A b"
    with pytest.raises(LookupError):
        api.user_chooses(ALICE, answer, "8")


async def test_inline_mode_can_be_off(bot: Bot) -> None:
    with FakeBotApi(bot_api_spec(), limits=None, inline=False) as api:
        api.add_user(ALICE, "Alice")
        async with Bot(TOKEN, base_url=api.base_url) as other:
            assert (await other.get_me()).supports_inline_queries is False
        with pytest.raises(ValueError, match="setinline"):
            api.user_types_inline(ALICE, "q")
