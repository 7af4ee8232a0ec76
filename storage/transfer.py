"""Export and import of a whole installation as JSON lines: how a user moves from SQLite to
PostgreSQL, or makes a backup that any paperboy database can take.

The first line names the format and schema revision; every other line is one row of one
table, {"table": ..., "row": {column: value}}, with its ids as they were, so an import into
an empty database reproduces the original row for row. The search indexes and vocabulary
are derived: an import makes them anew from the papers.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import Column, Date, DateTime, Engine, Table, Time, func, insert, select, text
from sqlalchemy.orm import Session

from storage import search_index
from storage.models import (
    DeliveryRow,
    KeywordRow,
    LibraryEntryRow,
    PaperRow,
    RatingRow,
    SavedRow,
    SearchWordRow,
    SourceRow,
    SubscriberRow,
)

FORMAT = "paperboy-export/1"
# Parents before children, so that foreign keys hold at every insert.
MODELS = (
    PaperRow,
    SourceRow,
    SubscriberRow,
    KeywordRow,
    DeliveryRow,
    SearchWordRow,
    RatingRow,
    SavedRow,
    LibraryEntryRow,
)
TABLES: dict[str, Table] = {model.__tablename__: model.__table__ for model in MODELS}  # type: ignore[misc]
BATCH = 1_000
# Which process is delivering a chat right now means nothing in another database; a library
# entry's sentence vector is remade from its text when needed.
TRANSIENT = frozenset({"claimed_by", "claimed_until", "vector"})


class TransferError(Exception):
    """The file cannot be imported; the message says why. Nothing was written."""


def _plain(value: object) -> object:
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return value


@contextmanager
def snapshot(engine: Engine) -> Iterator[Session]:
    """A session that sees the database as it was at one moment, however long the export
    takes beside a running bot (else a delivery could be exported without its paper)."""
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            connection = connection.execution_options(isolation_level="REPEATABLE READ")
        else:
            # SQLite's driver opens no transaction for reads: one read transaction, by hand.
            connection.exec_driver_sql("BEGIN")
        try:
            yield Session(bind=connection)
        finally:
            connection.rollback()


def export_lines(session: Session, revision: str | None, now: datetime) -> Iterator[str]:
    yield json.dumps({"format": FORMAT, "schema": revision, "exported_at": now.isoformat()})
    for name, table in TABLES.items():
        query = select(table).order_by(*table.primary_key.columns)
        for row in session.execute(query).mappings().yield_per(BATCH):
            plain = {key: _plain(value) for key, value in row.items() if key not in TRANSIENT}
            yield json.dumps({"table": name, "row": plain}, ensure_ascii=False)


def _typed(column: Column[Any], value: object) -> object:
    if value is None or not isinstance(value, str):
        return value
    kind = column.type
    if isinstance(kind, DateTime) or isinstance(getattr(kind, "impl", None), DateTime):
        return datetime.fromisoformat(value)
    if isinstance(kind, Date):
        return date.fromisoformat(value)
    if isinstance(kind, Time):
        return time.fromisoformat(value)
    return value


def _row(table: Table, raw: object, number: int) -> dict[str, object]:
    if not isinstance(raw, dict):
        raise TransferError(f"line {number}: the row is not an object")
    # Never exported: a file that has them anyway (edited by hand) is read without them.
    raw = {key: value for key, value in raw.items() if key not in TRANSIENT}
    unknown = set(raw) - set(table.columns.keys())
    if unknown:
        raise TransferError(f"line {number}: {table.name} has no column {sorted(unknown)[0]}")
    try:
        return {key: _typed(table.columns[key], value) for key, value in raw.items()}
    except ValueError as exc:
        raise TransferError(f"line {number}: {exc}") from None


def _is_empty(session: Session) -> bool:
    return all(
        not session.scalar(select(func.count()).select_from(table)) for table in TABLES.values()
    )


def import_lines(session: Session, lines: Iterable[str]) -> dict[str, int]:
    """Insert every row of an export into this (empty) database; returns rows per table.
    Raises TransferError for a file that is not a paperboy export or does not fit."""
    if not _is_empty(session):
        raise TransferError("the database is not empty: import only into a new database")
    counts = dict.fromkeys(TABLES, 0)
    pending: dict[str, list[dict[str, object]]] = {name: [] for name in TABLES}
    header_seen = False
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):  # RecursionError: nested deeper than any row
            raise TransferError(f"line {number} is not JSON") from None
        if not header_seen:
            if not isinstance(record, dict) or record.get("format") != FORMAT:
                raise TransferError(f"not a paperboy export (the first line must name {FORMAT})")
            header_seen = True
            continue
        name = record.get("table") if isinstance(record, dict) else None
        if name not in TABLES:
            raise TransferError(f"line {number}: unknown table {name!r}")
        pending[name].append(_row(TABLES[name], record.get("row"), number))
        if len(pending[name]) >= BATCH:
            _flush(session, pending, counts)
    if not header_seen:
        raise TransferError("the file is empty")
    _flush(session, pending, counts)
    _advance_sequences(session)
    # The search indexes are derived: made anew from the papers, as this version reads them.
    search_index.rebuild(session)
    return counts


def _flush(
    session: Session, pending: dict[str, list[dict[str, object]]], counts: dict[str, int]
) -> None:
    # In table order: a child row's parent was read earlier in the file, so it is inserted
    # in this flush or an earlier one.
    for name, rows in pending.items():
        if rows:
            session.execute(insert(TABLES[name]), rows)
            counts[name] += len(rows)
            rows.clear()


def _advance_sequences(session: Session) -> None:
    """PostgreSQL hands out ids from sequences that explicit ids did not move: move them past
    the imported rows. SQLite takes the next id from the table itself."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for name, table in TABLES.items():
        key = list(table.primary_key.columns)
        if len(key) == 1 and key[0].autoincrement is not False and key[0].type.python_type is int:
            session.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{name}', '{key[0].name}'), "
                    f"coalesce((SELECT max({key[0].name}) FROM {name}), 0) + 1, false)"
                )
            )
