"""How long personal data stays: documents of closed cases are purged after a while.

A case closed (complete, automatically or by decision) for longer than the
retention period loses what identifies people: the raw messages (blob
files), file names, extracted fields, subjects and the bytes of the replies
sent. What it keeps: the case itself, each message's verdict and the codes
of what was missing or wrong, the document kinds, and the audit trail.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.store import audit
from bot.store.atomic import changed_rows
from bot.store.blobs import BlobStore
from bot.store.models import Case, Document, Message, Reply, utcnow

#: Messages whose processing is over: only these are purged.
FINISHED_STATES = ("done", "ignored")


@dataclass(frozen=True)
class PurgeReport:
    """What one purge removed."""

    cases: int = 0
    messages: int = 0
    documents: int = 0
    blobs: int = 0


def purge_closed_cases(
    session: Session, blobs: BlobStore, *, keep_for: timedelta, now: datetime | None = None
) -> PurgeReport:
    """Purge the personal data of every case closed for longer than ``keep_for``.

    One transaction per case. Blob files go first, then the rows are
    committed, so a crash in between only means the next purge finds the
    case again and finishes it (a missing blob is not an error then).
    """
    now = now or utcnow()
    due = session.scalars(
        select(Case.id)
        .where(Case.closed_at.is_not(None), Case.closed_at <= now - keep_for)
        .order_by(Case.id)
    ).all()
    report = PurgeReport()
    for case_id in due:
        report = _add(report, _purge_case(session, blobs, case_id, now))
    session.rollback()
    return report


def _purge_case(session: Session, blobs: BlobStore, case_id: int, now: datetime) -> PurgeReport:
    messages = session.execute(
        select(Message.id, Message.raw_sha256).where(
            Message.case_id == case_id,
            Message.raw_purged_at.is_(None),
            Message.state.in_(FINISHED_STATES),
        )
    ).all()
    if not messages:
        session.rollback()
        return PurgeReport()
    ids = [message_id for message_id, _ in messages]
    deleted = 0
    for sha256 in {sha for _, sha in messages}:
        still_needed = session.scalar(
            select(Message.id)
            .where(
                Message.raw_sha256 == sha256,
                Message.raw_purged_at.is_(None),
                Message.id.not_in(ids),
            )
            .limit(1)
        )
        if still_needed is None and blobs.delete(sha256):
            deleted += 1
    documents = changed_rows(
        session,
        update(Document)
        .where(Document.message_id.in_(ids), Document.purged_at.is_(None))
        .values(filename=None, fields=None, unreadable=None, purged_at=now),
    )
    for message in session.scalars(select(Message).where(Message.id.in_(ids))):
        message.analysis = verdict_summary(message.analysis or {})
        message.subject = None
        message.raw_purged_at = now
    changed_rows(
        session,
        update(Reply).where(Reply.message_id.in_(ids), Reply.state != "pending").values(mime=None),
    )
    changed_rows(session, update(Case).where(Case.id == case_id).values(purged_at=now))
    audit.record(
        session,
        actor=audit.DAEMON,
        action="purged",
        case_id=case_id,
        at=now,
        note=f"{len(ids)} messages, {documents} documents",
    )
    session.commit()
    return PurgeReport(cases=1, messages=len(ids), documents=documents, blobs=deleted)


def verdict_summary(analysis: Mapping[str, Any]) -> dict[str, Any]:
    """What of an analysis survives the purge: verdict, codes and kinds, no personal data."""
    envelope = analysis.get("envelope") or {}
    return {
        "verdict": analysis.get("verdict"),
        "envelope": {"type": envelope.get("type"), "signature": envelope.get("signature")},
        "documents": [
            {"kind": doc.get("kind"), "id_sides": doc.get("id_sides")}
            for doc in analysis.get("documents") or []
        ],
        "missing": list(analysis.get("missing") or []),
        "problems": [{"code": p.get("code")} for p in analysis.get("problems") or []],
        "warnings": [{"code": w.get("code")} for w in analysis.get("warnings") or []],
        "purged": True,
    }


def _add(total: PurgeReport, more: PurgeReport) -> PurgeReport:
    return PurgeReport(
        cases=total.cases + more.cases,
        messages=total.messages + more.messages,
        documents=total.documents + more.documents,
        blobs=total.blobs + more.blobs,
    )
