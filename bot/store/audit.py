"""Who did what, and when: the audit trail that outlives the purge.

Operators' decisions, quarantines, failed sends, purges and daemon errors
are all one row each. Notes are for operators and must never carry personal
data (no names, IBANs, tax codes, document text): pass reasons, not content.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.store.models import AuditEntry, utcnow

#: The actor of everything the daemon does by itself.
DAEMON = "pecbot"

#: Actions that count as errors in the digest's health section.
ERROR_ACTIONS = ("quarantined", "reply_failed", "digest_failed", "daemon_error")


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    case_id: int | None = None,
    message_id: int | None = None,
    note: str | None = None,
    at: datetime | None = None,
) -> AuditEntry:
    """Add one audit row to the session's transaction (the caller commits)."""
    entry = AuditEntry(
        actor=actor,
        action=action,
        case_id=case_id,
        message_id=message_id,
        note=note,
        at=at or utcnow(),
    )
    session.add(entry)
    return entry


def record_daemon_error(session: Session, note: str, *, at: datetime | None = None) -> None:
    """Remember, committed, an error not tied to one message (a failed poll, a lost server)."""
    record(session, actor=DAEMON, action="daemon_error", note=note, at=at)
    session.commit()


def errors_since(session: Session, since: datetime | None) -> Sequence[AuditEntry]:
    """Error rows after ``since`` (all of them when None), oldest first: for the digest."""
    query = select(AuditEntry).where(AuditEntry.action.in_(ERROR_ACTIONS))
    if since is not None:
        query = query.where(AuditEntry.at > since)
    return session.scalars(query.order_by(AuditEntry.at, AuditEntry.id)).all()


def trail_of_case(session: Session, case_id: int) -> Sequence[AuditEntry]:
    """Everything recorded about one case, oldest first."""
    query = select(AuditEntry).where(AuditEntry.case_id == case_id)
    return session.scalars(query.order_by(AuditEntry.at, AuditEntry.id)).all()
