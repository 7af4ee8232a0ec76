"""profiles: rankers stored packed (bot/ranker.py, format 2) are dropped on a downgrade

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Model.to_json writes the format first; older rankers have no format key.
_PACKED = """DELETE FROM profiles WHERE model LIKE '{"format": 2,%'"""


def upgrade() -> None:
    # Nothing to change: rankers stored before are read as they are, and packed when next
    # fitted.
    pass


def downgrade() -> None:
    # The code before this revision cannot read packed rankers; they are derived data, fitted
    # again from the chats' feedback when next needed.
    op.execute(_PACKED)
