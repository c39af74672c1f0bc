"""A stored message's way to an analysis, one committed step at a time.

The daemon's loop is built from these functions; each one is a single
transaction, so a crash (kill -9 included) between any two leaves every
message in a state the next run continues from::

    intake.record_fetched ─▶ claim_for_analysis ─▶ record_analysis ─▶ queue_reply | mark_ignored
                                    │
                                    └─▶ record_failure ─▶ retried later, or quarantined

Two daemons may race on the same database: claims are leases taken by a
conditional UPDATE, so a message is analysed by one worker at a time, and
only the lease holder can record the result. A claimed message whose worker
died is taken over when its lease runs out; that counts as a failed attempt,
so a message that kills the daemon every time ends in quarantine instead of
killing it forever.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.orm import Session

from bot.store import audit
from bot.store.atomic import changed_rows, take_lease
from bot.store.models import Document, Message, MessageState, utcnow

LEASE = timedelta(minutes=30)
"""How long a worker may analyse one message before others presume it dead."""
MAX_ATTEMPTS = 3
RETRY_DELAY = timedelta(minutes=5)
#: How many candidates one claim looks at before querying again.
_BATCH = 20


@dataclass(frozen=True)
class DocumentFacts:
    """What the analysis says about one document of a message, for the documents table."""

    filename: str
    kind: str
    sha256: str | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)
    """JSON-ready values (strings, numbers, lists): this document's extracted fields."""
    id_sides: Sequence[str] = ()
    unreadable: str | None = None


def claim_for_analysis(
    session: Session,
    *,
    worker: str,
    lease: timedelta = LEASE,
    max_attempts: int = MAX_ATTEMPTS,
    now: datetime | None = None,
) -> Message | None:
    """Lease the oldest message waiting for analysis to ``worker``; None when none waits.

    Waiting means: fetched (and past its retry delay), or claimed by a worker
    whose lease ran out. Such an abandoned message that already used its
    ``max_attempts`` goes to quarantine instead of being claimed again.
    """
    now = now or utcnow()
    _quarantine_abandoned(session, max_attempts, now)
    waiting = or_(
        and_(
            Message.state == "fetched",
            or_(Message.retry_after.is_(None), Message.retry_after <= now),
        ),
        and_(Message.state == "analysing", Message.lease_until < now),
    )
    while True:
        candidates = session.scalars(
            select(Message.id).where(waiting).order_by(Message.id).limit(_BATCH)
        ).all()
        if not candidates:
            session.rollback()
            return None
        for message_id in candidates:
            won = take_lease(
                session,
                Message,
                message_id,
                worker=worker,
                lease=lease,
                now=now,
                claimable=waiting,
                state="analysing",
            )
            session.commit()
            if won:
                return session.get(Message, message_id, populate_existing=True)


def _quarantine_abandoned(session: Session, max_attempts: int, now: datetime) -> None:
    abandoned = session.scalars(
        select(Message.id).where(
            Message.state == "analysing",
            Message.lease_until < now,
            Message.attempts >= max_attempts,
        )
    ).all()
    reason = (
        f"analysis never finished in {max_attempts} attempts "
        "(the daemon stopped while analysing it)"
    )
    for message_id in abandoned:
        moved = changed_rows(
            session,
            update(Message)
            .where(
                Message.id == message_id, Message.state == "analysing", Message.lease_until < now
            )
            .values(
                state="quarantined",
                quarantined_at=now,
                last_error=reason,
                lease_owner=None,
                lease_until=None,
            ),
        )
        if moved:
            audit.record(
                session,
                actor=audit.DAEMON,
                action="quarantined",
                message_id=message_id,
                note=reason,
                at=now,
            )
    session.commit()


def _held_by(worker: str, message_id: int) -> ColumnElement[bool]:
    return and_(
        Message.id == message_id, Message.state == "analysing", Message.lease_owner == worker
    )


