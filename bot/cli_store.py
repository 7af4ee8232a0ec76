"""`paperboy stats`, `health`, `export`, `import` and `db upgrade`: the store itself.
Imported only when one of them runs, and kept light: settings, SQLAlchemy and the query."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sqlalchemy import Engine

from bot import cli_stats, health, operations
from bot.config import Settings
from bot.schedule import utc_now


def cmd_stats(args: argparse.Namespace, settings: Settings, engine: Engine) -> int:
    # Which database: run from another folder, a relative SQLite path names another file.
    cli_stats.show(operations.stats(engine), operations.describe(engine), as_json=args.json)
    return 0


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
