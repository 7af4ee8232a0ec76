"""search: the vocabulary table and, on SQLite, FTS5 indexes over titles and abstracts

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from collections import Counter
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.search_index import vocabulary_words

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Both indexes are external content: they store no copy of the text, they read it from
# papers. Porter stems words (networks -> network). papers_fts holds every paper;
# papers_fts_recent only the newest RECENT, so that ranking a common query never has to
# count a word across the whole library (see storage/search.py).
RECENT = 50_000
OPTIMIZE_EVERY = 10_000
INDEX_OPTIONS = (
    "title, abstract, content='papers', content_rowid='id', "
    "tokenize='porter unicode61 remove_diacritics 2'"
)
IN_RECENT = 'EXISTS (SELECT 1 FROM papers_fts_recent_docsize WHERE id = {}.id)'

FTS_DDL = (
    f'CREATE VIRTUAL TABLE papers_fts USING fts5({INDEX_OPTIONS})',
    f'CREATE VIRTUAL TABLE papers_fts_recent USING fts5({INDEX_OPTIONS})',
    f"""CREATE TRIGGER papers_fts_insert AFTER INSERT ON papers BEGIN
        INSERT INTO papers_fts(rowid, title, abstract) VALUES (new.id, new.title, new.abstract);
        -- A new paper is the newest one (ids only grow), and pushes the oldest out.
        INSERT INTO papers_fts_recent(rowid, title, abstract)
            SELECT new.id, new.title, new.abstract
            WHERE NOT EXISTS (SELECT 1 FROM papers_fts_recent_docsize WHERE id > new.id);
        INSERT INTO papers_fts_recent(papers_fts_recent, rowid, title, abstract)
            SELECT 'delete', id, title, abstract FROM papers WHERE id IN (
                SELECT id FROM papers_fts_recent_docsize WHERE id <= new.id - {RECENT});
        -- Deleted entries linger in the index until merged away, and make counting a word
        -- (which ranking does) several times slower: rewrite the index now and then.
        INSERT INTO papers_fts_recent(papers_fts_recent)
            SELECT 'optimize' WHERE new.id % {OPTIMIZE_EVERY} = 0;
    END""",
    f"""CREATE TRIGGER papers_fts_delete AFTER DELETE ON papers BEGIN
        INSERT INTO papers_fts(papers_fts, rowid, title, abstract)
            VALUES ('delete', old.id, old.title, old.abstract);
        INSERT INTO papers_fts_recent(papers_fts_recent, rowid, title, abstract)
            SELECT 'delete', old.id, old.title, old.abstract WHERE {IN_RECENT.format('old')};
    END""",
    # Only a changed title or abstract reindexes a paper, not new upvotes or links. If the
    # paper was the oldest of the recent index it leaves it (the recent index must hold
    # every paper from its oldest on): one paper fewer there, which is harmless.
    f"""CREATE TRIGGER papers_fts_update AFTER UPDATE OF title, abstract ON papers BEGIN
        INSERT INTO papers_fts(papers_fts, rowid, title, abstract)
            VALUES ('delete', old.id, old.title, old.abstract);
        INSERT INTO papers_fts(rowid, title, abstract) VALUES (new.id, new.title, new.abstract);
        INSERT INTO papers_fts_recent(papers_fts_recent, rowid, title, abstract)
            SELECT 'delete', old.id, old.title, old.abstract WHERE {IN_RECENT.format('old')};
        INSERT INTO papers_fts_recent(rowid, title, abstract)
            SELECT new.id, new.title, new.abstract
            WHERE new.id > (SELECT min(id) FROM papers_fts_recent_docsize);
    END""",
    # Index the papers stored before this migration.
    "INSERT INTO papers_fts(papers_fts) VALUES ('rebuild')",
    f"""INSERT INTO papers_fts_recent(rowid, title, abstract)
        SELECT id, title, abstract FROM papers
        WHERE id > (SELECT max(id) FROM papers) - {RECENT}""",
)


def upgrade() -> None:
    search_words = op.create_table('search_words',
    sa.Column('word', sa.Text(), nullable=False),
    sa.Column('papers', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('word', name=op.f('pk_search_words')),
    sqlite_with_rowid=False
    )
    with op.batch_alter_table('search_words', schema=None) as batch_op:
        batch_op.create_index('ix_search_words_common', ['word'], unique=False, sqlite_where=sa.text('papers >= 2'), postgresql_where=sa.text('papers >= 2'))

    bind = op.get_bind()
    counts: Counter[str] = Counter()
    for title, abstract in bind.execute(sa.text('SELECT title, abstract FROM papers')):
        counts.update(vocabulary_words(title, abstract))
    if counts:
        op.bulk_insert(search_words, [{'word': w, 'papers': n} for w, n in counts.items()])
    # PostgreSQL will get a tsvector column and a GIN index; until then only SQLite searches.
    if bind.dialect.name == 'sqlite':
        for statement in FTS_DDL:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        for trigger in ('insert', 'delete', 'update'):
            op.execute(f'DROP TRIGGER papers_fts_{trigger}')
        op.execute('DROP TABLE papers_fts_recent')
        op.execute('DROP TABLE papers_fts')
    op.drop_table('search_words')
