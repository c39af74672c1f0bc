"""What does a bank-transfer receipt state? (payee IBAN, amount, causale …)

The text comes from pdfplumber (home-banking PDFs) or from tesseract (scans,
photos, app screenshots). :mod:`bot.extract.receipt_layout` ties values to
the labels of ``rules/receipt.toml``; this module picks each field from
those cells, minding the traps every receipt sets:

- the payer's own IBAN is printed too: the payee IBAN is the one owned by a
  payee label (or by a plain ``IBAN`` label inside the payee's section),
  never merely the first IBAN on the page;
- the page shows the transfer, the fees, the total debited and maybe a
  balance: only an amount owned by an amount label is the transferred
  amount (12,08 + 1,00 fees = 13,08 total is a payment of 12,08);
- OCR garbles IBANs: a payee IBAN that does not validate is compared with
  the one the rules expect, position by position (:mod:`bot.extract.iban`),
  and otherwise kept only as printed text for the operator.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from bot.extract.dates import find_dates
from bot.extract.iban import by_position, find_ibans, iban_like, is_valid, matches_expected
from bot.extract.money import find_amounts, parse_amount
from bot.extract.receipt_layout import Cell, Layout, read_layout
from bot.model import ReceiptFields
from bot.rules import LabelRules, PaymentRules, Rules

_ROLE = {"payee": "payee", "payee_iban": "payee", "payer": "payer", "payer_iban": "payer"}
_IBAN_OWNERS = {"payee", "payee_iban", "payer", "payer_iban", "iban"}
_AMOUNT_OWNERS = {"amount", "fees", "total", "balance"}
_MASKED = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}[ A-Z0-9]{0,12}[*•xX]{3,}[ *•xX0-9A-Z]{0,24}")
_MODAL = r"\b(non|può|possono|potrà|potrebbe|essere|sarà|verrà)\s+(essere\s+)?$"
_NOT_TRANSFER = {"fees", "total", "balance", "causale", "date", "ids", "payer", "payer_iban"}


@dataclass
class _Printed:
    """One IBAN as printed, and whose it is."""

    printed: str
    start: int
    role: str | None
    explicit: bool
    """Owned by an IBAN label that names the role (``IBAN beneficiario``)."""


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
    payee_iban, payee_iban_text, payer_iban = _ibans(layout, rules.payment.payee_iban)
    return ReceiptFields(
        payee_iban=payee_iban,
        payee_iban_text=payee_iban_text,
        transferred_amount=_amount(layout),
        causale=_causale(layout),
        beneficiary=_beneficiary(layout, rules.payment),
        payer_iban=payer_iban,
        execution_date=_execution_date(layout),
        status=_status(layout, rules.receipt),
    )


def _owner(layout: Layout, start: int, same_kind: list[int], capable: set[str]) -> Cell | None:
    """The cell a typed value at ``start`` belongs to, choosing the column in a header row.

    ``same_kind`` are the starts of every value of the same kind; in a header
    row of columns, the n-th such value on a line goes to the n-th label able
    to hold it when the counts agree, else to the column under its position.
    """
    owners = layout.owners(start)
    if len(owners) <= 1:
        return owners[0] if owners else None
    line = layout.line_of(start)
    line_start, line_end = layout.lines[line]
    on_line = [s for s in same_kind if line_start <= s <= line_end]
    able = [cell for cell in owners if cell.concept in capable]
    if able and len(on_line) == len(able):
        return able[on_line.index(start)]
    width = max(1, line_end - line_start)
    column = min(owners[0].columns - 1, (start - line_start) * owners[0].columns // width)
    return next((cell for cell in owners if cell.column == column), owners[0])


def _section(layout: Layout, start: int) -> str | None:
    """Payee or payer: the role of the last payee/payer label before ``start``."""
    line = layout.line_of(start)
    before = [c for c in layout.cells if c.concept in _ROLE and c.at < start]
    if not before:
        return None
    last = before[-1]
    row = [c for c in before if c.line == last.line]
    if len(row) > 1:
        # A header row "Ordinante Beneficiario": the column under the value decides.
        line_start, line_end = layout.lines[line]
        column = (start - line_start) * last.columns // max(1, line_end - line_start)
        left = [c for c in row if c.column <= column]
        last = left[-1] if left else row[0]
    return _ROLE[last.concept]


def _printed_ibans(layout: Layout) -> list[_Printed]:
    found = [(match.printed, match.start) for match in find_ibans(layout.text)]
    # Apps hide most of an IBAN (IT67 D053 **** … 809): printed, but unreadable.
    found += [(m.group(0).strip(), m.start()) for m in _MASKED.finditer(layout.text)]
    # Values of IBAN labels where OCR spoilt even the "IT": read them loosely.
    for cell in layout.cells:
        if cell.concept not in _IBAN_OWNERS:
            continue
        for span_start, span_end in cell.spans[:6]:
            value = layout.text[span_start:span_end]
            loose = iban_like(value)
            inside = [item for item in found if span_start <= item[1] < span_end]
            if inside and not (loose and all(item[0] in loose and len(item[0]) < len(loose) for item in inside)):
                continue
            if loose:
                # "1T67 DO53 …" read strictly starts at "DO53": the whole run is the IBAN
                found = [item for item in found if item not in inside]
                found.append((loose, span_start + value.index(loose)))
            elif cell.concept in ("payee_iban", "payer_iban", "iban") and span_start == cell.spans[0][0] and len(
                re.findall(r"\d", value)
            ) >= 4:
                # printed but unreadable (masked, cut): kept for the operator
                found.append((value.strip(" :;|"), span_start))
    found.sort(key=lambda item: item[1])
    ordered = [start for _, start in found]
    result = []
    seen: dict[tuple[int, int], int] = {}  # (owner, line) → IBANs already on that line
    for printed, start in found:
        owner = _owner(layout, start, ordered, _IBAN_OWNERS)
        if owner is not None and owner.concept in _ROLE:
            role = _ROLE[owner.concept]
            key = (id(owner), layout.line_of(start))
            if owner.columns == 1 and seen.get(key):
                # Two IBANs on one line under one label: columns OCR did not keep
                # apart ("Ordinante Beneficiario" read as two lines). The label
                # heads the first column; the next IBAN is the other party's.
                role = "payer" if role == "payee" else "payee"
            seen[key] = seen.get(key, 0) + 1
            result.append(_Printed(printed, start, role, owner.concept.endswith("_iban")))
        else:
            # A plain "IBAN" label belongs to the section its label sits in.
            at = owner.at if owner is not None and owner.concept == "iban" else start
            result.append(_Printed(printed, start, _section(layout, at), False))
    return result


def _resolve(printed: str, expected: str) -> str | None:
    """The valid IBAN a printed text names: itself, the expected one misread, or None."""
    compact = re.sub(r"\s", "", printed).upper()
    if is_valid(compact):
        return compact
    if matches_expected(printed, expected):
        return expected
    return by_position(printed)


def _one_per_party(printed: list[_Printed]) -> None:
    """Two different IBANs for one party and none for the other: a section title was lost.

    OCR may drop the "BENEFICIARIO" bar of a table, leaving the payee's
    "IBAN" row in the payer's section (or the reverse): the first IBAN keeps
    its party, the later ones, unless a label names their party, change side.
    """
    for role, other in (("payer", "payee"), ("payee", "payer")):
        mine = [p for p in printed if p.role == role]
        if any(p.role == other for p in printed) or len({re.sub(r"\W", "", p.printed) for p in mine}) < 2:
            continue
        first = re.sub(r"\W", "", mine[0].printed)
        for p in mine[1:]:
            if not p.explicit and re.sub(r"\W", "", p.printed) != first:
                p.role = other


def _ibans(layout: Layout, expected: str) -> tuple[str | None, str | None, str | None]:
    """(payee IBAN, payee IBAN as printed when unreadable, payer IBAN)."""
    printed = _printed_ibans(layout)
    _one_per_party(printed)
    payee = sorted((p for p in printed if p.role == "payee"), key=lambda p: (not p.explicit, p.start))
    if not payee:
        # No payee label anywhere near: an IBAN that no payer label claims is the payee's.
        unclaimed = [p for p in printed if p.role is None]
        matching = [p for p in unclaimed if _resolve(p.printed, expected) == expected]
        payee = matching or unclaimed[-1:]
    payee_iban = next((iban for p in payee if (iban := _resolve(p.printed, expected))), None)
    payee_text = payee[0].printed if payee and payee_iban is None else None
    payer_iban = next(
        (iban for p in printed if p.role == "payer" and (iban := _resolve(p.printed, "")) and iban != payee_iban),
        None,
    )
    return payee_iban, payee_text, payer_iban


def _amount(layout: Layout) -> Decimal | None:
    amounts = find_amounts(layout.text)
    starts = [start for _, start, _ in amounts]
    owned = [(_owner(layout, start, starts, _AMOUNT_OWNERS), value) for value, start, _ in amounts]
    labelled = [value for owner, value in owned if owner is not None and owner.concept == "amount"]
    if labelled:
        return labelled[0]
    # "Importo: 12" — a bare number is money when the label says so.
    for cell in (c for c in layout.cells if c.concept == "amount"):
        for value in layout.values(cell)[:1]:
            if re.fullmatch(r"[-−]?\s?(?:€|EUR)?\s?\d{1,6}\s?(?:€|EUR)?", value, re.IGNORECASE):
                return parse_amount(value)
    # An app screenshot may show "-12,08 €" with no label at all.
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


def _beneficiary(layout: Layout, payment: PaymentRules) -> str | None:
    cells = sorted(
        (c for c in layout.cells if c.concept == "payee" or (c.concept == "name" and _section(layout, c.at) == "payee")),
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
        if re.search(r"[A-Za-z]{2}", value):
            return value
    return None


def _execution_date(layout: Layout) -> date | None:
    dates = list(find_dates(layout.text))
    starts = [start for _, start, _ in dates]
    owned = [(_owner(layout, start, starts, {"date"}), value) for value, start, _ in dates]
    labelled = sorted(
        ((owner.rank, owner.line, value) for owner, value in owned if owner is not None and owner.concept == "date"),
        key=lambda item: (item[0], item[1]),
    )
    if labelled:
        return labelled[0][2]
    distinct = {value for value, _, _ in dates}
    return distinct.pop() if len(distinct) == 1 else None


def _status(layout: Layout, labels: LabelRules) -> str | None:
    """A phrase saying the transfer was not executed: a status label's value, or a short line."""
    for cell in (c for c in layout.cells if c.concept == "status"):
        for value in layout.values(cell)[:1]:
            for cue in labels.cues:
                match = cue.pattern.search(value)
                if match:
                    return value[match.start() :].strip(" .")
    for start, end in layout.lines:
        line = layout.text[start:end]
        # A banner ("In attesa di autorizzazione", "Bonifico annullato"), not a
        # clause of the small print: few words around the phrase, no "può essere".
        for cue in labels.cues:
            match = cue.pattern.search(line)
            if (
                match
                and len(line[: match.start()].split()) <= 3
                and len(line[match.end() :].split()) <= 3
                and not re.search(_MODAL, line[: match.start()], re.IGNORECASE)
            ):
                return line[match.start() :].strip(" .")
    return None
