"""The chat commands' logic, without Telegram: subscriptions, settings, digests, rendering."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time
from typing import cast

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot import keywords, profile, render, service
from bot.matching import Matcher
from bot.records import Paper
from bot.render import MESSAGE_LIMIT, pack, paper_block, preformatted, split_messages
from bot.replies import Chat, SettingReply, Unsubscribed
from storage import feedback, queries, subscriptions
from tests import replies

NOW = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
ME = Chat(42, "private")
GROUP = Chat(-100, "supergroup", "Reading group", thread_id=7)

PAPERS = [
    Paper("Graph Neural Networks at Scale", "We train GNNs on billions of edges.", "2401.00001"),
    Paper("Pruning Experts", "Mixture-of-experts (MoE) layers are pruned.", upvotes=30),
    Paper("A Survey of Pruning", "We survey network pruning methods.", upvotes=99),
    Paper("<b>Tags</b> & Ampersands", "An abstract with <script> and & in it about pruning."),
]


@pytest.fixture
def store(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    with sessions.begin() as session:
        queries.store_papers(session, PAPERS, NOW)
    return sessions


def test_subscribe_unsubscribe_and_list(store: sessionmaker[Session]) -> None:
    with store.begin() as session:
        assert "Subscribed to: GNN, pruning" in replies.subscribe(session, ME, "GNN, pruning", NOW)
        reply = replies.subscribe(session, ME, "pruning\nMoE", NOW)
        assert "Subscribed to: MoE" in reply
        assert "Already there: pruning" in reply
        assert "Usage" in replies.subscribe(session, ME, " , ,", NOW)
        assert "Unsubscribed from: pruning" in replies.unsubscribe(session, ME, "PRUNING")
        assert "is not among" in replies.unsubscribe(session, ME, "nothing")
        # Cleaned as /subscribe cleans: copied with a full stop or in quotes.
        assert "Unsubscribed from: MoE" in replies.unsubscribe(session, ME, "“MoE.”")
        [listing] = render.keyword_list(ME, service.keyword_list(session, ME))
    assert "• GNN" in listing
    assert "• MoE" not in listing
    assert "pruning" not in listing


def test_commands_return_data_that_render_makes_a_message_of(
    store: sessionmaker[Session],
) -> None:
    """What a command did, as data: the keywords added and left out, the chat's timing."""
    with store.begin() as session:
        added = service.subscribe(session, ME, "GNN, -survey, pruning, a", NOW)
        assert added.done == "added"
        assert [k.term for k in added.added] == ["GNN", "survey", "pruning"]
        assert [k.stored for k, _ in added.refused] == ["a"]
        assert added.timing is not None
        assert added.timing.at == time(8)
        assert service.subscribe(session, ME, "pruning", NOW).already == ["pruning"]
        assert service.set_time(session, ME, "25:00", NOW) == SettingReply("time", "usage")
        moved = service.set_time(session, ME, "7:30", NOW)
        assert moved.timing is not None
        assert moved.timing.at == time(7, 30)
        assert service.unsubscribe(session, ME, "PRUNING") == Unsubscribed("removed", "pruning")
        assert service.nothing_to_send(session, ME) == "nothing new"
        assert service.import_document(session, ME, "[]", NOW).refused == "not an export"
        assert service.forget(session, ME) is True
        assert service.forget(session, ME) is False


def test_keyword_limits(store: sessionmaker[Session]) -> None:
    with store.begin() as session:
        assert "at most 100 characters" in replies.subscribe(session, ME, "x" * 101, NOW)
        many = ", ".join(f"kw{i}" for i in range(keywords.MAX_KEYWORDS + 1))
        assert "At most 50 keywords" in replies.subscribe(session, ME, many, NOW)
        assert "No keywords yet" in render.keyword_list(ME, service.keyword_list(session, ME))[0]
        replies.subscribe(session, ME, ", ".join(f"kw{i}" for i in range(50)), NOW)
        assert "At most 50 keywords" in replies.subscribe(session, ME, "one more", NOW)
        # Fifty keywords of a hundred characters do not fit one message: the list is split.
    with store.begin() as session:
        subscriptions.forget(session, ME.id)
        replies.subscribe(session, ME, ", ".join(f"{i:03d}" + "k" * 97 for i in range(50)), NOW)
        listing = render.keyword_list(ME, service.keyword_list(session, ME))
    assert len(listing) == 2
    assert all(len(message) <= MESSAGE_LIMIT for message in listing)


