"""bot.extract.dates: the ways receipts and documents write a day."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.extract.dates import find_dates, parse_date

MONTHS = ("gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno", "luglio", "agosto",
          "settembre", "ottobre", "novembre", "dicembre")

FORMATS = {
    "slashes": lambda d: f"{d:%d/%m/%Y}",
    "dots": lambda d: f"{d:%d.%m.%Y}",
    "dashes-short-year": lambda d: f"{d:%d-%m-%y}",
    "iso": lambda d: d.isoformat(),
    "short-month": lambda d: f"{d.day} {MONTHS[d.month - 1][:3]} {d.year}",
    "short-month-dot": lambda d: f"{d.day:02d} {MONTHS[d.month - 1][:3].upper()}. {d.year}",
    "long-month": lambda d: f"{d.day} {MONTHS[d.month - 1]} {d.year}",
    "no-padding": lambda d: f"{d.day}/{d.month}/{d.year}",
}

days = st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31))


@given(days, st.sampled_from(sorted(FORMATS)), st.sampled_from(["", " 10:15", ", 10:15", " alle ore 09:05:33"]))
def test_round_trip(day: date, style: str, time: str) -> None:
    written = FORMATS[style](day)
    assert parse_date(written + time) == day
    text = f"Data esecuzione: {written}{time} CRO 12345678901"
    [(found, start, end)] = list(find_dates(text))
    assert found == day
    assert text[start:end] == written


@given(days, days)
def test_reading_order(first: date, second: date) -> None:
    text = f"Data esecuzione {first:%d/%m/%Y} Data valuta {second.day} {MONTHS[second.month - 1]} {second.year}"
    assert [found for found, _, _ in find_dates(text)] == [first, second]


@pytest.mark.parametrize("text", ["31/02/2026", "00.13.2026", "IT67D0538771336000042125809", "12,08 €", ""])
def test_impossible_or_absent_dates(text: str) -> None:
    assert parse_date(text) is None


def test_amounts_and_ids_are_not_dates() -> None:
    assert list(find_dates("Importo 12,08 € CRO 12345678901 TRN 0306912345678901234567890123IT")) == []


@given(st.text(max_size=60))
def test_never_raises(text: str) -> None:
    for found, start, end in find_dates(text):
        assert isinstance(found, date)
        assert 0 <= start < end <= len(text)
