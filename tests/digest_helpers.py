"""A population of subscribers for fan-out and crash tests, what each should get, and what
each got: papers are told apart by their arXiv ids, read from the links in the messages."""

from __future__ import annotations

import random
import re
from collections import Counter
from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker

from bot import service
from bot.devserver import FakeBotApi
from bot.records import Paper
from storage import queries, subscriptions

TOPICS = [
    "pruning", "diffusion", "robotics", "protein folding", "speech recognition",
    "graph neural networks", "retrieval", "quantization", "federated learning",
    "reinforcement learning", "image segmentation", "code generation", "time series",
    "knowledge distillation", "anomaly detection", "machine translation",
]  # fmt: skip
_ARXIV_LINK = re.compile(r"arxiv\.org/abs/(\d{4}\.\d{5})")
NOW = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)


def corpus(per_topic: int = 6) -> list[Paper]:
    papers = []
    for t, topic in enumerate(TOPICS):
        for n in range(per_topic):
            arxiv_id = f"2611.{t * 100 + n:05d}"
            abstract = f"Study {n} of {topic}, with results on several benchmarks. " * 3
            papers.append(Paper(f"{topic.title()} study number {n}", abstract, arxiv_id))
    return papers


def populate(sessions: sessionmaker[Session], chats: list[int], seed: int = 7) -> None:
    """The corpus, and each chat subscribed to one to three topics."""
    rng = random.Random(seed)
    with sessions.begin() as session:
        queries.store_papers(session, corpus(), NOW)
        for chat in chats:
            row = subscriptions.enroll(session, chat, "private" if chat > 0 else "group", NOW)
            subscriptions.add_keywords(row, rng.sample(TOPICS, rng.randint(1, 3)))


def expected(sessions: sessionmaker[Session], chats: list[int], limit: int) -> dict[int, set[str]]:
    """The arXiv ids each chat's digest should carry, planned as the run plans it."""
    with sessions() as session:
        known = service.candidates(session)
        ids = {
            row_id: paper.arxiv_id
            for row_id, paper in zip(known.ids, known.matcher.papers, strict=True)
        }
        wanted = {}
        for chat in chats:
            plan = service.digest(session, chat, known, limit)
            assert plan.more == 0, "the tests expect whole digests"
            wanted[chat] = {str(ids[i]) for i in plan.paper_ids}
    return wanted


def papers_in(text: str | None) -> set[str]:
    """The arXiv ids of the papers a message carries."""
    return set(_ARXIV_LINK.findall(text or ""))


def received(api: FakeBotApi, chat: int) -> Counter[str]:
    """How many times each paper reached the chat."""
    found: Counter[str] = Counter()
    for message in api.sent(chat):
        found.update(papers_in(message.text))
    return found