def test_time_timezone_pause_and_settings(store: sessionmaker[Session]) -> None:
    with store.begin() as session:
        assert "07:30 (UTC)" in replies.set_time(session, ME, "7:30", NOW)
        assert "Usage" in replies.set_time(session, ME, "25:00", NOW)
        assert "Europe/Berlin" in replies.set_timezone(session, ME, "europe/berlin", NOW)
        suggestion = replies.set_timezone(session, ME, "Europe/Berln", NOW)
        assert "Unknown time zone" in suggestion
        assert "Europe/Berlin" in suggestion
        assert "Paused" in replies.set_paused(session, ME, True, NOW)
        assert "Usage" in replies.set_notify_empty(session, ME, "maybe", NOW)
        assert "nothing new today" in replies.set_notify_empty(session, ME, "ON", NOW)
        settings = render.settings(ME, service.settings(session, ME))
    assert "paused, daily at 07:30 (Europe/Berlin)" in settings
    assert "On days with nothing new: a short note" in settings


def _schedule(session: Session) -> tuple[datetime | None, date | None]:
    row = subscriptions.find(session, ME.id)
    assert row is not None
    return row.next_digest_at, row.last_digest_on


def test_changing_the_schedule_makes_the_scheduler_compute_it_again(
    store: sessionmaker[Session],
) -> None:
    later = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    with store.begin() as session:
        replies.subscribe(session, ME, "GNN", NOW)
        assert service.due_chats(session, NOW) == []
        # NOW is 08:00 UTC: today's time has passed, so the first digest is tomorrow's.
        assert _schedule(session) == (datetime(2026, 11, 25, 8, 0, tzinfo=UTC), None)
        replies.set_time(session, ME, "09:00", NOW)
        assert _schedule(session) == (None, None)
        assert service.due_chats(session, NOW) == []
        assert _schedule(session) == (later, None)
        assert service.due_chats(session, later) == [ME.id]
        assert service.pending_today(session, later) == [ME.id]
        service.finish_digest(session, ME.id, later)
        session.expire_all()
        assert _schedule(session) == (datetime(2026, 11, 25, 9, 0, tzinfo=UTC), later.date())
        assert service.due_chats(session, later) == []
        assert service.pending_today(session, later) == []


def test_had_digest_sees_a_digest_another_process_finished_after_the_row_was_read(
    store: sessionmaker[Session],
) -> None:
    """A run checks, once it holds the chat's claim, whether the day's digest was sent: a
    digest another process finished since this session read the chat's row counts."""
    later = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    with store.begin() as session:
        replies.subscribe(session, ME, "GNN", NOW)
    with store() as session:
        held = subscriptions.find(session, ME.id)
        assert held is not None
        assert held.last_digest_on is None
        assert not service.had_digest(session, ME.id, later)
        with store.begin() as other:
            service.finish_digest(other, ME.id, later)
        assert held.last_digest_on is None  # the row this session holds is the old one
        assert service.had_digest(session, ME.id, later)
    with store() as session:
        assert not service.had_digest(session, GROUP.id, later)  # no subscriber


def test_export_import_round_trip(store: sessionmaker[Session]) -> None:
    with store.begin() as session:
        replies.subscribe(session, ME, "GNN, -survey", NOW)
        replies.set_time(session, ME, "06:15", NOW)
        replies.set_notify_empty(session, ME, "on", NOW)
        document = service.export(session, ME)
    other = Chat(43, "private")
    with store.begin() as session:
        replies.import_document(session, other, document, NOW)
        assert json.loads(service.export(session, other)) == json.loads(document)
        assert "not a JSON document" in replies.import_document(session, other, "{oops", NOW)
        assert "not a paperboy export" in replies.import_document(session, other, "[]", NOW)
        bad = json.dumps({"format": service.EXPORT_FORMAT, "keywords": [1, 2]})
        assert "must be a list of texts" in replies.import_document(session, other, bad, NOW)


