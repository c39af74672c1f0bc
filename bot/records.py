"""What we remember of a document once its bytes are gone: a JSON-safe record.

The daemon keeps, per document, its kind and the fields read from it, so a
case can be recomputed over all its messages without reading any file again
(and after the files were purged for privacy).
"""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal
from typing import Any

from bot.model import Document, IdentityFields, OrderFormFields, Page, ReceiptFields


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _fields(obj: Any) -> dict[str, Any] | None:
    if obj is None:
        return None
    return {f.name: _plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}


def document_record(doc: Document) -> dict[str, Any]:
    """The JSON-safe record of ``doc``: kinds and fields, no bytes, no page text."""
    return {
        "filename": doc.filename,
        "content_type": doc.content_type,
        "kind": doc.kind,
        "kinds": list(doc.kinds),
        "ocr": doc.ocr,
        "unreadable": doc.unreadable,
        "receipt": _fields(doc.receipt),
        "order_form": _fields(doc.order_form),
        "identity": _fields(doc.identity),
    }


def _date(text: Any) -> date | None:
    return date.fromisoformat(text) if isinstance(text, str) else None


def document_from_record(record: dict[str, Any]) -> Document:
    """A :class:`Document` rebuilt from :func:`document_record` (without bytes or text)."""
    kinds = record.get("kinds") or []
    doc = Document(
        filename=record["filename"],
        content_type=record.get("content_type", ""),
        data=b"",
        kind=record.get("kind", "other"),
        unreadable=record.get("unreadable"),
        # One empty page per kind keeps Document.kinds answering as before.
        pages=[Page(number=i + 1, text="", ocr=bool(record.get("ocr")), kind=k) for i, k in enumerate(kinds)],
    )
    if (r := record.get("receipt")) is not None:
        doc.receipt = ReceiptFields(
            payee_iban=r.get("payee_iban"),
            payee_iban_text=r.get("payee_iban_text"),
            transferred_amount=Decimal(r["transferred_amount"]) if r.get("transferred_amount") else None,
            causale=r.get("causale"),
            beneficiary=r.get("beneficiary"),
            payer_iban=r.get("payer_iban"),
            execution_date=_date(r.get("execution_date")),
            status=r.get("status"),
        )
    if (o := record.get("order_form")) is not None:
        known = {f.name for f in dataclasses.fields(OrderFormFields)}
        doc.order_form = OrderFormFields(**{k: v for k, v in o.items() if k in known})
    if (i := record.get("identity")) is not None:
        doc.identity = IdentityFields(
            id_type=i.get("id_type", "unknown"),
            sides=list(i.get("sides") or []),
            expiry=_date(i.get("expiry")),
            number=i.get("number"),
            mrz_valid=i.get("mrz_valid"),
        )
    return doc
