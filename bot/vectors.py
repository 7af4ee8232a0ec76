"""Papers' sentence vectors for the recommender: those stored, and the missing ones made by
bot/embedding.py and stored, so that each paper is encoded once in its life."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from bot import embedding, model_files
from storage import vectors as stored
from storage.feedback import LibraryText

log = logging.getLogger("paperboy")

# Loaded once per process and directory: the weights are memory-mapped, the tokenizer small.
_loaded: dict[Path, embedding.Encoder | None] = {}
_lock = threading.Lock()
# Threads encoding now: the last one done gives the model's memory back (see _encode).
_encoding = 0


def encoder() -> embedding.Encoder | None:
    """The sentence model, if one is configured and installed; else None (words alone)."""
    where = model_files.directory()
    if where is None:
        return None
    with _lock:
        if where not in _loaded:
            try:
                if (reason := model_files.damaged(where)) is not None:
                    raise ValueError(reason)
                _loaded[where] = embedding.load(where)
            except Exception as exc:  # a damaged file: tokenizers raises its own Exception
                log.warning(
                    "cannot read the sentence model in %s (%s: %s): recommendations learn "
                    "from words alone until `paperboy model fetch` installs it again and "
                    "paperboy restarts",
                    where,
                    type(exc).__name__,
                    exc,
                )
                _loaded[where] = None
        return _loaded[where]


def at_most(
    session: Session, model: embedding.Encoder, paper_ids: Sequence[int], most: int
) -> dict[int, np.ndarray] | None:
    """of_papers(), or None if more than `most` of the papers lack a vector (they take a
    tenth of a second each)."""
    lacking = stored.without(session, paper_ids)
    return None if len(lacking) > most else _made(session, model, paper_ids, lacking)


def of_papers(
    session: Session, model: embedding.Encoder, paper_ids: Sequence[int]
) -> dict[int, np.ndarray]:
    """The vectors of these stored papers, by id: made and stored for those without one.
    The session is only read; the new vectors are kept in a transaction of their own, made
    after the model has run (a digest or /similar only reads, and the model takes seconds)."""
    return _made(session, model, paper_ids, stored.without(session, paper_ids))


def _made(
    session: Session, model: embedding.Encoder, paper_ids: Sequence[int], lacking: Sequence[int]
) -> dict[int, np.ndarray]:
    texts = stored.texts(session, lacking)
    present = stored.read(session, [i for i in paper_ids if i not in texts])
    if not texts:
        return present
    log.info("making the sentence vectors of %d papers (once per paper)", len(texts))
    ids = list(texts)
    rows = _encode(model, [embedding.paper_text(*texts[i]) for i in ids])
    made = dict(zip(ids, stored.as_stored(rows), strict=True))
    try:
        stored.keep(session.get_bind(), made, texts)
    except SQLAlchemyError as exc:  # the caller's own transaction holds what they refer to
        log.info("sentence vectors used but not kept (made again next time): %s", exc)
    return present | made


def missing(session: Session, paper_ids: Sequence[int]) -> list[int]:
    """Those of these papers without a vector yet."""
    return stored.without(session, paper_ids)


def _encode(model: embedding.Encoder, texts: list[str]) -> np.ndarray:
    """Vectors of the texts. A bot makes vectors in batches an hour apart: in between, the
    weights' pages it read (about 90 MB) are given back, once no thread encodes."""
    global _encoding
    with _lock:
        _encoding += 1
    try:
        return _checked(embedding.encode(model, texts))
    finally:
        with _lock:
            _encoding -= 1
            if not _encoding:
                for loaded in _loaded.values():  # one, but for a directory changed meanwhile
                    if loaded is not None:
                        embedding.release(loaded)


def _checked(rows: np.ndarray) -> np.ndarray:
    # Weights that load but are not the model's (damaged in place) give NaN: never stored.
    if not np.isfinite(rows).all():
        raise ValueError("the sentence model gives vectors that are not numbers")
    return rows


def of_entries(
    session: Session, model: embedding.Encoder, entries: Sequence[LibraryText]
) -> list[np.ndarray]:
    """Vectors of library entries that are no stored paper, in order: made once, the first
    time the chat's ranker learns from them, and kept with the entry (a library of
    thousands would otherwise be encoded again at each refit)."""
    known = stored.of_entries(session, [e.entry_id for e in entries])
    lacking = [e for e in entries if e.entry_id not in known]
    if lacking:
        texts = [embedding.paper_text(e.title, e.abstract) for e in lacking]
        rows = stored.as_stored(_encode(model, texts))
        made = {e.entry_id: row for e, row in zip(lacking, rows, strict=True)}
        made_from = {e.entry_id: (e.title, e.abstract) for e in lacking}
        try:
            stored.keep_entries(session.get_bind(), made, made_from)
        except SQLAlchemyError as exc:
            log.info("library vectors used but not kept (made again next time): %s", exc)
        known |= made
    return [known[e.entry_id] for e in entries]
