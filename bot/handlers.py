"""Telegram handlers: parse a command, check who may run it, call bot.service, reply.

Short by design; the logic lives in bot/service.py, which knows nothing of Telegram.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Coroutine
from datetime import datetime
from html import escape
from typing import Any, TypeVar

from rapidfuzz import fuzz, process
from sqlalchemy.orm import Session, sessionmaker
from telegram import (
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InlineQueryResultsButton,
    InputTextMessageContent,
    LinkPreviewOptions,
    Message,
    Update,
)
from telegram.constants import ChatMemberStatus, ChatType, ParseMode
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import CommandHandler, ContextTypes
from telegram.ext.filters import MessageFilter

from bot import inline, profile, render, service
from bot.config import Settings
from bot.digests import Digests, Outcome
from bot.fetch import FetchPolicy
from bot.ingest import expand_sources, ingest_all
from bot.records import Mark, SearchUnavailable
from bot.render import feedback_keyboard, preformatted, search_page
from bot.replies import Chat, SettingReply, Unsubscribed
from bot.schedule import utc_now
from bot.search import search as search_papers

log = logging.getLogger(__name__)

Handler = Callable[[Update, ContextTypes.DEFAULT_TYPE], Coroutine[Any, Any, None]]

SEARCH_PAGE = 5
SEARCHES_KEPT = 20
# Telegram's command names are at most 32 characters.
COMMAND_TYPO = 32
# Offsets past this are no page of ours: a forged button.
MAX_SEARCH_OFFSET = 1_000_000
MAX_ROW_ID = 2**31 - 1  # INTEGER, in SQLite and PostgreSQL
EXPIRED = "This button has expired."
T = TypeVar("T")
# bot_data's flag while an /ingest runs: one at a time.
INGESTING = "ingesting"
IMPORT_PROMPT = "Reply to this message with the JSON document that /export gave you."
_ADMINS = (ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR)


def _sessions(context: ContextTypes.DEFAULT_TYPE) -> sessionmaker[Session]:
    sessions: sessionmaker[Session] = context.bot_data["sessions"]
    return sessions


def _settings(context: ContextTypes.DEFAULT_TYPE) -> Settings:
    settings: Settings = context.bot_data["settings"]
    return settings


def _args(update: Update) -> str:
    """The text after the command word ("/subscribe@paperboy_bot a, b" -> "a, b")."""
    message = update.effective_message
    text = (message.text or "") if message else ""
    parts = text.split(maxsplit=1)
    return parts[1] if len(parts) > 1 else ""


def _here(update: Update) -> Chat:
    chat = update.effective_chat
    message = update.effective_message
    assert chat is not None
    thread = message.message_thread_id if message and message.is_topic_message else None
    return Chat(chat.id, chat.type, chat.title or chat.username, thread)


async def _reply(update: Update, *texts: str, markup: InlineKeyboardMarkup | None = None) -> None:
    message = update.effective_message
    if message is None:
        return
    for index, text in enumerate(texts):
        await message.reply_text(text, reply_markup=markup if index == len(texts) - 1 else None)


async def _is_admin(context: ContextTypes.DEFAULT_TYPE, chat_id: int | str, user_id: int) -> bool:
    member = await context.bot.get_chat_member(chat_id, user_id)
    return member.status in _ADMINS


async def _target(update: Update, context: ContextTypes.DEFAULT_TYPE) -> tuple[Chat, str] | None:
    """The chat a settings-changing command is about, and the rest of its arguments.

    In a private chat, a first argument "@channel" names a channel the user administers;
    in a group, only its administrators may change it. None (after replying) if refused.
    """
    here = _here(update)
    args = _args(update)
    user = update.effective_user
    if user is None:
        return None
    if here.type == ChatType.PRIVATE and args.startswith("@"):
        name, _, rest = args.partition(" ")
        return await _channel(update, context, name, user.id, rest)
    if here.type in (ChatType.GROUP, ChatType.SUPERGROUP) and not await _is_admin(
        context, here.id, user.id
    ):
        await _reply(update, "Only the group's administrators can change its subscription.")
        return None
    return here, args


async def _channel(
    update: Update, context: ContextTypes.DEFAULT_TYPE, name: str, user_id: int, rest: str
) -> tuple[Chat, str] | None:
    shown = escape(name[:64])
    try:
        channel = await context.bot.get_chat(name)
    except (BadRequest, Forbidden):
        await _reply(update, f"I cannot find {shown}. Is the name right, and am I a member?")
        return None
    if channel.type != ChatType.CHANNEL:
        await _reply(update, f"{shown} is not a channel.")
        return None
    try:
        user_is_admin = await _is_admin(context, channel.id, user_id)
        me = await context.bot.get_chat_member(channel.id, context.bot.id)
    except (BadRequest, Forbidden):
        await _reply(update, f"I cannot see the members of {shown}: make me an admin there.")
        return None
    if not user_is_admin:
        await _reply(update, f"Only administrators of {shown} can manage its subscription.")
        return None
    if me.status not in _ADMINS or not getattr(me, "can_post_messages", False):
        await _reply(update, f"I cannot post in {shown}: make me an admin who may post.")
        return None
    return Chat(channel.id, ChatType.CHANNEL, f"@{channel.username or channel.id}"), rest


def in_thread(
    context: ContextTypes.DEFAULT_TYPE, work: Callable[[Session], T], *, write: bool = False
) -> Awaitable[T]:
    """Run `work` in a session (a transaction if it `write`s) in a thread: database calls
    and CPU work must never hold up the event loop, which serves every other chat."""
    sessions = _sessions(context)

    def run() -> T:
        with sessions.begin() if write else sessions() as session:
            return work(session)

    return asyncio.to_thread(run)


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    here = _here(update)
    found = await in_thread(context, lambda s: service.start(s, here, utc_now()), write=True)
    await _reply(update, render.welcome(found))


async def help_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await _reply(update, context.bot_data["help"])


async def unsubscribe(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    target = await _target(update, context)
    if target is None:
        return
    chat, keyword = target
    if keyword.strip():
        found = await in_thread(
            context, lambda s: service.unsubscribe(s, chat, keyword), write=True
        )
        await _reply(update, render.unsubscribed(found))
        return
    buttons = [
        [InlineKeyboardButton(f"✕ {name[:60]}", callback_data=f"unsub:{chat.id}:{key}")]
        for key, name in await in_thread(context, lambda s: service.keyword_ids(s, chat))
    ]
    if not buttons:
        await _reply(update, render.NO_KEYWORDS_TO_REMOVE)
        return
    await _reply(update, "Tap a keyword to remove it:", markup=InlineKeyboardMarkup(buttons))


async def keywords(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    target = await _read_target(update, context)
    if target:
        have = await in_thread(context, lambda s: service.keyword_list(s, target))
        await _reply(update, *render.keyword_list(target, have))


async def _read_target(update: Update, context: ContextTypes.DEFAULT_TYPE) -> Chat | None:
    """Like _target, but anyone in a group may read its settings."""
    here = _here(update)
    if here.type == ChatType.PRIVATE and _args(update).startswith("@"):
        target = await _target(update, context)
        return target[0] if target else None
    return here


def _setting(
    change: Callable[[Session, Chat, str, datetime], SettingReply],
) -> Handler:
    async def handler(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        target = await _target(update, context)
        if target:
            chat, text = target
            done = await in_thread(context, lambda s: change(s, chat, text, utc_now()), write=True)
            await _reply(update, render.setting(done))

    return handler


async def subscribe(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Like a setting, but the reply says what the new keywords match now: off the event
    loop, against the cached candidates."""
    target = await _target(update, context)
    if target:
        chat, text = target
        found = await _matching(
            context,
            lambda session, known: service.subscribe(session, chat, text, utc_now(), known),
            write=True,
        )
        await _reply(update, render.subscribed(found))


