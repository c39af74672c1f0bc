"""Is there a machine-readable zone on this page, and do its check digits hold?

CIE backs carry an ICAO 9303 TD1 zone (3 lines of 30), passport data pages a
TD3 zone (2 lines of 44). Stock tesseract models read them badly: ``<`` comes
out as ``c``, ``k`` or ``«``, digits as letters, and characters get inserted.
So the zone is only ever a bonus: its expiry counts when its own check digit
holds, and :attr:`MachineZone.valid` says whether every check digit held.
Line shapes come from the rules; the field positions are the ICAO standard's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

from mrz.base.functions import hash_string

from bot.rules import Rules

#: Letters OCR puts where the standard allows only a digit (dates, check digits).
_AS_DIGIT = str.maketrans({"O": "0", "Q": "0", "D": "0", "U": "0", "I": "1", "L": "1",
                           "Z": "2", "S": "5", "G": "6", "B": "8"})
#: Lower-case letters never appear in a zone: these are misread ``<`` fillers.
_AS_FILLER = {"c": "<", "k": "<", "«": "<<", "‹": "<"}


@dataclass(frozen=True)
class MachineZone:
    """What a machine-readable zone says, each field only when its check digit holds."""

    layout: Literal["td1", "td3"]
    valid: bool
    """Every check digit (number, birth, expiry and the composite one) holds."""
    document_number: str | None = None
    birth_date: date | None = None
    expiry: date | None = None


def _clean(line: str) -> str:
    """The line as zone characters: spaces and punctuation dropped, fillers restored."""
    out = []
    for char in line.strip():
        if char in _AS_FILLER:
            out.append(_AS_FILLER[char])
        elif char == "<" or (char.isascii() and char.isalnum()):
            out.append(char.upper())
    return "".join(out)


def zone_lines(text: str, rules: Rules) -> list[str]:
    """Every line of ``text`` shaped like a zone line (after cleaning), in order."""
    shape = rules.identity.mrz_line
    if shape is None:
        return []
    lines = []
    for raw in text.splitlines():
        cleaned = _clean(raw)
        # a zone line has fillers, and little in it that cleaning had to drop
        if "<" in cleaned and len(cleaned) >= 0.8 * len(raw.replace(" ", "")) and shape.match(cleaned):
            lines.append(cleaned)
    return lines


def _fit(line: str, length: int, head: int, tail: int) -> str:
    """``line`` made ``length`` long by trimming or padding the filler between head and tail."""
    if len(line) == length:
        return line
    middle = line[head : len(line) - tail] if len(line) > head + tail else ""
    return line[:head].ljust(head, "<") + middle[: length - head - tail].ljust(
        length - head - tail, "<"
    ) + (line[-tail:] if tail and len(line) > head else "<" * tail)


def _digits(text: str) -> str:
    return text.translate(_AS_DIGIT)


def _check(field: str, digit: str) -> bool:
    try:
        return hash_string(field) == digit
    except ValueError:
        return False


def _yymmdd(text: str, after: int | None = None) -> date | None:
    if not text.isdigit():
        return None
    year, month, day = int(text[:2]), int(text[2:4]), int(text[4:6])
    full = 2000 + year
    if after is not None and full > after:  # a birth year past the expiry is last century
        full -= 100
    try:
        return date(full, month, day)
    except ValueError:
        return None


def _td1(first: str | None, second: str) -> MachineZone:
    line2 = _fit(second, 30, 18, 1)
    birth, expiry = _digits(line2[0:7]), _digits(line2[8:15])
    final = _digits(line2[29])
    expiry_ok, birth_ok = _check(expiry[:6], expiry[6]), _check(birth[:6], birth[6])
    expiry_day = _yymmdd(expiry[:6]) if expiry_ok else None
    number, number_ok, final_ok = None, False, False
    if first is not None:
        line1 = _fit(first, 30, 15, 0)
        number_ok = _check(line1[5:14], _digits(line1[14]))
        number = line1[5:14].rstrip("<") if number_ok else None
        composite = line1[5:14] + _digits(line1[14]) + line1[15:30] + birth + expiry + line2[18:29]
        final_ok = _check(composite, final)
    return MachineZone(
        layout="td1",
        valid=number_ok and birth_ok and expiry_ok and final_ok,
        document_number=number,
        birth_date=_yymmdd(birth[:6], expiry_day.year if expiry_day else None) if birth_ok else None,
        expiry=expiry_day,
    )


def _td3(second: str) -> MachineZone:
    line = _fit(second, 44, 28, 2)
    number, number_digit = line[0:9], _digits(line[9])
    birth, expiry = _digits(line[13:20]), _digits(line[21:28])
    optional, optional_digit, final = line[28:42], line[42], _digits(line[43])
    number_ok = _check(number, number_digit)
    birth_ok, expiry_ok = _check(birth[:6], birth[6]), _check(expiry[:6], expiry[6])
    # an all-filler personal number may carry "<" instead of "0" as its check digit
    optional_ok = _check(optional, _digits(optional_digit)) or (
        optional_digit == "<" and optional.strip("<") == ""
    )
    final_ok = _check(number + number_digit + birth + expiry + optional + optional_digit, final)
    expiry_day = _yymmdd(expiry[:6]) if expiry_ok else None
    return MachineZone(
        layout="td3",
        valid=number_ok and birth_ok and expiry_ok and optional_ok and final_ok,
        document_number=number.rstrip("<") if number_ok else None,
        birth_date=_yymmdd(birth[:6], expiry_day.year if expiry_day else None) if birth_ok else None,
        expiry=expiry_day,
    )


def _is_td1_data(line: str, shortest: int = 26) -> bool:
    """TD1 line 2: birth date, check, sex, expiry (digits where OCR lets them be)."""
    return (
        shortest <= len(line) <= 34
        and _digits(line[:7]).isdigit()
        and line[7] in "MFX<"
        and _digits(line[8:15]).isdigit()
    )


def _is_td3_data(line: str) -> bool:
    """TD3 line 2: number, check, nationality, birth date, check, sex."""
    return 38 <= len(line) <= 50 and _digits(line[13:19]).isdigit() and line[20] in "MFX<"


def read_zone(text: str, rules: Rules) -> MachineZone | None:
    """The machine-readable zone on this page, or None when no zone-shaped line is there."""
    lines = zone_lines(text, rules)
    for index, line in enumerate(lines):
        if _is_td3_data(line):
            return _td3(line)
        if _is_td1_data(line):
            first = lines[index - 1] if index > 0 and 26 <= len(lines[index - 1]) <= 34 else None
            return _td1(first, line)
    # OCR sometimes cuts line 2 short (its fillers land in another block): the
    # birth and expiry fields with their check digits are still worth reading
    for raw in text.splitlines():
        fragment = _clean(raw)
        if _is_td1_data(fragment, shortest=15):
            return _td1(None, fragment)
    return None
