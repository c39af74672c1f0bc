"""bot.extract.mrz_zone: machine-readable zones as OCR reads them."""

from __future__ import annotations

import random
from datetime import date

import pytest

from bot.extract.mrz_zone import read_zone, zone_lines
from bot.rules import Rules, load_rules
from fixtures.documents.identity import _card, fake_holder
from fixtures.documents.identity_faces import cie_mrz, passport_mrz


@pytest.fixture(scope="module")
def rules() -> Rules:
    return load_rules()


@pytest.mark.parametrize("seed", range(5))
def test_generated_zones_read_back_valid(rules: Rules, seed: int) -> None:
    rng = random.Random(seed)
    holder = fake_holder(rng)
    card = _card("cie", rng, None, holder)
    zone = read_zone("CODICE FISCALE\n" + "\n".join(cie_mrz(holder, card)), rules)
    assert zone is not None and zone.layout == "td1" and zone.valid
    assert (zone.expiry, zone.birth_date, zone.document_number) == (
        card.expiry, holder.birth_date, card.number)
    passport = _card("passport", rng, None, holder)
    zone = read_zone("\n".join(passport_mrz(holder, passport)), rules)
    assert zone is not None and zone.layout == "td3" and zone.valid
    assert (zone.expiry, zone.document_number) == (passport.expiry, passport.number)


TD1 = "C<ITACT04503RF1<<<<<<<<<<<<<<<\n6110040M2805106ITA<<<<<<<<<<<8\nMANCINI<<LUCA<<<<<<<<<<<<<<<<<\n"


def test_ocr_fillers_spaces_and_letter_digits_are_undone(rules: Rules) -> None:
    noisy = "C<ITA CT04503RFl<<<<<<ccc<<<<<<\n6l1OO4OM28O51O6ITA<<<<«<<<<<<8 \nMANCINI<<LUCA<<<kkk<<<<<<<<<<<\n"
    zone = read_zone(noisy, rules)
    assert zone is not None and zone.valid and zone.expiry == date(2028, 5, 10)


def test_an_inserted_character_spoils_validity_but_not_the_expiry(rules: Rules) -> None:
    zone = read_zone(TD1.replace("CT04503RF", "CT0O4503RF"), rules)
    assert zone is not None and not zone.valid
    assert zone.document_number is None
    assert zone.expiry == date(2028, 5, 10)


def test_a_wrong_expiry_check_digit_gives_no_expiry(rules: Rules) -> None:
    zone = read_zone(TD1.replace("M2805106", "M2805107"), rules)
    assert zone is not None and not zone.valid and zone.expiry is None


def test_extra_fillers_are_trimmed(rules: Rules) -> None:
    zone = read_zone(TD1.replace("ITA<<<<<<<<<<<8", "ITA<<<<<<<<<<<<<8"), rules)
    assert zone is not None and zone.valid


def test_pages_without_a_zone(rules: Rules) -> None:
    assert read_zone("CARTA DI IDENTITA / IDENTITY CARD\nSCADENZA 10.05.2028\n", rules) is None
    assert zone_lines("<<<<\n", rules) == []
    assert read_zone(">>>>>>>>>>>>>>>>VW9)N1>>INIONVIN\n", rules) is None


def test_a_second_line_cut_short_still_gives_its_checked_expiry(rules: Rules) -> None:
    text = "C<ITACG25770NS4<c\n5803273F2410177IT\nBARBIERI<<LAURA<<\nSSS <<<<<<cccce\n"
    zone = read_zone(text, rules)
    assert zone is not None and not zone.valid and zone.expiry == date(2024, 10, 17)
    wrong_digit = read_zone("5803273F2410178IT\n", rules)
    assert wrong_digit is not None and wrong_digit.expiry is None