def test_digest_ranks_records_and_never_repeats(store: sessionmaker[Session]) -> None:
    with store.begin() as session:
        replies.subscribe(session, ME, "pruning, -survey", NOW)
        digest = service.digest(session, ME.id, service.candidates(session), limit=1)
    assert digest.more == 1
    [(text, ids)] = render.digest(digest)[0]
    # Title matches come first, the most upvoted among them first.
    assert "Pruning Experts" in text
    with store.begin() as session:
        row = subscriptions.find(session, ME.id)
        assert row is not None
        subscriptions.record_deliveries(session, row.id, ids, NOW)
        again = service.digest(session, ME.id, service.candidates(session), limit=10)
    texts = " ".join(text for text, _ in render.digest(again)[0])
    assert "Pruning Experts" not in texts
    assert "&lt;b&gt;Tags&lt;/b&gt; &amp; Ampersands" in texts
    assert "Survey" not in texts


def test_the_ranker_features_are_made_only_for_a_chat_that_taught_its_ranker(
    store: sessionmaker[Session],
) -> None:
    """Most chats never rate a paper: their digests are planned without the tf-idf pool
    (scikit-learn's import and the matrix are most of a digest run's memory)."""
    with store.begin() as session:
        replies.subscribe(session, ME, "pruning", NOW)
        replies.subscribe(session, GROUP, "pruning", NOW)
    # Planned as a digest run plans, in a session that only reads.
    with store() as session:
        known = service.candidates(session)
        plain = service.digest(session, ME.id, known, limit=5)
        assert plain.matches
        assert not plain.recommended
        assert known._ranking == []
        row = subscriptions.find(session, GROUP.id)
        assert row is not None
    with store.begin() as session:
        feedback.rate(session, row.id, plain.matches[0].paper_id, 1, NOW)
    with store() as session:
        service.digest(session, GROUP.id, known, limit=5)
        assert len(known._ranking) == 1
        assert feedback.profiles(session, [row.id])  # fitted and kept
        service.digest(session, ME.id, known, limit=5)
        assert len(known._ranking) == 1  # made once, shared


def test_latest_and_group_topic(store: sessionmaker[Session]) -> None:
    with store.begin() as session:
        replies.subscribe(session, GROUP, "GNN", NOW)
        found = service.latest(session, GROUP, service.candidates(session))
        [(reply, paper_ids)] = render.latest(GROUP, found)
        row = subscriptions.find(session, GROUP.id)
        [gnn] = [
            paper_id
            for paper_id, paper in subscriptions.newest_papers(session, 50)
            if paper.title == "Graph Neural Networks at Scale"
        ]
    # Numbered, as the feedback buttons under it are, and carrying the paper's id for them.
    assert "\n\n1. <a href=" in reply
    assert paper_ids == [gnn]
    assert "Graph Neural Networks at Scale" in reply
    assert "https://arxiv.org/abs/2401.00001" in reply
    assert row is not None
    assert (row.thread_id, row.title) == (7, "Reading group")


def test_forget(store: sessionmaker[Session]) -> None:
    with store.begin() as session:
        replies.subscribe(session, ME, "GNN", NOW)
        assert "deleted" in replies.forget(session, ME)
        assert "nothing stored" in replies.forget(session, ME)
        assert subscriptions.find(session, ME.id) is None


def test_stop_names_the_chat_as_a_person_would(store: sessionmaker[Session]) -> None:
    """Private chats are "your ...", never "... of you"; groups are named."""
    assert render.stop_question(ME) == (
        "Delete your keywords, settings, ratings, saved papers, library and history? "
        "This cannot be undone."
    )
    assert render.stop_question(GROUP) == (
        "Delete the keywords, settings, ratings, saved papers, library and history of "
        "Reading group? This cannot be undone."
    )
    assert "of this chat?" in render.stop_question(Chat(-5, "group"))
    assert "of &lt;b&gt;x?" in render.stop_question(Chat(-5, "group", "<b>x"))
    with store.begin() as session:
        replies.subscribe(session, ME, "GNN", NOW)
        replies.subscribe(session, GROUP, "GNN", NOW)
        assert replies.forget(session, ME) == (
            "Done: your keywords, settings, ratings, saved papers, library and history are "
            "deleted. /start to begin again."
        )
        assert replies.forget(session, ME) == "There was nothing stored about you."
        assert replies.forget(session, GROUP) == (
            "Done: the keywords, settings, ratings, saved papers, library and history of "
            "Reading group are deleted."
        )
        assert replies.forget(session, GROUP) == "There was nothing stored about Reading group."


