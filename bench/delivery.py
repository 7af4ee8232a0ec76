"""Digest delivery at Telegram's limits: sustained messages/s, 429s, and digest planning time.

The seed papers go into a fresh SQLite database, with --subscribers private chats, each
subscribed to one to three keywords that match at least four seed papers, and a digest
limit of three papers, so every chat gets exactly one message and one message a second per
chat never binds. The chats are users of the local Bot API stand-in (bot.devserver), which
enforces Telegram's limits (30 messages/s for the bot, one a second per private chat) and
answers after 50 ms. Timed in one run:
  - planning every subscriber's digest without sending: the shared candidates once, then
    service.digest per chat (what a digest run does), a median over --repeat runs, against
    the memoised loop (baseline): the same, but each distinct keyword is looked for in
    every candidate paper (read once, cached for every chat) instead of found through the
    Matcher's index; both must plan exactly the same digests,
  - delivering the digests with the delivery engine (scheduler.make_sender, Digests.run)
    at PAPERBOY_RATE_LIMIT=30, against a sequential run (baseline): one chat after another
    through Digests.deliver, with a pace so high that only the round trip limits it, on
    other chats; and the engine at the default rate (25) on other chats again.
  - commands during a broadcast: the whole bot (its Application polling the stand-in, with
    Telegram's per-chat limits too) delivers a digest to --subscribers other chats at
    PAPERBOY_RATE_LIMIT=30 while --command-users users each send /help, wait for the answer
    and a random 3-6 s, and send it again, until the broadcast is over: the p95 of the
    answers' waits, the most messages (replies and digests) the stand-in accepted in any one
    second, and the 429s.
Sustained messages/s is messages over the run's time; the per-second counts are of the
messages the stand-in accepted in each whole second of the run (its clock).
Target: at least 28 messages/s at PAPERBOY_RATE_LIMIT=30 (93% of Telegram's limit), no 429;
with the commands, replies answered within about a second (p95), at most 30 in any second.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from pydantic import SecretStr
from sqlalchemy.orm import Session, sessionmaker

from bot import render, service
from bot.app import build_application
from bot.config import Settings
from bot.devserver import FakeBotApi, Limit, RateLimits
from bot.digests import Digests, RunReport
from bot.matching import Matcher, Pattern, learn
from bot.records import Paper
from bot.replies import Digest
from bot.scheduler import make_sender
from bot.sources import parse_page
from storage import db, queries, subscriptions

SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"
TOKEN = SecretStr("123:ABC")
TARGET = 28.0
LIMIT = 3  # papers a digest carries: one message per chat
# Keywords that each match at least four seed papers, so every digest has LIMIT papers.
KEYWORDS = [
    *("diffusion", "reinforcement learning", "LLM", "agent", "reasoning", "benchmark", "3D"),
    *("multimodal", "retrieval", "speech", "mixture of experts", "quantization"),
    *("transformer", "attention", "distillation", "segmentation", "embodied", "safety"),
    *("audio", "evaluation", "dataset"),
]
# Chats of the baselines: apart from the main run's (1..N), so that no chat gets two
# messages within a second and every run sends first digests.
SEQUENTIAL_CHATS = 1_000_001
DEFAULT_RATE_CHATS = 2_000_001
COMMAND_BROADCAST_CHATS = 3_000_001
COMMAND_USERS = 4_000_001  # not subscribed: they only send commands
UNANSWERED = 30.0  # seconds without an answer: the user gives up


def seed_papers(seeds: Path) -> list[Paper]:
    return [p for f in sorted(seeds.glob("*.txt")) for p in parse_page(f.read_bytes()).papers]


def populate(
    sessions: sessionmaker[Session], papers: list[Paper], chats: list[int], rng: random.Random
) -> int:
    """Store the papers and subscribe the chats; returns how many distinct papers there are."""
    now = datetime.now(UTC)
    with sessions.begin() as session:
        queries.store_papers(session, papers, now)
        for chat_id in chats:
            row = subscriptions.enroll(session, chat_id, "private", now)
            subscriptions.add_keywords(row, rng.sample(KEYWORDS, rng.randint(1, 3)))
    with sessions() as session:
        return queries.stats(session).papers


class Scanning(Matcher):
    """The memoised loop's matcher: a keyword is looked for in every paper, not only in
    those the index says have its words; each distinct keyword still once, for every chat."""

    def _candidates(self, pattern: Pattern) -> set[int]:
        return set(range(len(self.papers)))


def memoised_candidates(session: Session) -> service.Candidates:
    """service.candidates with the memoised loop's matcher."""
    newest_id = subscriptions.newest_paper_id(session)
    newest = subscriptions.newest_papers(session, service.CANDIDATES)
    ids = [row_id for row_id, _ in newest]
    papers = [paper for _, paper in newest]
    return service.Candidates(newest_id, ids, Scanning(papers, *learn(papers)))


