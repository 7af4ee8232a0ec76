"""`paperboy stats`: at once through bot/figures.py where it can (a current SQLite file,
without SQLAlchemy), else the usual way through bot/cli_store.py (PostgreSQL, a schema to
upgrade, a file it cannot open)."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from bot import figures
from bot.config import Settings

EMPTY_STORE = (
    "no papers stored yet: `paperboy ingest SOURCE` fills the store (or is "
    "PAPERBOY_DATABASE_URL meant to name another database?)"
)


def quick_stats(args: argparse.Namespace, settings: Settings) -> int | None:
    """Print the figures without SQLAlchemy if the database allows; None when it does not."""
    found = figures.quick_stats(settings.database_url)
    if found is None:
        return None
    show(found[0], str(found[1]), as_json=args.json)
    return 0


def show(counted: figures.Stats, where: str, *, as_json: bool) -> None:
    if as_json:
        print(json.dumps({"database": where, **asdict(counted)}, indent=2))
        return
    print(f"database     {where}")
    print(f"papers       {counted.papers:>8}  ({counted.papers_with_arxiv_id} with an arXiv id)")
    print(f"sources      {counted.sources:>8}  ({counted.failing_sources} failing)")
    print(f"subscribers  {counted.subscribers:>8}  ({counted.active_subscribers} active)")
    print(f"keywords     {counted.keywords:>8}")
    print(f"deliveries   {counted.deliveries:>8}")
    if not counted.papers:
        print(EMPTY_STORE)
