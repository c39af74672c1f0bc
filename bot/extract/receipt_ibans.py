"""Whose is each IBAN on a receipt: the payee's, the payer's, or nobody's we can tell?

Most receipts print the payer's own IBAN as well as the payee's, in either
order, under labels that name the party (``IBAN beneficiario``, ``Conto di
addebito``), under a plain ``IBAN`` label inside a party's section, or in
columns (``Ordinante | Beneficiario``). The payee IBAN is the one a payee
label owns — never merely the first IBAN on the page. An IBAN the OCR
garbled is read as printed, as the rules' payee IBAN misread (compared
position by position), or by putting letters and digits back where the
IBAN's structure wants them; otherwise only its printed text is kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.extract.iban import (
    by_position,
    find_ibans,
    iban_runs,
    is_valid,
    join_fragments,
    matches_expected,
)
from bot.extract.receipt_layout import Cell, Layout

_ROLE = {"payee": "payee", "payee_iban": "payee", "payer": "payer", "payer_iban": "payer"}
_IBAN_OWNERS = {"payee", "payee_iban", "payer", "payer_iban", "iban"}
# The head of a cut IBAN: a country code (maybe misread: "1T") and check digits, then more.
_HEAD = re.compile(r"(?:[A-Z][A-Z0-9|]|[0-9|\[{!][A-Z])\s?[0-9ODQ]{2}(?:\s?[A-Z0-9]){2,}\s*$")
_MASKED = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}[ A-Z0-9]{0,12}[*•xX]{3,}[ *•xX0-9A-Z]{0,24}")


@dataclass
class _Printed:
    """One IBAN as printed, and whose it is."""

    printed: str
    start: int
    role: str | None
    explicit: bool
    """Owned by an IBAN label that names the role (``IBAN beneficiario``)."""


def owner_of(layout: Layout, start: int, same_kind: list[int], capable: set[str]) -> Cell | None:
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


def section_of(layout: Layout, start: int) -> str | None:
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


def _printed_ibans(layout: Layout, expected: str) -> list[_Printed]:
    """Every IBAN printed (valid, garbled or masked), with the party it belongs to."""
    found = [(match.printed, match.start) for match in find_ibans(layout.text)]
    # Apps hide most of an IBAN (IT67 D053 **** … 809): printed, but unreadable.
    found += [(m.group(0).strip(), m.start()) for m in _MASKED.finditer(layout.text)]
    # Values of IBAN labels where OCR spoilt even the "IT": read them loosely.
    for cell in layout.cells:
        if cell.concept not in _IBAN_OWNERS:
            continue
        for span_start, span_end in cell.spans[:6]:
            value = layout.text[span_start:span_end]
            runs = [(printed, span_start + start) for printed, start in iban_runs(value)]
            for printed, start in runs:
                # "1T67 DO53 …" read strictly starts at "DO53": the whole run is the IBAN
                overlap = [item for item in found if start <= item[1] < start + len(printed)]
                if all(item[0] in printed and len(item[0]) < len(printed) for item in overlap):
                    found = [item for item in found if item not in overlap] + [(printed, start)]
            if runs or any(span_start <= item[1] < span_end for item in found):
                continue
            head = value.strip(" :;|")
            if (
                cell.concept in ("payee_iban", "payer_iban", "iban")
                and span_start == cell.spans[0][0]
                and len(re.findall(r"\d", head)) >= 4
            ):
                found.append((head, span_start))  # printed but unreadable (cut, smudged): for the operator
    found = _join_cut(layout, found, expected)
    found.sort(key=lambda item: item[1])
    ordered = [start for _, start in found]
    result = []
    seen: dict[tuple[int, int], int] = {}  # (owner, line) → IBANs already on that line
    for printed, start in found:
        owner = owner_of(layout, start, ordered, _IBAN_OWNERS)
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
            result.append(_Printed(printed, start, section_of(layout, at), False))
    return result


def _join_cut(layout: Layout, found: list[tuple[str, int]], expected: str) -> list[tuple[str, int]]:
    """IBANs OCR cut in two: a line holding only an IBAN's head, its tail on a line nearby.

    A tilted photo can make tesseract print ``1T67D053877133`` and, a few
    lines away, ``6000042125809``. The pieces are joined only when their
    lengths add up exactly (:func:`bot.extract.iban.join_fragments`).
    """
    filled = [(start, end) for start, end in layout.lines if layout.text[start:end].strip()]
    for number, (start, end) in enumerate(filled):
        line = layout.text[start:end]
        head = line.rsplit(":", 1)[-1].strip(" :;|'`’.,")  # "IBAN beneficiario: IT67DO"
        size = len(re.sub(r"\W", "", head))
        if not _HEAD.match(head.upper()) or not 4 <= size < len(expected):
            continue
        if any(start <= at < end and len(re.sub(r"\W", "", text)) >= len(expected) for text, at in found):
            continue  # a whole IBAN is on this line already
        nearby = []
        for a, b in filled[max(0, number - 10) : number + 11]:
            text = layout.text[a:b]
            if a != start:
                nearby += [text, text.rsplit(":", 1)[-1]] if ":" in text else [text]
        # Several tails may have the right length: keep the one that makes a real IBAN.
        joined = next((j for j in join_fragments(head, nearby, expected) if _resolve(j[0], expected)), None)
        if joined:
            at = start + line.rindex(head)
            found = [item for item in found if item[0] not in (joined[1], head)] + [(joined[0], at)]
    return found


def _resolve(printed: str, expected: str) -> str | None:
    """The valid IBAN a printed text names: itself, the expected one misread, or None."""
    compact = re.sub(r"\s", "", printed).upper()
    if is_valid(compact):
        return compact
    if matches_expected(printed, expected):
        return expected
    return by_position(printed)


def _one_per_party(printed: list[_Printed], expected: str) -> None:
    """Two different IBANs for one party and none for the other: a section title was lost.

    OCR may drop the "BENEFICIARIO" bar of a table or print a section's
    labels out of order, leaving the payee's IBAN in the payer's section (or
    the reverse). Then the rules' payee IBAN, if it is one of them, is the
    payee's (no one pays from Aruba's account); otherwise the IBAN whose
    label names the party, else the first, keeps the party and the others
    change side, unless a label names their party too.
    """
    for role, other in (("payer", "payee"), ("payee", "payer")):
        mine = [p for p in printed if p.role == role]
        if any(p.role == other for p in printed) or len({re.sub(r"\W", "", p.printed) for p in mine}) < 2:
            continue
        payee = next((p for p in mine if _resolve(p.printed, expected) == expected), None)
        if payee is not None:
            for p in mine:
                p.role = "payee" if p is payee else "payer"
            continue
        keeper = min(mine, key=lambda p: (not p.explicit, p.start))
        kept = re.sub(r"\W", "", keeper.printed)
        for p in mine:
            if not p.explicit and re.sub(r"\W", "", p.printed) != kept:
                p.role = other


def read_ibans(layout: Layout, expected: str) -> tuple[str | None, str | None, str | None]:
    """(payee IBAN, payee IBAN as printed when unreadable, payer IBAN) of a receipt's layout.

    ``expected`` is the payee IBAN of the rules: a garbled IBAN that matches
    it position by position is returned as ``expected``.
    """
    printed = _printed_ibans(layout, expected)
    _one_per_party(printed, expected)
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
