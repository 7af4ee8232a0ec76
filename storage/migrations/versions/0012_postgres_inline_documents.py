"""postgres inline documents: each paper's tsvector kept in its row (PostgreSQL only)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01

Ranking a tier reads the tsvector of each of its newest matches (up to 2,000). A tsvector
is 2-4 KB, over the 2 KB from which PostgreSQL moves a value out of its row (TOAST; these
do not compress, so they are stored whole in the TOAST table): each one read then cost a
lookup in the TOAST table's index and two more pages, about three times the reading of
the row itself (measured on the million-paper library of bench.search: 2,000 tsvectors in
7-8 ms out of line, 2-3 ms in their rows). With a tuple target of a full page, a tsvector
stays in its row unless the row would not fit in a page. Nothing else changes: the same
rows, the same indexes. storage/search.py reads all of this.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The largest tuple target PostgreSQL allows (TOAST_TUPLE_TARGET_MAIN, a page less its
# header): rows up to it are kept whole.
INLINE = 8160


def upgrade() -> None:
    # SQLite's FTS5 indexes keep their own documents (migration 0002).
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(sa.text(f"ALTER TABLE papers_fts SET (toast_tuple_target = {INLINE})"))
    # The papers indexed before this migration: the table is written again (CLUSTER moves
    # each value back into its row under the new target, and rebuilds the indexes, in time
    # proportional to the library), without leaving the table marked as clustered.
    op.execute(sa.text("CLUSTER papers_fts USING papers_fts_pkey"))
    op.execute(sa.text("ALTER TABLE papers_fts SET WITHOUT CLUSTER"))


def downgrade() -> None:
    # The rows stay as they are (a tsvector in its row reads the same); new ones go out of
    # line again.
    if op.get_bind().dialect.name == "postgresql":
        op.execute(sa.text("ALTER TABLE papers_fts RESET (toast_tuple_target)"))
