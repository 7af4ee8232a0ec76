"""Saved papers and the library in chat: /saved lists a chat's saved papers page by page or
sends them as a BibTeX or RIS file, and a .bib or .ris file sent to the bot becomes the
chat's library (its profile). Thin, like bot/handlers.py: the work is in bot/profile.py and
bot/citations.py, and runs in a thread."""

from __future__ import annotations

import asyncio
from html import escape

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Message, Update
from telegram.constants import ChatType
from telegram.error import BadRequest, TelegramError
from telegram.ext import ContextTypes, filters

from bot import citations, library, profile
from bot.handlers import _args, _here, _may_change, _reply, _sessions, number
from bot.records import Paper
from bot.render import MESSAGE_LIMIT, cut, fit, linked_title, plural
from bot.schedule import utc_now

SAVED_PAGE = 5
NOTHING_SAVED = "Nothing saved yet: tap 🔖 under a paper to save it."
SAVED_USAGE = "Send /saved for the list, /saved bib or /saved ris for a file."
REASONS_SHOWN = 5
PREV, NEXT = "\u2039 Prev", "Next \u203a"
# Offsets past this are no page of ours: a forged button.
_MAX_OFFSET = 1_000_000
_FILES = {
    "bib": ("saved.bib", citations.bibtex),
    "bibtex": ("saved.bib", citations.bibtex),
    "ris": ("saved.ris", citations.ris),
}

# A library as reference managers export it: by extension, or by MIME type when a client
# names the file otherwise.
LIBRARY_FILES = (
    filters.Document.FileExtension("bib")
    | filters.Document.FileExtension("bibtex")
    | filters.Document.FileExtension("biblatex")
    | filters.Document.FileExtension("ris")
    | filters.Document.MimeType("text/x-bibtex")
    | filters.Document.MimeType("application/x-bibtex")
    | filters.Document.MimeType("application/x-research-info-systems")
)


def _entries(count: int) -> str:
    return f"{count:,} " + ("entry" if count == 1 else "entries")


def _size(count: int) -> str:
    if count >= 1024 * 1024:
        return f"{count / (1024 * 1024):.0f} MB"
    return f"{max(1, round(count / 1024))} KB"


# --- /saved ---------------------------------------------------------------------------


def _saved_line(number: int, paper: Paper) -> str:
    arxiv = f" · arXiv:{escape(paper.arxiv_id)}" if paper.arxiv_id else ""
    return f"{number}. {linked_title(cut(paper.title, 200), paper.link)}{arxiv}"


def _saved_page(
    context: ContextTypes.DEFAULT_TYPE, chat_id: int, offset: int
) -> tuple[int, int, str, InlineKeyboardMarkup | None]:
    """The page of the chat's saved papers at `offset` (the last page if the list has shrunk
    below it): the number of saved papers, the offset shown, the text and its buttons."""
    with _sessions(context)() as session:
        total, page = profile.saved(session, chat_id, offset, SAVED_PAGE)
        if total and not page:
            offset = (total - 1) // SAVED_PAGE * SAVED_PAGE
            total, page = profile.saved(session, chat_id, offset, SAVED_PAGE)
    if not page:
        return 0, 0, NOTHING_SAVED, None
    last = offset + len(page)
    heading = f"🔖 Saved papers {offset + 1} to {last} of {total}:"
    lines = [_saved_line(n, paper) for n, (_, paper) in enumerate(page, start=offset + 1)]
    text = fit([heading, *lines, "/saved bib or /saved ris sends them as a file."], MESSAGE_LIMIT)
    buttons = []
    if offset > 0:
        buttons.append(
            InlineKeyboardButton(PREV, callback_data=f"saved:{max(0, offset - SAVED_PAGE)}")
        )
    if last < total:
        buttons.append(InlineKeyboardButton(NEXT, callback_data=f"saved:{last}"))
    return total, offset, text, InlineKeyboardMarkup([buttons]) if buttons else None


