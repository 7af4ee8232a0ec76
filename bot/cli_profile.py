"""`paperboy recommend`, `paperboy saved` and `paperboy library import`: a chat's
recommendations, saved papers and imported library from the command line. Imported only
when one of them runs."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from bot import citations, operations
from bot.config import Settings
from bot.library import LibraryError
from bot.schedule import utc_now

# Libraries bigger than this are not a reading list (and would be read into memory).
MAX_LIBRARY_BYTES = 20_000_000
MAX_LIMIT = 100


def _no_chat(chat_id: int) -> int:
    print(
        f"paperboy: chat {chat_id} is not known (it has never written to the bot; "
        f"`paperboy library import --chat {chat_id} FILE` gives it a profile)",
        file=sys.stderr,
    )
    return 1


def cmd_recommend(args: argparse.Namespace, settings: Settings, engine: Engine) -> int:
    if not 1 <= args.limit <= MAX_LIMIT:
        print(f"paperboy: --limit must be between 1 and {MAX_LIMIT}", file=sys.stderr)
        return 2
    best = operations.recommend(engine, args.chat, utc_now(), args.limit)
    if best is None:
        return _no_chat(args.chat)
    if args.json:
        rows = [
            {
                "title": r.paper.title,
                "arxiv_id": r.paper.arxiv_id,
                "url": r.paper.link,
                "score": round(r.score, 4),
                "because": r.because,
            }
            for r in best
        ]
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return 0
    if not best:
        print(
            f"no recommendations for chat {args.chat}: it has no ratings, saved papers or "
            "library yet, or has been sent every paper its profile would suggest"
        )
        return 0
    for number, r in enumerate(best, start=1):
        print(f"{number:>3}. {r.paper.title}")
        print(f"     {r.paper.link} · score {r.score:.3f}")
        if r.because:
            print(f"     because {r.because}")
    return 0


def cmd_saved(args: argparse.Namespace, settings: Settings, engine: Engine) -> int:
    found = operations.saved(engine, args.chat)
    if found is None:
        return _no_chat(args.chat)
    if args.format == "bibtex":
        sys.stdout.write(citations.bibtex(found))
    elif args.format == "ris":
        sys.stdout.write(citations.ris(found))
    else:
        rows: list[dict[str, Any]] = [
            {
                "title": p.title,
                "arxiv_id": p.arxiv_id,
                "url": p.link,
                "authors": list(p.authors),
                "published": p.published.isoformat() if p.published else None,
            }
            for p in found
        ]
        print(json.dumps(rows, indent=2, ensure_ascii=False))
    return 0


def cmd_library_import(args: argparse.Namespace, settings: Settings, engine: Engine) -> int:
    path = Path(args.file)
    try:
        if not path.is_file():
            raise OSError("not a file")
        if path.stat().st_size > MAX_LIBRARY_BYTES:
            raise OSError(f"larger than {MAX_LIBRARY_BYTES // 1_000_000} MB")
        data = path.read_bytes()
    except OSError as exc:
        print(f"paperboy: cannot read {path}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    try:
        report = operations.import_library(
            engine, args.chat, data, path.name, settings.default_schedule, utc_now()
        )
    except LibraryError as exc:
        print(f"paperboy: {path.name}: {exc}", file=sys.stderr)
        return 1
    print(
        f"chat {args.chat}: read {report.read} entries, matched {report.matched} to stored "
        f"papers, kept {report.kept} as profile text, skipped {len(report.skipped)}"
        + (
            f" ({report.new} new to the profile)"
            if report.new != report.matched + report.kept
            else ""
        )
    )
    for reason in report.skipped:
        print(f"  skipped {reason}")
    return 0
