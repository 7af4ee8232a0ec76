"""`paperboy search`: the stored papers' titles and abstracts. Imported only when it runs."""

from __future__ import annotations

import argparse
import json
import sys

from sqlalchemy import Engine

from bot import operations, search
from bot.config import Settings
from bot.records import SearchOutcome, render_marks


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
        line += " (more may match among older papers)"
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
