"""postgres recent: an index of the newest papers, and one of titles (PostgreSQL only)

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30

PostgreSQL search grew with the library: a GIN index lists the matches of a word in no
useful order, so the newest matches of a common word meant reading all of them. As SQLite
does (migration 0006), the newest RECENT papers now have an index of their own, so that a
common query reads at most those, and titles have one, so that a title tier is looked for
through the whole library without reading every paper with its words in the abstract.
The newest papers are listed by keys that also say which part of the paper they are in
(the tsvector's weight), so that the index alone finds a tier's matches there, with no
tsvector to read to check them. storage/search.py reads all of this.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RECENT = 50_000

POSTGRES_DDL = (
    # Each word of a tsvector as "W word", and each pair of adjacent words as
    # "W word word", W the weight of their part (migration 0006: A title exact, B abstract
    # exact, C title family, D abstract family; a space is in no word). Adjacent positions
    # are in one part: the parts are kept apart. Every key is exact, as those of migration
    # 0005; duplicates are left in, the index keeps one of each.
    """CREATE FUNCTION papers_fts_part_keys(document tsvector) RETURNS text[]
        LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE COST 10000 AS $$
        SELECT array_agg(k) FROM (
            SELECT weight || ' ' || lexeme AS word,
                weight || ' ' || lexeme || ' ' || lead(lexeme) OVER (ORDER BY position) AS pair,
                lead(position) OVER (ORDER BY position) = position + 1 AS adjacent
            FROM unnest(document) AS w, unnest(w.positions, w.weights) AS p(position, weight)
        ) AS s, LATERAL (VALUES (word), (CASE WHEN adjacent THEN pair END)) AS v(k)
        WHERE k IS NOT NULL
    $$""",
    # The newest papers' keys. Kilobytes each, they are stored out of line (TOAST): the
    # table itself is a few pages of ids, so listing thousands of matches reads only those.
    """CREATE TABLE papers_fts_recent (
        id integer PRIMARY KEY REFERENCES papers_fts (id) ON DELETE CASCADE,
        keys text[] NOT NULL
    )""",
    # The index lists the keys through this function, costed as reading them is: without
    # it the planner would read every row's keys for a common one instead of the index.
    """CREATE FUNCTION papers_fts_listed(keys text[]) RETURNS text[]
        LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE COST 10000 AS $$
        BEGIN
            RETURN keys;
        END
    $$""",
    # The newest papers stored before this migration (before their index: building it once
    # is quicker than adding them one by one).
    f"""INSERT INTO papers_fts_recent (id, keys)
        SELECT id, papers_fts_part_keys(document) FROM papers_fts
        WHERE id > (SELECT max(id) FROM papers_fts) - {RECENT}""",
    "CREATE INDEX papers_fts_recent_keys ON papers_fts_recent "
    "USING gin (papers_fts_listed(keys))",
    # A new paper goes in and the one RECENT papers older goes out, as in SQLite; a changed
    # paper among the newest is listed again. (A deleted one goes with its papers_fts row.)
    f"""CREATE FUNCTION papers_fts_recent_sync() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF NEW.id > (SELECT coalesce(max(id), 0) FROM papers_fts_recent) - {RECENT} THEN
            INSERT INTO papers_fts_recent (id, keys)
                VALUES (NEW.id, papers_fts_part_keys(NEW.document))
                ON CONFLICT (id) DO UPDATE SET keys = EXCLUDED.keys;
            DELETE FROM papers_fts_recent WHERE id <= NEW.id - {RECENT};
        END IF;
        RETURN NULL;
    END
    $$""",
    """CREATE TRIGGER papers_fts_recent_sync AFTER INSERT OR UPDATE ON papers_fts
        FOR EACH ROW EXECUTE FUNCTION papers_fts_recent_sync()""",
    # The titles' keys (migration 0005's, of the title's exact words alone).
    "CREATE INDEX papers_fts_title_keys ON papers_fts "
    "USING gin (papers_fts_keys(ts_filter(document, '{a}')))",
)

DROP_DDL = (
    "DROP INDEX papers_fts_title_keys",
    "DROP TRIGGER papers_fts_recent_sync ON papers_fts",
    "DROP FUNCTION papers_fts_recent_sync()",
    "DROP TABLE papers_fts_recent",
    "DROP FUNCTION papers_fts_listed(text[])",
    "DROP FUNCTION papers_fts_part_keys(tsvector)",
)


def upgrade() -> None:
    # SQLite has its index of the newest papers since migration 0006.
    if op.get_bind().dialect.name == "postgresql":
        for statement in POSTGRES_DDL:
            op.execute(sa.text(statement))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in DROP_DDL:
            op.execute(sa.text(statement))
