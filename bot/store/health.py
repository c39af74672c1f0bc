"""How the daemon itself is doing: small facts kept by key, for the digest.

The last successful poll is the one operators look at first: a daemon that
stopped polling sends no error, it just goes quiet.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from bot.store.models import DaemonState, utcnow

LAST_POLL = "last_successful_poll"


def set_fact(session: Session, key: str, value: str, *, now: datetime | None = None) -> None:
    """Store (or replace) one fact and commit."""
    now = now or utcnow()
    insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = insert(DaemonState).values(key=key, value=value, updated_at=now)
    statement = statement.on_conflict_do_update(
        index_elements=["key"], set_={"value": value, "updated_at": now}
    )
    session.execute(statement)
    session.commit()


def get_fact(session: Session, key: str) -> str | None:
    """The stored value of ``key``, None if never set."""
    return session.scalar(select(DaemonState.value).where(DaemonState.key == key))


def record_poll(session: Session, *, now: datetime | None = None) -> None:
    """The inbox was read successfully just now."""
    now = now or utcnow()
    set_fact(session, LAST_POLL, now.isoformat(), now=now)


def last_poll(session: Session) -> datetime | None:
    """When the inbox was last read successfully, None if never."""
    value = get_fact(session, LAST_POLL)
    return datetime.fromisoformat(value) if value else None
