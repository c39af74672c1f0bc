"""bot.extract.iban: finding, validating and recognising (OCR-garbled) IBANs."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from schwifty import IBAN

from bot.extract.iban import by_position, compact, find_ibans, iban_like, is_valid, matches_expected

ARUBA = "IT67D0538771336000042125809"
# Look-alikes tesseract produces, per kind of position (DOCUMENTS.md §5).
DIGIT_LOOKALIKES = {"0": "ODQ", "1": "IL|", "5": "S$", "8": "B", "2": "Z", "6": "G", "7": "T"}
LETTER_LOOKALIKES = {"O": "0", "D": "0", "Q": "0", "I": "1|", "L": "1", "S": "5", "B": "8", "Z": "2", "G": "6", "T": "7"}


@st.composite
def italian_ibans(draw: st.DrawFn) -> str:
    """A valid Italian IBAN (CIN and mod-97 right) with a numeric account."""
    bank = draw(st.text("0123456789", min_size=5, max_size=5))
    branch = draw(st.text("0123456789", min_size=5, max_size=5))
    account = draw(st.text("0123456789", min_size=12, max_size=12))
    return str(IBAN.generate("IT", bank_code=bank, branch_code=branch, account_code=account))


def spacings(iban: str) -> list[str]:
    return [
        iban,
        " ".join(iban[i : i + 4] for i in range(0, len(iban), 4)),
        f"{iban[:2]} {iban[2:5]} {iban[5:10]} {iban[10:15]} {iban[15:]}",
        iban.lower(),
    ]


@st.composite
def garbled(draw: st.DrawFn, iban: str) -> str:
    """``iban`` with some characters swapped for their OCR look-alikes, position-appropriate."""
    chars = list(iban)
    positions = draw(st.lists(st.integers(0, len(iban) - 1), min_size=1, max_size=8, unique=True))
    changed = False
    for position in positions:
        table = LETTER_LOOKALIKES if chars[position].isalpha() else DIGIT_LOOKALIKES
        options = table.get(chars[position], "")
        if options:
            chars[position] = draw(st.sampled_from(options))
            changed = True
    assume(changed)
    return "".join(chars)


def test_aruba_is_valid_in_every_spacing() -> None:
    for text in spacings(ARUBA):
        assert is_valid(text)
    assert not is_valid("IT67X0538771336000042125809")  # wrong CIN
    assert not is_valid("IT68D0538771336000042125809")  # wrong check digits
    assert not is_valid("")


@given(italian_ibans())
def test_spacing_variants_are_found_and_match(iban: str) -> None:
    for text in spacings(iban):
        found = find_ibans(f"IBAN beneficiario: {text} BIC BPMOIT22XXX")
        assert [f.compact for f in found] == [iban]
        assert found[0].valid
        assert matches_expected(text, iban)


@given(italian_ibans(), italian_ibans())
def test_a_different_valid_iban_never_matches(expected: str, other: str) -> None:
    assume(other != expected)
    for text in spacings(other):
        assert not matches_expected(text, expected)


@given(st.data())
def test_confusable_substitutions_still_match(data: st.DataObject) -> None:
    expected = data.draw(italian_ibans())
    misread = data.draw(garbled(expected))
    assume(not is_valid(misread))
    assert matches_expected(misread, expected)
    assert by_position(misread) == expected


@given(st.data())
def test_one_dropped_or_extra_character_on_top_of_lookalikes(data: st.DataObject) -> None:
    expected = data.draw(italian_ibans())
    misread = data.draw(garbled(expected))
    position = data.draw(st.integers(5, len(misread) - 1))
    dropped = misread[:position] + misread[position + 1 :]
    extra = misread[:position] + "7" + misread[position:]
    for text in (dropped, extra):
        if not is_valid(text):
            assert matches_expected(text, expected)


@given(st.data())
def test_two_real_misreadings_do_not_match(data: st.DataObject) -> None:
    """Two digits changed into digits that are no look-alikes: not the expected IBAN."""
    expected = data.draw(italian_ibans())
    first, second = data.draw(st.lists(st.integers(5, 26), min_size=2, max_size=2, unique=True))
    chars = list(expected)
    for position in (first, second):
        chars[position] = data.draw(st.sampled_from([d for d in "34" if d != chars[position]]))
    misread = "".join(chars)
    assume(not is_valid(misread))
    assert not matches_expected(misread, expected)


def test_by_position_never_guesses() -> None:
    assert by_position(ARUBA) == ARUBA
    assert by_position("1T67DO5387713360OOO42125809") == ARUBA
    assert by_position("lT67 D053 8771 3360 0004 2125 8O9") == ARUBA
    # one real misreading (3 for 8) cannot be put right by position: no answer
    assert by_position("IT67D0533771336000042125809") is None
    assert by_position("IT67D05387") is None
    assert by_position("") is None


@pytest.mark.parametrize(
    "text",
    ["IT67D0538771336\n000042125809", "IT67 D053 8771 3360 0\n\n004 2125 809"],
)
def test_an_iban_wrapped_onto_the_next_line(text: str) -> None:
    [found] = find_ibans(text)
    assert found.compact == ARUBA and found.valid


def test_payer_and_payee_on_one_line_are_two_ibans() -> None:
    payer = "IT60X0542811101000000123456"
    found = find_ibans(f"{payer} IT67 D053 8771 3360 0004 2125 809")
    assert [f.compact for f in found] == [payer, ARUBA]


def test_iban_like_reads_a_spoilt_prefix_and_stops_at_the_bic() -> None:
    assert iban_like("1T67 DO53 8771 3360 OOO4 2125 809 BIC BPMO") == "1T67 DO53 8771 3360 OOO4 2125 809"
    assert iban_like("Aruba S.p.A.") is None
    assert compact("it 67d-0538.7713") == "IT67D05387713"


@given(st.text(max_size=60), st.text(max_size=30))
def test_never_raises(text: str, other: str) -> None:
    find_ibans(text)
    iban_like(text)
    by_position(text)
    assert matches_expected(text, ARUBA) in (True, False)
    assert not matches_expected(other, "")
