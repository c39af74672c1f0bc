"""The two race-safe building blocks every state transition is made of.

* :func:`insert_if_absent`: ``INSERT … ON CONFLICT DO NOTHING``, so that two
  daemons storing the same message, reply or digest end up with one row and
  neither fails.
* :func:`take_lease`: a conditional ``UPDATE … WHERE <still claimable>`` whose
  row count says who won. Only one worker can move a row out of a state; a
  worker that dies keeps its lease only until ``lease_until``, after which
  another worker may take the row over.

Both work on SQLite and PostgreSQL alike, without explicit row locks.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, CursorResult, Insert, inspect, or_, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from bot.errors import StoreError
from bot.store.models import Base, Digest, Message, Reply

Leased = type[Message] | type[Reply] | type[Digest]


def insert_if_absent(
    session: Session, model: type[Base], values: Mapping[str, Any], unique: tuple[str, ...]
) -> bool:
    """Insert a row unless one with the same ``unique`` columns exists; True if inserted.

    Does not commit: the caller's transaction decides.
    """
    dialect = session.get_bind().dialect.name
    statement: Insert
    if dialect == "postgresql":
        statement = (
            postgresql_insert(model)
            .values(**values)
            .on_conflict_do_nothing(index_elements=list(unique))
        )
    elif dialect == "sqlite":
        statement = (
            sqlite_insert(model)
            .values(**values)
            .on_conflict_do_nothing(index_elements=list(unique))
        )
    else:
        raise StoreError(f"unsupported database {dialect!r}: use SQLite or PostgreSQL")
    # RETURNING, not the row count: drivers report -1 for INSERTs that return keys.
    key_columns = inspect(model).primary_key
    return session.execute(statement.returning(*key_columns)).first() is not None


def lease_is_free(model: Leased, now: datetime) -> ColumnElement[bool]:
    """No worker holds the row, or its lease has run out."""
    return or_(model.lease_until.is_(None), model.lease_until < now)


def take_lease(
    session: Session,
    model: Leased,
    row_id: int,
    *,
    worker: str,
    lease: timedelta,
    now: datetime,
    claimable: ColumnElement[bool],
    **changes: Any,
) -> bool:
    """Lease row ``row_id`` to ``worker`` if ``claimable`` still holds; True if it won.

    Counts an attempt and applies ``changes`` in the same UPDATE. Does not
    commit: the caller commits (or rolls back) right after.
    """
    statement = (
        update(model)
        .where(model.id == row_id, claimable, lease_is_free(model, now))
        .values(lease_owner=worker, lease_until=now + lease, attempts=model.attempts + 1, **changes)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(session.execute(statement)) == 1


def changed_rows(session: Session, statement: Any) -> int:
    """Execute a conditional UPDATE or DELETE and return how many rows it changed."""
    return _rowcount(session.execute(statement.execution_options(synchronize_session=False)))


def _rowcount(result: Any) -> int:
    # Session.execute is typed as returning Result; DML returns a CursorResult.
    assert isinstance(result, CursorResult)
    return int(result.rowcount)
