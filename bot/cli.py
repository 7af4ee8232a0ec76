"""The `paperboy` command line."""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import logging
import os
import shlex
import socket
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import NoReturn, cast

from pydantic import ValidationError
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from telegram import Bot, Update
from telegram.error import NetworkError, TelegramError
from tqdm import tqdm

from bot import (
    __version__,
    cli_profile,
    demo,
    health,
    keywords,
    logs,
    operations,
    render,
    search,
    service,
)
from bot.app import build_application
from bot.config import ConfigError, Settings
from bot.digests import Digests, Outcome
from bot.ingest import SourceReport, expand_sources, ingest_all, is_url
from bot.lease import leadership
from bot.matching import Matcher
from bot.records import Paper, SearchOutcome, render_marks
from bot.render import plural
from bot.schedule import utc_now
from bot.scheduler import make_sender

log = logging.getLogger("paperboy")

# A progress bar is worth drawing only when a run is long enough to wonder about.
PROGRESS_MIN_SOURCES = 10
# `digest --now` waits this long for another process's digest run to end.
LEASE_WAIT = 90.0
ALL_DONE = "every chat has had today's digest (--chat ID sends one its unsent papers)"
NO_SUBSCRIBERS = "no chat is subscribed yet: nothing to send"
NONE_RECEIVING = "no chat takes digests now: every subscribed chat is paused or unreachable"


def _display(source: str) -> str:
    if is_url(source):
        return logs.redact_url(source)
    return min(os.path.relpath(source), source, key=len)


def _report_line(report: SourceReport) -> str:
    name = _display(report.source)
    if report.status == "failed":
        return f"FAILED     {name}: {report.error}"
    if report.status == "unchanged":
        return f"unchanged  {name} (same content as before, skipped)"
    return (
        f"ingested   {name}  [{report.format}]  parsed {report.parsed}, new {report.new}, "
        f"known {report.known}, enriched {report.enriched}"
    )


def _totals(reports: Sequence[SourceReport]) -> dict[str, int]:
    return {
        "sources": len(reports),
        "ingested": sum(r.status == "ingested" for r in reports),
        "unchanged": sum(r.status == "unchanged" for r in reports),
        "failed": sum(r.status == "failed" for r in reports),
        "parsed": sum(r.parsed for r in reports),
        "new": sum(r.new for r in reports),
        "known": sum(r.known for r in reports),
        "enriched": sum(r.enriched for r in reports),
    }


def cmd_ingest(args: argparse.Namespace, settings: Settings, engine: Engine) -> int:
    sources = expand_sources(args.sources)
    if not sources:
        print("no sources found in " + ", ".join(args.sources), file=sys.stderr)
        return 1
    bar = tqdm(
        total=len(sources),
        unit="source",
        file=sys.stderr,
        disable=args.json or len(sources) < PROGRESS_MIN_SOURCES or None,
    )

    def done(report: SourceReport) -> None:
        bar.update()
        if not args.json:
            bar.write(_report_line(report), file=sys.stdout)

    with bar:
        reports = ingest_all(
            operations.sessions(engine), sources, settings.fetch_policy(), done, force=args.force
        )
    totals = _totals(reports)
    if args.json:
        print(json.dumps({"sources": [asdict(r) for r in reports], "totals": totals}, indent=2))
    else:
        print(
            "total: {sources} sources ({ingested} ingested, {unchanged} unchanged, "
            "{failed} failed); papers parsed {parsed}, new {new}, known {known}, "
            "enriched {enriched}".format(**totals)
        )
    return 1 if totals["failed"] else 0


EMPTY_STORE = (
    "no papers stored yet: `paperboy ingest SOURCE` fills the store (or is "
    "PAPERBOY_DATABASE_URL meant to name another database?)"
)


