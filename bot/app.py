"""The Telegram application: one command list drives routing, /help and the command menu.

Everything Telegram-specific is wired here; handlers live in bot/handlers.py.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from html import escape

from sqlalchemy.orm import Session, sessionmaker
from telegram import BotCommand, LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, TelegramError
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    Defaults,
    InlineQueryHandler,
    MessageHandler,
    filters,
)

from bot import feedback_handlers, flood, handlers, inline, library_handlers, metrics, service
from bot.config import Settings
from bot.delivery import chat_is_gone
from bot.digests import Digests
from bot.limiter import Replies
from bot.scheduler import Scheduler, make_sender

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    description: str
    callback: handlers.Handler
    aliases: tuple[str, ...] = ()
    admin: bool = False


COMMANDS: tuple[Command, ...] = (
    Command("start", "welcome, and how to subscribe", handlers.start),
    Command("help", "what I can do", handlers.help_command),
    Command("subscribe", "add keywords: /subscribe gnn, pruning", handlers.subscribe, ("add",)),
    Command("follow", "papers by an author: /follow Yann LeCun", handlers.follow),
    Command("unsubscribe", "remove a keyword", handlers.unsubscribe, ("remove",)),
    Command("keywords", "list your keywords", handlers.keywords),
    Command("search", "search stored papers: /search query", handlers.search),
    Command("latest", "newest papers matching your keywords", handlers.latest),
    Command("trending", "most upvoted new papers: /trending day or week", handlers.trending),
    Command(
        "saved",
        "your saved papers; /saved bib or /saved ris for a file",
        library_handlers.saved,
    ),
    Command("similar", "papers like one: /similar 2401.00002", feedback_handlers.similar_command),
    Command("recommend", "on/off: recommended papers in the digest", handlers.recommend),
    Command("digest", "send your digest now", handlers.digest),
    Command("time", "digest time: /time 07:30", handlers.set_time),
    Command("schedule", "daily, weekdays or weekly [day]", handlers.set_schedule),
    Command("timezone", "your time zone: /timezone Europe/Berlin", handlers.set_timezone),
    Command("pause", "pause digests", handlers.pause),
    Command("resume", "resume digests", handlers.resume),
    Command("nothingnew", "on/off: a note on days with nothing new", handlers.nothing_new),
    Command("settings", "everything about your subscription", handlers.settings),
    Command("export", "your keywords and settings as JSON", handlers.export),
    Command("import", "restore an /export document", handlers.import_command),
    Command("stop", "delete all your data", handlers.stop),
    Command("stats", "bot statistics (admins)", handlers.stats, admin=True),
    Command("ingest", "ingest all sources now (admins)", handlers.ingest_now, admin=True),
    Command("sources", "list, add or remove sources (admins)", handlers.sources, admin=True),
)


def help_text() -> str:
    lines = ["<b>paperboy</b> sends new research papers that match your keywords.", ""]
    lines += [
        f"/{c.name} — {escape(c.description)}"
        + (f" (also /{', /'.join(c.aliases)})" if c.aliases else "")
        for c in COMMANDS
        if not c.admin
    ]
    lines += [
        "",
        "In a channel you administer, name it first: <code>/subscribe @channel keyword</code>.",
        "Keywords understand typos, plurals, British spellings and acronyms; "
        "<code>-word</code> excludes.",
        "In any chat, type my @username and some words (or an arXiv id) to send a paper there.",
    ]
    return "\n".join(lines)


async def register_commands(application: Application) -> None:  # type: ignore[type-arg]
    # The menu comes from the same list as the routing, so the two cannot drift apart.
    await application.bot.set_my_commands(
        [BotCommand(c.name, c.description) for c in COMMANDS if not c.admin]
    )


SORRY = "Sorry, something went wrong. Please try again."


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The one error handler: a gone chat is deactivated, an edit that changed nothing (a
    double tap) is no error, anything else is logged and the user hears that something
    went wrong, in the tap's answer if the handler left it unanswered. Transactions already
    rolled back on the way."""
    error = context.error
    chat = update.effective_chat if isinstance(update, Update) else None
    if isinstance(error, TelegramError) and chat_is_gone(error) and chat is not None:
        log.info("chat %s is gone (%s): deactivating it", chat.id, error)
        gone = chat.id
        await handlers.in_thread(context, lambda s: service.chat_gone(s, gone), write=True)
        return
    if isinstance(error, BadRequest) and "not modified" in error.message.lower():
        # A double tap: the message shows what the tap asked for already.
        log.debug("edit left the message as it was: %s", error)
        return
    log.error("error while handling an update", exc_info=error)
    if isinstance(update, Update) and update.callback_query is not None:
        # Every tap gets its answer; this one only if the handler gave none yet.
        try:
            await update.callback_query.answer(SORRY)
            return
        except BadRequest:
            pass  # answered already: say it in the chat instead
        except TelegramError:
            log.warning("could not answer the button's query about the error")
            return
    if isinstance(update, Update) and update.effective_message is not None:
        try:
            await update.effective_message.reply_text(SORRY)
        except TelegramError:
            log.warning("could not tell the user about the error either")