def record_analysis(
    session: Session,
    message_id: int,
    *,
    worker: str,
    analysis: Mapping[str, Any],
    documents: Sequence[DocumentFacts] = (),
    subject: str | None = None,
    message_id_header: str | None = None,
) -> bool:
    """Store the analysis (``pecbot check --json`` object) and the documents; state → analysed.

    Only the worker holding the lease can record: False (nothing written) when
    the lease was lost to another worker, whose result will count instead.
    """
    envelope = analysis.get("envelope") or {}
    moved = changed_rows(
        session,
        update(Message)
        .where(_held_by(worker, message_id))
        .values(
            state="analysed",
            analysis=dict(analysis),
            verdict=analysis.get("verdict"),
            envelope_type=envelope.get("type"),
            certified_sender=envelope.get("sender"),
            pec_id=envelope.get("pec_id"),
            certified_at=_instant(envelope.get("date")),
            subject=subject,
            message_id_header=message_id_header,
            last_error=None,
            retry_after=None,
            lease_owner=None,
            lease_until=None,
        ),
    )
    if not moved:
        session.rollback()
        return False
    session.add_all(
        Document(
            message_id=message_id,
            filename=facts.filename,
            kind=facts.kind,
            sha256=facts.sha256,
            fields=dict(facts.fields),
            id_sides=list(facts.id_sides),
            unreadable=facts.unreadable,
        )
        for facts in documents
    )
    session.commit()
    return True


def _instant(value: object) -> datetime | None:
    """An ISO 8601 date-time with offset from the analysis; None if absent or naive."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def record_failure(
    session: Session,
    message_id: int,
    *,
    worker: str,
    reason: str,
    max_attempts: int = MAX_ATTEMPTS,
    retry_delay: timedelta = RETRY_DELAY,
    now: datetime | None = None,
) -> MessageState | None:
    """The analysis raised: schedule a retry, or quarantine after ``max_attempts``.

    ``reason`` is shown to operators: an error class and a short cause, never
    message content. Returns the new state (``fetched`` or ``quarantined``),
    None when the lease was lost. The retry waits ``retry_delay`` × attempts,
    so a failing message never holds up the others.
    """
    now = now or utcnow()
    message = session.get(Message, message_id, populate_existing=True)
    if message is None or message.state != "analysing" or message.lease_owner != worker:
        session.rollback()
        return None
    quarantine = message.attempts >= max_attempts
    values: dict[str, Any] = {"last_error": reason, "lease_owner": None, "lease_until": None}
    if quarantine:
        values |= {"state": "quarantined", "quarantined_at": now}
    else:
        values |= {"state": "fetched", "retry_after": now + retry_delay * message.attempts}
    if not changed_rows(
        session, update(Message).where(_held_by(worker, message_id)).values(values)
    ):
        session.rollback()
        return None
    if quarantine:
        audit.record(
            session,
            actor=audit.DAEMON,
            action="quarantined",
            message_id=message_id,
            note=reason,
            at=now,
        )
    session.commit()
    return "quarantined" if quarantine else "fetched"


def mark_ignored(session: Session, message_id: int) -> bool:
    """An analysed message that needs no reply (a receipt, an auto-reply): state → ignored."""
    moved = changed_rows(
        session,
        update(Message)
        .where(Message.id == message_id, Message.state == "analysed")
        .values(state="ignored"),
    )
    session.commit()
    return bool(moved)


def awaiting_filing(session: Session) -> Sequence[Message]:
    """Analysed messages not yet filed into a case and answered (or ignored), oldest first."""
    return session.scalars(
        select(Message).where(Message.state == "analysed").order_by(Message.id)
    ).all()


def quarantined(session: Session) -> Sequence[Message]:
    """Messages waiting for a person, oldest first (for the digest and operators)."""
    return session.scalars(
        select(Message).where(Message.state == "quarantined").order_by(Message.id)
    ).all()


def release_quarantined(session: Session, message_id: int, *, actor: str, note: str) -> bool:
    """An operator sends a quarantined message back for analysis, attempts reset."""
    moved = changed_rows(
        session,
        update(Message)
        .where(Message.id == message_id, Message.state == "quarantined")
        .values(state="fetched", attempts=0, retry_after=None, quarantined_at=None),
    )
    if moved:
        audit.record(session, actor=actor, action="released", message_id=message_id, note=note)
    session.commit()
    return bool(moved)


def waiting_count(session: Session, *, now: datetime | None = None) -> int:
    """How many messages wait for analysis now (fetched and due, or abandoned by a dead worker)."""
    now = now or utcnow()
    count = session.scalar(
        select(func.count(Message.id)).where(
            or_(
                and_(Message.state == "fetched",
                     or_(Message.retry_after.is_(None), Message.retry_after <= now)),
                and_(Message.state == "analysing", Message.lease_until < now),
            )
        )
    )
    session.rollback()
    return int(count or 0)