def cmd_stats(args: argparse.Namespace, settings: Settings, engine: Engine) -> int:
    figures = operations.stats(engine)
    # Which database: run from another folder, a relative SQLite path names another file.
    where = operations.describe(engine)
    if args.json:
        print(json.dumps({"database": where, **asdict(figures)}, indent=2))
        return 0
    print(f"database     {where}")
    print(f"papers       {figures.papers:>8}  ({figures.papers_with_arxiv_id} with an arXiv id)")
    print(f"sources      {figures.sources:>8}  ({figures.failing_sources} failing)")
    print(f"subscribers  {figures.subscribers:>8}  ({figures.active_subscribers} active)")
    print(f"keywords     {figures.keywords:>8}")
    print(f"deliveries   {figures.deliveries:>8}")
    if not figures.papers:
        print(EMPTY_STORE)
    return 0


def _paper_json(paper: Paper) -> dict[str, object]:
    return {"title": paper.title, "arxiv_id": paper.arxiv_id, "url": paper.link}


def cmd_preview(args: argparse.Namespace, settings: Settings, engine: Engine) -> int:
    if args.chat is not None:
        planned = _planned(
            operations.sessions(engine), [args.chat], settings.digest_max, settings.recommend_max
        )
        if not planned[0]["subscribed"]:
            print(_NO_SUCH_CHAT.format(args.chat), file=sys.stderr)
            return 1
        _print_planned(planned, args.json)
        return 0
    if not args.keywords:
        print("paperboy: preview needs --keyword (or --chat)", file=sys.stderr)
        return 2
    papers = operations.stored_papers(engine)
    matcher = Matcher(papers)
    # Read as /subscribe reads them: what it would refuse is left out, what it would ask
    # about is previewed as typed (the preview shows whether it works as one phrase); both
    # are said.
    found = keywords.review(
        # argparse hands "--keyword=--" over as an empty list, not a text.
        [
            part
            for raw in args.keywords
            if isinstance(raw, str)
            for part in service.split_keywords(raw)
        ],
        matcher,
    )
    for line in _review_lines(found):
        print(line, file=sys.stderr)
    wanted = [k.stored for k in found.accepted] + [k.stored for k, _ in found.questioned]
    if not wanted:
        print("paperboy: no keyword left to preview", file=sys.stderr)
        return 2
    # In the order a digest would send them.
    matches = service.ranked(matcher.match(wanted))
    if args.json:
        rows = [
            {
                **_paper_json(m.paper),
                # As stored from the feeds, so that a cat: or author: match can be checked.
                "authors": list(m.paper.authors),
                "categories": list(m.paper.categories),
                "matched": [hit.keyword for hit in m.hits],
                "where": {hit.keyword: hit.where for hit in m.hits},
            }
            for m in matches
        ]
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return 0
    print(f"{len(matches)} of {len(papers)} stored papers match " + ", ".join(wanted))
    for number, m in enumerate(matches, start=1):
        why = ", ".join(f"{hit.label} ({hit.where})" for hit in m.hits)
        link = m.paper.link
        print(f"{number:>4}. {m.paper.title}\n      matched {why}  {link}".rstrip())
    return 0


def _review_lines(found: keywords.Review) -> list[str]:
    """One line for each keyword that preview leaves out, and why."""
    lines = [
        f'paperboy: left out "{keyword.stored}": {reason}' for keyword, reason in found.refused
    ]
    for keyword, parts in found.questioned:
        split = " ".join(f"-k {shlex.quote(part)}" for part in parts)
        phrase = shlex.quote(f'"{keyword.stored}"')
        lines.append(
            f'paperboy: previewed "{keyword.stored}" as one phrase, but it looks like '
            f"{len(parts)} keywords: did you mean {split}? (/subscribe would ask; quoted, "
            f"-k {phrase}, it is one phrase)"
        )
    return lines