def plan_all(
    sessions: sessionmaker[Session],
    chats: Sequence[int],
    candidates: Callable[[Session], service.Candidates] = service.candidates,
) -> tuple[float, list[Digest]]:
    """Plan every chat's digest as a run does (shared candidates, a session per chat);
    returns the seconds taken and the plans."""
    start = time.perf_counter()
    with sessions() as session:
        known = candidates(session)
    plans = []
    for chat_id in chats:
        with sessions() as session:
            plans.append(service.digest(session, chat_id, known, LIMIT))
    return time.perf_counter() - start, plans


def settings(database_url: str, api: FakeBotApi, rate: float) -> Settings:
    return Settings(
        database_url=database_url,
        bot_token=TOKEN,
        bot_api_url=api.base_url.removesuffix("/bot"),
        rate_limit=rate,
        paid_broadcasts=rate > 30,  # only the sequential baseline's unbounded pace
        sources=[],
    )


async def engine_run(
    sessions: sessionmaker[Session], config: Settings, chats: list[int]
) -> tuple[RunReport, float]:
    """A digest run; returns its report and the median round trip of a send."""
    digests = Digests(sessions, make_sender(config), LIMIT)
    try:
        report = await digests.run(chats)
        return report, statistics.median(digests.sender.counters.latencies)
    finally:
        await digests.sender.close()


async def sequential_run(
    sessions: sessionmaker[Session], config: Settings, chats: list[int]
) -> tuple[float, int, int]:
    """One chat after the other; returns the seconds, messages accepted and 429s."""
    digests = Digests(sessions, make_sender(config), LIMIT)
    started = datetime.now(UTC)
    try:
        start = time.perf_counter()
        sent = 0
        for chat_id in chats:
            sent += (await digests.deliver(chat_id, started))[1]
        return time.perf_counter() - start, sent, digests.sender.counters.throttled
    finally:
        await digests.sender.close()


def per_second(api: FakeBotApi, chats: Sequence[int]) -> list[int]:
    """Messages the stand-in accepted in each whole second of a run (first and last cut)."""
    counts = Counter(message.date for chat_id in chats for message in api.sent(chat_id))
    if not counts:
        return []
    first, last = min(counts), max(counts)
    return [counts[second] for second in range(first + 1, last)]


def rate_line(label: str, messages: int, seconds: float, throttled: int, base: float) -> str:
    rate = messages / seconds
    return (
        f"  {label:<30} {messages:>6,} msgs {seconds:8.1f} s {rate:7.2f} msg/s"
        f"  {throttled:>3} x 429  {rate / base:5.2f}x baseline"
    )


