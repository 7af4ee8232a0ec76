"""analysed search: index the words as bot/analysis.py reads them, in exact and family form

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30

Until now the databases stemmed words themselves (Porter), which merged words of different
meaning and disagreed with digests. Now each paper's words are analysed in Python, once,
into four texts of keys (papers_fts_terms): the title's and the abstract's exact forms and
word families. The full-text indexes read those texts, so search ranks exact matches above
family matches, and finds what a keyword's digest finds. search_families counts the papers
of each word family, to tell a typo from a rare form of a common word.
"""

import importlib.util
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import sqlalchemy as sa
from alembic import op

from storage.search_index import TERMS_TABLE, indexed, terms_row, upsert_terms

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RECENT = 50_000
OPTIMIZE_EVERY = 10_000
COLUMNS = "title_exact, abstract_exact, title_family, abstract_family"
# The keys are already folded words of letters and digits: the tokenizer only splits them.
INDEX_OPTIONS = (
    f"{COLUMNS}, content='{TERMS_TABLE}', content_rowid='id', "
    "tokenize='unicode61 remove_diacritics 0'"
)
# Titles alone too: the title tiers of a query of common words would otherwise walk the
# posting lists of those words through every abstract (see storage/search.py).
TITLES = "title_exact, title_family"
TITLE_OPTIONS = (
    f"{TITLES}, content='{TERMS_TABLE}', content_rowid='id', "
    "tokenize='unicode61 remove_diacritics 0'"
)
NEW_TITLES = "new.id, new.title_exact, new.title_family"
OLD_TITLES = "old.id, old.title_exact, old.title_family"
NEW = "new.id, new.title_exact, new.abstract_exact, new.title_family, new.abstract_family"
OLD = "old.id, old.title_exact, old.abstract_exact, old.title_family, old.abstract_family"
IN_RECENT = "EXISTS (SELECT 1 FROM papers_fts_recent_docsize WHERE id = {}.id)"

TERMS_DDL = f"""CREATE TABLE {TERMS_TABLE} (
    id INTEGER PRIMARY KEY REFERENCES papers (id) ON DELETE CASCADE,
    title_exact TEXT NOT NULL,
    abstract_exact TEXT NOT NULL,
    title_family TEXT NOT NULL,
    abstract_family TEXT NOT NULL
)"""

# As in migration 0002, over the analysed texts: every paper in papers_fts, the newest
# RECENT in papers_fts_recent (see storage/search.py for why), and every title in
# papers_fts_titles.
SQLITE_DDL = (
    "DROP TRIGGER papers_fts_insert",
    "DROP TRIGGER papers_fts_delete",
    "DROP TRIGGER papers_fts_update",
    "DROP TABLE papers_fts_recent",
    "DROP TABLE papers_fts",
    TERMS_DDL,
    f"CREATE VIRTUAL TABLE papers_fts USING fts5({INDEX_OPTIONS})",
    f"CREATE VIRTUAL TABLE papers_fts_recent USING fts5({INDEX_OPTIONS})",
    f"CREATE VIRTUAL TABLE papers_fts_titles USING fts5({TITLE_OPTIONS})",
    f"""CREATE TRIGGER papers_fts_insert AFTER INSERT ON {TERMS_TABLE} BEGIN
        INSERT INTO papers_fts(rowid, {COLUMNS}) VALUES ({NEW});
        INSERT INTO papers_fts_titles(rowid, {TITLES}) VALUES ({NEW_TITLES});
        INSERT INTO papers_fts_recent(rowid, {COLUMNS}) SELECT {NEW}
            WHERE NOT EXISTS (SELECT 1 FROM papers_fts_recent_docsize WHERE id > new.id);
        INSERT INTO papers_fts_recent(papers_fts_recent, rowid, {COLUMNS})
            SELECT 'delete', id, {COLUMNS} FROM {TERMS_TABLE} WHERE id IN (
                SELECT id FROM papers_fts_recent_docsize WHERE id <= new.id - {RECENT});
        INSERT INTO papers_fts_recent(papers_fts_recent)
            SELECT 'optimize' WHERE new.id % {OPTIMIZE_EVERY} = 0;
    END""",
    f"""CREATE TRIGGER papers_fts_delete AFTER DELETE ON {TERMS_TABLE} BEGIN
        INSERT INTO papers_fts(papers_fts, rowid, {COLUMNS}) VALUES ('delete', {OLD});
        INSERT INTO papers_fts_titles(papers_fts_titles, rowid, {TITLES})
            VALUES ('delete', {OLD_TITLES});
        INSERT INTO papers_fts_recent(papers_fts_recent, rowid, {COLUMNS})
            SELECT 'delete', {OLD} WHERE {IN_RECENT.format("old")};
    END""",
    f"""CREATE TRIGGER papers_fts_update AFTER UPDATE ON {TERMS_TABLE} BEGIN
        INSERT INTO papers_fts(papers_fts, rowid, {COLUMNS}) VALUES ('delete', {OLD});
        INSERT INTO papers_fts(rowid, {COLUMNS}) VALUES ({NEW});
        INSERT INTO papers_fts_titles(papers_fts_titles, rowid, {TITLES})
            VALUES ('delete', {OLD_TITLES});
        INSERT INTO papers_fts_titles(rowid, {TITLES}) VALUES ({NEW_TITLES});
        INSERT INTO papers_fts_recent(papers_fts_recent, rowid, {COLUMNS})
            SELECT 'delete', {OLD} WHERE {IN_RECENT.format("old")};
        -- Back in if it is among the newest RECENT (as the insert trigger keeps them), even
        -- if it was the oldest there, whose removal just moved the index's minimum.
        INSERT INTO papers_fts_recent(rowid, {COLUMNS}) SELECT {NEW}
            WHERE new.id > (SELECT max(id) FROM {TERMS_TABLE}) - {RECENT};
    END""",
)

