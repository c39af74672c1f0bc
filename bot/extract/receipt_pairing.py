"""Which line is the value of a label printed alone on its line?

:mod:`bot.extract.receipt_layout` finds the labels; when a label stands
alone on its line its value lies elsewhere, and where depends on who made
the text: an app stacks each value under its label, pdfplumber puts a
two-column table's values under a header row of labels, tesseract may print
a whole column of labels and then the column of values — or, on a tilted
photo, the values first. This module pairs lone labels with plain lines in
reading order, a typed label (amount, IBAN, date, id) only with a line of
its type. It also says what such a typed value looks like.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot.extract.dates import find_dates
from bot.extract.iban import find_ibans, iban_like
from bot.extract.money import find_amounts

if TYPE_CHECKING:
    from bot.extract.receipt_layout import Cell

#: Concepts whose value has a shape we can recognise in a line.
TYPED = {
    "amount": "amount", "fees": "amount", "total": "amount", "balance": "amount",
    "payee_iban": "iban", "payer_iban": "iban", "iban": "iban",
    "date": "date", "ids": "number",
}

#: Table borders and bullets OCR prints before a value or a label.
LEADING_JUNK = re.compile(r"^[\s|•·*>\-–_.,']{0,4}")


@dataclass
class Item:
    """One non-empty line: ``plain`` text, a lone ``label``, a ``header`` row of labels,
    or a ``row`` of labels with their values."""

    kind: str
    index: int
    span: tuple[int, int]
    cells: list[Cell] = field(default_factory=list)
    shapes: frozenset[str] | None = None
    """For plain lines: the kinds of value the line begins with (computed once)."""
    after_label: bool = False
    """The line just above is a lone label."""
    run: tuple[int, int] = (0, 0)
    """First and last index of the run of lines of this kind this line is in."""
    last_in_segment: bool = False
    """Nothing but a row (or the end) follows: a lone label here has no line under it."""


def typed_count(line: str) -> int:
    """How many amounts, IBANs and dates ``line`` holds."""
    return len(find_amounts(line)) + len(find_ibans(line)) + len(list(find_dates(line)))


def typed_at_start(kind: str, text: str) -> bool:
    """Does ``text`` begin with a value of ``kind`` (amount, iban, date, number)?"""
    head = text[:60]
    if kind == "amount":
        return any(start <= 3 for _, start, _ in find_amounts(head))
    if kind == "iban":
        if any(found.start <= 1 for found in find_ibans(head)):
            return True
        loose = iban_like(head)  # "1T67 DO53 …": OCR spoilt even the country code
        return loose is not None and head.lstrip().startswith(loose)
    if kind == "date":
        return any(start <= 1 for _, start, _ in find_dates(head))
    return bool(re.match(r"(?=(?:[A-Z]*\d){6})[A-Z0-9]{6,}(?![a-z])", head))  # a CRO, a TRN


def typed_at_end(text: str) -> bool:
    """Does ``text`` end with an amount, a date, an IBAN or a long code?"""
    tail = text.rstrip()[-40:]
    if not tail:
        return False
    end = len(tail)
    return (
        any(stop >= end - 5 for _, _, stop in find_amounts(tail))
        or any(stop >= end for _, _, stop in find_dates(tail))
        or bool(re.search(r"[A-Z0-9]{8,}$", tail))
    )


def pair(text: str, items: list[Item]) -> None:
    """Give every plain line to the label it is the value of.

    A header row owns the plain lines under it (its columns share them).
    Elsewhere, between two rows that carry their own values, lone labels and
    plain lines come either interleaved (an app: label, value, label, value)
    or in blocks (OCR read every label of a column, then every value):
    both keep the order, so labels and lines are aligned in order, a typed
    label only with a line of its type. Lines left over continue the value
    above them (a wrapped causale, an address under a name).
    """
    last: Cell | None = None  # who owns the line above
    segment: list[Item] = []
    for item in [*items, Item("end", len(items), (0, 0))]:
        if segment and segment[0].kind == "header":
            if item.kind == "plain":
                for cell in segment[0].cells:
                    cell.spans.append(item.span)
                continue
            segment, last = [], None
        if item.kind in ("plain", "label"):
            segment.append(item)
            continue
        if segment:
            last = _align(text, segment, last)
        segment = [item] if item.kind == "header" else []
        if item.kind == "row":
            last = item.cells[-1]


def _align(text: str, segment: list[Item], last: Cell | None) -> Cell | None:
    """Pair the lone labels of ``segment`` with its plain lines; return who owns the last line."""
    labels = [item for item in segment if item.kind == "label"]
    plains = [item for item in segment if item.kind == "plain"]
    # Runs of consecutive labels or plain lines, and what follows each label.
    for position, item in enumerate(segment):
        first = position
        while first > 0 and segment[first - 1].kind == item.kind:
            first -= 1
        final = position
        while final + 1 < len(segment) and segment[final + 1].kind == item.kind:
            final += 1
        item.run = (segment[first].index, segment[final].index)
        item.after_label = position > 0 and segment[position - 1].kind == "label"
        item.last_in_segment = position == len(segment) - 1
    n, m = len(labels), len(plains)
    # best[i][j]: the best score pairing labels[i:] with plains[j:] in order.
    best = [[0.0] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        for j in range(m - 1, -1, -1):
            options = [best[i + 1][j], best[i][j + 1]]
            score = _score(labels[i], plains[j], text)
            if score is not None:
                options.append(score + best[i + 1][j + 1])
            best[i][j] = max(options)
    owner: dict[int, Item] = {}
    i = j = 0
    while i < n and j < m:
        score = _score(labels[i], plains[j], text)
        if score is not None and best[i][j] == score + best[i + 1][j + 1]:
            owner[plains[j].index] = labels[i]
            i, j = i + 1, j + 1
        elif best[i][j] == best[i + 1][j]:
            i += 1
        else:
            j += 1
    by_index = {item.index: item for item in segment}
    holder: Item | None = None  # the label that owns the line above
    for item in segment:
        if item.kind == "label":
            holder, last = item, item.cells[0]
        elif item.index in owner:
            holder = owner[item.index]
            last = holder.cells[0]
            last.spans.append(item.span)
        elif last is not None:
            # A block of k labels read before their values is a table of k
            # columns: further lines go round the columns ("Ordinante
            # Beneficiario" / two names / two IBANs), else to the line above.
            column = _next_column(holder, owner, by_index) if holder is not None else None
            if column is not None:
                holder, last = column, column.cells[0]
            last.spans.append(item.span)
    return last


def _next_column(holder: Item, owner: dict[int, Item], by_index: dict[int, Item]) -> Item | None:
    """In a block of consecutive labels all paired, in order, with later lines: the next label."""
    block = [holder]
    for step in (-1, 1):
        index = holder.index + step
        while index in by_index and by_index[index].kind == "label":
            item = by_index[index]
            block = [item, *block] if step < 0 else [*block, item]
            index += step
    if len(block) < 2:
        return None
    paired = sorted((plain, label.index) for plain, label in owner.items() if label in block)
    if [label for _, label in paired] != [item.index for item in block]:
        return None
    if paired[0][0] < block[-1].index:
        return None  # values interleaved with labels: no table
    return block[(block.index(holder) + 1) % len(block)]


def _score(label: Item, plain: Item, text: str) -> float | None:
    """How well a plain line fits as the value of a lone label (None: it cannot be).

    A typed label takes only a line of its type, a name never an IBAN. A
    value usually sits right under its label; OCR of a tilted photo or a
    sparse screenshot may print it above, even a column of values above the
    column of labels: allowed, but worth less, and nearer is likelier.
    """
    if plain.shapes is None:
        line = LEADING_JUNK.sub("", text[plain.span[0] : plain.span[1]]).strip()
        plain.shapes = frozenset(k for k in ("amount", "iban", "date", "number") if typed_at_start(k, line))
    kind = TYPED.get(label.cells[0].concept)
    if kind is not None:
        if kind not in plain.shapes:
            return None
        score = 3.0
    elif "iban" in plain.shapes and label.cells[0].concept != "causale":
        return None  # a name, an address, a bank is never an IBAN: that line is someone's account
    else:
        score = 0.2 if plain.shapes else 1.0
    distance = plain.index - label.index
    if distance < 0 and kind is None:
        # Text above a label is usually a title or the previous label's value.
        # It is this label's when OCR read "value, label, value, label", when
        # the label has no line under it (its value was lifted above it), or
        # when a block of values sits right above a block of labels.
        sparse = distance == -1 and (plain.after_label or label.last_in_segment)
        blocks = plain.run[1] + 1 == label.run[0] and plain.run[0] < plain.run[1] and label.run[0] < label.run[1]
        return score * 0.6 + 0.02 * distance if sparse or blocks else None
    if distance < 0:
        return score * 0.9 + (0.3 if distance == -1 else 0.0) + 0.02 * distance
    return score + (0.5 if distance == 1 else 0.0) - 0.02 * distance
