"""Papers' sentence vectors (bot/embedding.py), stored as float16 bytes: half the space of
float32, and the recommender's scores do not change in their third decimal."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from sqlalchemy import Connection, Engine, bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from storage.models import LibraryEntryRow, PaperRow, PaperVectorRow
from storage.queries import in_chunks

_STORED = np.float16


def _to_bytes(vector: np.ndarray) -> bytes:
    return vector.astype(_STORED).tobytes()


def _from_bytes(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype=_STORED).astype(np.float32)


def read(session: Session, paper_ids: Sequence[int]) -> dict[int, np.ndarray]:
    """The stored vectors of these papers (float32), by id; papers without one are absent."""
    found: dict[int, np.ndarray] = {}
    for chunk in in_chunks(paper_ids):
        query = select(PaperVectorRow.paper_id, PaperVectorRow.vector).where(
            PaperVectorRow.paper_id.in_(chunk)
        )
        for paper_id, data in session.execute(query):
            found[paper_id] = _from_bytes(data)
    return found


def texts(session: Session, paper_ids: Sequence[int]) -> dict[int, tuple[str, str]]:
    """Papers' title and abstract as written, by id: what their vectors are made of."""
    found: dict[int, tuple[str, str]] = {}
    for chunk in in_chunks(paper_ids):
        query = select(PaperRow.id, PaperRow.title, PaperRow.abstract).where(PaperRow.id.in_(chunk))
        found.update((row.id, (row.title, row.abstract or "")) for row in session.execute(query))
    return found


def store(session: Session, vectors: Mapping[int, np.ndarray]) -> None:
    """Keep these papers' vectors. A paper that has one keeps it: two processes that made
    the same vector at once both succeed."""
    if not vectors:
        return
    insert = sqlite_insert if session.get_bind().dialect.name == "sqlite" else postgres_insert
    rows = [
        {"paper_id": paper_id, "vector": _to_bytes(vector)} for paper_id, vector in vectors.items()
    ]
    session.execute(insert(PaperVectorRow).on_conflict_do_nothing(), rows)


def keep(
    bind: Engine | Connection,
    vectors: Mapping[int, np.ndarray],
    made_from: Mapping[int, tuple[str, str]],
) -> None:
    """store(), in a short transaction of its own, committed at once: vectors made while a
    command or a digest only reads are kept all the same, and no write lock is held while
    the model runs. A paper whose title or abstract changed since its vector was made from
    `made_from` (an ingest enriched it meanwhile) is left without one."""
    with Session(bind) as session, session.begin():
        now = texts(session, list(vectors))
        store(session, {i: v for i, v in vectors.items() if now.get(i) == made_from.get(i)})


def of_entries(session: Session, entry_ids: Sequence[int]) -> dict[int, np.ndarray]:
    """The stored vectors of these library entries (float32), by id; absent if none yet."""
    found: dict[int, np.ndarray] = {}
    for chunk in in_chunks(entry_ids):
        query = select(LibraryEntryRow.id, LibraryEntryRow.vector).where(
            LibraryEntryRow.id.in_(chunk), LibraryEntryRow.vector.is_not(None)
        )
        for entry_id, data in session.execute(query):
            if data is not None:
                found[entry_id] = _from_bytes(data)
    return found


def keep_entries(
    bind: Engine | Connection,
    vectors: Mapping[int, np.ndarray],
    made_from: Mapping[int, tuple[str, str]],
) -> None:
    """Keep library entries' vectors, in a short transaction of its own (as keep()); an
    entry whose title or abstract is no longer `made_from` (imported again meanwhile) is
    left without one."""
    rows = [
        {
            "entry_id": entry_id,
            "data": _to_bytes(vector),
            "made_title": made_from[entry_id][0],
            "made_abstract": made_from[entry_id][1],
        }
        for entry_id, vector in vectors.items()
    ]
    statement = (
        update(LibraryEntryRow)
        .where(
            LibraryEntryRow.id == bindparam("entry_id"),
            LibraryEntryRow.title == bindparam("made_title"),
            LibraryEntryRow.abstract == bindparam("made_abstract"),
        )
        .values(vector=bindparam("data"))
    )
    with Session(bind) as session, session.begin():
        session.connection().execute(statement, rows)


def as_stored(vectors: np.ndarray) -> np.ndarray:
    """Vectors as read back once stored (float16 precision), so that a paper scores the same
    the first time as later."""
    return vectors.astype(_STORED).astype(np.float32)


def without(session: Session, paper_ids: Sequence[int]) -> list[int]:
    """Those of these papers that have no vector yet, in the order given."""
    have: set[int] = set()
    for chunk in in_chunks(paper_ids):
        query = select(PaperVectorRow.paper_id).where(PaperVectorRow.paper_id.in_(chunk))
        have.update(session.scalars(query))
    return [paper_id for paper_id in paper_ids if paper_id not in have]