def _planned(
    sessions: sessionmaker[Session], chat_ids: Sequence[int], limit: int, recommend: int
) -> list[dict[str, object]]:
    """What the digests of these chats would carry now, without sending anything."""
    planned: list[dict[str, object]] = []
    with sessions() as session:
        known = service.candidates(session)
        papers = dict(zip(known.ids, known.matcher.papers, strict=True))
        for chat_id in chat_ids:
            plan = service.digest(session, chat_id, known, limit, recommend)
            messages = sum(map(len, render.digest(plan)))
            planned.append(
                {
                    "chat_id": chat_id,
                    "subscribed": plan.subscriber_id is not None,
                    "messages": messages,
                    "papers": [_paper_json(papers[i]) for i in plan.paper_ids],
                    "more": plan.more,
                }
            )
    return planned


def _print_planned(planned: list[dict[str, object]], as_json: bool) -> None:
    if as_json:
        print(json.dumps(planned, indent=2, ensure_ascii=False))
        return
    for chat in planned:
        papers = cast(list[dict[str, object]], chat["papers"])
        if not chat["subscribed"]:
            print(f"chat {chat['chat_id']}: no subscription")
            continue
        if not papers:
            print(f"chat {chat['chat_id']}: nothing new")
            continue
        more = f", {chat['more']} more behind the button" if chat["more"] else ""
        count = plural(len(papers), "paper")
        messages = plural(cast(int, chat["messages"]), "message")
        print(f"chat {chat['chat_id']}: {count} in {messages}{more}")
        for paper in papers:
            print(f"  - {paper['title']}  {paper['url'] or ''}".rstrip())


_NO_SUCH_CHAT = "paperboy: chat {} is not known (it has never written to the bot)"


def _digest_chats(sessions: sessionmaker[Session], chat: int | None) -> list[int]:
    """The chat asked for, or every chat that has not had today's digest yet."""
    if chat is not None:
        return [chat]
    with sessions() as session:
        return service.pending_today(session, utc_now())


def _why_none(sessions: sessionmaker[Session]) -> str:
    """Why no chat is pending today: none subscribed, none receiving, or all done."""
    subscribed, receiving = operations.audience(sessions)
    if not subscribed:
        return NO_SUBSCRIBERS
    if not receiving:
        return NONE_RECEIVING
    return ALL_DONE


def cmd_digest(args: argparse.Namespace, settings: Settings, engine: Engine) -> int:
    sessions = operations.sessions(engine)
    if args.dry_run:
        chats = _digest_chats(sessions, args.chat)
        if not chats and not args.json:
            print(_why_none(sessions))
        planned = _planned(sessions, chats, settings.digest_max, settings.recommend_max)
        if args.chat is not None and not planned[0]["subscribed"]:
            print(_NO_SUCH_CHAT.format(args.chat), file=sys.stderr)
            return 1
        _print_planned(planned, args.json)
        return 0
    return asyncio.run(_digest_now(settings, sessions, args.chat))


async def _digest_now(settings: Settings, sessions: sessionmaker[Session], chat: int | None) -> int:
    # A rejected token or an unreachable Bot API is one line, not a failure for every chat.
    await _reach_telegram(settings, settings.token())
    digests = Digests(
        sessions, make_sender(settings), settings.digest_max, recommend=settings.recommend_max
    )
    lease = leadership(sessions)
    try:
        waited = 0.0
        while not await asyncio.to_thread(lease.acquire, utc_now()):
            if waited == 0:
                print(
                    f"waiting: another process delivers digests ({lease.holder()})", file=sys.stderr
                )
            if waited >= LEASE_WAIT:
                print(
                    "paperboy: the other process still holds the digests; try later",
                    file=sys.stderr,
                )
                return 1
            await asyncio.sleep(2.0)
            waited += 2.0
        flood = digests.flood_wait_until()
        if flood is not None:
            print(
                f"paperboy: Telegram's flood wait lasts until {flood:%Y-%m-%d %H:%M} UTC",
                file=sys.stderr,
            )
            return 1
        chats = _digest_chats(sessions, chat)
        if not chats:
            print(_why_none(sessions))
            return 0
        report = await digests.run(chats, lease, daily=chat is None)
    finally:
        await asyncio.to_thread(lease.release)
        await digests.sender.close()
    print(report.summary())
    failed = report.outcomes.get(Outcome.FAILED.value, 0)
    return 1 if failed or report.flood_wait is not None else 0