def test_an_empty_digest_says_why(store: sessionmaker[Session]) -> None:
    """/digest that sent nothing: no keywords is not "nothing new for your keywords"."""
    no_keywords = (
        "There are no keywords yet, so there is nothing to send. "
        "Add keywords with <code>/subscribe keyword, keyword</code>."
    )
    with store.begin() as session:
        assert replies.nothing_to_send(session, ME) == no_keywords
        replies.start(session, ME, NOW)
        assert replies.nothing_to_send(session, ME) == no_keywords
        replies.subscribe(session, ME, "GNN", NOW)
        assert replies.nothing_to_send(session, ME) == "Nothing new for your keywords right now."
        replies.subscribe(session, GROUP, "GNN", NOW)
        assert replies.nothing_to_send(session, GROUP) == (
            "Nothing new for the keywords of Reading group right now."
        )
        # Saved papers but no keywords: a digest carries recommendations only.
        replies.unsubscribe(session, ME, "GNN")
        [(paper_id, _)] = subscriptions.newest_papers(session, 1)
        profile.save(session, ME.id, ME.type, paper_id, True, NOW)
        reply = replies.nothing_to_send(session, ME)
        assert reply.startswith("There are no keywords yet, so a digest carries only papers ")
        assert "none is new right now" in reply
        replies.set_recommend(session, ME, "off", NOW)
        assert replies.nothing_to_send(session, ME) == no_keywords


def test_subscribe_ends_with_a_next_step(store: sessionmaker[Session]) -> None:
    channel = Chat(-1003, "channel", "@papers")
    with store.begin() as session:
        *_, when, step = replies.subscribe(session, ME, "GNN", NOW).split("\n")
        assert when.startswith("Next digest: ")
        assert step == (
            "Try /latest now, or /digest for your first digest; /time sets when it comes."
        )
        *_, step = replies.subscribe(session, channel, "GNN", NOW).split("\n")
        assert step == (
            "Try <code>/latest @papers</code> now, or <code>/digest @papers</code> for its "
            "first digest; <code>/time @papers 07:30</code> sets when it comes."
        )
        # Nothing added: no next step either.
        assert "Try /latest" not in replies.subscribe(session, ME, "GNN", NOW)


def test_paper_block_escapes_and_cuts() -> None:
    paper = Paper("<i>T</i> & co", "word " * 200, "2401.00001", code_url="https://x.org/?a=1&b=<2>")
    block = paper_block(paper, "matched pruning (title)")
    assert block.startswith(
        '<a href="https://arxiv.org/abs/2401.00001"><b>&lt;i&gt;T&lt;/i&gt; &amp; co'
    )
    assert 'href="https://x.org/?a=1&amp;b=&lt;2&gt;"' in block
    assert "…" in block
    assert len(block) < 1000


def test_messages_split_at_block_boundaries() -> None:
    blocks = [f"<b>{i}</b> " + "x" * 1000 for i in range(10)]
    messages = split_messages(blocks, header="<b>Digest</b>")
    assert len(messages) == 3
    assert all(len(m) <= MESSAGE_LIMIT for m in messages)
    assert "".join(messages).count("<b>") == 11
    assert all(m.count("<b>") == m.count("</b>") for m in messages)
    packed = pack([(b, i) for i, b in enumerate(blocks)])
    assert [ids for _, ids in packed] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    with pytest.raises(ValueError, match="cannot fit"):
        split_messages(["x" * (MESSAGE_LIMIT + 1)])


def test_delivered_papers_do_not_change_what_a_keyword_means(
    sessions: sessionmaker[Session],
) -> None:
    """ "modal" is a rare word next to "model": once the modal papers are delivered, the
    keyword must not be taken for a typo of "model" and bring in the model papers."""
    papers = [Paper(f"Modal logic {n}", "A modal logic study.") for n in range(3)]
    papers += [Paper(f"Model {n}", "We train a model.") for n in range(40)]
    with sessions.begin() as session:
        queries.store_papers(session, papers, NOW)
        replies.subscribe(session, ME, "modal", NOW)
        first = service.digest(session, ME.id, service.candidates(session), limit=10)
        row = subscriptions.find(session, ME.id)
        assert row is not None
        for _, ids in render.digest(first)[0]:
            subscriptions.record_deliveries(session, row.id, ids, NOW)
        second = service.digest(session, ME.id, service.candidates(session), limit=10)
    assert sum(len(ids) for _, ids in render.digest(first)[0]) == 3
    assert render.digest(second)[0] == []


