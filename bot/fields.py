"""The submission's fields: one value each, taken from the right document.

The payment fields come from the receipt, the mailbox, login, tax code and
name from the order form, the expiry from the identity document — as the
contract says. When a message carries several documents of one kind, the one
that satisfies the rules wins, else the last one sent (people resend a
corrected file after a wrong one). Never a guess: a field nobody states
stays None, except the mailbox, which falls back to the certified sender.
"""

from __future__ import annotations

from bot.model import (
    AnalysisContext,
    IdentityFields,
    IdSide,
    OrderFormFields,
    ReceiptFields,
    Submission,
)
from bot.rules import Rules


def best_receipt(receipts: list[ReceiptFields], rules: Rules) -> ReceiptFields | None:
    """The receipt paying the right payee the right amount, else the last one sent."""
    for receipt in reversed(receipts):
        if (
            receipt.payee_iban == rules.payment.payee_iban
            and receipt.transferred_amount in rules.payment.accepted_amounts
        ):
            return receipt
    return receipts[-1] if receipts else None


def best_order_form(forms: list[OrderFormFields]) -> OrderFormFields | None:
    """The last order form that names a mailbox, else the last one."""
    for form in reversed(forms):
        if form.mailbox:
            return form
    return forms[-1] if forms else None


def merge_identities(identities: list[IdentityFields]) -> IdentityFields | None:
    """All identity files of one message seen as one document: sides add up.

    Front and back often come as two files; the expiry is the one any of them
    states (the latest, when two documents disagree: someone who sent an old
    card and a renewed one has a valid document).
    """
    if not identities:
        return None
    sides: list[IdSide] = []
    for identity in identities:
        sides.extend(s for s in identity.sides if s not in sides)
    expiries = [i.expiry for i in identities if i.expiry is not None]
    types = [i.id_type for i in identities if i.id_type != "unknown"]
    return IdentityFields(
        id_type=types[0] if types else "unknown",
        sides=sides,
        expiry=max(expiries) if expiries else None,
        number=next((i.number for i in identities if i.number), None),
        mrz_valid=next((i.mrz_valid for i in identities if i.mrz_valid is not None), None),
    )


def merge_fields(sub: Submission, ctx: AnalysisContext) -> None:
    """Fill ``sub.fields`` from the documents' extracted fields."""
    receipt = best_receipt([d.receipt for d in sub.documents if d.receipt], ctx.rules)
    if receipt is not None:
        sub.fields.iban = receipt.payee_iban
        sub.fields.amount = receipt.transferred_amount
        sub.fields.causale = receipt.causale
    form = best_order_form([d.order_form for d in sub.documents if d.order_form])
    if form is not None:
        sub.fields.mailbox = form.mailbox
        sub.fields.aruba_login = form.aruba_login
        sub.fields.tax_code = form.tax_code
        sub.fields.ets_name = form.ets_name
    if sub.fields.mailbox is None and sub.envelope is not None:
        sub.fields.mailbox = sub.envelope.sender
    identity = merge_identities([d.identity for d in sub.documents if d.identity])
    if identity is not None:
        sub.fields.id_expiry = identity.expiry
