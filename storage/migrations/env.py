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
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # Batch mode rebuilds a table by dropping the old one; with foreign keys on, that
        # drop would cascade and delete every keyword and delivery of the rebuilt table's
        # rows. The pragma only takes effect outside a transaction, hence before it.
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        # SQLAlchemy began a transaction of its own for that statement; end it, or the
        # migrations would run inside it and be rolled back with it.
        connection.commit()
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # SQLite cannot ALTER most things in place; batch mode copies the table instead.
        render_as_batch=sqlite,
        compare_type=True,
        include_name=include_name,
    )
    with context.begin_transaction():
        context.run_migrations()
    if sqlite:
        connection.exec_driver_sql("PRAGMA foreign_keys=ON")
        connection.commit()
