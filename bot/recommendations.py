"""Recommendations for a chat: its feedback and library from storage, the ranker's scores
over the newest papers, and the reasons. Returns data (paper ids, scores, reasons)."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from bot import ranker, vectors
from bot.records import Paper
from storage import feedback, subscriptions
from storage.search_index import families

# The papers recommendations and similar papers are drawn from: the newest, as for digests.
POOL = 2_000
# Sentence vectors made per transaction by prepare(): a few seconds of the model.
PREPARED_AT_ONCE = 32
# In a digest's order, a keyword match in the title and upvotes count beside the ranker.
TITLE_BONUS = 0.2
UPVOTE_WEIGHT = 0.05

log = logging.getLogger("paperboy")

_BECAUSE = {"liked": "you liked", "saved": "you saved", "library": "your library has"}


@dataclass(frozen=True, slots=True)
class Recommendation:
    paper_id: int
    paper: Paper
    score: float
    because: str | None  # "you liked <title>"


@dataclass(frozen=True)
class Pool:
    """The ranker's features of the newest papers, for as long as no paper is added."""

    newest_id: int | None
    features: ranker.Pool | None
    title_keys: dict[int, str] = field(default_factory=dict)  # of the pool's papers


def pool(session: Session) -> Pool:
    """The ranker's features of the newest stored papers."""
    newest = subscriptions.newest_papers(session, POOL)
    return pool_of(session, subscriptions.newest_paper_id(session), [i for i, _ in newest])


def prepare(sessions: sessionmaker[Session], stopping: Callable[[], bool] = lambda: False) -> int:
    """Make the sentence vectors the newest papers lack (none without the model), a few
    dozen at a time, each in a session of its own (no read held open for minutes), until
    `stopping` says so, so that the next digest run finds them made; how many were made."""
    model = vectors.encoder()
    if model is None:
        return 0
    with sessions() as session:
        newest = [i for i, _ in subscriptions.newest_papers(session, POOL)]
        lacking = vectors.missing(session, newest)
    made = 0
    for start in range(0, len(lacking), PREPARED_AT_ONCE):
        if stopping():
            break
        chunk = lacking[start : start + PREPARED_AT_ONCE]
        with sessions() as session:
            vectors.of_papers(session, model, chunk)
        made += len(chunk)
    return made


def pool_of(
    session: Session, newest_id: int | None, ids: Sequence[int], most: int | None = None
) -> Pool:
    """The ranker's features of these papers (the newest, up to `newest_id`), with their
    sentence vectors if the model is installed and no more than `most` lack one."""
    texts = feedback.analysed(session, ids)
    model = vectors.encoder()
    kept = [i for i in ids if i in texts]
    dense: dict[int, np.ndarray] | None = None
    if model is not None:
        dense = (
            vectors.of_papers(session, model, kept)
            if most is None
            else vectors.at_most(session, model, kept, most)
        )
    features = ranker.pool({i: texts[i] for i in kept}, dense)
    return Pool(newest_id, features, feedback.title_keys(session, ids))


def _examples(session: Session, found: feedback.Feedback, dense: bool) -> list[ranker.Example]:
    """What the chat learns from; with `dense`, each with its sentence vector."""
    kinds = (
        [(i, "liked") for i in found.liked]
        + [(i, "saved") for i in found.saved]
        + [(i, "library") for i in found.library]
        + [(i, "disliked") for i in found.disliked]
    )
    ids = [paper_id for paper_id, _ in kinds]
    texts = feedback.analysed(session, ids)
    titles = {paper_id: paper.title for paper_id, paper in feedback.papers(session, ids).items()}
    model = vectors.encoder() if dense else None
    stored = vectors.of_papers(session, model, list(texts)) if model is not None else {}
    seen: set[int] = set()
    examples = []
    for paper_id, kind in kinds:
        if paper_id in texts and paper_id not in seen:
            seen.add(paper_id)
            examples.append(
                ranker.Example(
                    texts[paper_id], titles[paper_id], kind, paper_id, stored.get(paper_id)
                )
            )
    unstored = vectors.of_entries(session, model, found.texts) if model is not None else []
    examples += [
        ranker.Example(
            families(entry.title, entry.abstract),
            entry.title,
            "library",
            vector=unstored[n] if unstored else None,
        )
        for n, entry in enumerate(found.texts)
    ]
    return examples