async def follow(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/follow NAME: /subscribe author:"NAME", read and counted the same way."""
    target = await _target(update, context)
    if target:
        chat, text = target
        found = await _matching(
            context,
            lambda session, known: service.follow(session, chat, text, utc_now(), known),
            write=True,
        )
        await _reply(update, render.subscribed(found))


set_time = _setting(service.set_time)
set_schedule = _setting(service.set_schedule)
set_timezone = _setting(service.set_timezone)
nothing_new = _setting(service.set_notify_empty)
recommend = _setting(service.set_recommend)
pause = _setting(lambda session, chat, _, now: service.set_paused(session, chat, True, now))
resume = _setting(lambda session, chat, _, now: service.set_paused(session, chat, False, now))


async def settings(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    target = await _read_target(update, context)
    if target:
        found = await in_thread(context, lambda s: service.settings(s, target))
        await _reply(update, render.settings(target, found))


async def export(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    target = await _read_target(update, context)
    if target:
        document = await in_thread(context, lambda s: service.export(s, target))
        await _reply(update, *preformatted(document))


async def import_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    target = await _target(update, context)
    if target is None:
        return
    chat, document = target
    if document.strip():
        await _reply(update, await _import(context, chat, document))
        return
    message = update.effective_message
    if message and context.chat_data is not None:
        # The reply will not name the chat again ("/import @channel"): remember it.
        context.chat_data["import_target"] = chat
        await message.reply_text(IMPORT_PROMPT, reply_markup=ForceReply(selective=True))


async def import_reply(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A reply to the /import prompt carries the document."""
    message = update.message
    target = (context.chat_data or {}).get("import_target")
    if message is None or not isinstance(target, Chat):
        return
    if not await _may_change(update, context, target.id):
        await _reply(update, "Only an administrator can import into that chat.")
        return
    await _reply(update, await _import(context, target, message.text or ""))


async def _import(context: ContextTypes.DEFAULT_TYPE, chat: Chat, document: str) -> str:
    done = await _matching(
        context,
        lambda session, known: service.import_document(session, chat, document, utc_now(), known),
        write=True,
    )
    return render.imported(done)


class RepliesToImportPrompt(MessageFilter):
    """New text messages that answer the bot's /import prompt."""

    def filter(self, message: Message) -> bool:
        prompt = message.reply_to_message
        return bool(
            prompt and prompt.text == IMPORT_PROMPT and prompt.from_user and prompt.from_user.is_bot
        )


async def stop(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    target = await _target(update, context)
    if target is None:
        return
    chat = target[0]
    buttons = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("Yes, delete everything", callback_data=f"stop:{chat.id}"),
                InlineKeyboardButton("No, keep it", callback_data="cancel"),
            ]
        ]
    )
    await _reply(update, render.stop_question(chat), markup=buttons)


