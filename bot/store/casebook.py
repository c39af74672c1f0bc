"""Where each association stands: cases, their documents, and who decided what.

One case per mailbox to renew. Its automatic status is recomputed over all
its documents by :func:`reassess` (the judgement itself is the caller's
``assess`` function); an operator's decision (:func:`decide`) lives in
separate columns and always wins, so no automatic update can overwrite it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from bot.store import audit
from bot.store.atomic import changed_rows, insert_if_absent
from bot.store.models import Case, CaseStatus, Document, Message, utcnow


@dataclass(frozen=True)
class Assessment:
    """The automatic verdict over all of a case's documents."""

    status: CaseStatus
    missing: Sequence[str] = ()
    problems: Sequence[str] = ()
    """Problem codes (``amount_mismatch`` …), as ``pecbot cases --json`` lists them."""
    warnings: Sequence[str] = ()
    ets_name: str | None = None


Assess = Callable[[Case, Sequence[Document]], Assessment]


def case_for_mailbox(
    session: Session, mailbox: str, *, ets_name: str | None = None, now: datetime | None = None
) -> Case:
    """The case of ``mailbox`` (lower case), created if new; safe when two daemons race."""
    now = now or utcnow()
    insert_if_absent(
        session,
        Case,
        {
            "mailbox": mailbox,
            "ets_name": ets_name,
            "status": "incomplete",
            "missing": [],
            "problems": [],
            "warnings": [],
            "created_at": now,
            "updated_at": now,
        },
        unique=("mailbox",),
    )
    session.commit()
    return session.scalars(
        select(Case).where(Case.mailbox == mailbox).execution_options(populate_existing=True)
    ).one()


def attach_message(
    session: Session,
    message_id: int,
    case_id: int,
    *,
    actor: str | None = None,
    note: str | None = None,
) -> int | None:
    """File a message and its documents into a case; returns the case it was in before.

    With ``actor`` this is an operator moving the message, and it is audited
    on both cases. The caller reassesses the case(s) afterwards.
    """
    previous = session.scalar(select(Message.case_id).where(Message.id == message_id))
    changed_rows(session, update(Message).where(Message.id == message_id).values(case_id=case_id))
    changed_rows(
        session, update(Document).where(Document.message_id == message_id).values(case_id=case_id)
    )
    if actor is not None and previous != case_id:
        for affected in {previous, case_id} - {None}:
            audit.record(
                session,
                actor=actor,
                action="message_moved",
                case_id=affected,
                message_id=message_id,
                note=f"from case {previous} to case {case_id}: {note or ''}",
            )
    session.commit()
    return previous


def documents_of_case(session: Session, case_id: int) -> Sequence[Document]:
    """Every document filed in the case, in arrival order (purged ones included)."""
    return session.scalars(
        select(Document)
        .where(Document.case_id == case_id)
        .order_by(Document.message_id, Document.id)
    ).all()


def reassess(
    session: Session, case_id: int, assess: Assess, *, now: datetime | None = None
) -> Case:
    """Recompute the automatic status of a case over all its documents, and commit it.

    The case row is locked meanwhile (SQLite: the whole database), so two
    daemons reassessing the same case run one after the other and the last
    one sees every document either filed.
    """
    now = now or utcnow()
    case = session.get(Case, case_id, with_for_update=True, populate_existing=True)
    if case is None:
        session.rollback()
        raise LookupError(f"no case {case_id}")
    outcome = assess(case, documents_of_case(session, case_id))
    if outcome.status == "complete" and case.status != "complete":
        case.completed_at = now
    elif outcome.status != "complete":
        case.completed_at = None
    case.status = outcome.status
    case.missing = list(outcome.missing)
    case.problems = list(outcome.problems)
    case.warnings = list(outcome.warnings)
    case.ets_name = outcome.ets_name or case.ets_name
    case.updated_at = now
    _update_closure(case, now)
    session.commit()
    return case


def decide(
    session: Session,
    case_id: int,
    status: CaseStatus,
    *,
    actor: str,
    note: str,
    now: datetime | None = None,
) -> Case:
    """An operator marks a case complete, or reopens it (``incomplete``), with a note.

    The decision overrides the automatic status until another decision; it
    is stamped with who and when, and audited.
    """
    now = now or utcnow()
    case = session.get(Case, case_id, with_for_update=True, populate_existing=True)
    if case is None:
        session.rollback()
        raise LookupError(f"no case {case_id}")
    case.manual_status = status
    case.manual_note = note
    case.manual_by = actor
    case.manual_at = now
    case.updated_at = now
    _update_closure(case, now)
    action = "marked_complete" if status == "complete" else "reopened"
    audit.record(session, actor=actor, action=action, case_id=case_id, note=note, at=now)
    session.commit()
    return case


def _update_closure(case: Case, now: datetime) -> None:
    # The retention clock starts when the case is (effectively) complete and
    # stops if it is reopened.
    if case.effective_status == "complete":
        case.closed_at = case.closed_at or now
    else:
        case.closed_at = None


def cases_with_message_counts(session: Session) -> list[tuple[Case, int]]:
    """Every case with how many messages it holds, most recently updated first."""
    counts = (
        select(Message.case_id, func.count(Message.id).label("messages"))
        .where(Message.case_id.is_not(None))
        .group_by(Message.case_id)
        .subquery()
    )
    rows = session.execute(
        select(Case, func.coalesce(counts.c.messages, 0))
        .outerjoin(counts, counts.c.case_id == Case.id)
        .order_by(Case.updated_at.desc(), Case.id)
    ).all()
    return [(case, int(count)) for case, count in rows]
