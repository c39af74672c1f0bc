"""Did the message arrive certified, signed by a provider we trust, on time, readable?"""

from __future__ import annotations

from datetime import date

from bot.checks.base import finding, judged_day
from bot.model import AnalysisContext, Finding, Submission
from bot.texts import italian_date


def signature(sub: Submission, ctx: AnalysisContext) -> list[Finding]:
    """``signature_invalid`` (tampered) or ``signature_untrusted`` (unknown provider)."""
    env = sub.envelope
    if env is None:
        return []
    if env.signature == "invalid":
        return [finding(ctx, "signature_invalid")]
    if env.signature == "untrusted":
        return [finding(ctx, "signature_untrusted", signer=env.signer or "sconosciuto")]
    return []


def certified(sub: Submission, ctx: AnalysisContext) -> list[Finding]:
    """``not_certified`` when the message reached the box outside the PEC circuit."""
    if sub.envelope is not None and sub.envelope.type == "anomalia":
        return [finding(ctx, "not_certified")]
    return []


def on_time(sub: Submission, ctx: AnalysisContext) -> list[Finding]:
    """``late`` when the judged day is after the deadline day (the day itself is on time).

    The judged day is the certified day in the rules' timezone, or ``--now``
    when given (CONTRACT.md: the day deadline and expiry are judged against).
    """
    sent = judged_day(sub, ctx)
    if sent is None:
        return []
    rule = ctx.rules.deadline
    deadline = date(sent.year, rule.month, rule.day)
    if sent <= deadline:
        return []
    return [finding(ctx, "late", date=italian_date(sent), deadline=italian_date(deadline))]


def readable(sub: Submission, ctx: AnalysisContext) -> list[Finding]:
    """``attachment_unreadable`` for every attachment that could not be read."""
    return [
        finding(ctx, "attachment_unreadable", document=d.filename, filename=d.filename, reason=d.unreadable)
        for d in sub.documents
        if d.unreadable is not None
    ]

