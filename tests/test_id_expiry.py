"""bot.extract.id_expiry: which date is the expiry, and what labels say."""

from __future__ import annotations

from datetime import date

import pytest

from bot.extract.id_expiry import pick_expiry, stated_dates
from bot.extract.mrz_zone import MachineZone
from bot.rules import Rules, load_rules


@pytest.fixture(scope="module")
def rules() -> Rules:
    return load_rules()


def concepts(text: str, rules: Rules) -> list[tuple[date, str | None]]:
    return [(d.value, d.concept) for d in stated_dates(text, rules)]


def test_label_before_the_date_on_its_line(rules: Rules) -> None:
    text = "GENOVA, li 25.01.2020\nValida fino al 03.08.2029\nnato il 09/04/1994\n"
    assert concepts(text, rules) == [
        (date(2020, 1, 25), "issue"), (date(2029, 8, 3), "expiry"), (date(1994, 4, 9), "birth")]


def test_header_labels_pair_with_dates_left_to_right(rules: Rules) -> None:
    text = "EMISSIONE / ISSUING   SCADENZA / EXPIRY\n21.12.2018    10.05.2028\n"
    assert concepts(text, rules) == [(date(2018, 12, 21), "issue"), (date(2028, 5, 10), "expiry")]


def test_a_lone_date_under_two_labels_takes_the_nearer_column(rules: Rules) -> None:
    text = "EMISSIONE / ISSUING          SCADENZA / EXPIRY\n                             10.05.2028\n"
    assert concepts(text, rules) == [(date(2028, 5, 10), "expiry")]


def test_a_header_does_not_reach_across_another_block(rules: Rules) -> None:
    text = "9. 10.\nB 26/01/20\n12. 70.RM1234567\niL, 12.\n06/04/29\n"
    assert concepts(text, rules)[-1] == (date(2029, 4, 6), None)


def test_labelled_expiry_before_its_issue_is_refused(rules: Rules) -> None:
    text = "Data di rilascio 14.01.2024\nScadenza 14.01.2014\n"
    assert pick_expiry([text], None, rules) is None


def test_zone_trust_order(rules: Rules) -> None:
    label = "SCADENZA / EXPIRY\n10.05.2031\n"
    valid = MachineZone("td1", True, "CA00000AA", date(1980, 1, 1), date(2030, 1, 1))
    partial = MachineZone("td1", False, None, None, date(2030, 1, 1))
    assert pick_expiry([label], valid, rules) == date(2030, 1, 1)
    assert pick_expiry([label], partial, rules) == date(2031, 5, 10)
    assert pick_expiry(["nothing here"], partial, rules) == date(2030, 1, 1)


def test_the_zone_birth_date_is_never_the_expiry(rules: Rules) -> None:
    zone = MachineZone("td1", False, None, date(2019, 3, 1), None)
    text = "01.03.2019\n01.03.2020\n"  # a child's card: birth and issue, expiry unread
    assert pick_expiry([text], zone, rules) is None


def test_a_label_with_its_value_on_its_line_is_no_header_for_the_next(rules: Rules) -> None:
    text = "3. 16/08/1976 FIRENZE (FI)\n. 01/09/2017\n. 24/07/2027\n"
    assert concepts(text, rules)[1] == (date(2017, 9, 1), None)
    assert pick_expiry([text], None, rules) == date(2027, 7, 24)


def test_a_half_read_header_names_only_the_date_under_it(rules: Rules) -> None:
    text = "10. iT:\n22/08/22 19/04/32\n22/08/22 19/04/32\n"
    assert concepts(text, rules)[:2] == [(date(2022, 8, 22), "issue"), (date(2032, 4, 19), None)]
    assert pick_expiry([text], None, rules) == date(2032, 4, 19)


def test_a_label_split_by_ocr(rules: Rules) -> None:
    text = "Stato civile CONIUGATO PADOVA, li 16.06.2020\nScad 12.05.2030\nProfessione cadenza\n"
    assert pick_expiry([text], None, rules) == date(2030, 5, 12)
