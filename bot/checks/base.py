"""What every check needs: how to word a finding, and which day we judge against."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from bot.model import AnalysisContext, Finding, Severity, Submission
from bot.texts import finding_detail

#: A check answers one question about one submission and returns what it noticed.
Check = Callable[[Submission, AnalysisContext], list[Finding]]


def finding(ctx: AnalysisContext, code: str, document: str | None = None, **values: Any) -> Finding:
    """A finding with its severity and Italian detail taken from rules/findings.toml."""
    text = ctx.rules.findings[code]
    severity: Severity = "problem" if text.severity == "problem" else "warning"
    return Finding(code, severity, finding_detail(ctx.rules, code, **values), document)


def judged_day(sub: Submission, ctx: AnalysisContext) -> date | None:
    """The day deadline and expiry are judged against: --now, else the certified day.

    The certified instant is turned into a calendar day in the rules' timezone
    (a message certified at 23:30 UTC on 30 July is already 31 July in Rome).
    """
    if ctx.now is not None:
        return ctx.now
    if sub.envelope is None or sub.envelope.date is None:
        return None
    moment = sub.envelope.date
    if moment.tzinfo is None:
        return moment.date()
    return moment.astimezone(ctx.rules.deadline.timezone).date()
