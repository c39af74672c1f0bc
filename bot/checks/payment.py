"""Was the right amount paid to the right payee, with a causale naming the mailbox?"""

from __future__ import annotations

import re

from bot.checks.base import finding
from bot.model import AnalysisContext, Finding, Submission
from bot.texts import euro, italian_list


def _has_receipt(sub: Submission) -> bool:
    return any(d.receipt is not None for d in sub.documents)


def payee(sub: Submission, ctx: AnalysisContext) -> list[Finding]:
    """``iban_missing`` / ``iban_mismatch`` for the receipt's payee IBAN."""
    if not _has_receipt(sub):
        return []
    expected = ctx.rules.payment.payee_iban
    if sub.fields.iban is None:
        return [finding(ctx, "iban_missing", expected_iban=expected)]
    if sub.fields.iban != expected:
        return [finding(ctx, "iban_mismatch", iban=sub.fields.iban, expected_iban=expected)]
    return []


def amount(sub: Submission, ctx: AnalysisContext) -> list[Finding]:
    """``amount_missing`` / ``amount_mismatch`` for the transferred amount."""
    if not _has_receipt(sub):
        return []
    accepted = ctx.rules.payment.accepted_amounts
    expected = italian_list([euro(a) for a in accepted]).replace(" e ", " o ")
    if sub.fields.amount is None:
        return [finding(ctx, "amount_missing", expected_amounts=expected)]
    if sub.fields.amount not in accepted:
        return [finding(ctx, "amount_mismatch", amount=euro(sub.fields.amount), expected_amounts=expected)]
    return []


def _squeeze(text: str) -> str:
    """Lower case, with ``(at)``, spaces and the punctuation banks swap removed."""
    text = re.sub(r"\(at\)|\[at\]", "", text.lower())
    return re.sub(r"[\s@_.\-,;:/\\'\"]+", "", text)


def causale(sub: Submission, ctx: AnalysisContext) -> list[Finding]:
    """``causale_mismatch`` when the causale does not hold the mailbox without ``@``."""
    mailbox = sub.fields.mailbox
    if not _has_receipt(sub) or not mailbox:
        return []
    written = sub.fields.causale or ""
    if written and _squeeze(mailbox) in _squeeze(written):
        return []
    return [
        finding(
            ctx,
            "causale_mismatch",
            causale=written or "non leggibile",
            mailbox_without_at=mailbox.replace("@", ""),
        )
    ]


def executed(sub: Submission, ctx: AnalysisContext) -> list[Finding]:
    """``payment_not_executed`` when the receipt says the transfer is pending or refused."""
    statuses = [d.receipt.status for d in sub.documents if d.receipt and d.receipt.status]
    if not statuses:
        return []
    return [finding(ctx, "payment_not_executed", status=statuses[-1])]
