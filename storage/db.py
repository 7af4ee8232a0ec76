"""Engines, sessions and schema upgrades."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from storage.revision import MIGRATIONS, newest_revision

if TYPE_CHECKING:
    from alembic.config import Config

# Alembic is imported where it is used: loading it and the migrations costs more CPU than
# most commands take to run, and a schema already at the newest revision needs neither.


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the bot read while an ingest writes; foreign keys are off by default in SQLite.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def database_url(url: str) -> URL:
    """The URL as SQLAlchemy should read it: postgresql:// (and postgres://) as written by
    operators means psycopg 3, the driver paperboy installs."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL (None for another database or an in-memory one)."""
    parsed = database_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database).expanduser().absolute()


def describe(engine: Engine) -> str:
    """The database for people: a SQLite file's full path, else the URL without password."""
    if engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
        return str(Path(engine.url.database).expanduser().absolute())
    return engine.url.render_as_string(hide_password=True)


def ping(connection: Connection | Engine) -> None:
    """Raise unless the database answers."""
    if isinstance(connection, Engine):
        with connection.connect() as fresh:
            fresh.execute(text("SELECT 1"))
    else:
        connection.execute(text("SELECT 1"))


def make_engine(url: str) -> Engine:
    """An engine for a database URL; SQLite files get their folder created and their pragmas."""
    parsed = database_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(parsed, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(parsed)
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def make_sessions(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    # Alembic's default is the sys.stdout of the time it was first imported, which is not
    # always the one in use now (imported lazily, under a redirected or captured stdout).
    config = Config(stdout=sys.stdout)
    config.set_main_option("script_location", str(MIGRATIONS))
    # env.py reuses this engine instead of building one from a URL, so the password-bearing
    # URL never passes through Alembic's configparser interpolation.
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest revision; a no-op when it is already there."""
    if _stored_revision(engine) == newest_revision():
        return
    from alembic import command

    command.upgrade(alembic_config(engine), "head")


def _stored_revision(engine: Engine) -> str | None:
    """The revision alembic_version records; None before the first migration. A database
    that cannot be reached raises, as it would in Alembic."""
    with engine.connect() as connection:
        try:
            stored: str | None = connection.scalar(text("SELECT version_num FROM alembic_version"))
        except DBAPIError:  # no such table yet
            return None
        return stored


def head_revision() -> str | None:
    """The newest revision this version of paperboy knows."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(MIGRATIONS)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
