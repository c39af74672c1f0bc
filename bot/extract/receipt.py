"""What does a bank-transfer receipt state? (payee IBAN, amount, causale …)

The text comes from pdfplumber (home-banking PDFs) or from tesseract (scans,
photos, app screenshots). :mod:`bot.extract.receipt_layout` ties values to
the labels of ``rules/receipt.toml``, :mod:`bot.extract.receipt_ibans` says
whose each IBAN is; this module picks each field, minding the traps every
receipt sets:

- the payer's own IBAN is printed too: the payee IBAN is the one owned by a
  payee label (or by a plain ``IBAN`` label inside the payee's section),
  never merely the first IBAN on the page;
- the page shows the transfer, the fees, the total debited and maybe a
  balance: only an amount owned by an amount label is the transferred
  amount (9,99 + 1,00 fees = 10,99 total is a payment of 9,99);
- OCR garbles IBANs: a payee IBAN that does not validate is compared with
  the one the rules expect, position by position (:mod:`bot.extract.iban`),
  and otherwise kept only as printed text for the operator.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

from bot.extract.dates import find_dates
from bot.extract.iban import find_ibans
from bot.extract.money import find_amounts, parse_amount
from bot.extract.receipt_ibans import owner_of, read_ibans, section_of
from bot.extract.receipt_layout import Cell, Layout, read_layout
from bot.model import ReceiptFields
from bot.rules import Cue, LabelRules, PaymentRules, Rules

_AMOUNT_OWNERS = {"amount", "fees", "total", "balance"}
_MODAL = r"\b(non|può|possono|potrà|potrebbe|essere|sarà|verrà)\s+(essere\s+)?$"
_CONDITIONS = r"\b(se|qualora|caso|entro|dopo|fino|salvo|prima)\b"
_NOT_TRANSFER = {"fees", "total", "balance", "causale", "date", "ids", "payer", "payer_iban"}


def read_receipt(text: str, rules: Rules) -> ReceiptFields:
    """The fields a receipt's text states; each is None when the receipt does not show it.

    ``payee_iban`` is valid, upper case, without spaces; an OCR-garbled IBAN
    that matches the rules' payee IBAN position by position is returned as
    that IBAN, one that matches nothing stays None with the printed text in
    ``payee_iban_text``. ``transferred_amount`` is the amount sent, never
    the fees, the total debited or a balance. ``status`` is set only when
    the receipt says the transfer was not executed.
    """
    layout = read_layout(text, rules.receipt)
    payee_iban, payee_iban_text, payer_iban = read_ibans(layout, rules.payment.payee_iban)
    return ReceiptFields(
        payee_iban=payee_iban,
        payee_iban_text=payee_iban_text,
        transferred_amount=_amount(layout),
        causale=_causale(layout),
        beneficiary=_beneficiary(layout, rules.payment, rules.receipt.cues),
        payer_iban=payer_iban,
        execution_date=_execution_date(layout),
        status=_status(layout, rules.receipt),
    )


def _amount(layout: Layout) -> Decimal | None:
    amounts = find_amounts(layout.text)
    starts = [start for _, start, _ in amounts]
    owned = [(owner_of(layout, start, starts, _AMOUNT_OWNERS), value) for value, start, _ in amounts]
    labelled = [value for owner, value in owned if owner is not None and owner.concept == "amount"]
    if labelled:
        return labelled[0]
    # "Importo: 12" — a bare number is money when the label says so.
    for cell in (c for c in layout.cells if c.concept == "amount"):
        for value in layout.values(cell)[:1]:
            if re.fullmatch(r"[-−]?\s?(?:€|EUR)?\s?\d{1,6}\s?(?:€|EUR)?", value, re.IGNORECASE):
                return parse_amount(value)
    # An app screenshot may show "-9,99 €" with no label at all.
    loose = [value for owner, value in owned if owner is None or owner.concept not in _NOT_TRANSFER]
    return loose[0] if loose else None


def _text_value(layout: Layout, cell: Cell) -> str | None:
    """The free-text value of ``cell``: its first line, without the typed values of other columns."""
    values = layout.values(cell)
    if not values:
        return None
    value = values[0]
    if cell.columns > 1 and cell.spans and cell.spans[0][0] not in range(*layout.lines[cell.line]):
        for _, start, end in sorted(find_amounts(value), key=lambda a: -a[1]):
            value = value[:start] + value[end:]
        for _, start, end in sorted(find_dates(value), key=lambda d: -d[1]):
            value = value[:start] + value[end:]
        for found in reversed(find_ibans(value)):
            value = value[: found.start] + value[found.end :]
    return re.sub(r"\s{2,}", " ", value).strip(" \"'“”«»:;") or None


def _causale(layout: Layout) -> str | None:
    cells = sorted((c for c in layout.cells if c.concept == "causale"), key=lambda c: (c.rank, c.line))
    for cell in cells:
        value = _text_value(layout, cell)
        if not value:
            continue
        # A long causale wraps on narrow layouts (apps): take the next line too.
        for extra in layout.values(cell)[1:3]:
            if len(value) < 28 or len(value) + len(extra) > 140:
                break
            if any(find_amounts(extra)) or any(find_dates(extra)) or any(find_ibans(extra)):
                break
            value = f"{value} {extra}"
        return value
    return None


def _beneficiary(layout: Layout, payment: PaymentRules, cues: tuple[Cue, ...]) -> str | None:
    """The payee's name as printed, without the address some banks print after it."""
    cells = sorted(
        (c for c in layout.cells if c.concept == "payee" or (c.concept == "name" and section_of(layout, c.at) == "payee")),
        key=lambda c: (c.line, c.rank),
    )
    names = sorted({payment.beneficiary, *payment.beneficiary_aliases}, key=len, reverse=True)
    for cell in cells:
        value = _text_value(layout, cell)
        if not value:
            continue
        if cell.columns > 1:
            # "Mario Rossi Aruba S.p.A." under "Ordinante Beneficiario": the known name, if there.
            for name in names:
                match = re.search(re.escape(name).replace(r"\ ", r"\s*"), value, re.IGNORECASE)
                if match:
                    return match.group(0)
        ibans = find_ibans(value)
        if ibans:
            value = value[: ibans[0].start].strip(" -,;")
        value = re.split(r"\s+(?:IBAN|BIC)\b", value, maxsplit=1, flags=re.IGNORECASE)[0].strip()
        for cue in (c for c in cues if c.kind == "address"):
            street = cue.pattern.search(value)
            if street and street.start() > 0:
                value = value[: street.start()].strip(" ,-")
        if re.search(r"[A-Za-z]{2}", value):
            return value
    return None