def model(
    session: Session,
    subscriber_id: int,
    found: ranker.Pool | Callable[[], Pool],
    now: datetime,
) -> ranker.Model | None:
    """The chat's ranker: as stored, or fitted now (and stored) if its feedback changed.
    `found` may be given as a function, called only if the model must be fitted."""
    stored = feedback.profiles(session, [subscriber_id]).get(subscriber_id)
    if stored is not None:
        try:
            kept = ranker.Model.from_json(stored)
        except (ValueError, KeyError, TypeError) as exc:
            # Damaged or edited by hand: fitted again (and replaced) rather than failing the
            # chat's digest, its keyword matches included.
            log.warning(
                "subscriber %s: stored ranker unreadable, fitted again (%s)", subscriber_id, exc
            )
        else:
            # Learnt with sentence vectors where there are none now, or the other way round
            # (the model was installed or removed since): fitted again.
            if (kept.dense is not None) == (vectors.encoder() is not None):
                return kept
    learnt = feedback.feedback(session, subscriber_id)
    if learnt.empty:
        return None
    features = found().features if callable(found) else found
    if features is None:
        return None
    fitted = ranker.fit(features, _examples(session, learnt, features.dense is not None))
    if fitted is not None:
        try:
            bind = session.get_bind()
            feedback.keep_profile(bind, subscriber_id, fitted.to_json(), now, learnt)
        except SQLAlchemyError as exc:  # the caller's own transaction holds the chat
            log.info("ranker used but not kept (fitted again next time): %s", exc)
    return fitted


def because(fitted: ranker.Model, found: ranker.Pool, paper_ids: Sequence[int]) -> list[str | None]:
    """Why each paper is recommended: "you liked <title>" and the like."""
    return [
        f"{_BECAUSE.get(anchor.kind, 'you liked')} {anchor.label}" if anchor else None
        for anchor in ranker.because(fitted, found, paper_ids)
    ]


def order(
    scored: np.ndarray | None,
    found: ranker.Pool | None,
    papers: Sequence[tuple[int, Paper, bool]],
) -> list[int]:
    """Positions of keyword-matched papers (id, paper, matched in the title), best first:
    by the chat's ranker scores over the pool (`scored`) blended with the title match and
    upvotes, or without scores by title match, then upvotes."""

    def blended(position: int) -> float:
        paper_id, paper, in_title = papers[position]
        base = TITLE_BONUS * in_title + UPVOTE_WEIGHT * math.log1p(paper.upvotes or 0)
        if scored is None or found is None or paper_id not in found.row:
            return base
        return base + float(scored[found.row[paper_id]])

    return sorted(range(len(papers)), key=lambda position: -blended(position))


def recommend(
    session: Session,
    subscriber_id: int,
    found: Pool,
    now: datetime,
    limit: int,
    *,
    skip: Sequence[int] = (),
    positive_only: bool = False,
    fitted: ranker.Model | None = None,
    scored: np.ndarray | None = None,
) -> list[Recommendation]:
    """The chat's best papers by its ranker (`fitted`, else the chat's; `scored`, its scores
    over the pool if already computed), never one it rated, saved, imported or was sent (nor
    those in `skip`); with `positive_only`, only papers on its side of the model."""
    if found.features is None:
        return []
    fitted = fitted or model(session, subscriber_id, found.features, now)
    if fitted is None:
        return []
    scores = ranker.scores(fitted, found.features) if scored is None else scored
    ids = found.features.ids
    known = set(fitted.known) | set(skip)
    own_titles = set(fitted.known_titles)
    sent = subscriptions.delivered_since(session, subscriber_id, min(ids))
    best: list[int] = []
    for n in np.argsort(-scores, kind="stable"):
        if len(best) == limit or (positive_only and scores[n] <= 0):
            break
        if ids[n] in known or ids[n] in sent or found.title_keys.get(ids[n]) in own_titles:
            continue
        best.append(int(n))
    papers = feedback.papers(session, [ids[n] for n in best])
    reasons = because(fitted, found.features, [ids[n] for n in best])
    return [
        Recommendation(ids[n], papers[ids[n]], float(scores[n]), reason)
        for n, reason in zip(best, reasons, strict=True)
    ]


def similar(session: Session, paper_id: int, found: Pool, limit: int) -> list[tuple[int, Paper]]:
    """The stored papers nearest to this one, among the newest."""
    if found.features is None:
        return []
    text = feedback.analysed(session, [paper_id]).get(paper_id)
    if text is None:
        return []
    model = vectors.encoder() if found.features.dense is not None else None
    vector = vectors.of_papers(session, model, [paper_id]).get(paper_id) if model else None
    nearest = ranker.similar(found.features, text, paper_id, limit, vector)
    papers = feedback.papers(session, nearest)
    return [(i, papers[i]) for i in nearest if i in papers]
