"""`paperboy preview` and `paperboy digest`: what a digest would carry, and sending it.
Imported only when one of them runs; Telegram's stack only when a digest is sent."""

from __future__ import annotations

import argparse
import asyncio
import json
import shlex
import sys
import textwrap
from collections.abc import Sequence
from typing import TYPE_CHECKING, cast

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot import keywords, operations, render, service
from bot.config import Settings
from bot.records import Paper
from bot.render import plural
from bot.schedule import utc_now

if TYPE_CHECKING:
    from bot.matching import Hit
    from bot.preview import Library

ALL_DONE = "every chat has had today's digest (--chat ID sends one its unsent papers)"
NO_SUBSCRIBERS = "no chat is subscribed yet: nothing to send"
NONE_RECEIVING = "no chat takes digests now: every subscribed chat is paused or unreachable"


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
    with operations.library(engine) as library:
        return _preview(args, library)


def _preview(args: argparse.Namespace, library: Library) -> int:
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
        library,
    )
    for line in _review_lines(found):
        print(line, file=sys.stderr)
    wanted = [k.stored for k in found.accepted] + [k.stored for k, _ in found.questioned]
    if not wanted:
        print("paperboy: no keyword left to preview", file=sys.stderr)
        return 2
    # In the order a digest would send them; the papers are read again as they are printed,
    # a batch at a time.
    matches = library.matches(wanted)
    if args.json:
        print("[" if matches else "[]")
    else:
        print(f"{len(matches)} of {library.size()} stored papers match " + ", ".join(wanted))
    whys: dict[tuple[Hit, ...], str] = {}
    for start in range(0, len(matches), library.batch):
        some = matches[start : start + library.batch]
        papers = library.papers([m.paper_id for m in some], lists=args.json)
        # One write a batch: a print a paper costs more than reading it.
        lines = []
        for number, m in enumerate(some, start=start + 1):
            paper = papers[m.paper_id]
            if args.json:
                row = {
                    **_paper_json(paper),
                    # As stored from the feeds, so that a cat: or author: match can be checked.
                    "authors": list(paper.authors),
                    "categories": list(paper.categories),
                    "matched": [hit.keyword for hit in m.hits],
                    "where": {hit.keyword: hit.where for hit in m.hits},
                }
                # As json.dumps(rows, indent=2) would print the list, a row at a time.
                text = textwrap.indent(json.dumps(row, indent=2, ensure_ascii=False), "  ")
                lines.append(text + ("," if number < len(matches) else ""))
                continue
            why = whys.get(m.hits)
            if why is None:  # the same few reasons for most papers
                why = whys[m.hits] = ", ".join(f"{hit.label} ({hit.where})" for hit in m.hits)
            lines.append(f"{number:>4}. {paper.title}\n      matched {why}  {paper.link}".rstrip())
        print("\n".join(lines))
    if args.json and matches:
        print("]")
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


def digest_chats(sessions: sessionmaker[Session], chat: int | None) -> list[int]:
    """The chat asked for, or every chat that has not had today's digest yet."""
    if chat is not None:
        return [chat]
    with sessions() as session:
        return service.pending_today(session, utc_now())


def why_none(sessions: sessionmaker[Session]) -> str:
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
        chats = digest_chats(sessions, args.chat)
        if not chats and not args.json:
            print(why_none(sessions))
        planned = _planned(sessions, chats, settings.digest_max, settings.recommend_max)
        if args.chat is not None and not planned[0]["subscribed"]:
            print(_NO_SUCH_CHAT.format(args.chat), file=sys.stderr)
            return 1
        _print_planned(planned, args.json)
        return 0
    # Only sending needs Telegram's stack: the dry run and preview start without it.
    from bot.cli_run import digest_now

    return asyncio.run(digest_now(settings, sessions, args.chat))
