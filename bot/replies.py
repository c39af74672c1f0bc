"""What do we tell the ETS? One reply per submission, in Italian, from the templates in rules/.

The reply says what this message brought (file by file), where the whole case
stands (what is still missing or wrong, with the details an association can
act on), what to do and by when. It is threaded to the sender's original and
marked ``Auto-Submitted: auto-replied`` so that well-behaved robots never
answer it, and its Message-ID starts with ``pecbot.`` so we recognise it.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

from bot.cases import CaseState
from bot.model import AnalysisContext, Document, Finding, Submission
from bot.report import KIND_NAMES, SIDE_NAMES
from bot.texts import euro, italian_date, italian_list, templates
from bot.triage import MESSAGE_ID_PREFIX

#: Findings about a message that the association can act on (the rest are for operators).
MESSAGE_FINDINGS_FOR_ETS = ("signature_invalid", "not_certified", "late", "attachment_unreadable")



def _describe(doc: Document) -> str:
    if doc.unreadable is not None:
        return f"non riusciamo a leggerlo ({doc.unreadable})"
    if not doc.kinds:
        return "non lo abbiamo riconosciuto come uno dei documenti richiesti"
    names = [KIND_NAMES[k] for k in doc.kinds]
    if doc.identity and doc.identity.sides:
        names[names.index(KIND_NAMES["id_document"])] += " (" + " e ".join(
            SIDE_NAMES[s] for s in doc.identity.sides
        ) + ")"
    return italian_list(names)


def _details(findings: list[Finding]) -> list[str]:
    seen: list[str] = []
    for f in findings:
        if f.detail not in seen:
            seen.append(f.detail)
    return seen


def reply_context(sub: Submission, case: CaseState, ctx: AnalysisContext, today: date) -> dict[str, Any]:
    """Everything the reply templates may use, already worded for Italian readers."""
    rules = ctx.rules
    for_ets = [f for f in sub.findings if f.code in MESSAGE_FINDINGS_FOR_ETS]
    deadline_day = date(today.year, rules.deadline.month, rules.deadline.day)
    env = sub.envelope
    received_on = env.date if env and env.date else datetime.now(rules.deadline.timezone)
    return {
        "org": rules.organisation,
        "payment": rules.payment,
        "fee": " o ".join(euro(a) for a in rules.payment.accepted_amounts),
        "ets_name": case.ets_name,
        "mailbox": case.mailbox,
        "mailbox_without_at": case.mailbox.replace("@", ""),
        "received_on": italian_date(received_on),
        "received": [{"filename": d.filename, "description": _describe(d)} for d in sub.documents],
        "case": {
            "complete": case.complete,
            "missing": [
                {"kind": k, "name": rules.missing[k].name, "help": rules.missing[k].help}
                for k in case.missing
            ],
            "problems": _details([f for f in for_ets if f.severity == "problem"] + case.problems),
            "warnings": _details([f for f in for_ets if f.severity == "warning"] + case.warnings),
        },
        "deadline": italian_date(deadline_day),
        "days_left": (deadline_day - today).days,
    }


def compose_reply(
    sub: Submission,
    case: CaseState,
    ctx: AnalysisContext,
    *,
    sender: str,
    today: date,
    key: str,
) -> EmailMessage:
    """The reply to ``sub``: To the certified sender, From ``sender``, threaded, text + HTML.

    ``key`` (e.g. the stored message's id) makes the Message-ID stable, so a
    reply composed twice for the same message is recognisably the same reply.
    """
    env = sub.envelope
    if env is None or not (env.reply_to or env.sender):
        raise ValueError("a reply needs a submission with a known sender")
    values = reply_context(sub, case, ctx, today)
    env_templates = templates(ctx.rules.folder)
    message = EmailMessage()
    message["From"] = sender
    message["To"] = env.reply_to or env.sender or ""
    message["Subject"] = env_templates.get_template("reply_subject.txt.j2").render(values).strip()
    message["Date"] = format_datetime(datetime.now().astimezone())
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    domain = sender.rsplit("@", 1)[-1]
    message["Message-ID"] = f"<{MESSAGE_ID_PREFIX}{digest}@{domain}>"
    original_id = env.original_message_id or env.message_id
    if original_id:
        message["In-Reply-To"] = original_id
        message["References"] = original_id
    message["Auto-Submitted"] = "auto-replied"
    message["X-Auto-Response-Suppress"] = "All"
    message.set_content(env_templates.get_template("reply.txt.j2").render(values))
    message.add_alternative(env_templates.get_template("reply.html.j2").render(values), subtype="html")
    return message
