"""Shared fixtures.

Database tests take ``database_url``: an empty database, once on SQLite (a
file in the test's tmp dir) and once on PostgreSQL (a database created for
this test session on the server at 127.0.0.1:5432, dropped at the end; its
schema is emptied before each test). PostgreSQL runs are marked
``postgres``. When the server is unreachable they are skipped, unless the
``CI`` environment variable is set: in CI a missing server is a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from bot.store.blobs import BlobStore
from bot.store.db import make_engine, session_factory, upgrade

#: The server's maintenance database (trust auth); override with PECBOT_TEST_POSTGRES.
POSTGRES_ADMIN_URL = os.environ.get(
    "PECBOT_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """URL of a fresh, uniquely named PostgreSQL database for this test session."""
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError as exc:
        admin.dispose()
        where = make_url(POSTGRES_ADMIN_URL).render_as_string(hide_password=True)
        reason = f"PostgreSQL unreachable at {where}: {str(exc.orig).strip().splitlines()[0]}"
        if _in_ci():
            pytest.fail(f"{reason} (CI is set: the PostgreSQL tests must run)")
        pytest.skip(reason)
    name = f"pecbot_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _empty_postgres(url: str) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            # A previous test's forgotten connection must not block the DROP.
            connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database, on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'db' / 'pecbot.db'}"
    url: str = request.getfixturevalue("postgres_database")
    _empty_postgres(url)
    return url


@pytest.fixture
def store_engine(database_url: str) -> Iterator[Engine]:
    """An engine on ``database_url`` with the schema at head."""
    upgrade(database_url)
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def store_session(store_engine: Engine) -> Iterator[Session]:
    """A session on the migrated database (each store step commits by itself)."""
    with session_factory(store_engine)() as session:
        yield session


@pytest.fixture
def blob_store(tmp_path: Path) -> BlobStore:
    """An empty content-addressed store in the test's tmp dir."""
    return BlobStore(tmp_path / "store")
