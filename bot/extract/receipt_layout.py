"""Which label does each piece of a receipt's text belong to?

Banks publish no template, and the text reaches us flattened: pdfplumber
turns a two-column table into ``Label1 Label2`` followed by ``Value1
Value2``; tesseract may print every label first and every value after; an
app screenshot stacks each label over its value. This module turns text into
:class:`Cell` objects — a concept from ``rules/receipt.toml`` (``payee``,
``amount`` …), the label as printed, and where its value lies — without
knowing any bank. :mod:`bot.extract.receipt` then picks the fields.

A label word inside a sentence is not a label: mid-line, a synonym counts
only when the line shows it is one (a colon after it, a wide gap before it,
a value of its own type after it, a typed value before it, a capitalised
label in a mixed-case line, or a line made of labels alone).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from bot.extract.dates import find_dates
from bot.extract.iban import find_ibans, iban_like
from bot.extract.money import find_amounts
from bot.rules import LabelRules

#: Concepts whose value has a shape we can recognise in a line.
TYPED = {
    "amount": "amount", "fees": "amount", "total": "amount", "balance": "amount",
    "payee_iban": "iban", "payer_iban": "iban", "iban": "iban",
    "date": "date", "ids": "number",
}

# How OCR misreads the letters of a label: ``lmporto``, ``Beneficlario``, ``Causa1e``.
_LOOK_ALIKES = {
    "i": "[iìíl1|!]", "l": "[li1|]", "o": "[oòó0]", "e": "[eèé]", "a": "[aàá]",
    "s": "[s5]", "m": "(?:m|rn)", "u": "[uù]", "t": "[t]",
}
_LETTER = "A-Za-zÀ-ÿ"
_SEPARATOR = re.compile(r"\s*[:;=]\s*")
# What may follow a label without being its value: "Commissione (EUR):".
_NO_VALUE = re.compile(r"[\s:;|\-–.()\[\]]*(?:eur|euro|€)?[\s:;|\-–.()\[\]]*", re.IGNORECASE)
_LEADING_JUNK = re.compile(r"^[\s|•·*>\-–_.,']{0,4}")


@dataclass
class Cell:
    """A label and the text of its value."""

    concept: str
    label: str
    rank: int
    """Position of the synonym in its list: lower is preferred (dates, causale)."""
    line: int
    at: int
    """Where the label starts in the text."""
    spans: list[tuple[int, int]] = field(default_factory=list)
    """Where the value lies in the text: the rest of the label's line, then lines below."""
    column: int = 0
    columns: int = 1
    """A header row of ``columns`` labels shares its value lines; this label is ``column``."""

    def contains(self, offset: int) -> bool:
        return any(start <= offset < end for start, end in self.spans)


@dataclass
class Layout:
    """The text, its lines, and the cells found in it."""

    text: str
    lines: list[tuple[int, int]]
    cells: list[Cell]

    def owners(self, offset: int) -> list[Cell]:
        """The cells whose value covers ``offset`` (several for a header row of columns)."""
        return [cell for cell in self.cells if cell.contains(offset)]

    def line_of(self, offset: int) -> int:
        for number, (start, end) in enumerate(self.lines):
            if start <= offset <= end:
                return number
        return len(self.lines) - 1

    def values(self, cell: Cell) -> list[str]:
        """The value text of ``cell``, one entry per span, stripped; empty spans left out."""
        texts = (self.text[start:end].strip(" \t:;|") for start, end in cell.spans)
        return [t for t in texts if t]


def _label_pattern(label: str) -> str:
    """A synonym as a pattern: OCR look-alike letters, any run of spaces, optional apostrophes."""
    label = label.lower().strip()
    parts = []
    for index, char in enumerate(label):
        if char == " ":
            near_symbol = not label[index - 1].isalnum() or not label[index + 1].isalnum()
            parts.append(r"\s*" if near_symbol else r"\s+")
        elif char in "'’":
            parts.append(r"['’`]?\s*")
        elif char in _LOOK_ALIKES:
            parts.append(_LOOK_ALIKES[char])
        else:
            parts.append(re.escape(char))
    return "".join(parts)


@dataclass(frozen=True)
class _Patterns:
    longest: re.Pattern[str]
    """Every synonym, longest first: ``importo totale`` wins over ``importo``."""
    each: tuple[tuple[re.Pattern[str], str, int], ...]
    """Every synonym alone, to split a header row ``Importo Commissioni Totale`` other ways."""
    groups: dict[str, tuple[str, int]]
    """Regex group name → (concept, rank)."""


