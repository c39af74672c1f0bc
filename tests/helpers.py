"""Small builders of already-read documents, for tests of checks, cases and replies."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from bot.model import (
    Document,
    Envelope,
    IdentityFields,
    IdSide,
    OrderFormFields,
    Page,
    ReceiptFields,
    Submission,
)

ARUBA_IBAN = "IT67D0538771336000042125809"
JULY_14 = datetime.fromisoformat("2026-07-14T10:15:32+02:00")


def receipt(amount: str = "12.08", iban: str | None = ARUBA_IBAN, causale: str | None = "amicidelparcopec.it",
            filename: str = "ricevuta.pdf") -> Document:
    return Document(
        filename=filename, content_type="application/pdf", data=b"", kind="payment_receipt",
        pages=[Page(1, "", kind="payment_receipt")],
        receipt=ReceiptFields(payee_iban=iban, transferred_amount=Decimal(amount) if amount else None, causale=causale),
    )


def order_form(mailbox: str | None = "amicidelparco@pec.it", login: str | None = "1234567@aruba.it",
               tax_code: str = "97123450154", valid: bool = True, filename: str = "modulo.pdf") -> Document:
    return Document(
        filename=filename, content_type="application/pdf", data=b"", kind="order_form",
        pages=[Page(1, "", kind="order_form")],
        order_form=OrderFormFields(ets_name="Amici del Parco ODV", tax_code=tax_code, tax_code_valid=valid,
                                   mailbox=mailbox, aruba_login=login),
    )


def identity(*sides: IdSide, expiry: date | None = date(2030, 5, 1), filename: str = "documento.jpg") -> Document:
    return Document(
        filename=filename, content_type="image/jpeg", data=b"", kind="id_document",
        pages=[Page(1, "", ocr=True, kind="id_document")],
        identity=IdentityFields(id_type="cie", sides=list(sides), expiry=expiry),
    )


def submission(*documents: Document, sender: str = "amicidelparco@pec.it",
               when: datetime = JULY_14,
               type: str = "posta-certificata", signature: str = "valid") -> Submission:
    return Submission(
        source="test", raw=b"",
        envelope=Envelope(type=type, sender=sender, reply_to=sender, date=when, signature=signature,  # type: ignore[arg-type]
                          subject="Rinnovo PEC", original_message_id="<orig-1@example.it>"),
        documents=list(documents),
    )