async def deliveries(
    args: argparse.Namespace, sessions: sessionmaker[Session], database_url: str, main: list[int]
) -> None:
    sequential = list(range(SEQUENTIAL_CHATS, SEQUENTIAL_CHATS + args.sequential_sample))
    default_rate = list(range(DEFAULT_RATE_CHATS, DEFAULT_RATE_CHATS + args.default_rate_sample))
    limits = RateLimits(overall=Limit(30, 1.0), private_chat=Limit(1, 1.0))
    api = FakeBotApi(None, limits=limits, latency=args.latency)
    for chat_id in (*main, *sequential, *default_rate):
        api.add_user(chat_id, f"Reader {chat_id}")
    api.start()
    try:
        seq_seconds, seq_sent, seq_throttled = await sequential_run(
            sessions, settings(database_url, api, 1000), sequential
        )
        await asyncio.sleep(1.1)  # the bot's one-second window empties before the next run
        default_report: RunReport | None = None
        if default_rate:
            default_report, _ = await engine_run(
                sessions, settings(database_url, api, 25), default_rate
            )
            await asyncio.sleep(1.1)
        throttled_before = api.throttled
        report, round_trip = await engine_run(sessions, settings(database_url, api, 30), main)
        stand_in_throttled = api.throttled - throttled_before
        seconds_counts = per_second(api, main)
    finally:
        api.stop()

    base = seq_sent / seq_seconds
    rate = report.messages / report.seconds
    print(
        f"delivery to the Bot API stand-in (30 msg/s per bot, 1 msg/s per chat, "
        f"{args.latency * 1000:.0f} ms latency):"
    )
    print(rate_line("sequential (baseline)", seq_sent, seq_seconds, seq_throttled, base))
    if default_report is not None:
        print(
            rate_line(
                "engine, rate 25 (default)",
                default_report.messages,
                default_report.seconds,
                default_report.throttled,
                base,
            )
        )
    print(rate_line("engine, rate 30", report.messages, report.seconds, report.throttled, base))
    outcomes = ", ".join(f"{n:,} {name}" for name, n in sorted(report.outcomes.items()))
    print(
        f"  rate-30 run: {report.chats:,} chats ({outcomes}), {report.papers:,} papers, "
        f"median send round trip {round_trip * 1000:.0f} ms"
    )
    if seconds_counts:
        print(
            f"  messages per whole second at the stand-in: median "
            f"{statistics.median(seconds_counts):g}, min {min(seconds_counts)}, "
            f"max {max(seconds_counts)} over {len(seconds_counts)} s"
        )
    print(
        f"  429s: {stand_in_throttled} answered by the stand-in, "
        f"{report.throttled} seen by the sender"
    )
    met = rate >= TARGET and stand_in_throttled == 0 and report.throttled == 0
    print(
        f"  target >= {TARGET:g} msg/s and no 429 at rate 30: "
        f"{'met' if met else 'NOT met'} ({rate:.2f} msg/s, "
        f"{rate / 30:.1%} of Telegram's limit)"
    )


async def commands_during_broadcast(
    args: argparse.Namespace, sessions: sessionmaker[Session], database_url: str, chats: list[int]
) -> None:
    """The bot answering /help from --command-users users while it broadcasts to `chats`."""
    api = FakeBotApi(None, limits=RateLimits(), latency=args.latency)  # Telegram's limits
    users = list(range(COMMAND_USERS, COMMAND_USERS + args.command_users))
    for chat_id in (*chats, *users):
        api.add_user(chat_id, f"Reader {chat_id}")
    api.start()
    config = settings(database_url, api, 30).model_copy(update={"digest_max": LIMIT})
    app = build_application(config, sessions)
    waits: list[float] = []
    unanswered: list[int] = []
    try:
        await app.initialize()
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0.0, timeout=1)
        broadcast = asyncio.create_task(app.bot_data["digests"].run(chats))

        async def user(user_id: int, rng: random.Random) -> None:
            while not broadcast.done():
                answered = len(api.sent(user_id))
                sent = time.perf_counter()
                api.user_sends(user_id, "/help")
                while len(api.sent(user_id)) == answered:
                    if time.perf_counter() - sent > UNANSWERED:
                        unanswered.append(user_id)
                        return
                    await asyncio.sleep(0.01)
                waits.append(time.perf_counter() - sent)
                # Reading it; under the bot's 20 commands a minute per user.
                await asyncio.sleep(rng.uniform(3.0, 6.0))

        rng = random.Random(13)
        await asyncio.gather(*(user(u, random.Random(rng.random())) for u in users))
        report: RunReport = await broadcast
    finally:
        if app.updater is not None and app.updater.running:
            await app.updater.stop()
        if app.running:
            await app.stop()
        await app.shutdown()
        await app.bot_data["digests"].sender.close()
        api.stop()
    counts = per_second(api, [*chats, *users])
    waits.sort()
    p95 = waits[min(len(waits) - 1, int(0.95 * len(waits)))]
    print(
        f"commands during a broadcast ({len(users)} users sending /help again and again while "
        f"{len(chats):,} chats get their digest at rate 30; Telegram's per-chat limits too):"
    )
    outcomes = ", ".join(f"{n:,} {name}" for name, n in sorted(report.outcomes.items()))
    print(
        f"  broadcast: {report.messages:,} msgs in {report.seconds:.1f} s "
        f"({report.messages / report.seconds:.2f} msg/s; {outcomes})"
    )
    print(
        f"  {len(waits):,} replies: median {statistics.median(waits) * 1000:.0f} ms, "
        f"p95 {p95 * 1000:.0f} ms, max {waits[-1] * 1000:.0f} ms; "
        f"{len(unanswered)} unanswered after {UNANSWERED:g} s"
    )
    print(
        f"  most messages in any one second at the stand-in: {max(counts, default=0)} "
        f"(replies and digests together, over {len(counts)} s)"
    )
    print(
        f"  429s: {api.throttled} answered by the stand-in, {report.throttled} seen by the sender"
    )


