"""Relevance on the labelled sets over the 504 seed papers, as a user would measure it.

- Keywords (tests/fixtures/labelled_keywords.json): what `paperboy preview --keyword K`
  sends, precision and recall per labelled block, and plain substring matching beside it.
- Search (tests/fixtures/labelled_queries.json): mean precision@5 of `paperboy search Q`,
  beside arxiv-sanity-lite's scoring on the same papers (a linear scan: 20 x query words in
  the title + 10 x in the authors + min(3, count in the abstract) per word).
- Agreement: for every labelled keyword, the papers its digest would carry that a search
  for the same words does not find (none, when search and digests agree).

    .venv/bin/python -m bench.relevance [--url DATABASE_URL]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from bot import search
from bot.matching import Matcher
from bot.records import Paper
from bot.sources import parse_page
from storage import db, queries
from storage.identity import title_key

REPO = Path(__file__).resolve().parents[1]
SEEDS = REPO.parent / "shared" / "seeds"
FIXTURES = REPO / "tests" / "fixtures"
NOW = datetime(2026, 3, 11, 8, 0, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Figures:
    precision: float
    recall: float


def seed_papers(seeds: Path = SEEDS) -> list[Paper]:
    papers: dict[str, Paper] = {}
    for path in sorted(seeds.glob("*.txt")):
        for paper in parse_page(path.read_bytes()).papers:
            papers.setdefault(title_key(paper.title), paper)
    return list(papers.values())


def load(name: str) -> list[dict[str, object]]:
    entries: list[dict[str, object]] = json.loads((FIXTURES / name).read_text("utf-8"))
    return entries


def precision_recall(found: dict[str, set[str]], relevant: dict[str, set[str]]) -> Figures:
    hits = sum(len(found[k] & relevant[k]) for k in relevant)
    returned = sum(len(found[k]) for k in relevant)
    wanted = sum(len(v) for v in relevant.values())
    return Figures(hits / max(1, returned), hits / max(1, wanted))


def keyword_figures(
    papers: Sequence[Paper], entries: Iterable[dict[str, object]]
) -> dict[str, tuple[Figures, Figures]]:
    """Per labelled block: (paperboy, substring) precision and recall."""
    matcher = Matcher(papers)
    blocks: dict[str, dict[str, set[str]]] = {}
    for entry in entries:
        blocks.setdefault(str(entry["set"]), {})[str(entry["keyword"])] = set(entry["relevant"])  # type: ignore[call-overload]
    out = {}
    everything = {k: v for block in blocks.values() for k, v in block.items()}
    for name, relevant in [*blocks.items(), ("all", everything)]:
        found = {k: {m.paper.title for m in matcher.match([k])} for k in relevant}
        substring = {
            k: {p.title for p in papers if k.lower() in f"{p.title} {p.abstract}".lower()}
            for k in relevant
        }
        out[name] = (precision_recall(found, relevant), precision_recall(substring, relevant))
    return out


def arxiv_sanity(papers: Sequence[Paper], query: str, limit: int = 5) -> list[str]:
    """arxiv-sanity-lite's search_rank: substring counts, a linear scan of every paper."""
    words = query.lower().strip().split()

    def capped(text: str) -> float:
        return sum(min(3, text.lower().count(word)) for word in words)

    def present(text: str) -> float:
        return sum(int(word in text.lower()) for word in words)

    scored = []
    for index, paper in enumerate(papers):
        score = 10.0 * present(" ".join(paper.authors)) + 20.0 * present(paper.title)
        score += capped(paper.abstract)
        if score > 0:
            scored.append((-score, index, paper.title))
    return [title for _, _, title in sorted(scored)[:limit]]


def paperboy_search(sessions: sessionmaker[Session]) -> Callable[[str, int], list[str]]:
    def run(query: str, limit: int) -> list[str]:
        with sessions() as session:
            return [r.title for r in search.search(session, query, limit=limit).results]

    return run


def everything(sessions: sessionmaker[Session], query: str) -> set[str]:
    """Every match of a search, page by page."""
    found: set[str] = set()
    with sessions() as session:
        while True:
            page = search.search(session, query, limit=search.MAX_LIMIT, offset=len(found))
            if not page.results:
                return found
            found.update(result.title for result in page.results)


def precision_at(ranked: Callable[[str, int], list[str]], entries: Iterable[dict[str, object]],
                 k: int = 5) -> tuple[float, dict[str, float]]:  # fmt: skip
    per_query = {}
    for entry in entries:
        relevant = set(entry["relevant"])  # type: ignore[call-overload]
        shown = ranked(str(entry["query"]), k)
        per_query[str(entry["query"])] = sum(title in relevant for title in shown) / k
    return sum(per_query.values()) / max(1, len(per_query)), per_query


def disagreements(
    sessions: sessionmaker[Session], papers: Sequence[Paper], keywords: Iterable[str]
) -> dict[str, set[str]]:
    """Papers a keyword's digest carries that a search for the same words misses."""
    matcher = Matcher(papers)
    missing = {}
    for keyword in keywords:
        digest = {m.paper.title for m in matcher.match([keyword])}
        lost = digest - everything(sessions, keyword)
        if lost:
            missing[keyword] = lost
    return missing


def seeded(url: str | None, papers: Sequence[Paper]) -> sessionmaker[Session]:
    if url is None:
        folder = tempfile.mkdtemp(prefix="paperboy-relevance-")
        url = f"sqlite:///{folder}/paperboy.db"
    engine = db.make_engine(url)
    db.upgrade(engine)
    sessions = db.make_sessions(engine)
    with sessions.begin() as session:
        if not queries.all_papers(session):
            queries.store_papers(session, papers, NOW)
    return sessions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a database to load the seeds into (default: new SQLite)")
    parser.add_argument("--seeds", type=Path, default=SEEDS)
    parser.add_argument("--verbose", action="store_true", help="per-query figures")
    args = parser.parse_args()
    papers = seed_papers(args.seeds)
    sessions = seeded(args.url, papers)
    keywords = load("labelled_keywords.json")
    print(f"keywords: {len(keywords)} labelled over {len(papers)} papers")
    for block, (ours, substring) in keyword_figures(papers, keywords).items():
        print(
            f"  {block:<12} precision {ours.precision:.3f}  recall {ours.recall:.3f}   "
            f"(substring: {substring.precision:.3f} / {substring.recall:.3f})"
        )
    queries_ = load("labelled_queries.json")
    ours_p5, ours_each = precision_at(paperboy_search(sessions), queries_)
    sanity_p5, sanity_each = precision_at(lambda q, k: arxiv_sanity(papers, q, k), queries_)
    print(f"search: {len(queries_)} labelled queries, mean precision@5")
    print(f"  paperboy search        {ours_p5:.3f}")
    print(f"  arxiv-sanity-lite      {sanity_p5:.3f}")
    if args.verbose:
        for query, value in ours_each.items():
            print(f"    {value:.1f} {sanity_each[query]:.1f}  {query}")
    lost = disagreements(sessions, papers, [str(e["keyword"]) for e in keywords])
    print(
        f"agreement: {len(keywords) - len(lost)} of {len(keywords)} keywords' digests "
        "are wholly within a search for the same words"
    )
    for keyword, titles in lost.items():
        print(f"  {keyword}: {len(titles)} missing, e.g. {sorted(titles)[0]}")


if __name__ == "__main__":
    main()
