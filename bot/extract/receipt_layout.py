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

from bot.extract.receipt_pairing import (
    LEADING_JUNK,
    TYPED,
    Item,
    pair,
    typed_at_end,
    typed_at_start,
    typed_count,
)
from bot.rules import LabelRules

# How OCR misreads the letters of a label: ``lmporto``, ``Beneficlario``, ``Causa1e``.
_LOOK_ALIKES = {
    "i": "[iìíl1|!]", "l": "[li1|]", "o": "[oòó0]", "e": "[eèé]", "a": "[aàá]",
    "s": "[s5]", "m": "(?:m|rn)", "u": "[uù]", "t": "[t]",
}
_LETTER = "A-Za-zÀ-ÿ"
_SEPARATOR = re.compile(r"\s*[:;=]\s*")
# What may follow a label without being its value: "Commissione (EUR):".
_NO_VALUE = re.compile(r"[\s:;|\-–.()\[\]]*(?:eur|euro|€)?[\s:;|\-–.()\[\]]*", re.IGNORECASE)


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


def _labels_in_line(line: str, patterns: _Patterns, below: list[str]) -> list[tuple[str, int, int, int]]:
    """The labels of one line as ``(concept, rank, start, end)``, start/end within the line."""
    found = _matches(line, patterns.longest, patterns.groups)
    if not found:
        return []
    if _only_labels(line, found):
        # A header row. "Importo Commissioni Totale" reads as two labels or as
        # three: the fewest that give a column to every typed value below.
        wanted = 0
        for value_line in below:  # the value row, maybe broken over lines by OCR
            if patterns.longest.search(value_line):
                break
            wanted += typed_count(value_line)
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
            LEADING_JUNK.sub("", before) == ""
            or _SEPARATOR.match(after) is not None
            or re.search(r"(\s{2,}|\t|\|)\s*$", before)
            or (concept in TYPED and typed_at_start(TYPED[concept], after.lstrip(" :")))
            or typed_at_end(line[previous_end:start])
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
    items: list[Item] = []
    for number, (start, end) in enumerate(lines):
        line = text[start:end]
        if len(re.findall(rf"[{_LETTER}0-9]", line)) < 2:
            continue  # blank, or the ruling of a table read as "—-", "=", "a"
        below = [text[a:b] for a, b in lines[number + 1 : number + 6] if text[a:b].strip()][:3]
        found = _labels_in_line(line, patterns, below)
        if not found:
            items.append(Item("plain", len(items), (start, end)))
            continue
        row = [_cell(line, start, number, found, index) for index in range(len(found))]
        cells.extend(row)
        if all(not cell.spans for cell in row) and len(row) > 1:
            for column, cell in enumerate(row):
                cell.column, cell.columns = column, len(row)
            items.append(Item("header", len(items), (start, end), row))
        elif all(not cell.spans for cell in row):
            items.append(Item("label", len(items), (start, end), row))
        else:
            items.append(Item("row", len(items), (start, end), row))
            if not row[-1].spans:  # "Importo 9,99 € Causale": the last label's value is below
                items.append(Item("label", len(items), (start, end), row[-1:]))
    pair(text, items)
    return Layout(text, lines, cells)


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