async def _reach_telegram(settings: Settings, token: str) -> None:
    """Ask the Bot API who the bot is, once: a rejected token or an unreachable server is
    then one line from main(), before PTB would log it with a traceback."""
    api = settings.bot_api_url.rstrip("/")
    try:
        async with Bot(token, base_url=f"{api}/bot"):
            pass  # entering fetches getMe
    except NetworkError as exc:
        raise NetworkError(f"cannot reach the Bot API at {api}: {exc}") from None


def _free_port(host: str, port: int, variable: str) -> None:
    """Raise OSError, saying which setting, if nothing can listen there: found out later,
    inside PTB or the metrics thread, it is a traceback."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers bind
            probe.bind((host, port))
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise OSError(f"cannot listen on {host}:{port} ({variable}): {reason}") from None


def cmd_run(args: argparse.Namespace, settings: Settings, engine: Engine) -> int:
    token = settings.token()
    if settings.webhook_url:
        _free_port(settings.webhook_listen, settings.webhook_port, "PAPERBOY_WEBHOOK_PORT")
    if settings.metrics_port is not None:
        _free_port(settings.metrics_host, settings.metrics_port, "PAPERBOY_METRICS_PORT")
    asyncio.run(_reach_telegram(settings, token))
    application = build_application(settings, operations.sessions(engine))
    log.info("paperboy %s starting (%s)", __version__, settings.webhook_url or "long polling")
    # PTB runs on the current event loop and closes it when it stops: give it a fresh one, so
    # that this also works when called again in one process.
    asyncio.set_event_loop(asyncio.new_event_loop())
    if settings.webhook_url:
        application.run_webhook(
            listen=settings.webhook_listen,
            port=settings.webhook_port,
            url_path="telegram",
            webhook_url=settings.webhook_url,
            # Telegram echoes it in a header, so forged updates from others are refused.
            secret_token=hashlib.sha256(token.encode()).hexdigest()[:32],
            allowed_updates=Update.ALL_TYPES,
        )
    else:
        application.run_polling(allowed_updates=Update.ALL_TYPES)
    return 0


def _search_json(outcome: SearchOutcome) -> dict[str, object]:
    return {
        "query": outcome.query,
        "corrected": outcome.corrected,
        "message": outcome.message,
        "offset": outcome.offset,
        "matches": outcome.matches,
        "capped": outcome.capped,
        "more": outcome.more,
        "results": [
            {
                "title": result.title,
                "arxiv_id": result.arxiv_id,
                "url": result.url,
                "date": result.date.isoformat() if result.date else None,
                "snippet": render_marks(result.snippet, "**", "**"),
            }
            for result in outcome.results
        ],
    }


def _search_summary(outcome: SearchOutcome) -> str:
    shown = len(outcome.results)
    total = f"{outcome.matches:,}" + ("+" if outcome.capped else "")
    if not shown:
        return f"no more results: {total} papers match"
    line = f"results {outcome.offset + 1}-{outcome.offset + shown} of {total}"
    if outcome.capped:
        line += f" (the best of the newest {outcome.matches:,}; more words narrow it down)"
    if outcome.more:
        line += f"; next page: --offset {outcome.offset + shown}"
    return line


def cmd_search(args: argparse.Namespace, settings: Settings, engine: Engine) -> int:
    try:
        with operations.sessions(engine)() as session:
            outcome = search.search(
                session, " ".join(args.query), limit=args.limit, offset=args.offset
            )
    except operations.SearchUnavailable as exc:
        print(f"paperboy: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(_search_json(outcome), indent=2, ensure_ascii=False))
        return 0
    if outcome.message:
        print(outcome.message)
    if not outcome.matches:
        if outcome.message != search.EMPTY_QUERY:
            print(f"no papers match {outcome.corrected or outcome.query}")
        return 0
    # Bold on a terminal; elsewhere markdown-like stars, which survive a pipe or a log.
    start, end = ("\x1b[1m", "\x1b[22m") if sys.stdout.isatty() else ("**", "**")
    for number, result in enumerate(outcome.results, start=outcome.offset + 1):
        about = " · ".join(
            filter(None, [result.url, result.date.isoformat() if result.date else None])
        )
        print(f"{number:>3}. {result.title}")
        if about:
            print(f"     {about}")
        if snippet := " ".join(result.snippet.split()):
            print(f"     {render_marks(snippet, start, end)}")
    print(_search_summary(outcome))
    return 0


def _count(low: int, high: int) -> Callable[[str], int]:
    def parse(value: str) -> int:
        number = int(value)
        if not low <= number <= high:
            raise argparse.ArgumentTypeError(f"{number} is not between {low} and {high}")
        return number

    return parse


def cmd_demo(args: argparse.Namespace, settings: Settings, engine: Engine | None) -> int:
    # The conversation is the output; the bot's start/stop chatter would only interleave.
    for chatty in ("telegram", "apscheduler"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    reports, transcript = asyncio.run(demo.play(args.pages))
    for report in reports:
        print(_report_line(report))
    print()
    print(transcript)
    return 1 if any(report.status == "failed" for report in reports) else 0


def cmd_export(args: argparse.Namespace, settings: Settings, engine: Engine) -> int:
    target = Path(args.file)
    try:
        rows = operations.export(engine, target, utc_now())
    except OSError as exc:
        print(f"paperboy: cannot write {target}: {_os_reason(exc)}", file=sys.stderr)
        return 1
    # Said apart from the rows when they went to a pipe or a device (/dev/stdout).
    print(f"exported {rows} rows to {target}", file=sys.stdout if target.is_file() else sys.stderr)
    return 0


def _os_reason(exc: OSError) -> str:
    """What went wrong with a file, without repeating its name."""
    return exc.strerror or str(exc)


def cmd_import(args: argparse.Namespace, settings: Settings, engine: Engine) -> int:
    try:
        counts = operations.import_file(engine, Path(args.file))
    except OSError as exc:
        print(f"paperboy: cannot read {args.file}: {_os_reason(exc)}", file=sys.stderr)
        return 2
    except UnicodeDecodeError:
        print(f"paperboy: cannot read {args.file}: not UTF-8 text", file=sys.stderr)
        return 2
    except operations.TransferError as exc:
        print(f"paperboy: nothing imported: {exc}", file=sys.stderr)
        return 1
    print("imported " + ", ".join(f"{n} {table}" for table, n in counts.items()))
    return 0


def cmd_health(args: argparse.Namespace, settings: Settings, engine: Engine) -> int:
    wrong, fine = health.problems(engine, settings, utc_now())
    for line in fine:
        print(f"ok: {line}")
    for line in wrong:
        print(f"problem: {line}")
    print("unhealthy" if wrong else "healthy")
    return 1 if wrong else 0


def cmd_db_upgrade(args: argparse.Namespace, settings: Settings, engine: Engine) -> int:
    print(f"database schema at revision {operations.revision(engine)} (newest)")
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage mistake said in one line (its usage block goes with --help)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = _Parser(
        prog="paperboy", description="A self-hosted Telegram bot that delivers research papers."
    )
    parser.add_argument("--version", action="version", version=f"paperboy {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    ingest = commands.add_parser("ingest", help="ingest digest pages into the paper store")
    ingest.add_argument("sources", nargs="+", metavar="SOURCE", help="file, directory or URL")
    ingest.add_argument("--json", action="store_true", help="print a JSON report")
    ingest.add_argument(
        "--force", action="store_true", help="parse pages again even if their content is unchanged"
    )
    ingest.set_defaults(handler=cmd_ingest)

    stats = commands.add_parser("stats", help="count papers, sources, subscribers and more")
    stats.add_argument("--json", action="store_true", help="print JSON")
    stats.set_defaults(handler=cmd_stats, reads_only=True)

    run = commands.add_parser("run", help="run the Telegram bot (upgrades the database first)")
    run.set_defaults(handler=cmd_run)

    demo_command = commands.add_parser(
        "demo", help="show the bot at work against a local stand-in of Telegram (no token needed)"
    )
    demo_command.add_argument("pages", nargs="*", metavar="PAGE", help="pages to ingest first")
    # The demo has a database of its own: the configured one is not even opened.
    demo_command.set_defaults(handler=cmd_demo, database=False)

    preview = commands.add_parser(
        "preview", help="the stored papers a subscriber with these keywords would be sent"
    )
    preview.add_argument(
        "--keyword",
        "-k",
        dest="keywords",
        action="append",
        metavar="K",
        help="a keyword (repeat for several; prefix with - to exclude)",
    )
    preview.add_argument(
        "--chat", type=int, metavar="ID", help="instead: what this chat's next digest carries"
    )
    preview.add_argument("--json", action="store_true", help="print JSON")
    preview.set_defaults(handler=cmd_preview, reads_only=True)

    digest = commands.add_parser(
        "digest", help="deliver digests now, through the scheduler's code path"
    )
    digest.add_argument(
        "--now",
        action="store_true",
        required=True,
        help="every chat that has not had today's digest yet (resumes a cut-short run)",
    )
    digest.add_argument("--chat", type=int, metavar="ID", help="only this chat, even if done today")
    digest.add_argument("--dry-run", action="store_true", help="print what would be sent")
    digest.add_argument("--json", action="store_true", help="with --dry-run: print JSON")
    digest.set_defaults(handler=cmd_digest, reads_only=True)

    find = commands.add_parser("search", help="search the stored papers' titles and abstracts")
    find.add_argument("query", nargs="*", metavar="WORD", help='words, "a phrase", a prefix')
    find.add_argument(
        "--limit",
        type=_count(1, search.MAX_LIMIT),
        default=search.DEFAULT_LIMIT,
        help=f"results per page (default {search.DEFAULT_LIMIT}, at most {search.MAX_LIMIT})",
    )
    find.add_argument("--offset", type=_count(0, 10**9), default=0, help="results to skip")
    find.add_argument("--json", action="store_true", help="print JSON")
    find.set_defaults(handler=cmd_search, reads_only=True)

    export = commands.add_parser(
        "export", help="write papers, sources, subscribers and their history as JSON lines"
    )
    export.add_argument("file", metavar="FILE")
    export.set_defaults(handler=cmd_export, reads_only=True)
    load = commands.add_parser("import", help="load an export into a new, empty database")
    load.add_argument("file", metavar="FILE")
    load.set_defaults(handler=cmd_import)

    check = commands.add_parser(
        "health", help="exit 0 if the database answers and the bot and ingest are running"
    )
    # A health check reports; it never changes the schema.
    check.set_defaults(handler=cmd_health, upgrade=False, reads_only=True)

    cli_profile.add_commands(commands)

    database = commands.add_parser("db", help="database maintenance")
    db_commands = database.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    upgrade = db_commands.add_parser("upgrade", help="migrate the schema to the newest revision")
    upgrade.set_defaults(handler=cmd_db_upgrade)
    return parser


def _attach_option_values(argv: Sequence[str]) -> list[str]:
    """Glue "--keyword -survey" into "--keyword=-survey", which argparse would otherwise
    read as an unknown option rather than an excluding keyword."""
    glued: list[str] = []
    for arg in argv:
        if glued and glued[-1] in ("--keyword", "-k") and arg.startswith("-") and arg != "--":
            glued[-1] = f"--keyword={arg}"
        else:
            glued.append(arg)
    return glued


_SEARCH_FLAGS = ("-h", "--help", "--json")
_SEARCH_OPTIONS = ("--limit", "--offset")


def _search_words_apart(argv: Sequence[str]) -> list[str]:
    """In `paperboy search -survey diffusion`, "-survey" is a word to exclude, not an
    unknown option: the search's own options go first and every other word after "--"."""
    if not argv or argv[0] != "search" or "--" in argv:
        return list(argv)
    options: list[str] = []
    words: list[str] = []
    rest = iter(argv[1:])
    for arg in rest:
        if arg in _SEARCH_FLAGS or arg.startswith(tuple(f"{o}=" for o in _SEARCH_OPTIONS)):
            options.append(arg)
        elif arg in _SEARCH_OPTIONS:
            options += [arg, next(rest, "")]
        else:
            words.append(arg)
    return ["search", *options, "--", *words]


