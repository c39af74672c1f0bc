"""Which date on an identity document is its expiry?

A card states several dates: birth, issue, expiry (and a licence's back a
whole table of them). Each date is tied to the label that names it: a label
just before it on its line (``Valida fino al 03.08.2029``, ``4b. 28/07/29``),
else a header line above it, pairing labels and dates left to right
(``EMISSIONE / ISSUING   SCADENZA / EXPIRY`` over ``21.12.2018 10.05.2028``,
a licence's ``10. 11.`` columns). Labels come from ``rules/identity.toml``.

The expiry is, in order of trust: a machine-readable zone whose every check
digit holds; the latest date labelled as an expiry; the zone's expiry when
its own check digit holds; else the latest unlabelled date that has an issue
date 1 to ``max_validity_years`` years before it on the same page — which is
never a birth date standing alone. Otherwise None: never a guess.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from bot.extract.dates import find_dates, ocr_digits
from bot.extract.mrz_zone import MachineZone
from bot.rules import Rules

#: How far up a header may be: undated lines met on the way (the second one ends
#: the search: past it the labels belong to another block), and lines in all.
_MAX_GAP_LINES = 2
_MAX_TABLE_LINES = 25
#: The shortest validity of a real document (a licence renewed at 80 lasts 2 years).
_MIN_VALIDITY = timedelta(days=300)


@dataclass(frozen=True)
class Label:
    concept: str
    start: int
    end: int


@dataclass(frozen=True)
class StatedDate:
    """A date written on the page, and what its label says it is (None: no label)."""

    value: date
    concept: str | None
    line: int
    start: int


def _labels(line: str, rules: Rules) -> list[Label]:
    """The date labels on one line, overlapping and ``A / B`` synonyms merged into one."""
    found = [
        Label(concept, m.start(), m.end())
        for concept, patterns in rules.identity.labels.items()
        for pattern in patterns
        for m in pattern.finditer(line)
    ]
    found.sort(key=lambda label: (label.start, -label.end))
    merged: list[Label] = []
    for label in found:
        last = merged[-1] if merged else None
        if last and last.concept == label.concept and not line[last.end : label.start].strip(" /|-"):
            merged[-1] = Label(last.concept, last.start, max(last.end, label.end))
        elif last and label.start < last.end:
            continue  # another concept inside a label already taken (``data di nascita``)
        else:
            merged.append(label)
    return merged


def _open_labels(line: str, labels: list[Label]) -> list[Label]:
    """The labels whose value is not on their own line (``3. 16/08/1976`` is taken)."""
    open_ = []
    for position, label in enumerate(labels):
        end = labels[position + 1].start if position + 1 < len(labels) else len(line)
        if next(find_dates(line[label.end : end]), None) is None:
            open_.append(label)
    return open_


def _header_above(
    lines: list[str], index: int, row_dates: int, rules: Rules
) -> tuple[str, list[Label]] | None:
    """The nearest line above ``index`` holding date labels.

    A row of two or more dates may reach its header across the table's other
    dated rows (a licence's ``10. 11.`` columns); a lone date may not: the
    date above it has a header of its own, or OCR broke the columns apart.
    """
    gap = 0
    for above in range(index - 1, max(-1, index - 1 - _MAX_TABLE_LINES), -1):
        line = lines[above]
        if not line.strip():
            continue
        labels = _open_labels(line, _labels(line, rules))
        if labels:
            return line, labels
        if next(find_dates(line), None) is None:
            gap += 1
            if gap >= _MAX_GAP_LINES:
                return None
        elif row_dates < 2:
            return None
    return None


def stated_dates(text: str, rules: Rules) -> list[StatedDate]:
    """Every date on the page with the concept its label gives it."""
    lines = ocr_digits(text).splitlines()
    stated: list[StatedDate] = []
    for index, line in enumerate(lines):
        dates = list(find_dates(line))
        if not dates:
            continue
        own = _labels(line, rules)
        header = _header_above(lines, index, len(dates), rules)
        for position, (value, start, _end) in enumerate(dates):
            concept = _own_label(own, dates, start)
            if concept is None and header is not None:
                concept = _header_label(header, line, dates, position)
            stated.append(StatedDate(value, concept, index, start))
    return stated


def _own_label(labels: list[Label], dates: list[tuple[date, int, int]], start: int) -> str | None:
    """The label just before the date on its own line, with no other date in between."""
    before = [label for label in labels if label.end <= start]
    if not before:
        return None
    label = before[-1]
    if any(label.end <= other < start for _, other, _ in dates):
        return None
    return label.concept


def _header_label(
    header: tuple[str, list[Label]], line: str, dates: list[tuple[date, int, int]], position: int
) -> str | None:
    """Pair header labels with the line's dates: by order when they match one to one,
    else by the nearest relative column — one date per label at most, so a header
    OCR half lost (``10.`` without ``11.``) names only the date under it."""
    header_line, labels = header
    if len(labels) == len(dates):
        return labels[position].concept

    def label_column(label: Label) -> float:
        return label.start / max(len(header_line), 1)

    def date_column(index: int) -> float:
        return dates[index][1] / max(len(line), 1)

    if len(labels) > len(dates):
        return min(labels, key=lambda label: abs(label_column(label) - date_column(position))).concept
    for label in labels:
        nearest = min(range(len(dates)), key=lambda index: abs(label_column(label) - date_column(index)))
        if nearest == position:
            return label.concept
    return None


def _plausible_year(value: date) -> bool:
    return 1950 <= value.year <= 2100


def pick_expiry(texts: list[str], zone: MachineZone | None, rules: Rules) -> date | None:
    """The expiry stated by the pages ``texts`` (and their machine-readable ``zone``)."""
    if zone is not None and zone.valid and zone.expiry is not None:
        return zone.expiry
    pages = [stated_dates(text, rules) for text in texts]
    births = {d.value for page in pages for d in page if d.concept == "birth"}
    if zone is not None and zone.birth_date is not None:
        births.add(zone.birth_date)
    window = timedelta(days=366 * rules.identity.max_validity_years + 31)
    labelled = []
    for page in pages:
        issued = [d.value for d in page if d.concept == "issue"]
        for stated in page:
            if stated.concept != "expiry" or not _plausible_year(stated.value):
                continue
            if stated.value in births or (issued and stated.value < min(issued)):
                continue  # an expiry before any issue date was misread or mislabelled
            labelled.append(stated.value)
    if labelled:
        return max(labelled)
    if zone is not None and zone.expiry is not None:
        return zone.expiry
    return _paired_latest(pages, births, window)


def _paired_latest(pages: list[list[StatedDate]], births: set[date], window: timedelta) -> date | None:
    """The latest unlabelled date with an issue-like date a plausible validity before it."""
    found: list[date] = []
    for page in pages:
        free = sorted(
            {d.value for d in page if d.concept is None and d.value not in births and _plausible_year(d.value)},
            reverse=True,
        )
        partners = {d.value for d in page if d.concept in (None, "issue") and d.value not in births}
        for candidate in free:
            if any(_MIN_VALIDITY <= candidate - other <= window for other in partners):
                found.append(candidate)
                break
    return max(found) if found else None
