"""How pecbot connects to its database and keeps the schema current.

SQLite (the default) and PostgreSQL behave alike here: :func:`make_engine`
configures SQLite for a daemon (WAL journal, foreign keys, a busy timeout,
``BEGIN IMMEDIATE`` so that two writers wait for each other instead of failing
half-way), and :func:`ensure_schema` is the one gate ``pecbot run`` passes:
the schema is at Alembic's head, or it is upgraded, or pecbot refuses to start
with a message an operator can act on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from bot.errors import StoreError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"

#: Seconds a SQLite writer waits for another one before giving up.
SQLITE_BUSY_TIMEOUT = 30.0


def make_engine(url: str) -> Engine:
    """An engine for ``url``, with SQLite set up for a crash-safe daemon.

    For a file-based SQLite URL the file's parent directory is created.
    Raises :class:`StoreError` for a URL SQLAlchemy cannot use.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(f"invalid database URL: {exc}") from exc
    if parsed.get_backend_name() != "sqlite":
        try:
            return create_engine(parsed, pool_pre_ping=True)
        except (ArgumentError, ImportError) as exc:
            raise StoreError(f"unusable database URL {_safe(url)}: {exc}") from exc
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(parsed, connect_args={"timeout": SQLITE_BUSY_TIMEOUT})
    event.listen(engine, "connect", _configure_sqlite)
    event.listen(engine, "begin", _begin_immediate)
    return engine


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # Take BEGIN away from the sqlite3 module (it would skip it for SELECT and
    # DDL): _begin_immediate emits it, so every transaction is a real one.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT * 1000)}")
    # WAL with synchronous=NORMAL survives a kill -9 but may lose the last
    # commits on power loss; FULL survives both, at a cost a daemon writing a
    # few rows per message never notices.
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.close()


def _begin_immediate(connection: Any) -> None:
    # A deferred transaction that reads and then writes fails with "database
    # is locked" when another writer committed meanwhile, without waiting.
    # Taking the write lock up front makes writers queue on the busy timeout.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions bound to ``engine``.

    Objects are expired at every commit (SQLAlchemy's default): the store's
    steps change rows with conditional UPDATEs, so anything loaded before a
    step is re-read after it instead of showing a stale state.
    """
    return sessionmaker(engine)


def alembic_config(url: str | None = None) -> Config:
    """Alembic's configuration, built in code so it works from an installed package."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if url is not None:
        config.attributes["database_url"] = url
    return config


def head_revision() -> str:
    """The schema revision this pecbot needs."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # only when the versions folder is missing from the install
        raise StoreError(f"no database migrations found in {MIGRATIONS}")
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, None for a database pecbot never touched."""
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot reach the database {_safe_url(engine)}: {_reason(exc)}") from exc


def upgrade(url: str) -> None:
    """Bring the schema at ``url`` to the head revision (creating it when empty)."""
    _migrate(url)


def _migrate(url: str) -> None:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            config = alembic_config(url)
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot upgrade the database {_safe(url)}: {_reason(exc)}") from exc
    finally:
        engine.dispose()


def ensure_schema(url: str, *, upgrade: bool) -> None:
    """Make sure the database at ``url`` is at the revision this pecbot needs.

    With ``upgrade`` an older (or empty) schema is migrated; without it, it is
    refused. A schema newer than this pecbot is always refused: pecbot never
    downgrades. Raises :class:`StoreError` with a message for the operator.
    """
    needed = head_revision()
    engine = make_engine(url)
    try:
        current = current_revision(engine)
        if current == needed:
            return
        known = {
            rev.revision for rev in ScriptDirectory.from_config(alembic_config()).walk_revisions()
        }
        if current is not None and current not in known:
            raise StoreError(
                f"database schema is at revision {current}, newer than this pecbot knows "
                f"(it needs {needed}): upgrade pecbot"
            )
        if current is None and _has_foreign_tables(engine):
            raise StoreError(
                f"database {_safe(url)} holds tables but no pecbot schema revision: "
                "point PECBOT_DATABASE_URL to an empty database"
            )
    finally:
        engine.dispose()
    if not upgrade:
        raise StoreError(
            f"database schema is at revision {current or 'none (empty database)'}, "
            f"pecbot needs {needed}: run `pecbot run` to upgrade"
        )
    _migrate(url)


def _has_foreign_tables(engine: Engine) -> bool:
    try:
        return bool(inspect(engine).get_table_names())
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot reach the database {_safe_url(engine)}: {_reason(exc)}") from exc


def _safe(url: str) -> str:
    """The URL without its password, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(invalid URL)"


def _safe_url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def _reason(exc: SQLAlchemyError) -> str:
    # The DBAPI's first line says what happened; the rest is SQL and noise.
    original = getattr(exc, "orig", None) or exc
    return str(original).strip().splitlines()[0] if str(original).strip() else type(exc).__name__
