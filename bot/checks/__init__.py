"""What is wrong with the submission? One function per question, in one visible list.

Each check only records findings; :mod:`bot.verdict` decides.
"""

from __future__ import annotations

from bot.checks import delivery, identity, order_form, payment
from bot.checks.base import Check
from bot.model import AnalysisContext, Submission

#: Every check, in the order its findings are reported.
CHECKS: tuple[tuple[str, Check], ...] = (
    ("signature", delivery.signature),
    ("certified", delivery.certified),
    ("on-time", delivery.on_time),
    ("readable", delivery.readable),
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


def run_checks(sub: Submission, ctx: AnalysisContext) -> None:
    """Run every check and record what each noticed on ``sub.findings``."""
    for name, check in CHECKS:
        found = check(sub, ctx)
        sub.findings.extend(found)
        if found:
            sub.trace.append(f"check {name}: " + ", ".join(f.code for f in found))
