"""Which calendar dates does a piece of text state?

Receipts and identity documents write dates in many ways: ``14/03/2026``,
``14.03.2026``, ``14-03-26``, ``2026-03-14``, ``14 mar 2026``,
``14 marzo 2026``, often followed by a time. Everything here returns
``datetime.date`` and never guesses an impossible day.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date

_MONTHS = {
    "gen": 1, "feb": 2, "mar": 3, "apr": 4, "mag": 5, "giu": 6,
    "lug": 7, "ago": 8, "set": 9, "ott": 10, "nov": 11, "dic": 12,
    # English abbreviations, seen on bilingual documents
    "jan": 1, "may": 5, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "oct": 10, "dec": 12,
}

_NUMERIC = re.compile(
    r"(?<![\d])(?P<d>\d{1,2})\s?(?P<sep>[./-])\s?(?P<m>\d{1,2})\s?(?P=sep)\s?(?P<y>\d{4}|\d{2})(?![\d])"
)
_ISO = re.compile(r"(?<![\d])(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})(?![\d])")
_WORDS = re.compile(
    # passports write both languages: ``12 MAG/MAY 2030``
    r"(?<![\d])(?P<d>\d{1,2})\s+(?P<m>[a-zA-Zàé]{3,10})\.?(?:\s?/\s?[a-zA-Z]{3,10}\.?)?\s+(?P<y>\d{4})(?![\d])",
    re.IGNORECASE,
)
#: A date-shaped token where OCR may have put letters for digits (``1O.O5.2O3l``).
_OCR_DATE = re.compile(r"(?<![\w])[\dOoIlD]{1,2}[./-][\dOoIlD]{1,2}[./-][\dOoIlD]{2,4}(?![\w])")
_OCR_DIGITS = str.maketrans({"O": "0", "o": "0", "D": "0", "I": "1", "l": "1"})


def _year(text: str) -> int:
    year = int(text)
    if len(text) == 2:
        # Two-digit years on receipts are this century; on documents, a birth
        # year would be ambiguous, but we only read issue and expiry dates.
        year += 2000
    return year


def _make(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _month(word: str) -> int | None:
    return _MONTHS.get(word.lower()[:3])


def find_dates(text: str) -> Iterator[tuple[date, int, int]]:
    """Every date written in ``text``, as ``(date, start, end)``, in reading order."""
    found: list[tuple[date, int, int]] = []
    for match in _ISO.finditer(text):
        value = _make(int(match["y"]), int(match["m"]), int(match["d"]))
        if value:
            found.append((value, match.start(), match.end()))
    for match in _NUMERIC.finditer(text):
        value = _make(_year(match["y"]), int(match["m"]), int(match["d"]))
        if value and not any(s <= match.start() < e for _, s, e in found):
            found.append((value, match.start(), match.end()))
    for match in _WORDS.finditer(text):
        month = _month(match["m"])
        value = _make(int(match["y"]), month, int(match["d"])) if month else None
        if value:
            found.append((value, match.start(), match.end()))
    yield from sorted(found, key=lambda item: item[1])


def parse_date(text: str) -> date | None:
    """The first date written in ``text``, or None."""
    return next((value for value, _, _ in find_dates(text)), None)


def ocr_digits(text: str) -> str:
    """``text`` with letters OCR confuses for digits fixed inside date-shaped tokens.

    Only tokens shaped like ``dd.mm.yyyy`` change, and every character keeps its
    position, so offsets found in the result hold in the original text.
    """
    return _OCR_DATE.sub(lambda m: m.group(0).translate(_OCR_DIGITS), text)
