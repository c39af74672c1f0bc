"""bot.extract.money: every way an Italian receipt writes an amount, as Decimal."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.extract.money import find_amounts, parse_amount


@pytest.mark.parametrize(
    "text",
    ["12,08", "12,08 €", "€ 12,08", "€12,08", "EUR 12,08", "12.08 EUR", "-12,08 €", "- 12,08 EUR",
     "12,08EUR", "EUR12,08", "12, 08", "12,08 Euro", "−12,08 €", "12,08-", "(EUR) 12,08"],
)
def test_every_form_of_twelve_euros_eight(text: str) -> None:
    assert parse_amount(text) == Decimal("12.08")
    assert isinstance(parse_amount(text), Decimal)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1.234,56", "1234.56"), ("1,234.56", "1234.56"), ("1 234,56 €", "1234.56"),
     ("1.234.567,00", "1234567.00"), ("€ 1.234", "1234.00"), ("9,90", "9.90"), ("12,80 €", "12.80"),
     ("12", "12.00"), ("12,8", "12.80"), ("0,00 €", "0.00")],
)
def test_thousands_and_bare_values(text: str, expected: str) -> None:
    assert parse_amount(text) == Decimal(expected)


@pytest.mark.parametrize("text", ["", "Aruba S.p.A.", "IT67D0538771336000042125809", "CRO 12345678901"])
def test_no_amount(text: str) -> None:
    assert parse_amount(text) is None


def test_find_amounts_skips_dates_ibans_and_ids() -> None:
    text = (
        "Data esecuzione 14.03.2026 IBAN IT67D0538771336000042125809 CRO 12345678901\n"
        "Importo: 12,08 € Commissioni: 1,00 € Totale: 13,08 EUR"
    )
    assert [value for value, _, _ in find_amounts(text)] == [Decimal("12.08"), Decimal("1.00"), Decimal("13.08")]


def test_find_amounts_positions_cover_the_printed_amount() -> None:
    text = "Importo: -12,08 € ok"
    [(value, start, end)] = find_amounts(text)
    assert value == Decimal("12.08")
    assert text[start:end].strip() == "-12,08 €"


def test_ocr_letter_o_for_zero() -> None:
    assert parse_amount("12,O8 €") == Decimal("12.08")
    assert [v for v, _, _ in find_amounts("Importo: 1O,50 EUR")] == [Decimal("10.50")]
    assert [v for v, _, _ in find_amounts("Codice O8 €")] == []


def test_a_bare_integer_in_running_text_is_not_money() -> None:
    assert find_amounts("Rinnovo 2026 per 1 anno") == []


_cents = st.integers(min_value=0, max_value=10**9).map(lambda c: Decimal(c) / 100)


def _italian(amount: Decimal, group: str) -> str:
    whole, cents = f"{amount:,.2f}".split(".")
    return f"{whole.replace(',', group)},{cents}"


@given(_cents, st.sampled_from([".", "", "\u00a0", " "]),
       st.sampled_from(["{}", "{} €", "€ {}", "EUR {}", "{} EUR", "-{} €", "{}EUR", "€{}"]))
def test_round_trip_italian(amount: Decimal, group: str, form: str) -> None:
    text = form.format(_italian(amount, group))
    assert parse_amount(text) == amount
    assert [value for value, _, _ in find_amounts(f"Importo: {text} fine")] == [amount]


@given(_cents)
def test_round_trip_english(amount: Decimal) -> None:
    assert parse_amount(f"{amount:,.2f} EUR") == amount
    assert parse_amount(f"{amount:.2f}") == amount


@given(st.text(max_size=80))
def test_never_raises(text: str) -> None:
    value = parse_amount(text)
    assert value is None or value >= 0
    for found, start, end in find_amounts(text):
        assert 0 <= start < end <= len(text)
        assert found >= 0
