"""Which fields does each document state? (the ``extract`` stage)

Dispatches each readable document's pages, by kind, to the reader of that
kind: :mod:`.receipt`, :mod:`.order_form`, :mod:`.identity`. A file holding
several kinds (an order form followed by the ID scans) is read once per kind,
each reader seeing only its own pages.
"""

from __future__ import annotations

from bot.extract.identity import read_identity
from bot.extract.order_form import read_order_form
from bot.extract.receipt import read_receipt
from bot.model import AnalysisContext, Submission


def extract_fields(sub: Submission, ctx: AnalysisContext) -> None:
    """Fill ``receipt``, ``order_form`` and ``identity`` on every readable document."""
    for doc in sub.documents:
        if doc.unreadable is not None:
            continue
        kinds = doc.kinds
        if "payment_receipt" in kinds:
            text = "\n".join(p.text for p in doc.pages_of("payment_receipt"))
            doc.receipt = read_receipt(text, ctx.rules)
        if "order_form" in kinds:
            text = "\n".join(p.text for p in doc.pages_of("order_form"))
            doc.order_form = read_order_form(text, ctx.rules)
        if "id_document" in kinds:
            doc.identity = read_identity(doc.pages_of("id_document"), ctx.rules)
