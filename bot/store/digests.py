"""The operators' digest: one per period, never sent twice.

A period key (``2026-07-14`` for a daily digest, ``2026-W29`` for a weekly
one: the caller's choice) is unique in the table. The first worker to reach
a period stores the text and leases it; it is sent, then marked sent, like
a reply in the outbox.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.store import audit
from bot.store.atomic import changed_rows, insert_if_absent, take_lease
from bot.store.models import Digest, utcnow

LEASE = timedelta(minutes=10)


def claim_digest(
    session: Session,
    period: str,
    text: str,
    *,
    worker: str,
    lease: timedelta = LEASE,
    now: datetime | None = None,
) -> Digest | None:
    """The digest of ``period`` for ``worker`` to send, or None (sent, or being sent).

    The first call for a period stores ``text``; a later call (after a crash
    before sending) gets the stored digest back, text unchanged.
    """
    now = now or utcnow()
    insert_if_absent(
        session,
        Digest,
        {"period": period, "text": text, "state": "pending", "attempts": 0, "created_at": now},
        unique=("period",),
    )
    session.commit()
    digest_id = session.scalar(select(Digest.id).where(Digest.period == period))
    assert digest_id is not None
    won = take_lease(
        session,
        Digest,
        digest_id,
        worker=worker,
        lease=lease,
        now=now,
        claimable=Digest.state == "pending",
    )
    session.commit()
    return session.get(Digest, digest_id, populate_existing=True) if won else None


def mark_digest_sent(session: Session, digest_id: int, *, now: datetime | None = None) -> bool:
    """The mail server accepted the digest; True when this call recorded it."""
    moved = changed_rows(
        session,
        update(Digest)
        .where(Digest.id == digest_id, Digest.state == "pending")
        .values(state="sent", sent_at=now or utcnow(), lease_owner=None, lease_until=None),
    )
    session.commit()
    return bool(moved)


def mark_digest_failed(session: Session, digest_id: int, *, worker: str, error: str) -> bool:
    """Sending failed: release the digest for the next attempt, and count it as an error."""
    moved = changed_rows(
        session,
        update(Digest)
        .where(Digest.id == digest_id, Digest.state == "pending", Digest.lease_owner == worker)
        .values(last_error=error, lease_owner=None, lease_until=None),
    )
    if moved:
        audit.record(session, actor=audit.DAEMON, action="digest_failed", note=error)
    session.commit()
    return bool(moved)


def last_digest_sent_at(session: Session) -> datetime | None:
    """When the last digest went out: the start of "errors since the last digest"."""
    return session.scalar(
        select(Digest.sent_at)
        .where(Digest.state == "sent")
        .order_by(Digest.sent_at.desc())
        .limit(1)
    )