def test_a_paper_with_an_absurd_link_still_fits(sessions: sessionmaker[Session]) -> None:
    url = "https://github.com/" + "x" * 2_100
    with sessions.begin() as session:
        queries.store_papers(session, [Paper("Long Link Pruning", f"Code: {url}")], NOW)
        replies.subscribe(session, ME, "pruning", NOW)
        [(text, _)] = render.digest(
            service.digest(session, ME.id, service.candidates(session), limit=5)
        )[0]
    assert "Long Link Pruning" in text
    assert 'href="https://github.com/xxx' not in text
    assert len(text) < MESSAGE_LIMIT


def test_long_replies_stay_under_the_limit(store: sessionmaker[Session]) -> None:
    keywords = [f"{i:03d}" + "k" * 97 for i in range(50)]
    with store.begin() as session:
        added = replies.subscribe(session, ME, ", ".join(keywords), NOW)
        settings = render.settings(ME, service.settings(session, ME))
        exported = preformatted(service.export(session, ME))
    assert len(added) < MESSAGE_LIMIT
    assert len(settings) < MESSAGE_LIMIT
    assert len(exported) == 2
    assert all(len(part) <= MESSAGE_LIMIT and part.startswith("<pre>") for part in exported)


# Keyword hygiene: three topics, each in papers of its own (see bot/keywords.py).
TOPICS = [
    *PAPERS,
    Paper("Diffusion Models for Audio", "A review of diffusion samplers.", upvotes=5),
    Paper("Large Language Models Reason", "Large language models solve puzzles."),
]


