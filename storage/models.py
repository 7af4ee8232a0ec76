"""The schema: typed SQLAlchemy models. Migrations in storage/migrations must agree with it."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Text,
    Time,
    TypeDecorator,
    UniqueConstraint,
    false,
    text,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Explicit constraint names keep migrations identical on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Instant(TypeDecorator[datetime]):
    """A moment in time, always given back in UTC: SQLite stores no offset and would return
    naive datetimes, which cannot be compared with the aware ones the code uses."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class PaperRow(Base):
    __tablename__ = "papers"
    __table_args__ = (
        # A paper without an arXiv id is known by its normalised title alone, so at most one
        # such row may carry each title key.
        Index(
            "uq_papers_title_key_no_id",
            "title_key",
            unique=True,
            sqlite_where=text("arxiv_id IS NULL"),
            postgresql_where=text("arxiv_id IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    arxiv_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(Text)
    title_key: Mapped[str] = mapped_column(Text, index=True)
    abstract: Mapped[str] = mapped_column(Text, default="")
    authors: Mapped[list[str]] = mapped_column(JSON, default=list)
    published: Mapped[date | None] = mapped_column(Date)
    featured_on: Mapped[date | None] = mapped_column(Date)
    upvotes: Mapped[int | None] = mapped_column(Integer)
    code_url: Mapped[str | None] = mapped_column(Text)
    project_url: Mapped[str | None] = mapped_column(Text)
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    keywords: Mapped[list[str]] = mapped_column(JSON, default=list)
    first_seen_at: Mapped[datetime] = mapped_column(Instant, index=True)
    updated_at: Mapped[datetime] = mapped_column(Instant)


class SourceRow(Base):
    """A page or feed that was ingested (or tried), keyed by its path or URL."""

    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    location: Mapped[str] = mapped_column(Text, unique=True)
    format: Mapped[str | None] = mapped_column(String(32))
    content_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    date_hint: Mapped[str | None] = mapped_column(String(32))
    papers_parsed: Mapped[int] = mapped_column(Integer, default=0)
    papers_new: Mapped[int] = mapped_column(Integer, default=0)
    papers_known: Mapped[int] = mapped_column(Integer, default=0)
    papers_enriched: Mapped[int] = mapped_column(Integer, default=0)
    last_checked_at: Mapped[datetime | None] = mapped_column(Instant)
    last_ingested_at: Mapped[datetime | None] = mapped_column(Instant)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None] = mapped_column(Instant)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    # Added by an admin (/sources add): ingested on every scheduled run, not only once.
    scheduled: Mapped[bool] = mapped_column(default=False, server_default=false())


class SubscriberRow(Base):
    __tablename__ = "subscribers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    chat_type: Mapped[str] = mapped_column(String(16), default="private")
    # A channel's @username or a group's title, to name it in replies.
    title: Mapped[str | None] = mapped_column(String(255))
    # The forum topic a subscription was made in; its digests go there.
    thread_id: Mapped[int | None] = mapped_column(Integer)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    delivery_time: Mapped[time] = mapped_column(Time, default=time(8, 0))
    # False once Telegram says the chat is gone (blocked, kicked, deleted); /start revives it.
    active: Mapped[bool] = mapped_column(default=True)
    # The subscriber's own choice (/pause, /resume), kept apart from `active`.
    paused: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Send a short "nothing new today" instead of staying silent on empty days.
    notify_empty: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(Instant)
    # The schedule, kept here so a restart or a second process neither resets nor repeats it:
    # the next scheduled digest (None: to be computed from the settings) and the local day
    # of the last one, of which there is at most one per day.
    next_digest_at: Mapped[datetime | None] = mapped_column(Instant, index=True)
    last_digest_on: Mapped[date | None] = mapped_column(Date)
    # The process delivering this chat's digest right now, and until when its claim holds
    # (a claim of a process that died runs out; see storage/schedule.py).
    claimed_by: Mapped[str | None] = mapped_column(String(255))
    claimed_until: Mapped[datetime | None] = mapped_column(Instant)
    # A "Recommended for you" part in the digest, from what the chat liked (/recommend).
    recommend: Mapped[bool] = mapped_column(default=True, server_default=true())
    # Which local days have a digest (/schedule): "daily", "weekdays" or "weekly monday"
    # to "weekly sunday", as bot/schedule.py reads and writes it.
    schedule: Mapped[str] = mapped_column(String(32), default="daily", server_default="daily")

    keywords: Mapped[list[KeywordRow]] = relationship(
        back_populates="subscriber", cascade="all, delete-orphan", passive_deletes=True
    )


class KeywordRow(Base):
    __tablename__ = "keywords"
    __table_args__ = (UniqueConstraint("subscriber_id", "keyword"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    keyword: Mapped[str] = mapped_column(String(100))

    subscriber: Mapped[SubscriberRow] = relationship(back_populates="keywords")


class DeliveryRow(Base):
    """The "seen" record: this paper reached this chat. One per chat and paper."""

    __tablename__ = "deliveries"
    __table_args__ = (UniqueConstraint("subscriber_id", "paper_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    paper_id: Mapped[int] = mapped_column(ForeignKey("papers.id", ondelete="CASCADE"), index=True)
    delivered_at: Mapped[datetime] = mapped_column(Instant)


# A word in at least this many papers is one the vocabulary can suggest.
COMMON_PAPERS = 2


class SearchWordRow(Base):
    """A word of the stored titles and abstracts, and how many papers use it.

    The vocabulary that search corrects misspelt words against. The full-text index holds
    stems ("network" for "networks"), which cannot be shown as a correction; these are the
    surface words (folded by bot/analysis.py).
    """

    __tablename__ = "search_words"
    __table_args__ = (
        # Typo correction and prefix completion look among these only: the words of a single
        # paper are most of a large vocabulary.
        Index(
            "ix_search_words_common",
            "word",
            sqlite_where=text(f"papers >= {COMMON_PAPERS}"),
            postgresql_where=text(f"papers >= {COMMON_PAPERS}"),
        ),
        # Looked up by word and by word range only: a clustered key halves its size on SQLite.
        {"sqlite_with_rowid": False},
    )

    # Byte order on PostgreSQL (migration 0005): prefix ranges over a language collation
    # would find only the prefix itself.
    word: Mapped[str] = mapped_column(
        Text().with_variant(Text(collation="C"), "postgresql"), primary_key=True
    )
    papers: Mapped[int] = mapped_column(Integer)


class LeaseRow(Base):
    """A named lease: the one process allowed to run a job (scheduled digests) until it ends."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(String(255))
    expires_at: Mapped[datetime] = mapped_column(Instant)


class StateRow(Base):
    """Small facts about the running bot that outlive a process: the last ingest, a flood wait."""

    __tablename__ = "bot_state"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(Instant)


class SearchFamilyRow(Base):
    """A word family of the stored titles and abstracts (bot/analysis.py), and how many
    papers use one of its words: a word whose family is common is never taken for a typo."""

    __tablename__ = "search_families"
    __table_args__ = ({"sqlite_with_rowid": False},)

    family: Mapped[str] = mapped_column(
        Text().with_variant(Text(collation="C"), "postgresql"), primary_key=True
    )
    papers: Mapped[int] = mapped_column(Integer)


class SearchAcronymRow(Base):
    """An acronym as the stored papers define it ("graph neural networks (GNNs)"), its long
    form as word families joined by spaces, and how many papers define it so: a search for
    either finds the other, as a digest's keyword does."""

    __tablename__ = "search_acronyms"
    __table_args__ = (
        Index("ix_search_acronyms_long_form", "long_form"),
        {"sqlite_with_rowid": False},
    )

    acronym: Mapped[str] = mapped_column(Text, primary_key=True)
    long_form: Mapped[str] = mapped_column(Text, primary_key=True)
    papers: Mapped[int] = mapped_column(Integer)


class RatingRow(Base):
    """A chat's 👍 (+1) or 👎 (-1) for a paper; in a group it is the group's."""

    __tablename__ = "ratings"
    __table_args__ = (UniqueConstraint("subscriber_id", "paper_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    paper_id: Mapped[int] = mapped_column(ForeignKey("papers.id", ondelete="CASCADE"), index=True)
    value: Mapped[int] = mapped_column(SmallInteger)
    rated_at: Mapped[datetime] = mapped_column(Instant)


class SavedRow(Base):
    """A paper a chat saved (🔖) to read later or to export as BibTeX/RIS."""

    __tablename__ = "saved_papers"
    __table_args__ = (UniqueConstraint("subscriber_id", "paper_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    paper_id: Mapped[int] = mapped_column(ForeignKey("papers.id", ondelete="CASCADE"), index=True)
    saved_at: Mapped[datetime] = mapped_column(Instant)


class LibraryEntryRow(Base):
    """An entry of a library (BibTeX, RIS) a chat imported as its profile: a stored paper
    when one matched, and always its own title and abstract, so an entry that is not in the
    store still says what the reader works on."""

    __tablename__ = "library_entries"
    __table_args__ = (UniqueConstraint("subscriber_id", "title_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    paper_id: Mapped[int | None] = mapped_column(
        ForeignKey("papers.id", ondelete="SET NULL"), index=True
    )
    arxiv_id: Mapped[str | None] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(Text)
    title_key: Mapped[str] = mapped_column(Text)
    abstract: Mapped[str] = mapped_column(Text, default="")
    added_at: Mapped[datetime] = mapped_column(Instant)
    # Its sentence vector (float16 bytes, as paper_vectors), made the first time the chat's
    # ranker learns from it; cleared when its title or abstract changes.
    vector: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)


class ProfileRow(Base):
    """A chat's fitted ranker (bot/ranker.py) as JSON: term weights and the papers it learnt
    from. Deleted whenever the chat's feedback or library changes, refitted when needed."""

    __tablename__ = "profiles"

    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True
    )
    model: Mapped[str] = mapped_column(Text)
    fitted_at: Mapped[datetime] = mapped_column(Instant)


class PaperVectorRow(Base):
    """A paper's sentence vector (bot/embedding.py) as float16 bytes, made the first time the
    recommender needs it: derived data, remade from the paper whenever it is missing."""

    __tablename__ = "paper_vectors"

    paper_id: Mapped[int] = mapped_column(
        ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True
    )
    vector: Mapped[bytes] = mapped_column(LargeBinary)