def config_errors(exc: ValidationError) -> str:
    """One line naming each bad variable and what is wrong with it, not pydantic's report."""
    return "; ".join(
        (f"PAPERBOY_{'_'.join(map(str, error['loc'])).upper()}: " if error["loc"] else "")
        + error["msg"].removeprefix("Value error, ")
        for error in exc.errors()
    )


def _one_line(message: str, secrets: Sequence[str]) -> str:
    """An error as one line, without a secret: drivers and libraries write several lines,
    and some quote what they were given."""
    return " ".join(logs.redact(message, secrets).split())


def _fail(message: str, secrets: Sequence[str], code: int = 2) -> int:
    print(f"paperboy: {_one_line(message, secrets)}", file=sys.stderr)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    given = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(_search_words_apart(_attach_option_values(given)))
    try:
        settings = Settings()
    except ValidationError as exc:
        return _fail(f"bad configuration: {config_errors(exc)}", [])
    except (OSError, ValueError) as exc:
        # A .env file that cannot be read (not UTF-8, unreadable); never its content.
        reason = "not UTF-8 text" if isinstance(exc, UnicodeError) else type(exc).__name__
        return _fail(f"cannot read the settings file .env: {reason}", [])
    secrets = settings.secrets()
    logs.configure(settings.log_level, secrets)
    engine: Engine | None = None
    try:
        if getattr(args, "database", True):
            engine = operations.open_database(
                settings.database_url, create=not getattr(args, "reads_only", False)
            )
            # Every command runs on the newest schema; upgrading an up-to-date one is a no-op.
            if getattr(args, "upgrade", True):
                operations.upgrade(engine)
        code: int = args.handler(args, settings, engine)
    except operations.NoDatabase as exc:
        return _fail(str(exc), secrets, 1)
    except ConfigError as exc:
        return _fail(str(exc), secrets)
    except TelegramError as exc:
        # PTB quotes a rejected token in its message ("The token `...` was rejected").
        return _fail(f"Telegram error: {exc}", secrets)
    except SQLAlchemyError as exc:
        cause = getattr(exc, "orig", None) or exc
        where = f" ({operations.describe(engine)})" if engine is not None else ""
        return _fail(f"database error{where}: {type(exc).__name__}: {cause}", secrets)
    except BrokenPipeError:
        raise  # the reader went away: run() stops quietly
    except OSError as exc:
        place = f" ({exc.filename})" if exc.filename else ""
        return _fail(f"{exc.strerror or exc}{place}", secrets)
    except Exception as exc:
        # The last line of defence: one line, no traceback (the log has it at DEBUG).
        log.debug("unexpected error", exc_info=True)
        return _fail(f"unexpected error: {type(exc).__name__}: {exc}", secrets)
    return code


def run() -> None:
    """Console-script entry point."""
    try:
        sys.exit(main())
    except BrokenPipeError:
        # The reader went away (`paperboy preview ... | head`): stop quietly. Python would
        # flush stdout again on exit and fail once more, so point it at /dev/null first.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
    except KeyboardInterrupt:
        # Ctrl-C: what was stored is stored (a page at a time); no traceback for it.
        print("paperboy: interrupted", file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":
    run()
