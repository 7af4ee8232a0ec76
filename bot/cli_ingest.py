"""`paperboy ingest` and `paperboy demo`: pages into the store, and the bot at work on them.
Imported only when one of them runs."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import asdict

from sqlalchemy import Engine
from tqdm import tqdm

from bot import logs, operations
from bot.config import Settings
from bot.ingest import SourceReport, expand_sources, ingest_all, is_url

# A progress bar is worth drawing only when a run is long enough to wonder about.
PROGRESS_MIN_SOURCES = 10


def _display(source: str) -> str:
    if is_url(source):
        return logs.redact_url(source)
    return min(os.path.relpath(source), source, key=len)


def _json_source(source: str) -> str:
    """As given (a script matches it to its input), but a URL without its credentials."""
    return logs.redact_url(source) if is_url(source) else source


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
        shown = [asdict(r) | {"source": _json_source(r.source)} for r in reports]
        print(json.dumps({"sources": shown, "totals": totals}, indent=2))
    else:
        print(
            "total: {sources} sources ({ingested} ingested, {unchanged} unchanged, "
            "{failed} failed); papers parsed {parsed}, new {new}, known {known}, "
            "enriched {enriched}".format(**totals)
        )
    return 1 if totals["failed"] else 0


def cmd_demo(args: argparse.Namespace, settings: Settings, engine: Engine | None) -> int:
    # The conversation is the output; the bot's start/stop chatter would only interleave.
    for chatty in ("telegram", "apscheduler"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    # Here, not at the top: the bot it starts weighs tens of MB that an ingest does not need.
    from bot import demo

    reports, transcript = asyncio.run(demo.play(args.pages))
    for report in reports:
        print(_report_line(report))
    print()
    print(transcript)
    return 1 if any(report.status == "failed" for report in reports) else 0
