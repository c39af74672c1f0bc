"""An analysed message joins its case, the case is judged again, and its reply is queued.

Everything here works from what the store remembers (the analysis JSON and
the document records), never from the raw bytes: filing after a crash gives
the same case and the same reply as filing the first time. Each step is
idempotent — attaching twice, reassessing twice, queueing the reply twice
(the outbox holds at most one reply per message) change nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.cases import CaseState, evaluate_case
from bot.model import AnalysisContext, Document, Envelope, Finding, Submission
from bot.records import document_from_record
from bot.replies import compose_reply
from bot.store import casebook, outbox, queue
from bot.store import models as db
from bot.store.casebook import Assessment


def analysis_extras(sub: Submission) -> dict[str, Any]:
    """What the reply needs beyond the ``check --json`` object, kept with the analysis."""
    env = sub.envelope
    return {
        "reply_to": env.reply_to if env else None,
        "in_reply_to": (env.original_message_id or env.message_id) if env else None,
        "subject": env.subject if env else None,
    }


def _documents(rows: Sequence[db.Document]) -> list[Document]:
    return [document_from_record(row.fields) for row in rows if row.fields and "filename" in row.fields]


def stored_submission(message: db.Message, rows: Sequence[db.Document]) -> Submission:
    """The submission as analysed, rebuilt from the store (no bytes, no page text)."""
    analysis = message.analysis or {}
    envelope = analysis.get("envelope") or {}
    extras = analysis.get("pecbot") or {}
    when = envelope.get("date")
    sub = Submission(
        source=f"message:{message.id}",
        raw=b"",
        envelope=Envelope(
            type=envelope.get("type") or "none",
            sender=envelope.get("sender"),
            reply_to=extras.get("reply_to") or envelope.get("sender"),
            date=datetime.fromisoformat(when) if when else None,
            signature=envelope.get("signature") or "absent",
            original_message_id=extras.get("in_reply_to"),
            subject=extras.get("subject"),
        ),
        documents=_documents(rows),
        verdict=analysis.get("verdict"),
    )
    for severity, key in (("problem", "problems"), ("warning", "warnings")):
        sub.findings.extend(
            Finding(item["code"], severity, item.get("detail", ""))  # type: ignore[arg-type]
            for item in analysis.get(key) or []
        )
    return sub


def _trusted_documents(session: Session, case_id: int) -> tuple[list[Document], datetime | None]:
    """The case's documents from messages whose envelope was not tampered with, oldest first."""
    messages = session.scalars(
        select(db.Message).where(db.Message.case_id == case_id).order_by(db.Message.id)
    ).all()
    documents: list[Document] = []
    latest: datetime | None = None
    for message in messages:
        envelope = (message.analysis or {}).get("envelope") or {}
        if envelope.get("signature") == "invalid":
            continue
        rows = session.scalars(
            select(db.Document).where(db.Document.message_id == message.id).order_by(db.Document.id)
        ).all()
        documents.extend(_documents(rows))
        if message.certified_at and (latest is None or message.certified_at > latest):
            latest = message.certified_at
    return documents, latest


def judge_case(session: Session, case_id: int, mailbox: str, ctx: AnalysisContext) -> CaseState:
    """Judge a stored case over all its trusted documents."""
    documents, latest = _trusted_documents(session, case_id)
    return evaluate_case(mailbox, documents, latest, ctx)


def file_message(
    session: Session,
    message_id: int,
    ctx: AnalysisContext,
    *,
    sender: str,
    replies_per_day: int,
    today: date,
) -> int | None:
    """File one analysed message; returns its case id (None for ignored messages)."""
    message = session.get(db.Message, message_id, populate_existing=True)
    if message is None or message.state != "analysed":
        session.rollback()
        return None
    analysis = message.analysis or {}
    if analysis.get("verdict") in ("ignored", "error"):
        queue.mark_ignored(session, message_id)
        return None
    mailbox = (analysis.get("fields") or {}).get("mailbox") or message.certified_sender
    if not mailbox:
        queue.mark_ignored(session, message_id)
        return None
    case = casebook.case_for_mailbox(session, mailbox, ets_name=(analysis.get("fields") or {}).get("ets_name"))
    case_id = case.id
    casebook.attach_message(session, message_id, case_id)
    state = judge_case(session, case_id, mailbox, ctx)

    def assess(_case: db.Case, _rows: Sequence[db.Document]) -> Assessment:
        return Assessment(
            status="complete" if state.complete else "incomplete",
            missing=state.missing,
            problems=[p.code for p in state.problems],
            warnings=[w.code for w in state.warnings],
            ets_name=state.ets_name,
        )

    casebook.reassess(session, case_id, assess)
    message = session.get(db.Message, message_id, populate_existing=True)
    assert message is not None
    rows = session.scalars(select(db.Document).where(db.Document.message_id == message_id)).all()
    sub = stored_submission(message, rows)
    reply = compose_reply(sub, state, ctx, sender=sender, today=today, key=f"message-{message_id}-{message.dedup_key}")
    recipient = str(reply["To"])
    now = db.utcnow()
    recent = outbox.replies_queued_since(session, recipient, now - timedelta(days=1))
    not_before = now + timedelta(days=1) if recent >= replies_per_day else None
    outbox.queue_reply(
        session,
        message_id,
        recipient=recipient,
        message_id_header=str(reply["Message-ID"]),
        mime=reply.as_bytes(),
        subject=str(reply["Subject"]),
        case_id=case_id,
        not_before=not_before,
    )
    return case_id