# PostgreSQL: one tsvector per paper from the four texts, weighted A (title, exact),
# B (abstract, exact), C (title, family) and D (abstract, family), with the 'simple'
# configuration: the words are keys already, nothing to stem or stop. A placeholder between
# the parts, then removed, keeps a phrase from running on from one part into the next.
POSTGRES_DDL = (
    "DROP TRIGGER papers_fts_sync ON papers",
    "DROP FUNCTION papers_fts_sync()",
    "DELETE FROM papers_fts",
    "DROP FUNCTION papers_fts_document(text, text)",
    TERMS_DDL,
    f"""CREATE FUNCTION papers_fts_document(t {TERMS_TABLE}) RETURNS tsvector
        LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
        SELECT ts_delete(
            setweight(to_tsvector('simple', t.title_exact), 'A') || '-\\:1'::tsvector
            || setweight(to_tsvector('simple', t.abstract_exact), 'B') || '-\\:1'::tsvector
            || setweight(to_tsvector('simple', t.title_family), 'C') || '-\\:1'::tsvector
            || setweight(to_tsvector('simple', t.abstract_family), 'D'),
            '-')
    $$""",
    f"""CREATE FUNCTION papers_fts_sync() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO papers_fts (id, document) VALUES (NEW.id, papers_fts_document(NEW))
            ON CONFLICT (id) DO UPDATE SET document = EXCLUDED.document;
        RETURN NULL;
    END
    $$""",
    f"""CREATE TRIGGER papers_fts_sync AFTER INSERT OR UPDATE ON {TERMS_TABLE}
        FOR EACH ROW EXECUTE FUNCTION papers_fts_sync()""",
)


# What Indexed holds -> the table that counts it, and its key columns.
TABLES = {
    "words": ("search_words", "word"),
    "families": ("search_families", "family"),
    "definitions": ("search_acronyms", "acronym", "long_form"),
}


def _backfill(bind: sa.Connection) -> None:
    """Analyse the papers stored before this migration, and count their words (the
    vocabulary now holds words of three letters too), word families and acronyms."""
    counts: dict[str, Counter[Any]] = {name: Counter() for name in TABLES}
    rows = bind.execute(sa.text("SELECT id, title, abstract FROM papers ORDER BY id")).all()
    batch = 2_000
    for start in range(0, len(rows), batch):
        chunk = [(row[0], row[1], row[2]) for row in rows[start : start + batch]]
        upsert_terms(bind, [terms_row(*paper) for paper in chunk])
        for _, title, abstract in chunk:
            found = indexed(title, abstract)
            for name, counter in counts.items():
                counter.update(found.counted(name))
    op.execute("DELETE FROM search_words")
    for name, counter in counts.items():
        table_name, *keys = TABLES[name]
        table = sa.table(table_name, *map(sa.column, keys), sa.column("papers"))
        values = [
            {**dict(zip(keys, key if isinstance(key, tuple) else (key,), strict=True)), "papers": n}
            for key, n in counter.items()
        ]
        if values:
            op.bulk_insert(table, values)


def upgrade() -> None:
    op.create_table(
        "search_acronyms",
        sa.Column("acronym", sa.Text(), nullable=False),
        sa.Column("long_form", sa.Text(), nullable=False),
        sa.Column("papers", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("acronym", "long_form", name=op.f("pk_search_acronyms")),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_search_acronyms_long_form", "search_acronyms", ["long_form"])
    op.create_table(
        "search_families",
        sa.Column("family", sa.Text().with_variant(sa.Text(collation="C"), "postgresql")),
        sa.Column("papers", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("family", name=op.f("pk_search_families")),
        sqlite_with_rowid=False,
    )
    bind = op.get_bind()
    statements = SQLITE_DDL if bind.dialect.name == "sqlite" else POSTGRES_DDL
    for statement in statements:
        op.execute(sa.text(statement))
    _backfill(bind)


def _previous(name: str) -> ModuleType:
    """An earlier migration's module, for the statements that rebuild its search."""
    path = Path(__file__).with_name(name)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER papers_fts_{trigger}")
        op.execute("DROP TABLE papers_fts_titles")
        op.execute("DROP TABLE papers_fts_recent")
        op.execute("DROP TABLE papers_fts")
        op.execute(f"DROP TABLE {TERMS_TABLE}")
        for statement in _previous("0002_search.py").FTS_DDL[:5]:
            op.execute(statement)
        op.execute("INSERT INTO papers_fts(papers_fts) VALUES ('rebuild')")
        op.execute(
            f"""INSERT INTO papers_fts_recent(rowid, title, abstract)
            SELECT id, title, abstract FROM papers
            WHERE id > (SELECT max(id) FROM papers) - {RECENT}"""
        )
    else:
        op.execute(f"DROP TRIGGER papers_fts_sync ON {TERMS_TABLE}")
        op.execute("DROP FUNCTION papers_fts_sync()")
        op.execute(f"DROP FUNCTION papers_fts_document({TERMS_TABLE})")
        op.execute(f"DROP TABLE {TERMS_TABLE}")
        op.execute("DELETE FROM papers_fts")
        previous = _previous("0005_postgres_search.py").POSTGRES_DDL
        wanted = ("CREATE FUNCTION papers_fts_document", "CREATE FUNCTION papers_fts_sync")
        for statement in previous:
            if statement.startswith(wanted) or "CREATE TRIGGER papers_fts_sync" in statement:
                op.execute(sa.text(statement))
        op.execute(
            "INSERT INTO papers_fts (id, document) "
            "SELECT id, papers_fts_document(title, abstract) FROM papers"
        )
    op.drop_table("search_families")
    op.drop_table("search_acronyms")