async def start_schedule(application: Application) -> None:  # type: ignore[type-arg]
    """post_init of `paperboy run`: the command menu, then the ingest and digest jobs."""
    await register_commands(application)
    data = application.bot_data
    settings: Settings = data["settings"]
    if settings.metrics_port is not None:
        metrics.serve(settings.metrics_port, settings.metrics_host)
        log.info("metrics on %s port %d", settings.metrics_host, settings.metrics_port)
    scheduler = Scheduler(data["sessions"], settings, data["digests"])
    data["scheduler"] = scheduler
    scheduler.start()


async def stop_digests(application: Application) -> None:  # type: ignore[type-arg]
    """post_shutdown: stop the jobs and close the digest sender's connections."""
    scheduler: Scheduler | None = application.bot_data.get("scheduler")
    if scheduler is not None:
        await scheduler.stop()
    digests: Digests = application.bot_data["digests"]
    await digests.sender.close()


def build_application(settings: Settings, sessions: sessionmaker[Session]) -> Application:  # type: ignore[type-arg]
    api = settings.bot_api_url.rstrip("/")
    sender = make_sender(settings)
    application = (
        Application.builder()
        .token(settings.token())
        .base_url(f"{api}/bot")
        .base_file_url(f"{api}/file/bot")
        .defaults(
            Defaults(
                parse_mode=ParseMode.HTML,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )
        )
        # Replies share the digests' one Limiter, ahead of them; it waits out 429s.
        .rate_limiter(Replies(sender.limiter))
        # Our own scheduler runs the jobs (bot/scheduler.py): no second one from PTB.
        .job_queue(None)
        # Chats are handled concurrently, each chat's updates in order, floods throttled first.
        .concurrent_updates(flood.ChatLanes())
        .post_init(start_schedule)
        .post_shutdown(stop_digests)
        .build()
    )
    service.use_default_schedule(sessions, settings.default_schedule)
    digests = Digests(sessions, sender, settings.digest_max, recommend=settings.recommend_max)
    application.bot_data.update(
        sessions=sessions,
        settings=settings,
        help=help_text(),
        digests=digests,
        inline_recent=inline.RecentQueries(),
    )
    # Edited messages are ignored: re-running a command because it was edited surprises.
    new_messages = filters.UpdateType.MESSAGE | filters.UpdateType.CHANNEL_POST
    for command in COMMANDS:
        callback = handlers.admin_only(command.callback) if command.admin else command.callback
        application.add_handler(
            CommandHandler((command.name, *command.aliases), callback, filters=new_messages)
        )
    application.add_handler(
        CallbackQueryHandler(library_handlers.on_saved_button, pattern=r"^saved:")
    )
    # 👍/👎/🔖/≈ under papers: every "fb:" query, forged ones too, gets its polite answer.
    application.add_handler(CallbackQueryHandler(feedback_handlers.on_feedback, pattern=r"^fb:"))
    # Every other query, forged or unknown ones too: on_button answers each.
    application.add_handler(CallbackQueryHandler(handlers.on_button))
    application.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, handlers.migrated))
    # "@bot query" in any chat, once inline mode is on (BotFather's /setinline).
    application.add_handler(InlineQueryHandler(handlers.inline_query))
    application.add_handler(
        MessageHandler(
            handlers.RepliesToImportPrompt() & filters.UpdateType.MESSAGE & ~filters.COMMAND,
            handlers.import_reply,
        )
    )
    application.add_handler(MessageHandler(filters.COMMAND & new_messages, handlers.unknown))
    # A .bib or .ris file becomes the chat's library; any other document is not_text's.
    application.add_handler(
        MessageHandler(
            filters.UpdateType.MESSAGE & library_handlers.LIBRARY_FILES,
            library_handlers.library_file,
        )
    )
    application.add_handler(
        MessageHandler(filters.UpdateType.MESSAGE & ~filters.COMMAND, handlers.not_text)
    )
    application.add_error_handler(on_error)
    return application
