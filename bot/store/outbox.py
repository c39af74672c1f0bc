"""The outbox: replies waiting to be sent, sent at most once per message.

A reply is written here, whole (its MIME bytes and Message-ID fixed), in the
same transaction that moves its message to ``reply_queued``; the database's
unique constraint on ``message_id`` makes a second reply for the same
message impossible, whoever tries. A sender leases a pending reply, hands it
to the SMTP server, and only then calls :func:`mark_sent`. A crash between
the server's acceptance and that commit is the one window in which a reply
can go out twice; the fixed Message-ID lets the receiving side spot it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.orm import Session

from bot.store import audit
from bot.store.atomic import changed_rows, insert_if_absent, lease_is_free, take_lease
from bot.store.models import Message, Reply, ReplyState, utcnow

LEASE = timedelta(minutes=10)
"""Longer than any SMTP conversation: only then may another worker retry a reply."""
MAX_ATTEMPTS = 8
RETRY_DELAY = timedelta(minutes=10)


def queue_reply(
    session: Session,
    message_id: int,
    *,
    recipient: str,
    message_id_header: str,
    mime: bytes,
    subject: str | None = None,
    case_id: int | None = None,
    not_before: datetime | None = None,
) -> Reply:
    """Put the reply to message ``message_id`` in the outbox; the message → ``reply_queued``.

    Idempotent: when the message already has a reply, that one is returned
    unchanged and nothing is added. ``not_before`` delays sending (rate limit).
    """
    insert_if_absent(
        session,
        Reply,
        {
            "message_id": message_id,
            "case_id": case_id,
            "recipient": recipient,
            "subject": subject,
            "message_id_header": message_id_header,
            "mime": mime,
            "state": "pending",
            "attempts": 0,
            "not_before": not_before,
            "created_at": utcnow(),
        },
        unique=("message_id",),
    )
    changed_rows(
        session,
        update(Message)
        .where(Message.id == message_id, Message.state == "analysed")
        .values(state="reply_queued"),
    )
    session.commit()
    reply = session.scalars(
        select(Reply)
        .where(Reply.message_id == message_id)
        .execution_options(populate_existing=True)
    ).one()
    return reply


def _sendable(now: datetime) -> ColumnElement[bool]:
    return and_(Reply.state == "pending", or_(Reply.not_before.is_(None), Reply.not_before <= now))


def claim_pending_replies(
    session: Session,
    *,
    worker: str,
    limit: int = 50,
    lease: timedelta = LEASE,
    now: datetime | None = None,
) -> list[Reply]:
    """Lease up to ``limit`` replies due now to ``worker``, oldest first.

    A reply leased by a worker that died becomes claimable again when its
    lease runs out; every claim counts one attempt.
    """
    now = now or utcnow()
    candidates = session.scalars(
        select(Reply.id)
        .where(_sendable(now), lease_is_free(Reply, now))
        .order_by(Reply.id)
        .limit(limit)
    ).all()
    claimed: list[int] = []
    for reply_id in candidates:
        if take_lease(
            session, Reply, reply_id, worker=worker, lease=lease, now=now, claimable=_sendable(now)
        ):
            claimed.append(reply_id)
        session.commit()
    return [r for r in (session.get(Reply, i, populate_existing=True) for i in claimed) if r]


def mark_sent(session: Session, reply_id: int, *, now: datetime | None = None) -> bool:
    """The SMTP server accepted the reply: record it, and its message is done.

    Call only after the server's acceptance. True when this call recorded it
    (False: it was already recorded).
    """
    now = now or utcnow()
    message_id = session.scalar(select(Reply.message_id).where(Reply.id == reply_id))
    moved = changed_rows(
        session,
        update(Reply)
        .where(Reply.id == reply_id, Reply.state == "pending")
        .values(state="sent", sent_at=now, lease_owner=None, lease_until=None, last_error=None),
    )
    if moved:
        changed_rows(
            session,
            update(Message)
            .where(Message.id == message_id, Message.state == "reply_queued")
            .values(state="done"),
        )
    session.commit()
    return bool(moved)


def mark_failed(
    session: Session,
    reply_id: int,
    *,
    worker: str,
    error: str,
    permanent: bool = False,
    max_attempts: int = MAX_ATTEMPTS,
    retry_delay: timedelta = RETRY_DELAY,
    now: datetime | None = None,
) -> ReplyState | None:
    """Sending failed: retry later (``pending``), or give up (``failed``, shown to operators).

    ``permanent`` (a 5xx refusal) gives up at once; otherwise after
    ``max_attempts``. Returns the new state, None when ``worker`` no longer
    holds the reply.
    """
    now = now or utcnow()
    reply = session.get(Reply, reply_id, populate_existing=True)
    if reply is None or reply.state != "pending" or reply.lease_owner != worker:
        session.rollback()
        return None
    give_up = permanent or reply.attempts >= max_attempts
    values: dict[str, Any] = {"last_error": error, "lease_owner": None, "lease_until": None}
    if give_up:
        values["state"] = "failed"
    else:
        values["not_before"] = now + retry_delay * reply.attempts
    held = and_(Reply.id == reply_id, Reply.state == "pending", Reply.lease_owner == worker)
    if not changed_rows(session, update(Reply).where(held).values(values)):
        session.rollback()
        return None
    if give_up:
        audit.record(
            session,
            actor=audit.DAEMON,
            action="reply_failed",
            case_id=reply.case_id,
            message_id=reply.message_id,
            note=error,
            at=now,
        )
    session.commit()
    return "failed" if give_up else "pending"


def replies_queued_since(session: Session, recipient: str, since: datetime) -> int:
    """How many replies to ``recipient`` were queued since ``since`` (the per-sender rate limit)."""
    return int(
        session.scalar(
            select(func.count(Reply.id)).where(
                Reply.recipient == recipient, Reply.created_at >= since
            )
        )
        or 0
    )


def failed_replies(session: Session) -> Sequence[Reply]:
    """Replies given up on, oldest first: an operator must contact these ETS."""
    return session.scalars(select(Reply).where(Reply.state == "failed").order_by(Reply.id)).all()