def _saved_file(context: ContextTypes.DEFAULT_TYPE, chat_id: int, kind: str) -> tuple[int, bytes]:
    _, write = _FILES[kind]
    with _sessions(context)() as session:
        total, papers = profile.saved(session, chat_id)
    return total, write([paper for _, paper in papers]).encode("utf-8")


async def saved(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/saved: the chat's saved papers, a page at a time; /saved bib, /saved ris: a file."""
    message = update.effective_message
    if message is None:
        return
    chat = _here(update)
    kind = _args(update).strip().lower()
    if kind in _FILES:
        total, data = await asyncio.to_thread(_saved_file, context, chat.id, kind)
        if not total:
            await _reply(update, NOTHING_SAVED)
            return
        name, _ = _FILES[kind]
        await message.reply_document(
            InputFile(data, filename=name), caption=plural(total, "saved paper")
        )
        return
    if kind:
        await _reply(update, SAVED_USAGE)
        return
    _, _, text, markup = await asyncio.to_thread(_saved_page, context, chat.id, 0)
    await message.reply_text(text, reply_markup=markup)


async def on_saved_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """saved:<offset>, the Prev and Next buttons under /saved: the message turns page."""
    query = update.callback_query
    if query is None or query.data is None:
        return
    if not isinstance(query.message, Message):
        await query.answer("This list is too old to page: send /saved again.")
        return
    offset = number(query.data.removeprefix("saved:"), 0, _MAX_OFFSET)
    if offset is None or offset % SAVED_PAGE:
        await query.answer("That button is not one I made: send /saved again.")
        return
    chat_id = query.message.chat.id
    total, shown, text, markup = await asyncio.to_thread(_saved_page, context, chat_id, offset)
    if not total:
        await query.answer("Nothing is saved any more.")
    elif shown != offset:
        await query.answer("The list has changed: here is its last page.")
    else:
        await query.answer()
    try:
        await query.edit_message_text(text, reply_markup=markup)
    except BadRequest as error:
        # Pressed twice, or nothing changed since: the message already shows this page.
        if "not modified" not in error.message.lower():
            raise


# --- a library file sent to the bot -----------------------------------------------------


def _report(report: profile.LibraryReport) -> str:
    skipped = len(report.skipped)
    lines = [
        f"📚 Library imported: {_entries(report.read)} read, {report.matched:,} found among "
        f"the stored papers, {report.kept:,} kept for their titles and abstracts, "
        f"{skipped:,} skipped."
    ]
    lines += [f"• {escape(cut(reason, 200))}" for reason in report.skipped[:REASONS_SHOWN]]
    if len(report.skipped) > REASONS_SHOWN:
        lines.append(f"… and {len(report.skipped) - REASONS_SHOWN:,} more.")
    lines.append(
        "Digests now put papers like these first; /recommend on or off switches the "
        "recommended papers at their end."
    )
    return "\n".join(lines)


async def library_file(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A .bib or .ris document: read it as the chat's library. In a group only its
    administrators may; a file too large is refused before it is downloaded."""
    message = update.effective_message
    document = message.document if message else None
    if message is None or document is None:
        return
    chat = _here(update)
    if chat.type != ChatType.PRIVATE and not await _may_change(update, context, chat.id):
        await _reply(update, "Only the group's administrators can set its library.")
        return
    limit = library.MAX_BYTES
    if document.file_size is not None and document.file_size > limit:
        await _reply(
            update,
            f"That file is larger than the {_size(limit)} a library may have. "
            "Export a smaller collection.",
        )
        return
    try:
        data = bytes(await (await context.bot.get_file(document.file_id)).download_as_bytearray())
    except TelegramError:
        await _reply(update, "I could not download that file from Telegram; please send it again.")
        return
    sessions = _sessions(context)
    name = document.file_name

    def run() -> profile.LibraryReport:
        # read_library raises LibraryError before anything is written; the transaction
        # rolls back on any error all the same.
        with sessions.begin() as session:
            return profile.import_library(session, chat.id, chat.type, data, name, utc_now())

    try:
        report = await asyncio.to_thread(run)
    except library.LibraryError as error:
        await _reply(update, f"{escape(str(error))} Nothing was imported.")
        return
    await _reply(update, _report(report))
