"""What do we tell the operators? The digest: totals, progress, what needs a person.

Rendered from ``rules/templates/digest.*.j2`` (Italian, text and HTML). The
daemon sends it at the times in ``rules/digest.toml``, at most once per
scheduled period (the period key is unique in the store).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

import structlog
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from bot.config import Settings
from bot.errors import OutboxError
from bot.filing import judge_case
from bot.model import AnalysisContext
from bot.outbox import Outbox
from bot.store import audit, digests, health
from bot.store import models as db
from bot.texts import templates

log = structlog.get_logger("pecbot.digest")

#: Receipts about our own replies that mean the ETS never got them.
UNDELIVERED = ("errore-consegna", "non-accettazione", "preavviso-errore-consegna")
#: Warnings that ask a person to look at a message.
NEEDS_A_PERSON = ("signature_untrusted", "attachment_unreadable", "not_certified")


@dataclass(frozen=True)
class Digest:
    subject: str
    text: str
    html: str


def _when(moment: datetime | None, ctx: AnalysisContext) -> str:
    if moment is None:
        return ""
    return moment.astimezone(ctx.rules.digest.timezone).strftime("%d/%m/%Y %H:%M")


def _attention(session: Session, ctx: AnalysisContext, since: datetime | None) -> list[dict[str, str]]:
    """Messages a person should look at: quarantined, errors, anomalies, signatures, unreadable."""
    items: list[dict[str, str]] = []
    query = select(db.Message).order_by(db.Message.id)
    if since is not None:
        query = query.where(or_(db.Message.received_at > since, db.Message.state == "quarantined"))
    for message in session.scalars(query):
        analysis = message.analysis or {}
        who = message.certified_sender or f"messaggio {message.id}"
        reasons: list[str] = []
        if message.state == "quarantined":
            reasons.append(f"non analizzato, in quarantena ({message.last_error or 'errore'})")
        verdict = analysis.get("verdict")
        if verdict == "error":
            reasons.append(f"non è un messaggio leggibile ({analysis.get('error')})")
        envelope_type = (analysis.get("envelope") or {}).get("type")
        if envelope_type in UNDELIVERED:
            reasons.append(f"ricevuta PEC «{envelope_type}»: una nostra risposta potrebbe non essere arrivata")
        for finding in (analysis.get("problems") or []) + (analysis.get("warnings") or []):
            if finding.get("code") in NEEDS_A_PERSON or finding.get("code") == "signature_invalid":
                reasons.append(finding.get("detail", finding["code"]))
        if reasons:
            items.append({"when": _when(message.received_at, ctx), "who": who, "what": "; ".join(reasons)})
    for reply in session.scalars(select(db.Reply).where(db.Reply.state == "failed")):
        items.append({"when": _when(reply.created_at, ctx), "who": reply.recipient,
                      "what": f"risposta non inviata ({reply.last_error or 'errore'})"})
    return items


def case_rows(session: Session) -> Sequence[tuple[db.Case, int]]:
    counts = (
        select(db.Message.case_id, func.count(db.Message.id).label("n"))
        .group_by(db.Message.case_id)
        .subquery()
    )
    rows = session.execute(
        select(db.Case, func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.case_id == db.Case.id)
        .order_by(db.Case.created_at, db.Case.id)
    ).all()
    return [(case, int(n)) for case, n in rows]


def build_digest(session: Session, ctx: AnalysisContext, *, now: datetime, since: datetime | None) -> Digest:
    """The digest as of ``now``, with progress since ``since`` (the last digest sent)."""
    rules = ctx.rules
    completed: list[dict[str, Any]] = []
    incomplete: list[dict[str, Any]] = []
    for case, count in case_rows(session):
        manual = f"{case.manual_by}: {case.manual_note}" if case.manual_status else ""
        if case.effective_status == "complete":
            if since is None or (case.closed_at and case.closed_at > since):
                completed.append({"mailbox": case.mailbox, "ets_name": case.ets_name, "manual": manual})
            continue
        state = judge_case(session, case.id, case.mailbox, ctx)
        lacks = [rules.missing[k].name for k in state.missing] + [p.detail for p in state.problems]
        if manual:
            lacks.append(f"riaperto da {manual}")
        incomplete.append({
            "mailbox": case.mailbox, "ets_name": case.ets_name, "messages": count,
            "since": _when(case.created_at, ctx), "lacks": lacks or ["da verificare"],
        })
    attention = _attention(session, ctx, since)
    local = now.astimezone(rules.digest.timezone)
    deadline = date(local.year, rules.deadline.month, rules.deadline.day)
    pending = session.scalar(select(func.count(db.Reply.id)).where(db.Reply.state == "pending")) or 0
    values = {
        "generated": local.strftime("%d/%m/%Y %H:%M"),
        "totals": {
            "complete": sum(1 for case, _ in case_rows(session) if case.effective_status == "complete"),
            "incomplete": len(incomplete),
            "attention": len(attention),
        },
        "deadline": deadline.strftime("%d/%m/%Y"),
        "days_left": (deadline - local.date()).days,
        "completed": completed,
        "incomplete": incomplete,
        "attention": attention,
        "health": {
            "last_poll": _when(health.last_poll(session), ctx),
            "errors": len(audit.errors_since(session, since)),
            "pending_replies": pending,
        },
    }
    env = templates(rules.folder)
    return Digest(
        subject=rules.digest.subject,
        text=env.get_template("digest.txt.j2").render(values),
        html=env.get_template("digest.html.j2").render(values),
    )


def due_period(ctx: AnalysisContext, now: datetime) -> str | None:
    """The key of the latest scheduled digest at or before ``now`` (within a week), or None."""
    schedule = ctx.rules.digest
    local = now.astimezone(schedule.timezone)
    for days_back in range(8):
        day = local.date() - timedelta(days=days_back)
        if day.weekday() not in schedule.weekdays:
            continue
        for at in sorted(schedule.times, reverse=True):
            moment = datetime.combine(day, at, tzinfo=schedule.timezone)
            if moment <= local:
                return moment.isoformat(timespec="minutes")
    return None


def as_email(digest: Digest, *, sender: str, operators: Sequence[str]) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(operators)
    message["Subject"] = digest.subject
    message["Date"] = format_datetime(datetime.now().astimezone())
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(digest.text)
    message.add_alternative(digest.html, subtype="html")
    return message


def send_if_due(
    sessions: sessionmaker[Session], ctx: AnalysisContext, settings: Settings, outbox: Outbox, *, worker: str
) -> bool:
    """Send the digest of the current period unless it was sent already; True when sent now."""
    if not settings.operators:
        return False
    now = db.utcnow()
    period = due_period(ctx, now)
    if period is None:
        return False
    with sessions() as session:
        if session.scalar(select(db.Digest.id).where(db.Digest.period == period, db.Digest.state == "sent")):
            return False
        digest = build_digest(session, ctx, now=now, since=digests.last_digest_sent_at(session))
        claimed = digests.claim_digest(session, period, digest.text, worker=worker)
        if claimed is None:
            return False
        try:
            outbox.send(as_email(digest, sender=settings.address, operators=settings.operators))
        except OutboxError as exc:
            digests.mark_digest_failed(session, claimed.id, worker=worker, error=str(exc))
            log.warning("digest_not_sent", period=period)
            return False
        digests.mark_digest_sent(session, claimed.id)
        log.info("digest_sent", period=period)
        return True