def _execution_date(layout: Layout) -> date | None:
    dates = list(find_dates(layout.text))
    starts = [start for _, start, _ in dates]
    owned = [(owner_of(layout, start, starts, {"date"}), value) for value, start, _ in dates]
    labelled = sorted(
        ((owner.rank, owner.line, value) for owner, value in owned if owner is not None and owner.concept == "date"),
        key=lambda item: (item[0], item[1]),
    )
    if labelled:
        return labelled[0][2]
    distinct = {value for value, _, _ in dates}
    return distinct.pop() if len(distinct) == 1 else None


def _status_cues(labels: LabelRules) -> list[Cue]:
    return [cue for cue in labels.cues if cue.kind in ("", "status")]


def _status(layout: Layout, labels: LabelRules) -> str | None:
    """A phrase saying the transfer was not executed: a status label's value, or a short line."""
    for cell in (c for c in layout.cells if c.concept == "status"):
        for value in layout.values(cell)[:1]:
            for cue in _status_cues(labels):
                match = cue.pattern.search(value)
                if match:
                    return value[match.start() :].strip(" .")
    for start, end in layout.lines:
        line = layout.text[start:end]
        # A banner ("In attesa di autorizzazione", "Il bonifico è stato annullato"),
        # not a clause of the small print ("… può essere revocato entro …").
        if len(line.split()) > 12 or re.search(_CONDITIONS, line, re.IGNORECASE):
            continue
        for cue in _status_cues(labels):
            match = cue.pattern.search(line)
            if match and not re.search(_MODAL, line[: match.start()], re.IGNORECASE):
                return line[match.start() :].strip(" .")
    return None