def timings(
    args: argparse.Namespace,
    sessions: sessionmaker[Session],
    database_url: str,
    main_chats: list[int],
    command_chats: list[int],
    papers: list[Paper],
    distinct: int,
) -> None:
    """Planning, the delivery rates, and the commands during a broadcast."""
    fast_times: list[float] = []
    memoised_times: list[float] = []
    for _ in range(args.repeat):
        seconds, plans = plan_all(sessions, main_chats)
        fast_times.append(seconds)
        memoised_seconds, memoised_plans = plan_all(sessions, main_chats, memoised_candidates)
        memoised_times.append(memoised_seconds)
        assert memoised_plans == plans, "the memoised loop must plan the same digests"
    messages = sum(sum(map(len, render.digest(plan))) for plan in plans)
    planned = sum(len(plan.paper_ids) for plan in plans)

    print(
        f"{len(main_chats):,} subscribers, 1-3 keywords each, {len(papers)} seed entries "
        f"({distinct} distinct papers), digests of {LIMIT} papers"
    )
    fast = statistics.median(fast_times)
    memoised = statistics.median(memoised_times)
    per = 1e6 / len(main_chats)
    print(
        f"digest planning, {messages:,} messages with {planned:,} papers; medians over "
        f"{args.repeat} runs:"
    )
    print(f"  memoised loop (baseline) {memoised:8.2f} s {memoised * per:7.0f} µs each")
    print(
        f"  shared candidates        {fast:8.2f} s {fast * per:7.0f} µs each"
        f"  {memoised / fast:5.2f}x faster"
    )
    asyncio.run(deliveries(args, sessions, database_url, main_chats))
    if args.command_users:
        asyncio.run(commands_during_broadcast(args, sessions, database_url, command_chats))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sequential-sample", type=int, default=300)
    parser.add_argument("--default-rate-sample", type=int, default=500, help="0: skip")
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--command-users", type=int, default=20, help="0: skip that run")
    parser.add_argument(
        "--commands-only", action="store_true", help="only the commands-during-a-broadcast run"
    )
    parser.add_argument("--seeds", type=Path, default=SEEDS)
    parser.add_argument(
        "--quick", action="store_true", help="1,000 subscribers and smaller samples"
    )
    args = parser.parse_args()
    # The sender logs every 429 as a warning; they are counted and printed below instead.
    logging.getLogger("bot.delivery").setLevel(logging.ERROR)
    if args.quick:
        args.subscribers = 1_000
        args.sequential_sample = min(args.sequential_sample, 100)
        args.default_rate_sample = min(args.default_rate_sample, 200)

    rng = random.Random(11)
    main_chats = list(range(1, args.subscribers + 1))
    command_chats = list(range(COMMAND_BROADCAST_CHATS, COMMAND_BROADCAST_CHATS + args.subscribers))
    others = [
        *range(SEQUENTIAL_CHATS, SEQUENTIAL_CHATS + args.sequential_sample),
        *range(DEFAULT_RATE_CHATS, DEFAULT_RATE_CHATS + args.default_rate_sample),
        *(command_chats if args.command_users else []),
    ]
    papers = seed_papers(args.seeds)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        database_url = f"sqlite:///{tmp}/bench.db"
        engine = db.make_engine(database_url)
        db.upgrade(engine)
        sessions = db.make_sessions(engine)
        distinct = populate(sessions, papers, main_chats + others, rng)
        if args.commands_only:
            asyncio.run(commands_during_broadcast(args, sessions, database_url, command_chats))
        else:
            timings(args, sessions, database_url, main_chats, command_chats, papers, distinct)
        engine.dispose()

    # Pacing is about milliseconds: other work on the machine shows up as 429s and lost rate.
    print(
        f"machine load (1-minute average) {load_before:.1f} at the start, "
        f"{os.getloadavg()[0]:.1f} at the end, on {os.cpu_count()} CPUs"
    )


if __name__ == "__main__":
    main()
