"""The rules folder: shipped values load; every kind of mistake names file and line."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from bot.errors import RulesError
from bot.rules import SHIPPED_RULES, load_rules


@pytest.fixture
def rules_copy(tmp_path: Path) -> Path:
    target = tmp_path / "rules"
    shutil.copytree(SHIPPED_RULES, target)
    return target


def test_shipped_rules_hold_the_csv_notice_values() -> None:
    rules = load_rules()
    assert rules.payment.payee_iban == "IT67D0538771336000042125809"
    assert rules.payment.accepted_amounts == (Decimal("12.08"),)
    assert (rules.deadline.day, rules.deadline.month) == (30, 7)
    assert "pec.it" in rules.aruba.pec_domains and "pecaruba.it" in rules.aruba.pec_domains
    assert rules.aruba.login_pattern.search("login: 1234567@aruba.it")


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_bad_iban_points_at_its_line(rules_copy: Path) -> None:
    _edit(rules_copy / "payment.toml", "IT67D0538771336000042125809", "IT67D0538771336000042125808")
    with pytest.raises(RulesError) as caught:
        load_rules(rules_copy)
    assert str(caught.value).startswith(f"{rules_copy / 'payment.toml'}:5: ")
    assert "IBAN" in str(caught.value)


def test_toml_syntax_error_has_line(rules_copy: Path) -> None:
    _edit(rules_copy / "deadline.toml", 'day = 30', 'day = = 30')
    with pytest.raises(RulesError, match=r"deadline\.toml:5: not valid TOML"):
        load_rules(rules_copy)


def test_bad_regex_names_the_cue(rules_copy: Path) -> None:
    _edit(rules_copy / "classify.toml", r"pattern = '\bimporto\b'", "pattern = 'importo('")
    with pytest.raises(RulesError) as caught:
        load_rules(rules_copy)
    assert "classify.toml:" in str(caught.value) and "bad regular expression" in str(caught.value)


def test_impossible_deadline_day(rules_copy: Path) -> None:
    _edit(rules_copy / "deadline.toml", "day = 30\nmonth = 7", "day = 31\nmonth = 6")
    with pytest.raises(RulesError, match="31/6 is not a day"):
        load_rules(rules_copy)


def test_fee_needs_two_decimals(rules_copy: Path) -> None:
    _edit(rules_copy / "payment.toml", 'amount = "12.08"', 'amount = "12.0"')
    with pytest.raises(RulesError, match="two decimals"):
        load_rules(rules_copy)


def test_broken_finding_template(rules_copy: Path) -> None:
    _edit(rules_copy / "findings.toml", "{{ amount }}", "{{ amount ")
    with pytest.raises(RulesError, match=r"findings\.toml.*amount_mismatch"):
        load_rules(rules_copy)


def test_broken_reply_template(rules_copy: Path) -> None:
    _edit(rules_copy / "templates" / "reply.txt.j2", "{% endif %}", "{% endfor %}")
    with pytest.raises(RulesError, match=r"reply\.txt\.j2:\d+"):
        load_rules(rules_copy)


def test_missing_file(rules_copy: Path) -> None:
    (rules_copy / "aruba.toml").unlink()
    with pytest.raises(RulesError, match=r"aruba\.toml: file missing"):
        load_rules(rules_copy)
