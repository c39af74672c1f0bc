"""Alembic environment for pecbot's schema.

pecbot runs migrations itself (:func:`bot.store.db.upgrade`), handing over its
own connection; the Alembic command line works too, with the URL from
``-x url=…`` or ``PECBOT_DATABASE_URL``::

    alembic -c bot/store/alembic.ini -x url=sqlite:///var/pecbot.db current
"""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import Connection, text

from bot.store.db import make_engine
from bot.store.models import Base

config = context.config
target_metadata = Base.metadata

#: Key of the PostgreSQL advisory lock held while migrating: two daemons
#: starting together must not both try to create the schema.
MIGRATION_LOCK = 0x70656362  # "pecb"


def database_url() -> str:
    """The URL given by pecbot, on the command line, or in the environment."""
    url = (
        config.attributes.get("database_url")
        or context.get_x_argument(as_dictionary=True).get("url")
        or os.environ.get("PECBOT_DATABASE_URL")
    )
    if not url:
        raise SystemExit("no database URL: pass -x url=… or set PECBOT_DATABASE_URL")
    return str(url)


def run_offline() -> None:
    context.configure(url=database_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_on(connection: Connection) -> None:
    # render_as_batch: future ALTERs must work on SQLite too (copy-and-move).
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        run_on(connection)
        return
    engine = make_engine(database_url())
    try:
        with engine.connect() as own_connection:
            run_on(own_connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
