"""What is wrong with the submission? One function per question, in one visible list.

Each check only records findings; :mod:`bot.verdict` decides. Message checks
judge how this message arrived; document checks judge what the documents
say, and are run again over a whole case (:mod:`bot.cases`).
"""

from __future__ import annotations

from bot.checks import delivery, identity, order_form, payment
from bot.checks.base import Check
from bot.model import AnalysisContext, Submission

#: How the message arrived: signature, PEC circuit, deadline, readable files.
MESSAGE_CHECKS: tuple[tuple[str, Check], ...] = (
    ("signature", delivery.signature),
    ("certified", delivery.certified),
    ("on-time", delivery.on_time),
    ("readable", delivery.readable),
)

#: What the documents say, whichever message brought them.
DOCUMENT_CHECKS: tuple[tuple[str, Check], ...] = (
    ("aruba-login", order_form.aruba_login),
    ("aruba-mailbox", order_form.aruba_mailbox),
    ("tax-code", order_form.tax_code),
    ("id-both-sides", identity.both_sides),
    ("id-not-expired", identity.not_expired),
    ("payee", payment.payee),
    ("amount", payment.amount),
    ("payment-executed", payment.executed),
    ("causale", payment.causale),
)

#: Every check, in the order its findings are reported.
CHECKS = MESSAGE_CHECKS + DOCUMENT_CHECKS


def run_checks(sub: Submission, ctx: AnalysisContext, checks: tuple[tuple[str, Check], ...] = CHECKS) -> None:
    """Run ``checks`` and record what each noticed on ``sub.findings`` and ``sub.trace``."""
    for name, check in checks:
        found = check(sub, ctx)
        sub.findings.extend(found)
        if found:
            sub.trace.append(f"check {name}: " + ", ".join(f.code for f in found))