def _matching(
    context: ContextTypes.DEFAULT_TYPE,
    work: Callable[[Session, service.Candidates], T],
    *,
    write: bool = False,
) -> Awaitable[T]:
    """Run matching work in a thread (it is CPU-bound: the event loop must keep serving
    other chats), against the candidates cached until new papers arrive; in a transaction
    if it `write`s."""
    digests: Digests = context.bot_data["digests"]
    return in_thread(context, lambda s: work(s, digests.candidates(s)), write=write)


async def latest(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    target = await _read_target(update, context)
    message = update.effective_message
    if target and message:
        # The buttons rate for the chat they are in (a channel's /latest is asked privately).
        here = _here(update).id

        def work(
            session: Session, known: service.Candidates
        ) -> tuple[list[tuple[str, list[int]]], dict[int, Mark]]:
            replies = render.latest(target, service.latest(session, target, known))
            shown = [paper_id for _, paper_ids in replies for paper_id in paper_ids]
            return replies, profile.marks(session, here, shown)

        replies, marks = await _matching(context, work)
        for text, paper_ids in replies:
            await message.reply_text(text, reply_markup=feedback_keyboard(paper_ids, marks))


async def trending(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    if message is None:
        return
    argument, here = _args(update), message.chat.id

    def work(session: Session) -> tuple[list[tuple[str, list[int]]], dict[int, Mark]]:
        replies = render.trending_papers(*service.trending_papers(session, argument, utc_now()))
        shown = [paper_id for _, paper_ids in replies for paper_id in paper_ids]
        return replies, profile.marks(session, here, shown)

    replies, marks = await in_thread(context, work)
    for text, paper_ids in replies:
        await message.reply_text(text, reply_markup=feedback_keyboard(paper_ids, marks))


async def digest(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    target = await _target(update, context)
    if target:
        await _send_digest(update, context, target[0])


async def _send_digest(update: Update, context: ContextTypes.DEFAULT_TYPE, chat: Chat) -> None:
    digests: Digests = context.bot_data["digests"]
    outcome, sent, _ = await digests.deliver(chat.id)
    if outcome is Outcome.GONE:
        if chat.id != _here(update).id:
            await _reply(
                update, f"I can no longer post in {escape(chat.name)}, so its digests have stopped."
            )
    elif outcome is Outcome.BUSY:
        await _reply(update, "The digest is on its way already.")
    elif outcome in (Outcome.FAILED, Outcome.REFUSED):
        await _reply(update, "Telegram did not take the digest just now; try again later.")
    elif not sent:
        why = await in_thread(context, lambda s: service.nothing_to_send(s, chat))
        await _reply(update, render.nothing_to_send(chat, why))


async def search(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = _args(update)
    message = update.effective_message
    if message is None:
        return
    text, markup = await _search_page(context, query, 0, message.chat.id)
    sent = await message.reply_text(text, reply_markup=markup)
    if markup is not None and context.chat_data is not None:
        # The buttons page through this query; remember it for the message (the last few).
        searches: dict[int, str] = context.chat_data.setdefault("searches", {})
        searches[sent.message_id] = query
        for old in sorted(searches)[:-SEARCHES_KEPT]:
            del searches[old]


async def _page_search(update: Update, context: ContextTypes.DEFAULT_TYPE, offset: int) -> None:
    callback = update.callback_query
    assert callback is not None
    assert isinstance(callback.message, Message)
    searches = (context.chat_data or {}).get("searches", {})
    query = searches.get(callback.message.message_id)
    if query is None:
        await callback.answer("This search has expired: send /search again.", show_alert=True)
        return
    text, markup = await _search_page(context, query, max(0, offset), callback.message.chat.id)
    await callback.answer()
    await callback.edit_message_text(text, reply_markup=markup)


def _search_page(
    context: ContextTypes.DEFAULT_TYPE, query: str, offset: int, chat_id: int
) -> Awaitable[tuple[str, InlineKeyboardMarkup | None]]:
    """A page of results with a row of feedback buttons per paper (numbered as the page
    numbers them) and the paging buttons; searched in a thread."""

    def work(session: Session) -> tuple[str, InlineKeyboardMarkup | None]:
        try:
            outcome = search_papers(session, query, limit=SEARCH_PAGE, offset=offset)
        except SearchUnavailable as exc:
            return escape(str(exc)), None
        ids = [r.paper_id for r in outcome.results if r.paper_id is not None]
        marks = profile.marks(session, chat_id, ids)
        paging = _paging(outcome.more, offset)
        return search_page(outcome), feedback_keyboard(ids, marks, first=offset + 1, extra=[paging])

    return in_thread(context, work)


def _paging(more: bool, offset: int) -> list[InlineKeyboardButton]:
    buttons = []
    if offset > 0:
        back = f"search:{max(0, offset - SEARCH_PAGE)}"
        buttons.append(InlineKeyboardButton("« back", callback_data=back))
    if more:
        buttons.append(
            InlineKeyboardButton("more »", callback_data=f"search:{offset + SEARCH_PAGE}")
        )
    return buttons


def number(text: str, low: int = -(10**15), high: int = 10**15) -> int | None:
    """A number in callback data, from `low` to `high`: ASCII digits only (Python's int()
    also takes "\u0663" and str.isdigit() passes "²", which int() refuses), at most 15 of
    them. The one parser of the numbers in every button's data."""
    value = int(text) if _NUMBER.fullmatch(text) else None
    return value if value is not None and low <= value <= high else None


_NUMBER = re.compile(r"-?[0-9]{1,15}")


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Every inline button but saved: and fb: ones: unsub:<chat>:<keyword id>, stop:<chat>,
    digest:<chat>, cancel, search:<offset>. Data the bot never made (forged, or from an
    older version) is answered politely before anything else is done."""
    query = update.callback_query
    if query is None:
        return
    if query.data is None or not isinstance(query.message, Message):
        await query.answer("That button is out of date.")
        return
    action, _, rest = query.data.partition(":")
    if action == "search":
        offset = number(rest, 0, MAX_SEARCH_OFFSET)
        if offset is None or offset % SEARCH_PAGE:
            await query.answer(EXPIRED)
        else:
            await _page_search(update, context, offset)
        return
    if query.data == "cancel":
        await query.answer("Kept.")
        await query.edit_message_text("Nothing was deleted.")
        return
    raw_chat, _, extra = rest.partition(":")
    chat_id, keyword_id = number(raw_chat), number(extra, 1, MAX_ROW_ID)
    made_by_me = (action == "unsub" and keyword_id is not None) or (
        action in ("stop", "digest") and not extra
    )
    if chat_id is None or not made_by_me:
        await query.answer(EXPIRED)
        return
    if not await _may_change(update, context, chat_id):
        await query.answer("Only an administrator can do that.", show_alert=True)
        return
    here = query.message.chat
    # A channel's buttons are pressed in the private chat that manages it.
    chat = (
        Chat(here.id, here.type, here.title)
        if chat_id == here.id
        else Chat(chat_id, ChatType.CHANNEL, "the channel")
    )
    if action == "unsub" and keyword_id is not None:
        removed = await in_thread(
            context, lambda s: service.remove_keyword(s, chat, keyword_id), write=True
        )
        await query.answer(f"Removed {removed}" if removed else "Already removed.")
        if removed:
            await query.edit_message_text(render.unsubscribed(Unsubscribed("removed", removed)))
    elif action == "stop":
        deleted = await in_thread(context, lambda s: service.forget(s, chat), write=True)
        await query.answer()
        await query.edit_message_text(render.forgotten(chat, deleted))
    else:
        await query.answer()
        await _send_digest(update, context, chat)


async def _may_change(update: Update, context: ContextTypes.DEFAULT_TYPE, chat_id: int) -> bool:
    """A button that changes a chat: pressed by the private chat's user or a chat admin."""
    user = update.effective_user
    if user is None:
        return False
    if chat_id == user.id:
        return True
    if chat_id > 0:
        return False  # another user's private chat: no one else's to change, nothing to ask
    try:
        return await _is_admin(context, chat_id, user.id)
    except TelegramError:
        return False


async def stats(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    found = await in_thread(context, lambda s: service.stats(s, utc_now()))
    await _reply(update, *render.stats(found))


async def ingest_now(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Ingest every source as a task of its own, which reports when done: a big page takes
    minutes, and no command (nor, with updates handled in turn, any other chat) waits."""
    if context.bot_data.get(INGESTING):
        await _reply(update, "An ingest is under way already: its report comes when it is done.")
        return
    context.bot_data[INGESTING] = True
    context.application.create_task(_ingest(update, context), update=update)


async def _ingest(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    settings = _settings(context)
    try:
        await _reply(update, "Ingesting all sources…")

        def due(session: Session) -> tuple[list[str], FetchPolicy]:
            sources = expand_sources(service.ingest_sources(session, settings.sources))
            return sources, settings.fetch_policy(service.chat_sources(session, settings.sources))

        # Fetching, parsing and storing (in batches: storage/queries.py) all run in threads.
        sources, policy = await in_thread(context, due)
        reports = await asyncio.to_thread(ingest_all, _sessions(context), sources, policy)
    finally:
        context.bot_data[INGESTING] = False
    await _reply(update, *render.ingest_summary(reports))


async def sources(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    action, _, location = _args(update).strip().partition(" ")
    settings = _settings(context)
    # In a thread: the database, and adding resolves the host name.
    done = await in_thread(
        context,
        lambda s: service.manage_sources(
            s,
            action.lower(),
            location.strip(),
            settings.sources,
            public_only=not settings.allow_private_sources,
        ),
        write=True,
    )
    await _reply(update, *render.sources(done))


async def inline_query(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """ "@bot query" in any chat: a page of papers (bot/inline.py), from the recent answers
    when the same text was asked within a minute, else searched in a thread."""
    query = update.inline_query
    if query is None:
        return
    recent: inline.RecentQueries = context.bot_data["inline_recent"]
    page = recent.get(query.query, query.offset)
    if page is None:
        asked = query
        page = await in_thread(
            context, lambda s: inline.lookup(s, asked.query, asked.offset, utc_now())
        )
        recent.put(query.query, query.offset, page)
    results = [
        InlineQueryResultArticle(
            item.result_id,
            item.title,
            InputTextMessageContent(
                item.html,
                parse_mode=ParseMode.HTML,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            ),
            url=item.url,
            description=item.description,
        )
        for item in page.items
    ]
    button = (
        InlineQueryResultsButton(page.hint, start_parameter=inline.EMPTY_START)
        if page.hint
        else None
    )
    await query.answer(
        results,
        cache_time=inline.CACHE_SECONDS,
        is_personal=False,
        # None, not "", for the last page: PTB's ExtBot with Defaults sends "" as "[]",
        # which Telegram would hand back as an offset, and the list would start over.
        next_offset=page.next_offset or None,
        button=button,
    )


async def unknown(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A command no handler took: the closest known one if it looks like a typo. In groups,
    only commands addressed to this bot ("/frobnicate@paperboy_bot") get an answer: the
    others may be another bot's."""
    message = update.effective_message
    text = (message.text or "") if message else ""
    word, _, to = (
        text.split(maxsplit=1)[0].removeprefix("/").partition("@") if text else ("", "", "")
    )
    if to.casefold() != (context.bot.username or "").casefold() and (
        to or _here(update).type != ChatType.PRIVATE
    ):
        return
    known = sorted(
        {
            name
            for group in context.application.handlers.values()
            for handler in group
            if isinstance(handler, CommandHandler)
            for name in handler.commands
        }
    )
    # A command name is short: a longer word is no typo of one, and is not worth the work.
    close = (
        process.extractOne(word.casefold(), known, scorer=fuzz.ratio, score_cutoff=75)
        if len(word) <= COMMAND_TYPO
        else None
    )
    if close is not None:
        await _reply(update, f"I don't know /{escape(word[:40])}. Did you mean /{close[0]}?")
        return
    await _reply(update, "I don't know that command. /help lists what I can do.")


async def not_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Stickers, photos, plain chat: a hint in private chats, silence in groups."""
    chat = update.effective_chat
    message = update.effective_message
    if message is not None and message.via_bot is not None:
        return  # a paper the user sent from inline mode: it is for the chat, not for me
    if chat is not None and chat.type == ChatType.PRIVATE:
        await _reply(update, "I understand commands only. /help lists them.")


async def migrated(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    if message is None:
        return
    # Telegram sends both halves; the old group's message names the new id.
    old, new = message.chat_id, message.migrate_to_chat_id
    if new is None and message.migrate_from_chat_id is not None:
        old, new = message.migrate_from_chat_id, message.chat_id
    if new is not None:
        moved_to = new
        await in_thread(context, lambda s: service.chat_moved(s, old, moved_to), write=True)


def admin_only(handler: Handler) -> Handler:
    async def checked(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        user = update.effective_user
        if user is None or user.id not in _settings(context).admin_ids:
            await _reply(update, "That command is for the bot's administrators.")
            return
        await handler(update, context)

    return checked
