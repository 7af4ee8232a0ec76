"""Feedback in chat: the 👍/👎/🔖/≈ buttons under papers, and /similar.

Ratings and saved papers belong to the chat the buttons are in (a group's to the group,
whoever of its members taps). The button data comes from the client and may be forged or
stale: it is parsed strictly (bot/render.py) and a paper that is not stored changes
nothing. Every query gets exactly one answer.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

from sqlalchemy.orm import Session
from telegram import Message, Update
from telegram.constants import ChatType
from telegram.error import BadRequest
from telegram.ext import ContextTypes

from bot import profile, recommendations
from bot.digests import Digests
from bot.handlers import _args, _may_change, in_thread
from bot.records import Mark
from bot.render import (
    feedback_keyboard,
    feedback_papers,
    numbered_papers,
    parse_feedback,
    refreshed_keyboard,
    similar_header,
)
from bot.schedule import utc_now
from bot.sources.text import arxiv_id

log = logging.getLogger(__name__)

# Papers a "more like this" or /similar lists.
SIMILAR = 5
OUT_OF_DATE = "That button is out of date."
NOTICES = {
    "up": "👍 Noted — you'll see more like this",
    "down": "👎 Noted — fewer like this",
    "clear": "Rating removed",
    "save": "🔖 Saved — /saved lists them",
    "unsave": "Removed from saved",
}
_RATINGS = {"up": 1, "down": -1, "clear": 0}
_PAPER_ID = re.compile(r"[0-9]{1,9}")  # within INTEGER, as FEEDBACK_DATA
SIMILAR_USAGE = (
    "Usage: <code>/similar 2401.00002</code> (an arXiv id), or tap ≈ under a paper "
    "for papers like it."
)


def _apply(
    session: Session, chat_id: int, chat_type: str, action: str, paper_id: int
) -> Mark | None:
    """Set the chat's mark on the paper as the button says; None if it is not stored.
    Setting what is already set writes nothing (the chat's ranker stays fitted)."""
    current = profile.marks(session, chat_id, [paper_id]).get(paper_id)
    now = utc_now()
    if action in _RATINGS:
        value = _RATINGS[action]
        if current is not None and current.rating == value:
            return current
        return profile.rate(session, chat_id, chat_type, paper_id, value, now)
    saved = action == "save"
    if current is not None and current.saved == saved:
        return current
    return profile.save(session, chat_id, chat_type, paper_id, saved, now)


def _mark(
    session: Session, chat_id: int, chat_type: str, action: str, paper_id: int, shown: list[int]
) -> dict[int, Mark] | None:
    """Apply the tap; the chat's marks on the papers the keyboard shows, None if the
    paper is not stored (nothing changed)."""
    if _apply(session, chat_id, chat_type, action, paper_id) is None:
        return None
    return profile.marks(session, chat_id, shown)


async def on_feedback(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """fb:<up|down|clear|save|unsave|sim>:<paper id>, from the buttons under papers."""
    query = update.callback_query
    if query is None:
        return
    parsed = parse_feedback(query.data or "")
    message = query.message
    if parsed is None or not isinstance(message, Message):
        await query.answer(OUT_OF_DATE)
        return
    action, paper_id = parsed
    if message.chat.type == ChatType.CHANNEL and not await _may_change(
        update, context, message.chat.id
    ):
        # A channel's ratings shape what all its readers get, and ≈ posts into it.
        await query.answer("Only the channel's administrators can rate papers here.")
        return
    if action == "sim":
        found = await _similar(context, message.chat.id, paper_id)
        if found is None:
            await query.answer(OUT_OF_DATE)
        elif not found.messages:
            await query.answer("No stored paper is close enough to this one yet.")
        else:
            await query.answer()
            await _send(message, found)
        return
    shown = feedback_papers(message.reply_markup)
    chat = message.chat
    marks = await in_thread(
        context, lambda s: _mark(s, chat.id, chat.type, action, paper_id, shown), write=True
    )
    if marks is None:
        await query.answer(OUT_OF_DATE)
        return
    await query.answer(NOTICES[action])
    if message.reply_markup is None:
        return
    try:
        await query.edit_message_reply_markup(
            refreshed_keyboard(message.reply_markup, marks),
            # PTB adds the default parse_mode to every call that sends a keyboard, and
            # editMessageReplyMarkup has no such parameter: None leaves it out.
            api_kwargs={"parse_mode": None},
        )
    except BadRequest as error:
        # A repeated tap, or two taps that crossed: the keyboard shows the marks already.
        if "not modified" not in str(error).lower():
            raise


@dataclass(frozen=True, slots=True)
class Similar:
    """Papers like one, as numbered messages with the chat's marks on them."""

    messages: list[tuple[str, list[int]]]
    marks: dict[int, Mark] = field(default_factory=dict)


def _find_similar(
    session: Session, digests: Digests, chat_id: int, wanted: str | int
) -> Similar | None:
    """The papers nearest the stored paper `wanted` (an arXiv id, or a row id); None if no
    such paper is stored."""
    found = profile.stored_paper(session, wanted)
    if found is None:
        return None
    paper_id, paper = found
    # The candidates' pool: indexed once for all chats, again only after new papers.
    pool = digests.candidates(session).ranking(session)
    near = recommendations.similar(session, paper_id, pool, SIMILAR)
    if not near:
        return Similar([])
    marks = profile.marks(session, chat_id, [i for i, _ in near])
    return Similar(numbered_papers(near, similar_header(paper)), marks)


async def _similar(
    context: ContextTypes.DEFAULT_TYPE, chat_id: int, wanted: str | int
) -> Similar | None:
    digests: Digests = context.bot_data["digests"]
    # Off the event loop: similarity is CPU work over the pool, and may index it first.
    return await in_thread(context, lambda s: _find_similar(s, digests, chat_id, wanted))


async def _send(message: Message, found: Similar) -> None:
    for text, paper_ids in found.messages:
        await message.reply_text(text, reply_markup=feedback_keyboard(paper_ids, found.marks))


async def similar_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/similar <arXiv id>: the stored papers nearest to it, with their buttons."""
    message = update.effective_message
    if message is None:
        return
    wanted = _args(update).strip()
    key: str | int | None = arxiv_id(wanted) if wanted else None
    if key is None and _PAPER_ID.fullmatch(wanted):
        key = int(wanted)  # a stored paper's row id (the ≈ button's, for papers without one)
    if key is None:
        await message.reply_text(SIMILAR_USAGE)
        return
    found = await _similar(context, message.chat.id, key)
    if found is None:
        await message.reply_text(f"No stored paper has the id {key}: check it with /search.")
    elif not found.messages:
        await message.reply_text("No stored paper is close enough to that one yet.")
    else:
        await _send(message, found)