@lru_cache(maxsize=8)
def _compile(labels: tuple[tuple[str, tuple[str, ...]], ...]) -> _Patterns:
    entries = [
        (synonym, concept, rank)
        for concept, synonyms in labels
        for rank, synonym in enumerate(synonyms)
    ]
    groups: dict[str, tuple[str, int]] = {}
    alternatives = []
    each = []
    bounded = "(?<![{letter}]){body}(?![{letter}])"
    for number, (synonym, concept, rank) in sorted(enumerate(entries), key=lambda e: -len(e[1][0])):
        name = f"l{number}"
        groups[name] = (concept, rank)
        alternatives.append(f"(?P<{name}>{_label_pattern(synonym)})")
        each.append((re.compile(bounded.format(letter=_LETTER, body=_label_pattern(synonym)), re.IGNORECASE), concept, rank))
    longest = re.compile(bounded.format(letter=_LETTER, body=f"(?:{'|'.join(alternatives)})"), re.IGNORECASE)
    return _Patterns(longest, tuple(each), groups)


def _header_readings(line: str, patterns: _Patterns) -> list[list[tuple[str, int, int, int]]]:
    """Every way to read ``line`` as nothing but labels (at most a few dozen)."""
    found = [(concept, rank, m.start(), m.end()) for pattern, concept, rank in patterns.each
             for m in pattern.finditer(line)]
    gap = re.compile(r"[\s:;|/\-–()€.]*")
    readings: dict[int, list[list[tuple[str, int, int, int]]]] = {len(line): [[]]}
    for position in range(len(line) - 1, -1, -1):
        options: list[list[tuple[str, int, int, int]]] = []
        for label in (f for f in found if f[2] == position):
            after = gap.match(line, label[3])
            rest = readings.get(after.end() if after else label[3], [])
            options.extend([label, *tail] for tail in rest[:24])
        if options:
            readings[position] = options
    start = gap.match(line, 0)
    return readings.get(start.end() if start else 0, [])


def _matches(line: str, pattern: re.Pattern[str], groups: dict[str, tuple[str, int]]) -> list[tuple[str, int, int, int]]:
    return [(*groups[m.lastgroup or ""], m.start(), m.end()) for m in pattern.finditer(line)]


def _only_labels(line: str, found: list[tuple[str, int, int, int]]) -> bool:
    leftover = line
    for _, _, start, end in reversed(found):
        leftover = leftover[:start] + leftover[end:]
    return bool(found) and not re.sub(r"[\s:;|/\-–()€.]", "", leftover)


def _typed_count(line: str) -> int:
    return len(find_amounts(line)) + len(find_ibans(line)) + len(list(find_dates(line)))


def _typed_at_start(kind: str, text: str) -> bool:
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
    return bool(re.match(r"[A-Z0-9]{6,}", head))


def _typed_at_end(text: str) -> bool:
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


def _labels_in_line(line: str, patterns: _Patterns, next_line: str) -> list[tuple[str, int, int, int]]:
    """The labels of one line as ``(concept, rank, start, end)``, start/end within the line."""
    found = _matches(line, patterns.longest, patterns.groups)
    if not found:
        return []
    if _only_labels(line, found):
        # A header row. "Importo Commissioni Totale" reads as two labels or as
        # three: the fewest that give a column to every typed value below.
        wanted = _typed_count(next_line)
        readings = sorted(_header_readings(line, patterns), key=len)
        fitting = [r for r in readings if sum(1 for c, *_ in r if c in TYPED) >= wanted]
        typed = sum(1 for concept, *_ in found if concept in TYPED)
        if fitting and typed < wanted:
            return fitting[0]
        return found
    mixed_case = any(c.islower() for c in line) and any(c.isupper() for c in line)
    accepted: list[tuple[str, int, int, int]] = []
    for concept, rank, start, end in found:
        before = line[: start]
        after = line[end:]
        previous_end = accepted[-1][3] if accepted else 0
        printed = line[start:end]
        if (
            _LEADING_JUNK.sub("", before) == ""
            or _SEPARATOR.match(after) is not None
            or re.search(r"(\s{2,}|\t|\|)\s*$", before)
            or (concept in TYPED and _typed_at_start(TYPED[concept], after.lstrip(" :")))
            or _typed_at_end(line[previous_end:start])
            or (
                # "… Aruba S.p.A. Causale rinnovo": a capitalised label in a short row, not in prose
                mixed_case and printed[:1].isupper() and not printed[1:2].isupper()
                and before.endswith(" ") and len(line[previous_end:start].split()) <= 5
                and after.strip() != ""
            )
        ):
            accepted.append((concept, rank, start, end))
    return accepted


