"""How much money does a piece of text state?

Italian receipts write amounts as ``9,99``, ``9,99 €``, ``€ 9,99``,
``EUR 9,99``, ``9.99 EUR``, ``-9,99 €`` (app screenshots), ``1.234,56``,
sometimes the English way ``1,234.56``, glued to the currency (``9,99EUR``)
or, after OCR, with a stray space after the comma (``9, 99``). Everything
here returns :class:`~decimal.Decimal` with two decimals; a float never
touches money.

The sign is dropped on purpose: on a transfer receipt ``-9,99 €`` is the
app's way of saying that 9,99 left the account, and what the checks need is
the amount that moved.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_CENT = Decimal("0.01")

# A currency marker before or after the number. "euro" must not be the start
# of a longer word ("Europa"); OCR sometimes reads € as "EURO".
_CURRENCY = r"(?:€|\beur(?:o)?(?![a-z])|(?<=\d)eur(?:o)?(?![a-z]))"
_SIGN = r"[-−–+]"
_GROUP = r"[.'’ \u00a0\u202f]"  # thousands separators seen in Italian text

# Number shapes, most specific first (a regex alternation takes the first that fits).
_NUMBER = rf"""
    (?P<it_thousands>\d{{1,3}}(?:{_GROUP}\d{{3}})+,\s?\d{{2}})   # 1.234,56
  | (?P<en_thousands>\d{{1,3}}(?:,\d{{3}})+\.\d{{2}})            # 1,234.56
  | (?P<comma>\d+,\s?\d{{2}})                                   # 9,99  9, 99
  | (?P<dot>\d+\.\d{{2}})                                       # 9.99
  | (?P<int_thousands>\d{{1,3}}(?:{_GROUP}\d{{3}})+)            # 1.234 (with a currency only)
  | (?P<integer>\d+)                                            # 12    (with a currency only)
"""

_AMOUNT = re.compile(
    rf"""
    (?<![\d.,])                                   # not the tail of a longer number
    (?:(?P<sign1>{_SIGN})\s?)?
    (?:(?P<cur1>{_CURRENCY})\s?)?
    (?:(?P<sign2>{_SIGN})\s?)?
    (?:{_NUMBER})
    (?![\d])(?![.,]\d)                            # not the head of a date or a longer number
    (?:\s?(?P<cur2>{_CURRENCY}))?
    (?:\s?(?P<sign3>-)(?![\d]))?
    """,
    re.IGNORECASE | re.VERBOSE,
)

# A value cell that is nothing but an amount may also be a bare integer or
# have one decimal ("12,8"): the label already said it is money.
_WHOLE_VALUE = re.compile(
    rf"""
    \s*(?:{_SIGN}\s?)?(?:{_CURRENCY}\s?)?(?:{_SIGN}\s?)?
    (?P<number>\d{{1,3}}(?:{_GROUP}\d{{3}})+(?:,\d{{1,2}})?|\d+(?:[.,]\d{{1,2}})?)
    \s?(?:{_CURRENCY})?\s?-?\s*
    """,
    re.IGNORECASE | re.VERBOSE,
)


# An amount-shaped token where OCR read a zero as the letter O: "12,O8", "1O,00".
_OCR_TOKEN = re.compile(r"(?<![\w.,])[\dOo]{1,6}[,.]\s?[\dOo]{2}(?![\w])")


def _ocr_zeros(text: str) -> str:
    """``text`` with O read for 0 inside amount-shaped tokens; same length, same offsets."""
    def fix(match: re.Match[str]) -> str:
        token = match.group(0)
        return token.translate(_ZEROS) if sum(c.isdigit() for c in token) >= 2 else token

    return _OCR_TOKEN.sub(fix, text)


_ZEROS = str.maketrans("Oo", "00")


def _to_decimal(digits: str) -> Decimal | None:
    try:
        return Decimal(digits).quantize(_CENT)
    except InvalidOperation:
        return None


def _value_of(match: re.Match[str]) -> Decimal | None:
    """The amount a match of :data:`_AMOUNT` names, or None when it is no amount."""
    has_currency = bool(match["cur1"] or match["cur2"])
    if match["it_thousands"]:
        whole, cents = match["it_thousands"].split(",")
        return _to_decimal(re.sub(r"\D", "", whole) + "." + cents.strip())
    if match["en_thousands"]:
        return _to_decimal(match["en_thousands"].replace(",", ""))
    if match["comma"]:
        whole, cents = match["comma"].split(",")
        return _to_decimal(whole + "." + cents.strip())
    if match["dot"]:
        return _to_decimal(match["dot"])
    # A bare number is money only when a currency sign says so.
    if not has_currency:
        return None
    if match.start() > 0 and re.match(r"[A-Za-z]", match.string[match.start() - 1]):
        return None  # "12,O8 €" must not become 8 €
    if match["int_thousands"]:
        return _to_decimal(re.sub(r"\D", "", match["int_thousands"]))
    return _to_decimal(match["integer"])


def find_amounts(text: str) -> list[tuple[Decimal, int, int]]:
    """Every amount written in ``text`` as ``(amount, start, end)``, in reading order.

    A number counts as an amount when it has two decimals (``9,99``,
    ``1.234,56``, ``9.99``) or a currency marker (``EUR 12``). Dates
    (``14.03.2026``), times, IBANs and transaction ids are not amounts.
    Amounts are positive: the sign of ``-9,99 €`` is dropped.
    """
    found = []
    for match in _AMOUNT.finditer(_ocr_zeros(text)):
        value = _value_of(match)
        if value is not None:
            found.append((value, match.start(), match.end()))
    return found


def parse_amount(text: str) -> Decimal | None:
    """The amount ``text`` states, as a positive Decimal with two decimals, or None.

    ``text`` is usually the value next to an amount label: when it holds
    nothing but a number (``12``, ``12,8``, ``-9,99 €``) that number is the
    amount; otherwise the first amount :func:`find_amounts` sees in it.
    """
    whole = _WHOLE_VALUE.fullmatch(text)
    if whole:
        number = whole["number"]
        if "," in number:
            whole_part, cents = number.rsplit(",", 1)
            return _to_decimal(re.sub(r"\D", "", whole_part) + "." + cents)
        if re.fullmatch(r"\d+\.\d{1,2}", number):
            return _to_decimal(number)
        return _to_decimal(re.sub(r"\D", "", number))
    found = find_amounts(text)
    return found[0][0] if found else None
