"""bot.devserver driven by the real python-telegram-bot network stack."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllGroupChats,
    ChatFullInfo,
    ChatMember,
    ChatMemberAdministrator,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    MessageEntity,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    EndPointNotFound,
    Forbidden,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.ext import Application, CommandHandler, ContextTypes, MessageHandler, filters
from telegram.warnings import PTBUserWarning

from bot.devserver import FakeBotApi, Limit, QueryAnswer, RateLimits, Violation
from bot.devserver.formatting import EntityParseError, html_to_text
from tests.telegram_helpers import TOKEN, bot_api_spec

ALICE, BOB = 1001, 1002
GROUP, FORUM, CHANNEL = -100, -1001000000001, -1001000000002


@pytest.fixture
def spec() -> Path:
    return bot_api_spec()


@pytest.fixture
def api(spec: Path) -> Iterator[FakeBotApi]:
    """The stand-in with two users, a group Alice created, a forum and a channel; no flood
    limits (the tests of those set their own)."""
    with FakeBotApi(spec, limits=None) as running:
        running.add_user(ALICE, "Alice", username="alice")
        running.add_user(BOB, "Bob")
        running.add_chat(GROUP, "group", "Readers", members={ALICE: "creator", BOB: "member"})
        running.add_chat(FORUM, "supergroup", "Lab", is_forum=True)
        running.add_chat(CHANNEL, "channel", "Papers", username="papers_daily")
        yield running


@pytest.fixture
async def bot(api: FakeBotApi) -> AsyncIterator[Bot]:
    async with Bot(TOKEN, base_url=api.base_url, base_file_url=api.base_file_url) as running:
        yield running


def said(text: str) -> str:
    """A `match` for a PTB error message: PTB drops "Bad Request: " and re-capitalises."""
    return f"(?i){re.escape(text)}"


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


# --- the basics ---------------------------------------------------------------------------


async def test_get_me_describes_the_bot(api: FakeBotApi, bot: Bot) -> None:
    me = await bot.get_me()
    assert (me.id, me.username, me.is_bot) == (api.bot.id, "paperboy_test_bot", True)
    assert me.can_join_groups is True
    assert [call.method for call in api.calls] == ["getMe", "getMe"]  # initialize() asked too
    assert api.tokens == {TOKEN}
    assert api.violations == []


async def test_send_message_returns_and_records_the_message(api: FakeBotApi, bot: Bot) -> None:
    keyboard = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("More", callback_data="more:1"),
                InlineKeyboardButton("Paper", url="https://arxiv.org/abs/2302.06586"),
            ]
        ]
    )
    first = await bot.send_message(
        ALICE, "<b>New</b> papers &amp; more", parse_mode=ParseMode.HTML, reply_markup=keyboard
    )
    second = await bot.send_message(ALICE, "second\nline")
    assert first.text == "New papers & more"  # Telegram returns the text without its markup
    assert (first.chat.id, first.chat.type, first.from_user) == (ALICE, "private", bot.bot)
    assert first.reply_markup == keyboard
    assert (first.message_id, second.message_id) == (1, 2)
    sent = api.sent(ALICE)
    assert [(m.text, m.parse_mode) for m in sent] == [
        ("<b>New</b> papers &amp; more", "HTML"),
        ("second\nline", None),
    ]
    assert sent[0].reply_markup == keyboard.to_dict()
    assert api.transcript(ALICE) == (
        "paperboy: New papers & more\n    [More] [Paper]\npaperboy: second\n    line"
    )
    assert api.violations == []
    assert api.rejected == []


async def test_channels_take_their_username_and_sign_posts(api: FakeBotApi, bot: Bot) -> None:
    post = await bot.send_message("@papers_daily", "Today's papers")
    assert post.chat.id == CHANNEL
    assert post.sender_chat is not None
    assert post.sender_chat.id == CHANNEL
    api.chat(CHANNEL).members[api.bot.id] = "member"
    with pytest.raises(BadRequest, match=said("need administrator rights")):
        await bot.send_message(CHANNEL, "again")


def _set(chat_id: int, **flags: Any) -> Callable[[FakeBotApi], None]:
    def apply(api: FakeBotApi) -> None:
        for name, value in flags.items():
            setattr(api.chat(chat_id), name, value)

    return apply


AS_IS = _set(ALICE)  # no change


@pytest.mark.parametrize(
    ("setup", "kwargs", "error", "match"),
    [
        pytest.param(AS_IS, {"chat_id": 999}, BadRequest, "chat not found", id="unknown"),
        pytest.param(
            _set(ALICE, blocked=True), {}, Forbidden, "bot was blocked by the user", id="blocked"
        ),
        pytest.param(
            _set(ALICE, deactivated=True), {}, Forbidden, "user is deactivated", id="deactivated"
        ),
        pytest.param(
            _set(GROUP, kicked=True),
            {"chat_id": GROUP},
            Forbidden,
            "bot was kicked from the group chat",
            id="kicked",
        ),
        pytest.param(
            AS_IS,
            {"chat_id": GROUP, "message_thread_id": 7},
            BadRequest,
            "message thread not found",
            id="thread-outside-forum",
        ),
        pytest.param(AS_IS, {"text": "  \n "}, BadRequest, "text is empty", id="empty"),
        pytest.param(
            AS_IS, {"parse_mode": "HTML5"}, BadRequest, "unsupported parse_mode", id="mode"
        ),
        pytest.param(
            AS_IS,
            {
                "reply_markup": InlineKeyboardMarkup.from_button(
                    InlineKeyboardButton("Too much", callback_data="x" * 65)
                )
            },
            BadRequest,
            "BUTTON_DATA_INVALID",
            id="callback-data-65-bytes",
        ),
    ],
)
async def test_refusals_map_to_ptb_exceptions(
    api: FakeBotApi,
    bot: Bot,
    setup: Callable[[FakeBotApi], None],
    kwargs: dict[str, Any],
    error: type[Exception],
    match: str,
) -> None:
    setup(api)
    call: dict[str, Any] = {"chat_id": ALICE, "text": "hi", **kwargs}
    with pytest.raises(error, match=said(match)):
        await bot.send_message(**call)
    assert api.sent(call["chat_id"]) == []
    assert api.calls[-1].error is not None
    assert match.lower() in api.calls[-1].error.lower()


async def test_migrated_group_answers_with_the_new_chat_id(api: FakeBotApi, bot: Bot) -> None:
    supergroup = api.migrate_group(GROUP, -1009999, by=ALICE)
    to, from_ = await bot.get_updates()
    assert to.message is not None
    assert to.message.migrate_to_chat_id == -1009999
    assert from_.message is not None
    assert from_.message.migrate_from_chat_id == GROUP
    with pytest.raises(ChatMigrated) as migrated:
        await bot.send_message(GROUP, "hi")
    assert migrated.value.new_chat_id == -1009999
    moved = await bot.send_message(supergroup.id, "hi")
    assert moved.chat.type == "supergroup"


# --- the Bot API description --------------------------------------------------------------


async def test_calls_outside_the_api_description_are_refused_and_recorded(
    api: FakeBotApi, bot: Bot
) -> None:
    with (
        pytest.raises(BadRequest, match=said("unknown parameter colour")),
        pytest.warns(PTBUserWarning),
    ):
        await bot.do_api_request(
            "sendMessage", api_kwargs={"chat_id": ALICE, "text": "hi", "colour": "red"}
        )
    with (
        pytest.raises(BadRequest, match=said("parameter text is required")),
        pytest.warns(PTBUserWarning),
    ):
        await bot.do_api_request("sendMessage", api_kwargs={"chat_id": ALICE})
    with pytest.raises(EndPointNotFound):
        await bot.do_api_request("sendTelepathy", api_kwargs={"chat_id": ALICE})
    assert api.violations == [
        Violation("sendMessage", "unknown parameter colour"),
        Violation("sendMessage", "parameter text is required"),
        Violation("sendTelepathy", "unknown method"),
    ]
    assert api.sent(ALICE) == []


async def test_method_names_are_case_insensitive(api: FakeBotApi, bot: Bot) -> None:
    await bot.do_api_request("SENDMESSAGE", api_kwargs={"chat_id": ALICE, "text": "hi"})
    assert api.calls[-1].method == "sendMessage"
    assert api.transcript(ALICE) == "paperboy: hi"
    assert api.violations == []


async def test_valid_methods_the_stand_in_lacks_answer_501(api: FakeBotApi, bot: Bot) -> None:
    with pytest.raises(NetworkError, match="Not Implemented"):
        await bot.send_photo(ALICE, b"\x89PNG not really")  # multipart, and a valid call
    assert api.violations == []


def test_json_bodies_query_strings_and_error_envelopes(api: FakeBotApi) -> None:
    url = f"{api.base_url}{TOKEN}"
    keyboard = {"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]}
    with httpx.Client() as client:
        sent = client.post(
            f"{url}/sendMessage", json={"chat_id": ALICE, "text": "json", "reply_markup": keyboard}
        )
        by_query = client.get(f"{url}/sendMessage", params={"chat_id": BOB, "text": "query"})
        me = client.get(f"{url}/getme")
        unknown = client.post(f"{url}/noSuchMethod")
        refused = client.post(f"{url}/sendMessage", data={"chat_id": "999", "text": "x"})
    assert sent.json()["result"]["reply_markup"] == keyboard
    assert by_query.json()["result"]["text"] == "query"
    assert me.json()["result"]["username"] == "paperboy_test_bot"
    assert (unknown.status_code, unknown.json()) == (
        404,
        {"ok": False, "error_code": 404, "description": "Not Found"},
    )
    assert (refused.status_code, refused.json()) == (
        400,
        {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"},
    )
    assert [call.method for call in api.calls] == [
        "sendMessage",
        "sendMessage",
        "getMe",
        "sendMessage",
    ]


# --- message rules ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("markup", "shown"),
    [
        ("<b>bold <i>both</i></b> <u>u</u> <s>s</s>", "bold both u s"),
        ('<a href="https://arxiv.org/list?a=1&amp;b=2">list</a>', "list"),
        ('<tg-spoiler>a</tg-spoiler> <span class="tg-spoiler">b</span>', "a b"),
        ('<pre><code class="language-python">x = 1 &lt; 2</code></pre>', "x = 1 < 2"),
        ("<blockquote expandable>quote</blockquote>", "quote"),
        ("&quot;a&quot; &amp; &#x27;b&#39; &gt; c > d", "\"a\" & 'b' > c > d"),
        ('<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>', "👍"),
    ],
)
def test_html_accepts_telegram_markup(markup: str, shown: str) -> None:
    assert html_to_text(markup) == shown


@pytest.mark.parametrize(
    "markup",
    [
        "<b>x",
        "a < b",
        "<script>alert(1)</script>",
        "<b><i>x</b></i>",
        "</b>",
        "AT&T",
        "x &nbsp; y",
        "<span>x</span>",
        '<a name="x">x</a>',
        "line<br>break",
        "<p>x</p>",
        "<!-- note -->",
    ],
)
def test_html_refuses_what_telegram_refuses(markup: str) -> None:
    with pytest.raises(EntityParseError):
        html_to_text(markup)


async def test_bad_html_is_refused_and_recorded(api: FakeBotApi, bot: Bot) -> None:
    bad = ["<b>x", "a < b", "<script>x</script>"]
    for text in bad:
        with pytest.raises(BadRequest, match=said("can't parse entities")):
            await bot.send_message(ALICE, text, parse_mode=ParseMode.HTML)
    assert [rejection.text for rejection in api.rejected] == bad
    assert api.sent(ALICE) == []
    good = await bot.send_message(ALICE, "<b>bold <i>both</i></b>", parse_mode=ParseMode.HTML)
    plain = await bot.send_message(ALICE, "a < b")  # no parse mode: no markup to get wrong
    assert (good.text, plain.text) == ("bold both", "a < b")


async def test_the_4096_limit_counts_the_text_after_tags_and_entities(
    api: FakeBotApi, bot: Bot
) -> None:
    await bot.send_message(ALICE, "<b>" + "x" * 4096 + "</b>", parse_mode=ParseMode.HTML)
    await bot.send_message(ALICE, "&lt;" * 4096, parse_mode=ParseMode.HTML)
    for text, mode in (("x" * 4097, None), ("<i>" + "y" * 4097 + "</i>", ParseMode.HTML)):
        with pytest.raises(BadRequest, match=said("message is too long")):
            await bot.send_message(ALICE, text, parse_mode=mode)
    assert len(api.sent(ALICE)) == 2
    assert len(api.rejected) == 2


# --- updates --------------------------------------------------------------------------------


async def test_get_updates_long_poll_returns_as_soon_as_an_update_arrives(
    api: FakeBotApi, bot: Bot
) -> None:
    started = time.monotonic()
    poll = asyncio.create_task(bot.get_updates(timeout=10))
    await asyncio.sleep(0.2)
    assert not poll.done()
    api.user_sends(ALICE, "hello")
    updates = await asyncio.wait_for(poll, 5)
    assert time.monotonic() - started < 3
    assert [u.message.text for u in updates if u.message] == ["hello"]


async def test_get_updates_honours_offset_and_limit(api: FakeBotApi, bot: Bot) -> None:
    for text in ("one", "two", "three"):
        api.user_sends(ALICE, text)
    first = await bot.get_updates(limit=2)
    assert [u.message.text for u in first if u.message] == ["one", "two"]
    assert len(await bot.get_updates()) == 3  # nothing confirmed yet
    rest = await bot.get_updates(offset=first[-1].update_id + 1)
    assert [u.message.text for u in rest if u.message] == ["three"]
    started = time.monotonic()
    assert await bot.get_updates(offset=rest[-1].update_id + 1, timeout=0) == ()
    assert time.monotonic() - started < 1


async def test_users_send_updates_as_telegram_would(api: FakeBotApi, bot: Bot) -> None:
    first = api.user_sends(ALICE, "/subscribe gnn")
    api.user_edits(ALICE, first, "/subscribe transformers")
    api.user_sends_sticker(ALICE)
    api.user_sends_photo(ALICE, caption="look")
    api.user_sends(BOB, f"/digest@{api.bot.username} now", chat_id=GROUP)
    api.user_sends(BOB, "in a topic", chat_id=FORUM, thread_id=7)
    api.change_bot_status(ALICE, "kicked", by=ALICE)
    message, edited, sticker, photo, group, topic, blocked = await bot.get_updates()
    assert message.message is not None
    assert message.message.entities == (
        MessageEntity(MessageEntity.BOT_COMMAND, 0, len("/subscribe")),
    )
    assert edited.edited_message is not None
    assert (edited.edited_message.message_id, edited.edited_message.text) == (
        first,
        "/subscribe transformers",
    )
    assert edited.edited_message.edit_date is not None
    assert sticker.message is not None
    assert sticker.message.sticker is not None
    assert sticker.message.sticker.emoji == "👍"
    assert photo.message is not None
    assert photo.message.caption == "look"
    assert photo.message.photo[-1].width == 1280
    assert group.message is not None
    assert group.message.entities[0].length == len("/digest@paperboy_test_bot")
    assert topic.message is not None
    assert (topic.message.message_thread_id, topic.message.is_topic_message) == (7, True)
    assert blocked.my_chat_member is not None
    assert blocked.my_chat_member.old_chat_member.status == ChatMember.MEMBER
    assert blocked.my_chat_member.new_chat_member.status == ChatMember.BANNED
    with pytest.raises(Forbidden, match="blocked"):
        await bot.send_message(ALICE, "still there?")
    assert api.transcript(ALICE) == (
        "Alice: /subscribe transformers\nAlice: [sticker 👍]\nAlice: [photo] look"
    )
    reply = await bot.send_message(FORUM, "answer", message_thread_id=7)
    assert reply.message_thread_id == 7
    assert api.sent(FORUM)[0].thread_id == 7


async def test_callback_query_flow(api: FakeBotApi, bot: Bot) -> None:
    keyboard = InlineKeyboardMarkup.from_row(
        [
            InlineKeyboardButton("Yes", callback_data="sub:yes"),
            InlineKeyboardButton("No", callback_data="sub:no"),
        ]
    )
    sent = await bot.send_message(ALICE, "Subscribe?", reply_markup=keyboard)
    query_id = api.user_presses(ALICE, sent.message_id, "Yes")
    assert api.unanswered == 1
    (update,) = await bot.get_updates()
    query = update.callback_query
    assert query is not None
    assert query.message is not None
    assert (query.id, query.data, query.from_user.id) == (query_id, "sub:yes", ALICE)
    assert query.message.message_id == sent.message_id
    assert await bot.answer_callback_query(query.id, text="Subscribed")
    assert api.unanswered == 0
    with pytest.raises(BadRequest, match=said("query is too old")):
        await bot.answer_callback_query(query.id)
    assert api.answers == [QueryAnswer(query_id, "Subscribed", False, None)]

    edited = await bot.edit_message_text("Subscribed ✓", chat_id=ALICE, message_id=sent.message_id)
    assert isinstance(edited, type(sent))
    assert (edited.text, edited.reply_markup) == ("Subscribed ✓", None)  # keyboard removed
    assert edited.edit_date is not None
    with pytest.raises(BadRequest, match=said("message is not modified")):
        await bot.edit_message_text("Subscribed ✓", chat_id=ALICE, message_id=sent.message_id)
    with pytest.raises(BadRequest, match=said("message to edit not found")):
        await bot.edit_message_text("x", chat_id=ALICE, message_id=99)
    undo = InlineKeyboardMarkup.from_button(InlineKeyboardButton("Undo", callback_data="undo"))
    await bot.edit_message_reply_markup(ALICE, sent.message_id, reply_markup=undo)
    with pytest.raises(BadRequest, match=said("message is not modified")):
        await bot.edit_message_reply_markup(ALICE, sent.message_id, reply_markup=undo)
    with pytest.raises(LookupError, match="Undo"):
        api.user_presses(ALICE, sent.message_id, "Yes")  # that keyboard is gone
    assert api.transcript(ALICE) == "paperboy: Subscribed ✓\n    [Undo]"
    assert [edit.text for edit in api.sent(ALICE)[0].edits] == ["Subscribed ✓", "Subscribed ✓"]
    assert api.violations == []
    assert api.rejected == []


async def test_a_real_application_replies_and_wait_idle_waits_for_it(api: FakeBotApi) -> None:
    async def hello(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        assert update.effective_user is not None
        await update.effective_message.reply_text(f"Hello {update.effective_user.first_name}")

    app = Application.builder().token(TOKEN).base_url(api.base_url).build()
    app.add_handler(CommandHandler("start", hello))
    async with app:
        assert app.updater is not None
        await app.start()
        await app.updater.start_polling(poll_interval=0.0, timeout=5)
        api.user_sends(ALICE, "/start")
        api.user_sends(BOB, "/start@another_bot", chat_id=GROUP)  # not for this bot
        api.user_sends(BOB, f"/start@{api.bot.username}", chat_id=GROUP)
        await api.wait_idle()
        await app.updater.stop()
        await app.stop()
    assert api.transcript(ALICE) == "Alice: /start\npaperboy: Hello Alice"
    assert api.transcript(GROUP) == (
        "Bob: /start@another_bot\nBob: /start@paperboy_test_bot\npaperboy: Hello Bob"
    )
    assert api.violations == []
    assert api.rejected == []


async def test_wait_idle_times_out_while_updates_wait(api: FakeBotApi) -> None:
    api.user_sends(ALICE, "anyone?")
    with pytest.raises(TimeoutError, match="1 updates not fetched"):
        await api.wait_idle(timeout=0.2)


# --- files --------------------------------------------------------------------------------

PDF = b"%PDF-1.7\r\n" + bytes(range(256)) + b"\r\n--boundary-lookalike\r\n%%EOF"


async def test_a_user_sends_a_document_and_the_bot_downloads_it(api: FakeBotApi, bot: Bot) -> None:
    sent = api.user_sends_document(ALICE, "attention.pdf", PDF, caption="read this")
    api.user_sends_document(BOB, "notes", b"plain", chat_id=FORUM, thread_id=7)
    private, topic = await bot.get_updates()
    message = private.message
    assert message is not None
    assert message.message_id == sent
    assert message.caption == "read this"
    document = message.document
    assert document is not None
    assert (document.file_name, document.mime_type, document.file_size) == (
        "attention.pdf",
        "application/pdf",
        len(PDF),
    )
    file = await bot.get_file(document.file_id)
    assert (file.file_id, file.file_unique_id, file.file_size) == (
        document.file_id,
        document.file_unique_id,
        len(PDF),
    )
    assert file.file_path is not None
    assert file.file_path.startswith(f"{api.base_file_url}{TOKEN}/documents/")
    assert file.file_path.endswith(".pdf")
    assert await file.download_as_bytearray() == PDF
    assert topic.message is not None
    assert topic.message.message_thread_id == 7
    assert topic.message.document is not None
    assert topic.message.document.mime_type == "application/octet-stream"  # no extension
    assert api.file(document.file_id).data == PDF
    assert api.transcript(ALICE) == "Alice: [document attention.pdf] read this"
    assert api.violations == []


async def test_downloads_need_the_path_and_token_get_file_gave(api: FakeBotApi, bot: Bot) -> None:
    api.user_sends_document(ALICE, "a.txt", b"secret")
    (update,) = await bot.get_updates()
    assert update.message is not None
    assert update.message.document is not None
    file = await bot.get_file(update.message.document.file_id)
    assert file.file_path is not None
    path = file.file_path.removeprefix(f"{api.base_file_url}{TOKEN}/")
    with httpx.Client() as client:
        good = client.get(f"{api.base_file_url}{TOKEN}/{path}")
        other_bot = client.get(f"{api.base_file_url}456:DEF/{path}")
        unknown = client.get(f"{api.base_file_url}{TOKEN}/documents/file_99.txt")
    assert (good.status_code, good.content) == (200, b"secret")
    assert good.headers["Content-Type"] == "application/octet-stream"
    for refused in (other_bot, unknown):
        assert (refused.status_code, refused.json()) == (
            404,
            {"ok": False, "error_code": 404, "description": "Not Found"},
        )


async def test_send_document_uploads_and_is_recorded(api: FakeBotApi, bot: Bot) -> None:
    keyboard = InlineKeyboardMarkup.from_button(InlineKeyboardButton("More", callback_data="m"))
    sent = await bot.send_document(
        ALICE,
        b"1. Attention is all you need\n",
        filename="digest.txt",
        caption="<b>Today</b> &amp; more",
        parse_mode=ParseMode.HTML,
        reply_markup=keyboard,
    )
    assert sent.document is not None
    assert (sent.document.file_name, sent.document.mime_type, sent.document.file_size) == (
        "digest.txt",
        "text/plain",
        29,
    )
    assert sent.caption == "Today & more"  # as the chat shows it
    assert sent.reply_markup == keyboard
    (recorded,) = api.sent(ALICE)
    assert recorded.document is not None
    assert (recorded.document.file_name, recorded.document.data) == (
        "digest.txt",
        b"1. Attention is all you need\n",
    )
    assert (recorded.caption, recorded.parse_mode) == ("<b>Today</b> &amp; more", "HTML")
    assert api.file(sent.document.file_id) is recorded.document
    assert api.transcript(ALICE) == "paperboy: [document digest.txt] Today & more\n    [More]"

    again = await bot.send_document(FORUM, sent.document.file_id, message_thread_id=7)
    assert again.document is not None
    assert again.document.file_unique_id == sent.document.file_unique_id
    assert (again.message_thread_id, again.caption) == (7, None)
    file = await bot.get_file(again.document.file_id)
    assert await file.download_as_bytearray() == b"1. Attention is all you need\n"
    with pytest.raises(BadRequest, match=said("there is no text in the message to edit")):
        await bot.edit_message_text("x", chat_id=ALICE, message_id=sent.message_id)
    assert api.violations == []
    assert api.rejected == []


async def test_a_real_application_receives_and_sends_files(api: FakeBotApi) -> None:
    async def reverse(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        assert message is not None
        assert message.document is not None
        file = await message.document.get_file()
        data = await file.download_as_bytearray()
        await message.reply_document(
            bytes(reversed(data)), filename=f"reversed-{message.document.file_name}"
        )

    app = (
        Application.builder()
        .token(TOKEN)
        .base_url(api.base_url)
        .base_file_url(api.base_file_url)
        .build()
    )
    app.add_handler(MessageHandler(filters.Document.ALL, reverse))
    async with app:
        assert app.updater is not None
        await app.start()
        await app.updater.start_polling(poll_interval=0.0, timeout=5)
        api.user_sends_document(ALICE, "paper.pdf", PDF)
        await api.wait_idle()
        await app.updater.stop()
        await app.stop()
    (reply,) = api.sent(ALICE)
    assert reply.document is not None
    assert (reply.document.file_name, reply.document.data) == (
        "reversed-paper.pdf",
        PDF[::-1],
    )
    methods = [call.method for call in api.calls if call.method != "getUpdates"]
    assert methods[-2:] == ["getFile", "sendDocument"]
    assert api.violations == []


async def test_get_file_refusals(api: FakeBotApi, bot: Bot) -> None:
    with pytest.raises(BadRequest, match=said("invalid file_id")):
        await bot.get_file("no-such-file")
    api.user_sends_document(ALICE, "limit.bin", bytes(20 * 1024 * 1024))
    api.user_sends_document(ALICE, "big.bin", bytes(20 * 1024 * 1024 + 1))
    limit, big = [u.message.document for u in await bot.get_updates() if u.message]
    assert limit is not None
    assert big is not None
    assert big.file_size == 20 * 1024 * 1024 + 1  # users may send it: only bots can't fetch it
    assert (await bot.get_file(limit.file_id)).file_size == 20 * 1024 * 1024
    with pytest.raises(BadRequest, match=said("file is too big")):
        await bot.get_file(big.file_id)
    assert api.violations == []


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        pytest.param({"document": b""}, BadRequest, "file must be non-empty", id="empty"),
        pytest.param(
            {"caption": "x" * 1025}, BadRequest, "message caption is too long", id="caption-1025"
        ),
        pytest.param(
            {"caption": "<b>x", "parse_mode": ParseMode.HTML},
            BadRequest,
            "can't parse entities",
            id="caption-html",
        ),
        pytest.param(
            {"document": "no-such-file"},
            BadRequest,
            "wrong file identifier/HTTP URL specified",
            id="unknown-file-id",
        ),
        pytest.param(
            {"document": "https://arxiv.org/pdf/1706.03762"},
            BadRequest,
            "failed to get HTTP URL content",
            id="url",
        ),
        pytest.param(
            # 50 MB to a stand-in on a busy machine: more than PTB's default 5 s to answer.
            {"document": bytes(50 * 1024 * 1024 + 1), "read_timeout": 60, "write_timeout": 60},
            NetworkError,
            "Request Entity Too Large",
            id="upload-over-50-mb",
        ),
        pytest.param(
            {"chat_id": GROUP, "message_thread_id": 7},
            BadRequest,
            "message thread not found",
            id="thread-outside-forum",
        ),
    ],
)
async def test_send_document_refusals(
    api: FakeBotApi, bot: Bot, kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    call: dict[str, Any] = {"chat_id": ALICE, "document": b"data", "filename": "a.txt", **kwargs}
    with pytest.raises(error, match=said(match)):
        await bot.send_document(**call)
    assert api.sent(call["chat_id"]) == []
    assert api.calls[-1].error is not None
    assert match.lower() in api.calls[-1].error.lower()
    assert api.violations == []


async def test_captions_count_after_entities_and_refusals_are_recorded(
    api: FakeBotApi, bot: Bot
) -> None:
    await bot.send_document(
        ALICE, b"x", filename="a.txt", caption="<i>" + "y" * 1024 + "</i>", parse_mode="HTML"
    )
    with pytest.raises(BadRequest, match=said("message caption is too long")):
        await bot.send_document(ALICE, b"x", filename="a.txt", caption="z" * 1025)
    assert [(r.method, r.text) for r in api.rejected] == [("sendDocument", "z" * 1025)]
    assert len(api.sent(ALICE)) == 1
    assert len(api.calls) == 2 + 1  # getMe from initialize()


async def test_documents_count_against_the_flood_limits(spec: Path, clock: FakeClock) -> None:
    with FakeBotApi(spec, clock=clock) as api:
        api.add_user(ALICE, "Alice")
        async with Bot(TOKEN, base_url=api.base_url) as bot:
            await bot.send_message(ALICE, "here is your digest")
            with pytest.raises(RetryAfter):
                await bot.send_document(ALICE, b"digest", filename="digest.txt")
            clock.now += 1.0
            await bot.send_document(ALICE, b"digest", filename="digest.txt")
        assert [m.shown for m in api.sent(ALICE)] == [
            "here is your digest",
            "[document digest.txt]",
        ]
        assert api.throttled == 1


# --- chats, members, commands, webhook ------------------------------------------------------


async def test_chats_and_members(api: FakeBotApi, bot: Bot) -> None:
    channel = await bot.get_chat("@papers_daily")
    assert isinstance(channel, ChatFullInfo)
    assert (channel.id, channel.type, channel.title) == (CHANNEL, "channel", "Papers")
    assert (await bot.get_chat(FORUM)).is_forum
    me = await bot.get_chat_member(CHANNEL, api.bot.id)
    assert isinstance(me, ChatMemberAdministrator)
    assert me.can_post_messages
    assert (await bot.get_chat_member(GROUP, ALICE)).status == ChatMember.OWNER
    assert (await bot.get_chat_member(GROUP, BOB)).status == ChatMember.MEMBER
    assert (await bot.get_chat_member(FORUM, BOB)).status == ChatMember.LEFT
    with pytest.raises(BadRequest, match=said("user not found")):
        await bot.get_chat_member(GROUP, 4242)
    admins = await bot.get_chat_administrators(GROUP)
    assert [admin.user.id for admin in admins] == [ALICE]
    api.chat(GROUP).kicked = True
    with pytest.raises(Forbidden, match="kicked"):
        await bot.get_chat_member(GROUP, ALICE)


async def test_commands_are_kept_per_scope(api: FakeBotApi, bot: Bot) -> None:
    await bot.set_my_commands([BotCommand("start", "Start"), BotCommand("subscribe", "Add")])
    await bot.set_my_commands(
        [BotCommand("stats", "Group stats")], scope=BotCommandScopeAllGroupChats()
    )
    assert [c.command for c in await bot.get_my_commands()] == ["start", "subscribe"]
    groups = await bot.get_my_commands(scope=BotCommandScopeAllGroupChats())
    assert [c.command for c in groups] == ["stats"]
    with pytest.raises(BadRequest, match=said("BOT_COMMAND_INVALID")):
        await bot.set_my_commands([BotCommand("Start!", "Start")])
    await bot.delete_my_commands()
    assert await bot.get_my_commands() == ()
    assert [rejection.method for rejection in api.rejected] == ["setMyCommands"]


async def test_webhook_with_an_uploaded_certificate(api: FakeBotApi, bot: Bot) -> None:
    await bot.set_webhook("https://example.org/hook", certificate=b"-----BEGIN CERTIFICATE-----")
    info = await bot.get_webhook_info()
    assert (info.url, info.has_custom_certificate) == ("https://example.org/hook", True)
    with pytest.raises(Conflict, match="webhook is active"):
        await bot.get_updates()
    await bot.delete_webhook()
    assert await bot.get_updates() == ()


# --- flood limits ---------------------------------------------------------------------------


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # RetryAfter.retry_after as a timedelta
    return FakeClock()


async def test_more_than_30_messages_a_second_get_retry_after(spec: Path, clock: FakeClock) -> None:
    with FakeBotApi(spec, clock=clock) as api:
        users = [api.add_user(2000 + i, f"User {i}") for i in range(31)]
        async with Bot(TOKEN, base_url=api.base_url) as bot:
            for user in users[:30]:
                await bot.send_message(user.id, "digest")
            with pytest.raises(RetryAfter) as refused:
                await bot.send_message(users[30].id, "digest")
            assert refused.value.retry_after == timedelta(seconds=1)
            clock.now += 1.0
            await bot.send_message(users[30].id, "digest")
        assert api.throttled == 1
        assert api.calls[-2].error == "Too Many Requests: retry after 1"


async def test_one_message_a_second_per_private_chat(spec: Path, clock: FakeClock) -> None:
    with FakeBotApi(spec, clock=clock) as api:
        api.add_user(ALICE, "Alice")
        async with Bot(TOKEN, base_url=api.base_url) as bot:
            await bot.send_message(ALICE, "one")
            with pytest.raises(RetryAfter):
                await bot.send_message(ALICE, "two")
            clock.now += 0.5
            with pytest.raises(RetryAfter):
                await bot.send_message(ALICE, "two")
            clock.now += 0.5
            await bot.send_message(ALICE, "two")
        assert [m.text for m in api.sent(ALICE)] == ["one", "two"]
        assert api.throttled == 2


async def test_group_limit_per_minute_is_configurable(spec: Path, clock: FakeClock) -> None:
    limits = RateLimits(group_chat=Limit(3, 60.0))
    with FakeBotApi(spec, limits=limits, clock=clock) as api:
        api.add_chat(GROUP, "group", "Readers")
        async with Bot(TOKEN, base_url=api.base_url) as bot:
            for _ in range(3):
                await bot.send_message(GROUP, "digest")
                clock.now += 1.0
            with pytest.raises(RetryAfter) as refused:
                await bot.send_message(GROUP, "digest")
            assert refused.value.retry_after == timedelta(seconds=57)


# --- faults, latency, secrecy ---------------------------------------------------------------


async def test_injected_faults(api: FakeBotApi, bot: Bot) -> None:
    api.inject("sendMessage", status=500)
    with pytest.raises(NetworkError, match="Internal Server Error"):
        await bot.send_message(ALICE, "lost")
    await bot.send_message(ALICE, "fine again")
    api.inject("getMe", status=502, times=2)
    for _ in range(2):
        with pytest.raises(NetworkError, match="Bad Gateway"):
            await bot.get_me()
    await bot.get_me()
    api.inject("sendMessage", status=None, delay=2.0)
    with pytest.raises(TimedOut):
        await bot.send_message(ALICE, "slow", read_timeout=0.2)


async def test_latency_is_added_to_every_answer(api: FakeBotApi, bot: Bot) -> None:
    api.latency = 0.1
    started = time.monotonic()
    await bot.get_me()
    assert time.monotonic() - started >= 0.1


async def test_the_token_stays_out_of_the_output(
    api: FakeBotApi, bot: Bot, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="bot.devserver")
    await bot.send_message(ALICE, "hi")
    with pytest.raises(EndPointNotFound):
        await bot.do_api_request("noSuchMethod")
    captured = capfd.readouterr()
    assert TOKEN not in captured.out + captured.err + caplog.text
    assert api.tokens == {TOKEN}