def read_layout(text: str, labels: LabelRules) -> Layout:
    """Find the labels of ``text`` and attach to each the text of its value."""
    patterns = _compile(tuple(sorted((c, tuple(s)) for c, s in labels.labels.items())))
    lines: list[tuple[int, int]] = []
    offset = 0
    for raw in text.split("\n"):
        lines.append((offset, offset + len(raw)))
        offset += len(raw) + 1
    cells: list[Cell] = []
    items: list[_Item] = []
    for number, (start, end) in enumerate(lines):
        line = text[start:end]
        if not line.strip():
            continue
        following = next((text[a:b] for a, b in lines[number + 1 :] if text[a:b].strip()), "")
        found = _labels_in_line(line, patterns, following)
        if not found:
            items.append(_Item("plain", len(items), (start, end)))
            continue
        row = [_cell(line, start, number, found, index) for index in range(len(found))]
        cells.extend(row)
        if all(not cell.spans for cell in row) and len(row) > 1:
            for column, cell in enumerate(row):
                cell.column, cell.columns = column, len(row)
            items.append(_Item("header", len(items), (start, end), row))
        elif all(not cell.spans for cell in row):
            items.append(_Item("label", len(items), (start, end), row))
        else:
            items.append(_Item("row", len(items), (start, end), row))
            if not row[-1].spans:  # "Importo 12,08 € Causale": the last label's value is below
                items.append(_Item("label", len(items), (start, end), row[-1:]))
    _pair(text, items)
    return Layout(text, lines, cells)


@dataclass
class _Item:
    """One non-empty line: plain text, a lone label, a header row of labels, or labels with values."""

    kind: str
    index: int
    span: tuple[int, int]
    cells: list[Cell] = field(default_factory=list)


def _cell(line: str, start: int, number: int, found: list[tuple[str, int, int, int]], index: int) -> Cell:
    concept, rank, label_start, label_end = found[index]
    value_end = found[index + 1][2] if index + 1 < len(found) else len(line)
    value_start = label_end
    separator = _SEPARATOR.match(line, value_start)
    if separator:
        value_start = separator.end()
    cell = Cell(concept, line[label_start:label_end], rank, number, start + label_start)
    if not _NO_VALUE.fullmatch(line[value_start:value_end]):
        cell.spans.append((start + value_start, start + value_end))
    return cell


def _pair(text: str, items: list[_Item]) -> None:
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
    segment: list[_Item] = []
    for item in [*items, _Item("end", len(items), (0, 0))]:
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


def _align(text: str, segment: list[_Item], last: Cell | None) -> Cell | None:
    labels = [item for item in segment if item.kind == "label"]
    plains = [item for item in segment if item.kind == "plain"]
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
    owner: dict[int, Cell] = {}
    i = j = 0
    while i < n and j < m:
        score = _score(labels[i], plains[j], text)
        if score is not None and best[i][j] == score + best[i + 1][j + 1]:
            owner[plains[j].index] = labels[i].cells[0]
            i, j = i + 1, j + 1
        elif best[i][j] == best[i + 1][j]:
            i += 1
        else:
            j += 1
    for item in segment:
        if item.kind == "label":
            last = item.cells[0]
        elif item.index in owner:
            last = owner[item.index]
            last.spans.append(item.span)
        elif last is not None:
            last.spans.append(item.span)
    return last


def _score(label: _Item, plain: _Item, text: str) -> float | None:
    """How well a plain line fits as the value of a lone label (None: it cannot be).

    A typed label takes only a line of its type, a name never an IBAN. A
    value usually sits right under its label; OCR of a tilted photo or a
    sparse screenshot may print it above, even a column of values above the
    column of labels: allowed, but worth less, and nearer is likelier.
    """
    line = _LEADING_JUNK.sub("", text[plain.span[0] : plain.span[1]]).strip()
    kind = TYPED.get(label.cells[0].concept)
    if kind is not None:
        if not _typed_at_start(kind, line):
            return None
        score = 3.0
    elif _typed_at_start("iban", line) and label.cells[0].concept in ("payee", "payer", "name"):
        return None
    else:
        looks_typed = any(_typed_at_start(k, line) for k in ("amount", "iban", "date"))
        score = 0.2 if looks_typed else 1.0
    distance = plain.index - label.index
    if distance < 0:
        return score * 0.6 + 0.01 * distance
    return score + (0.5 if distance == 1 else 0.0) - 0.001 * distance
