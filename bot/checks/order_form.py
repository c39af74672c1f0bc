"""Does the order form name an Aruba login, an Aruba mailbox and a valid tax code?"""

from __future__ import annotations

from bot.checks.base import finding
from bot.model import AnalysisContext, Finding, OrderFormFields, Submission


def _forms(sub: Submission) -> list[OrderFormFields]:
    return [d.order_form for d in sub.documents if d.order_form is not None]


def aruba_login(sub: Submission, ctx: AnalysisContext) -> list[Finding]:
    """``aruba_login_missing`` when an order form is present but holds no login."""
    if not _forms(sub) or sub.fields.aruba_login:
        return []
    return [finding(ctx, "aruba_login_missing")]


def aruba_mailbox(sub: Submission, ctx: AnalysisContext) -> list[Finding]:
    """``mailbox_not_aruba`` when the form's mailbox is not on an Aruba PEC domain."""
    stated = [f.mailbox for f in _forms(sub) if f.mailbox]
    if not stated or sub.fields.mailbox is None:
        return []
    domain = sub.fields.mailbox.rsplit("@", 1)[-1]
    if domain in ctx.rules.aruba.pec_domains:
        return []
    return [finding(ctx, "mailbox_not_aruba", mailbox=sub.fields.mailbox)]


def tax_code(sub: Submission, ctx: AnalysisContext) -> list[Finding]:
    """``tax_code_invalid`` when the ETS's codice fiscale fails its check digit."""
    for form in _forms(sub):
        if form.tax_code and form.tax_code == sub.fields.tax_code and form.tax_code_valid is False:
            return [finding(ctx, "tax_code_invalid", tax_code=form.tax_code)]
    return []
