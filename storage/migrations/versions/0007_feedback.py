"""feedback: ratings, saved papers, imported libraries, fitted profiles, /recommend

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _per_chat_paper(name: str, *columns: sa.Column[Any] | sa.UniqueConstraint, paper_delete: str = "CASCADE") -> None:
    op.create_table(
        name,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("paper_id", sa.Integer(), nullable=paper_delete != "CASCADE"),
        *columns,
        sa.ForeignKeyConstraint(
            ["paper_id"],
            ["papers.id"],
            name=op.f(f"fk_{name}_paper_id_papers"),
            ondelete=paper_delete,
        ),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name=op.f(f"fk_{name}_subscriber_id_subscribers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{name}")),
    )
    op.create_index(op.f(f"ix_{name}_paper_id"), name, ["paper_id"], unique=False)


def upgrade() -> None:
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("recommend", sa.Boolean(), server_default=sa.true(), nullable=False)
        )
    _per_chat_paper(
        "ratings",
        sa.Column("value", sa.SmallInteger(), nullable=False),
        sa.Column("rated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint(
            "subscriber_id", "paper_id", name=op.f("uq_ratings_subscriber_id_paper_id")
        ),
    )
    _per_chat_paper(
        "saved_papers",
        sa.Column("saved_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint(
            "subscriber_id", "paper_id", name=op.f("uq_saved_papers_subscriber_id_paper_id")
        ),
    )
    _per_chat_paper(
        "library_entries",
        sa.Column("arxiv_id", sa.String(length=64), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("title_key", sa.Text(), nullable=False),
        sa.Column("abstract", sa.Text(), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint(
            "subscriber_id", "title_key", name=op.f("uq_library_entries_subscriber_id_title_key")
        ),
        paper_delete="SET NULL",
    )
    op.create_table(
        "profiles",
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("model", sa.Text(), nullable=False),
        sa.Column("fitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name=op.f("fk_profiles_subscriber_id_subscribers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("subscriber_id", name=op.f("pk_profiles")),
    )


def downgrade() -> None:
    op.drop_table("profiles")
    for name in ("library_entries", "saved_papers", "ratings"):
        op.drop_index(op.f(f"ix_{name}_paper_id"), table_name=name)
        op.drop_table(name)
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.drop_column("recommend")