@pytest.fixture
def topics(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    with sessions.begin() as session:
        queries.store_papers(session, TOPICS, NOW)
    return sessions


def _stored(session: Session, chat: Chat = ME) -> list[str]:
    row = subscriptions.find(session, chat.id)
    return subscriptions.keywords(row) if row else []


def test_keywords_are_cleaned_as_typed_from_a_sentence(topics: sessionmaker[Session]) -> None:
    with topics.begin() as session:
        # The welcome text's example, copied with its full stop.
        reply = replies.subscribe(session, ME, "graph neural networks, pruning.", NOW)
        assert reply.startswith("Subscribed to: graph neural networks, pruning\n")
        reply = replies.subscribe(
            session, ME, "«MoE»; \u201cdiffusion\u201d, (GNN), low-rank:", NOW
        )
        assert reply.startswith("Subscribed to: MoE, diffusion, GNN, low-rank\n")
        assert "Already there: pruning" in replies.subscribe(session, ME, "'pruning'", NOW)
        assert "Usage" in replies.subscribe(session, ME, "..., -, «»", NOW)
        assert _stored(session) == [
            "diffusion", "GNN", "graph neural networks", "low-rank", "MoE", "pruning",
        ]  # fmt: skip


def test_exclusions_are_acknowledged_as_exclusions(topics: sessionmaker[Session]) -> None:
    with topics.begin() as session:
        reply = replies.subscribe(session, ME, "pruning, -survey, \u2014review.", NOW)
        assert reply.startswith("Subscribed to: pruning\nExcluding: survey, review\n")
        assert "-survey" not in reply.split("\n")[1]
        assert "• -survey: 1 paper left out" in reply
        assert "Already there: -survey" in replies.subscribe(session, ME, '"-survey"', NOW)
        assert _stored(session) == ["-review", "-survey", "pruning"]
        # The digest reads the stored exclusion: the survey of pruning is left out.
        [(text, _)] = render.digest(
            service.digest(session, ME.id, service.candidates(session), 10)
        )[0]
    assert "Pruning Experts" in text
    assert "A Survey of Pruning" not in text


def test_one_letter_and_stop_word_keywords_are_refused(topics: sessionmaker[Session]) -> None:
    with topics.begin() as session:
        reply = replies.subscribe(session, ME, "a, pruning, the, x, of the, -a, IT", NOW)
        assert _stored(session) == ["IT", "pruning"]
    lines = reply.split("\n")
    assert lines[0] == "Subscribed to: pruning, IT"
    assert "“a”, “x”, “-a” were not added: a single letter matches almost every paper." in lines
    assert "“the” was not added: too common a word to pick papers." in lines
    assert "“of the” was not added: too common words to pick papers." in lines
    with topics.begin() as session:
        only = replies.subscribe(session, ME, "a", NOW)
    assert only == "“a” was not added: a single letter matches almost every paper."


def test_keywords_run_together_are_questioned(topics: sessionmaker[Session]) -> None:
    with topics.begin() as session:
        reply = replies.subscribe(session, ME, "GNN pruning diffusion", NOW)
        assert subscriptions.find(session, ME.id) is None  # nothing stored, not even a chat
    assert reply.startswith(
        "“GNN pruning diffusion” looks like 3 keywords. Did you mean "
        "<code>/subscribe GNN, pruning, diffusion</code>? Use commas between keywords. "
        "Nothing was added."
    )
    assert "quote it: <code>/subscribe &quot;GNN pruning diffusion&quot;</code>" in reply
    with topics.begin() as session:
        # The others of the same command are added; quotes force a phrase.
        reply = replies.subscribe(session, ME, 'GNN pruning diffusion, MoE, "GNN pruning"', NOW)
        assert _stored(session) == ["GNN pruning", "MoE"]
        # Real phrases pass, whether the papers use them or not.
        phrases = "large language models, graph neural networks, knowledge distillation"
        replies.subscribe(session, ME, phrases, NOW)
        replies.subscribe(session, ME, "reinforcement learning from human feedback", NOW)
        assert len(_stored(session)) == 6
    assert reply.startswith("Subscribed to: MoE, GNN pruning\n“GNN pruning diffusion” looks")
    assert "Use commas between keywords. It was not added." in reply


def test_a_channel_is_named_in_the_suggested_command(topics: sessionmaker[Session]) -> None:
    channel = Chat(-1003, "channel", "@papers")
    with topics.begin() as session:
        reply = replies.subscribe(session, channel, "GNN pruning", NOW)
    assert "<code>/subscribe @papers GNN, pruning</code>" in reply


def test_the_reply_says_what_each_keyword_matches_now(
    topics: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    # What Matcher.suggest proposes is the matcher's business; the reply shows it.
    monkeypatch.setattr(Matcher, "suggest", lambda self, keyword: f"not {keyword}")
    with topics.begin() as session:
        reply = replies.subscribe(session, ME, "pruning, GNN, zeppelins, -survey", NOW)
    assert reply.split("\n")[2:] == [
        "Matches among the 6 stored papers now:",
        "• pruning: 3 papers",
        "• GNN: 1 paper",
        "• zeppelins: no paper yet; did you mean “not zeppelins”?",
        "• -survey: 1 paper left out",
        "Next digest: tomorrow at 08:00 (UTC).",
        "Try /latest now, or /digest for your first digest; /time sets when it comes.",
    ]
    # The candidates given are the ones counted in (the bot passes its cached ones).
    with topics.begin() as session:
        known = service.candidates(session)
        queries.store_papers(session, [Paper("Sparse MoE Again", "More MoE layers.")], NOW)
        assert "• MoE: 1 paper" in replies.subscribe(session, ME, "MoE", NOW, known)
        assert "• MoE: 2 papers" in replies.subscribe(session, GROUP, "MoE", NOW)


def test_the_reply_says_when_the_next_digest_comes(topics: sessionmaker[Session]) -> None:
    with topics.begin() as session:
        replies.set_timezone(session, ME, "Europe/Berlin", NOW)
        # 08:00 UTC is 09:00 in Berlin: today's 08:00 has passed.
        assert "Next digest: tomorrow at 08:00 (Europe/Berlin)." in replies.subscribe(
            session, ME, "pruning", NOW
        )
        replies.set_time(session, ME, "21:30", NOW)
        assert "Next digest: today at 21:30 (Europe/Berlin)." in replies.subscribe(
            session, ME, "GNN", NOW
        )
        # Once scheduled, the stored time is the one said.
        assert service.due_chats(session, NOW) == []
        row = subscriptions.find(session, ME.id)
        assert row is not None
        row.next_digest_at = datetime(2026, 11, 27, 20, 30, tzinfo=UTC)
        assert "Next digest: Fri 27 Nov at 21:30 (Europe/Berlin)." in replies.subscribe(
            session, ME, "MoE", NOW
        )
        replies.set_paused(session, ME, True, NOW)
        assert "Digests are paused: /resume" in replies.subscribe(session, ME, "diffusion", NOW)
        # Nothing added, nothing announced.
        assert "Next digest" not in replies.subscribe(session, ME, "pruning", NOW)


def test_no_papers_stored_yet(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        reply = replies.subscribe(session, ME, "GNN pruning diffusion", NOW)
    # Nothing to judge it by: kept as typed, and the reply says why nothing matches.
    assert reply.startswith("Subscribed to: GNN pruning diffusion\n")
    assert "No papers are stored yet" in reply


def test_import_cleans_and_refuses_but_never_questions(topics: sessionmaker[Session]) -> None:
    document = json.dumps(
        {
            "format": service.EXPORT_FORMAT,
            "keywords": ["pruning.", "a", "GNN pruning diffusion", "-survey", "GNN, MoE"],
            "time": "06:15",
        }
    )
    with topics.begin() as session:
        reply = replies.import_document(session, ME, document, NOW)
        # Each entry was one keyword when exported: the words of one are a phrase.
        assert _stored(session) == ["-survey", "GNN", "GNN pruning diffusion", "MoE", "pruning"]
    assert "Subscribed to: pruning, GNN pruning diffusion, GNN, MoE" in reply
    assert "Excluding: survey" in reply
    assert "“a” was not added: a single letter matches almost every paper." in reply
    assert "looks like" not in reply
    # The keywords come after the imported settings, so the next digest is on them.
    assert reply.endswith("Next digest: tomorrow at 06:15 (UTC).")


def test_hostile_keyword_replies_fit_one_message(topics: sessionmaker[Session]) -> None:
    with topics.begin() as session:
        ampersands = ", ".join(f"{i:02d}" + "&" * 90 for i in range(45))
        reply = replies.subscribe(session, ME, ampersands, NOW)
        refused = replies.subscribe(session, GROUP, ", ".join("&<>" * 30 for _ in range(45)), NOW)
        runs = ["GNN pruning", "GNN diffusion", "MoE diffusion", "GNN MoE", "diffusion MoE"]
        questioned = replies.subscribe(session, GROUP, ", ".join(runs * 10), NOW)
    for text in (reply, refused, questioned):
        assert len(text) < render.REPLY_LIMIT
        assert "<b" not in text.replace("<b>", "")  # only our own tags
    # The listing that does not fit is left out; what follows it still comes.
    assert reply.startswith("…\nMatches among the 6 stored papers now:\n")
    assert reply.endswith(
        "Next digest: tomorrow at 08:00 (UTC).\n"
        "Try /latest now, or /digest for your first digest; /time sets when it comes."
    )
    # Each question once, and the first three in full.
    assert questioned.count("looks like 2 keywords") == 3
    assert questioned.endswith("… and 2 more like these, not added.")


@pytest.mark.parametrize(
    ("text", "wanted"),
    [
        (
            "- pruning\n- quantization\n- graph neural networks",
            ["pruning", "quantization", "graph neural networks"],
        ),
        ("• GNN\n• MoE", ["GNN", "MoE"]),
        ("1. LoRA\n2) ViT", ["LoRA", "ViT"]),
        ("GNN -survey", ["GNN", "-survey"]),
        (
            "fine-tuning, self-supervised learning —survey",
            ["fine-tuning", "self-supervised learning", "—survey"],
        ),
        ("-survey", ["-survey"]),
    ],
)
def test_pasted_lists_and_trailing_exclusions_are_split(text: str, wanted: list[str]) -> None:
    assert service.split_keywords(text) == wanted


class _Unread:
    """Stands in for the papers' matcher where it must not be consulted."""

    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"the matcher was asked for {name}")


def test_a_keyword_too_long_is_refused_before_it_is_read(
    sessions: sessionmaker[Session],
) -> None:
    # Questioning a keyword against the papers costs with its length (a second for 4,000
    # characters): one too long to keep is refused without.
    with sessions.begin() as session:
        known = service.candidates(session)
        unread = service.Candidates(known.newest_id, [], cast(Matcher, _Unread()))
        long = " ".join(f"word{n}" for n in range(600))
        reply = replies.subscribe(session, ME, long, NOW, unread)
    assert reply.startswith("A keyword can be at most 100 characters; “word0 word1")
