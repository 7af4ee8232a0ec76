"""Shared fixtures: the seed pages, and a migrated SQLite database per test."""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, text
from sqlalchemy.orm import Session, sessionmaker

from bot import model_files
from storage import db
from tests.postgres import Cluster
from tests.postgres import available as postgres_unavailable

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
PG_TEMPLATE = "paperboy_template"
_DATABASES = itertools.count(1)
SEEDS = Path(os.environ.get("PAPERBOY_SEEDS", REPO.parent / "shared" / "seeds"))


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """Two workers a core for `-n auto` (pyproject.toml caps them at 4): about half the
    suite's time is tests waiting in real time (real `paperboy` processes killed mid-run,
    rate-limited fan-outs), which another worker's tests fill. On 2 idle cores: 6 min 59 s
    with 2 workers, 5 min 10 s with 4, 6 min 2 s with 6. PYTEST_XDIST_AUTO_NUM_WORKERS
    still sets the number, as it does without this hook."""
    if chosen := os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return int(chosen)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return 2 * (cores or 1)


@pytest.fixture(scope="session")
def seeds_dir() -> Path:
    if not any(SEEDS.glob("*.txt")):
        reason = f"seed pages not found in {SEEDS} (they come from ../shared beside the repo)"
        # CI always has ../shared: a missing seed there is a failure, never a silent skip.
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return SEEDS


# Where `paperboy model fetch` puts the sentence model from a clone (.ci/run runs it).
MODEL_DIR = Path(os.environ.get("PAPERBOY_TEST_MODEL_DIR", REPO / "data" / "model"))


@pytest.fixture(autouse=True)
def _words_alone() -> Iterator[None]:
    """Every test starts without the sentence model (the process keeps the last command's
    setting): those that use it say so with the `sentence_model` fixture."""
    model_files.configure(None)
    yield
    model_files.configure(None)


@pytest.fixture
def sentence_model() -> Path:
    """The installed sentence model, configured for this test."""
    if not model_files.installed(MODEL_DIR):
        reason = f"no sentence model in {MODEL_DIR} (`paperboy model fetch` puts it there)"
        # .ci/run fetches it: there a missing model is a failure, never a silent skip.
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    model_files.configure(MODEL_DIR)
    return MODEL_DIR


@pytest.fixture(scope="session")
def seed_pages(seeds_dir: Path) -> list[Path]:
    return sorted(seeds_dir.glob("*.txt"))


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One database migrated to the newest revision, copied by each test instead of re-run."""
    path = tmp_path_factory.mktemp("template") / "paperboy.db"
    engine = db.make_engine(f"sqlite:///{path}")
    db.upgrade(engine)
    engine.dispose()
    return path


def _unavailable(reason: str) -> None:
    # CI installs PostgreSQL: there a missing server is a failure, never a silent skip.
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres() -> Iterator[Cluster]:
    """A PostgreSQL 15 cluster of the test run's own, on a loopback port."""
    reason = postgres_unavailable()
    if reason is not None:
        _unavailable(reason)
    cluster = Cluster().start()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def postgres_template(postgres: Cluster) -> str:
    """A migrated database that each test's database is copied from (CREATE ... TEMPLATE)."""
    with _admin(postgres) as admin:
        admin.execute(text(f"CREATE DATABASE {PG_TEMPLATE}"))
    engine = db.make_engine(postgres.url(PG_TEMPLATE))
    db.upgrade(engine)
    engine.dispose()
    return PG_TEMPLATE


@contextmanager
def _admin(postgres: Cluster) -> Iterator[Connection]:
    engine = db.make_engine(postgres.url()).execution_options(isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


def new_postgres_database(postgres: Cluster, template: str | None) -> str:
    """An empty (or, from `template`, a migrated) database of its own; returns its URL."""
    name = f"test_{next(_DATABASES)}"
    source = f" TEMPLATE {template}" if template else ""
    with _admin(postgres) as admin:
        admin.execute(text(f"CREATE DATABASE {name}{source}"))
    return postgres.url(name)


BACKENDS = ("sqlite", "postgresql")


@pytest.hookimpl(tryfirst=True)  # before the marks are read
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """`@pytest.mark.backends("sqlite")` (on a test, or a module's `pytestmark`; the test's own
    mark wins): the database fixtures run on those backends only. For tests whose logic does
    not depend on the database (a chat flow, the send pace): storage, search, migration,
    transfer and schedule tests run on both."""
    mark = metafunc.definition.get_closest_marker("backends")
    if mark is None or "db_url" not in metafunc.fixturenames:
        return
    assert mark.args, "backends: name at least one"
    assert set(mark.args) <= set(BACKENDS), mark.args
    # As a mark: the fixture's own params then give way to it (pytest's rule for parametrize).
    metafunc.definition.add_marker(
        pytest.mark.parametrize("db_url", list(mark.args), indirect=True)
    )


@pytest.fixture(params=BACKENDS)
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database with no schema yet, on each backend: for migration tests."""
    if request.param == "postgresql":
        return new_postgres_database(request.getfixturevalue("postgres"), None)
    return f"sqlite:///{tmp_path / 'empty.db'}"


@contextmanager
def migrated_database(backend: str, request: pytest.FixtureRequest, folder: Path) -> Iterator[str]:
    """A migrated database of its own on `backend` (a copy of the migrated template), for the
    block; yields its URL. For a fixture of any scope: `folder` holds a SQLite file."""
    if backend == "postgresql":
        postgres: Cluster = request.getfixturevalue("postgres")
        url = new_postgres_database(postgres, request.getfixturevalue("postgres_template"))
        yield url
        with _admin(postgres) as admin:
            admin.execute(text(f"DROP DATABASE {url.rsplit('/', 1)[1]} WITH (FORCE)"))
        return
    path = folder / "paperboy.db"
    shutil.copy(request.getfixturevalue("migrated_template"), path)
    yield f"sqlite:///{path}"


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated database of the test's own: every storage test runs on both backends."""
    with migrated_database(request.param, request, tmp_path) as url:
        yield url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = db.make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return db.make_sessions(engine)
