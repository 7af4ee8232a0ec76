"""postgres search: a tsvector per paper with a GIN index, kept by a trigger (PostgreSQL only)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Everything is named papers_fts*, like SQLite's FTS5 index: migrations/env.py leaves tables
# of that name out of autogenerate, which is why the tsvector lives in a table of its own
# rather than in a column of papers (looking for matches then never reads the papers' other
# columns either). No extension is needed (unaccent and pg_trgm would need a superuser to
# install), only what every PostgreSQL database has. storage/search.py reads all of this.

# Diacritics are combining marks once NFKD has split them off ("é" -> "e" + U+0301). These
# are the blocks of marks used by Latin, Greek and Cyrillic text.
MARKS = r"[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]"
# What separates words for storage/words.py: ASCII punctuation and controls, and the common
# non-ASCII punctuation and symbols. PostgreSQL's parser would otherwise keep some ASCII ones
# inside tokens (URLs, "0.5", "graph-based"), and, in a database with the C locale, take every
# non-ASCII character for a letter (“quoted” would be one word, quotes included). Written
# with escapes only: no quote, colon or percent sign for a SQL layer to misread.
SEPARATORS = (
    r"[\x01-\x1f\x21-\x2f\x3a-\x40\x5b-\x60\x7b-\x7f\u00a0-\u00bf\u00d7\u00f7"
    r"\u2000-\u206f\u2190-\u23ff\u25a0-\u27bf\u2e00-\u2e7f\u3000-\u3003\u3008-\u3011"
    r"\u3014-\u301f]"
)

POSTGRES_DDL = (
    # The Porter stemmer, as FTS5's tokenizer (networks -> network; "english" is Porter's
    # later variant, which stems some words differently), and like FTS5 no stop words: a
    # query for "the", or for the phrase "graph of the", must find what it says.
    "CREATE TEXT SEARCH DICTIONARY papers_fts_stem (TEMPLATE = snowball, Language = porter)",
    "CREATE TEXT SEARCH CONFIGURATION papers_fts (COPY = english)",
    "ALTER TEXT SEARCH CONFIGURATION papers_fts "
    "ALTER MAPPING REPLACE english_stem WITH papers_fts_stem",
    # Text without diacritics, as storage/words.py folds the query words (NFKD, marks
    # removed). ASCII text, most abstracts, is returned as it is without the regex. Also what
    # snippets are cut from, so that every word that matched can be marked.
    f"""CREATE FUNCTION papers_fts_fold(value text) RETURNS text
        LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
        SELECT CASE WHEN octet_length(value) = char_length(value) THEN value
            ELSE regexp_replace(normalize(value, NFKD), '{MARKS}', '', 'g') END
    $$""",
    # The folded text with only letters, digits and spaces left: the words of
    # storage.words.words, for the parser to find and stem. Queries go through it too.
    f"""CREATE FUNCTION papers_fts_words(value text) RETURNS text
        LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
        SELECT regexp_replace(papers_fts_fold(value), '{SEPARATORS}', ' ', 'g')
    $$""",
    # Title words weigh A, abstract words B (ranking weighs A over B). Concatenation numbers
    # the abstract's words on from the title's last one; a placeholder word in between, then
    # removed, leaves a gap there, so that a phrase cannot run on from the title into the
    # abstract (FTS5 phrases stay within a column). "-" is never a word of papers_fts_words.
    # ("\\:" keeps op.execute's text() from reading ":1" as a bound parameter.)
    """CREATE FUNCTION papers_fts_document(title text, abstract text) RETURNS tsvector
        LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
        SELECT ts_delete(
            setweight(to_tsvector('papers_fts', papers_fts_words(title)), 'A')
            || '-\\:1'::tsvector
            || setweight(to_tsvector('papers_fts', papers_fts_words(abstract)), 'B'),
            '-')
    $$""",
    """CREATE TABLE papers_fts (
        id integer PRIMARY KEY REFERENCES papers (id) ON DELETE CASCADE,
        document tsvector NOT NULL
    )""",
    # What the GIN index lists papers by: the words (stems) of the tsvector, and its pairs of
    # adjacent words as "stem stem" (a space is in no word). The index of a tsvector itself
    # has no positions: for a phrase it would list the papers with all its words, and each
    # one would have to be read to see whether they are adjacent, most in vain for a rare
    # phrase of common words; pairs find the papers with the phrase. Every key is exact, so
    # the index is never rechecked against the papers. The COST tells the planner what the
    # function costs per paper: it must not choose to compute it instead of reading the index.
    """CREATE FUNCTION papers_fts_keys(document tsvector) RETURNS text[]
        LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE COST 10000 AS $$
        WITH words AS (
            SELECT w.lexeme, p.position
            FROM unnest(document) AS w, unnest(w.positions) AS p(position)
        )
        SELECT tsvector_to_array(document)
            || coalesce(array_agg(DISTINCT a.lexeme || ' ' || b.lexeme), '{}')
        FROM words AS a JOIN words AS b ON b.position = a.position + 1
    $$""",
    "CREATE INDEX papers_fts_keys ON papers_fts USING gin (papers_fts_keys(document))",
    # A deleted paper's row goes with it (ON DELETE CASCADE). Only a new paper, or a changed
    # title or abstract, is (re)indexed, not new upvotes or links. Compared here rather than
    # in the trigger's definition (UPDATE OF, WHEN), which would keep later migrations from
    # altering those columns.
    """CREATE FUNCTION papers_fts_sync() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'UPDATE' AND NEW.title IS NOT DISTINCT FROM OLD.title
                AND NEW.abstract IS NOT DISTINCT FROM OLD.abstract THEN
            RETURN NULL;
        END IF;
        INSERT INTO papers_fts (id, document)
            VALUES (NEW.id, papers_fts_document(NEW.title, NEW.abstract))
            ON CONFLICT (id) DO UPDATE SET document = EXCLUDED.document;
        RETURN NULL;
    END
    $$""",
    """CREATE TRIGGER papers_fts_sync AFTER INSERT OR UPDATE ON papers
        FOR EACH ROW EXECUTE FUNCTION papers_fts_sync()""",
    # Index the papers stored before this migration.
    """INSERT INTO papers_fts (id, document)
        SELECT id, papers_fts_document(title, abstract) FROM papers""",
    # The vocabulary looks words up by prefix as a key range: [prefix, prefix + U+10FFFF).
    # That needs words to compare by code point, as SQLite compares them; most collations
    # (en_US...) compare otherwise, and with them the range would hold the prefix alone.
    'ALTER TABLE search_words ALTER COLUMN word TYPE text COLLATE "C"',
)

DROP_DDL = (
    'ALTER TABLE search_words ALTER COLUMN word TYPE text COLLATE "default"',
    "DROP TRIGGER papers_fts_sync ON papers",
    "DROP FUNCTION papers_fts_sync()",
    "DROP TABLE papers_fts",
    "DROP FUNCTION papers_fts_keys(tsvector)",
    "DROP FUNCTION papers_fts_document(text, text)",
    "DROP FUNCTION papers_fts_words(text)",
    "DROP FUNCTION papers_fts_fold(text)",
    "DROP TEXT SEARCH CONFIGURATION papers_fts",
    "DROP TEXT SEARCH DICTIONARY papers_fts_stem",
)


def upgrade() -> None:
    # SQLite searches with the FTS5 indexes of migration 0002.
    if op.get_bind().dialect.name == "postgresql":
        for statement in POSTGRES_DDL:
            op.execute(sa.text(statement))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in DROP_DDL:
            op.execute(sa.text(statement))
