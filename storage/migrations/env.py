"""Alembic environment: runs migrations on the engine that storage.db hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from storage.models import Base
from storage.search import is_fts_table

engine = context.config.attributes["engine"]
assert isinstance(engine, Engine)


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    # The FTS5 indexes (virtual tables and their shadow tables) are made by raw SQL in a
    # migration and are not in the models; autogenerate must not offer to drop them.
    return not (type_ == "table" and name is not None and is_fts_table(name))


with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # SQLite cannot ALTER most things in place; batch mode copies the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_name=include_name,
    )
    with context.begin_transaction():
        context.run_migrations()
