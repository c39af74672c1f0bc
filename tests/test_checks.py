"""Checks and verdict on already-read documents: every code, every boundary."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from bot import verdict
from bot.checks import run_checks
from bot.fields import merge_fields
from bot.model import AnalysisContext, Submission
from bot.rules import load_rules
from tests.helpers import identity, order_form, receipt, submission


@pytest.fixture(scope="module")
def ctx() -> AnalysisContext:
    return AnalysisContext(rules=load_rules(), own_address="csvassovoce@pec.it")


def judge(sub: Submission, ctx: AnalysisContext) -> Submission:
    merge_fields(sub, ctx)
    run_checks(sub, ctx)
    verdict.decide(sub, ctx)
    return sub


def codes(sub: Submission) -> tuple[set[str], set[str]]:
    return {p.code for p in sub.problems}, {w.code for w in sub.warnings}


def test_all_three_documents_right_is_complete(ctx: AnalysisContext) -> None:
    sub = judge(submission(order_form(), identity("front", "back"), receipt()), ctx)
    assert sub.verdict == "complete" and sub.missing == [] and codes(sub) == (set(), set())


def test_nothing_attached_lists_all_three_missing(ctx: AnalysisContext) -> None:
    sub = judge(submission(), ctx)
    assert sub.verdict == "incomplete"
    assert sub.missing == ["order_form", "id_document", "payment_receipt"]
    assert codes(sub) == (set(), set())


def test_front_and_back_in_two_files_add_up(ctx: AnalysisContext) -> None:
    sub = judge(submission(order_form(), identity("front"), identity("back"), receipt()), ctx)
    assert sub.verdict == "complete"


@pytest.mark.parametrize("sides", [("front",), ("back",), ()])
def test_one_side_blocks(ctx: AnalysisContext, sides: tuple) -> None:
    sub = judge(submission(order_form(), identity(*sides), receipt()), ctx)
    assert sub.verdict == "incomplete" and codes(sub)[0] == {"id_document_one_side"}


def test_passport_alone_is_enough(ctx: AnalysisContext) -> None:
    assert judge(submission(order_form(), identity("passport"), receipt()), ctx).verdict == "complete"


def test_expired_the_day_before_blocks_and_on_the_day_does_not(ctx: AnalysisContext) -> None:
    sent = datetime.fromisoformat("2026-07-14T10:00:00+02:00")
    expired = judge(submission(order_form(), identity("front", "back", expiry=date(2026, 7, 13)), receipt(), when=sent), ctx)
    assert codes(expired)[0] == {"id_document_expired"}
    today = judge(submission(order_form(), identity("front", "back", expiry=date(2026, 7, 14)), receipt(), when=sent), ctx)
    assert today.verdict == "complete"


def test_now_overrides_the_certified_day_for_expiry(ctx: AnalysisContext) -> None:
    later = AnalysisContext(rules=ctx.rules, now=date(2031, 1, 1))
    sub = judge(submission(order_form(), identity("front", "back", expiry=date(2030, 5, 1)), receipt()), later)
    assert codes(sub)[0] == {"id_document_expired"}


@pytest.mark.parametrize(
    ("amount", "iban", "problem"),
    [
        ("9.90", "IT67D0538771336000042125809", "amount_mismatch"),
        ("13.08", "IT67D0538771336000042125809", "amount_mismatch"),
        ("", "IT67D0538771336000042125809", "amount_missing"),
        ("12.08", "IT60X0542811101000000123456", "iban_mismatch"),
        ("12.08", None, "iban_missing"),
    ],
)
def test_payment_problems(ctx: AnalysisContext, amount: str, iban: str | None, problem: str) -> None:
    sub = judge(submission(order_form(), identity("front", "back"), receipt(amount=amount, iban=iban)), ctx)
    assert sub.verdict == "incomplete" and codes(sub)[0] == {problem}


def test_amount_mismatch_detail_speaks_euro(ctx: AnalysisContext) -> None:
    sub = judge(submission(receipt(amount="9.90")), ctx)
    detail = sub.problems[0].detail
    assert "9,90 €" in detail and "12,08 €" in detail


@pytest.mark.parametrize(
    "causale",
    ["amicidelparcopec.it", "AMICIDELPARCO PEC.IT", "amicidelparco.pec.it", "amicidelparco(at)pec.it",
     "Rinnovo PEC amicidelparco pec it anno 2026", "amicidelparco_pec.it"],
)
def test_causale_variants_name_the_mailbox(ctx: AnalysisContext, causale: str) -> None:
    sub = judge(submission(order_form(), identity("front", "back"), receipt(causale=causale)), ctx)
    assert codes(sub) == (set(), set())


@pytest.mark.parametrize("causale", ["rinnovo pec", None, "altraassociazionepec.it"])
def test_causale_without_the_mailbox_only_warns(ctx: AnalysisContext, causale: str | None) -> None:
    sub = judge(submission(order_form(), identity("front", "back"), receipt(causale=causale)), ctx)
    assert sub.verdict == "complete" and codes(sub) == (set(), {"causale_mismatch"})


def test_order_form_problems(ctx: AnalysisContext) -> None:
    no_login = judge(submission(order_form(login=None), identity("front", "back"), receipt()), ctx)
    assert codes(no_login)[0] == {"aruba_login_missing"}
    legalmail = judge(submission(order_form(mailbox="amici@legalmail.it"), identity("front", "back"),
                                 receipt(causale="amicilegalmail.it")), ctx)
    assert codes(legalmail)[0] == {"mailbox_not_aruba"}
    bad_cf = judge(submission(order_form(valid=False), identity("front", "back"), receipt()), ctx)
    assert bad_cf.verdict == "complete" and codes(bad_cf)[1] == {"tax_code_invalid"}


def test_mailbox_falls_back_to_the_certified_sender(ctx: AnalysisContext) -> None:
    sub = judge(submission(receipt(), sender="amicidelparco@pec.it"), ctx)
    assert sub.fields.mailbox == "amicidelparco@pec.it"


@pytest.mark.parametrize(
    ("when", "late"),
    [
        ("2026-07-30T23:59:00+02:00", False),  # the deadline day itself is on time
        ("2026-07-30T22:30:00+00:00", True),  # 00:30 on 31 July in Rome
        ("2026-07-31T08:00:00+02:00", True),
        ("2026-03-01T08:00:00+01:00", False),
    ],
)
def test_deadline(ctx: AnalysisContext, when: str, late: bool) -> None:
    sub = judge(submission(order_form(), identity("front", "back"), receipt(), when=datetime.fromisoformat(when)), ctx)
    assert ("late" in codes(sub)[1]) is late
    assert sub.verdict == "complete"


def test_tampered_envelope_is_never_complete(ctx: AnalysisContext) -> None:
    sub = judge(submission(order_form(), identity("front", "back"), receipt(), signature="invalid"), ctx)
    assert sub.verdict == "incomplete" and codes(sub)[0] == {"signature_invalid"}


def test_untrusted_and_anomaly_only_warn(ctx: AnalysisContext) -> None:
    untrusted = judge(submission(order_form(), identity("front", "back"), receipt(), signature="untrusted"), ctx)
    assert untrusted.verdict == "complete" and codes(untrusted)[1] == {"signature_untrusted"}
    anomaly = judge(submission(order_form(), identity("front", "back"), receipt(), type="anomalia", signature="valid"), ctx)
    assert anomaly.verdict == "complete" and codes(anomaly)[1] == {"not_certified"}


def test_unreadable_attachment_counts_as_no_document(ctx: AnalysisContext) -> None:
    broken = receipt()
    broken.unreadable = "il file è danneggiato"
    sub = judge(submission(order_form(), identity("front", "back"), broken), ctx)
    assert sub.missing == ["payment_receipt"] and codes(sub)[1] == {"attachment_unreadable"}


def test_now_is_the_day_the_deadline_is_judged_against(ctx: AnalysisContext) -> None:
    on_time = datetime.fromisoformat("2026-07-14T10:00:00+02:00")
    later = AnalysisContext(rules=ctx.rules, now=date(2026, 8, 2))
    sub = judge(submission(order_form(), identity("front", "back"), receipt(), when=on_time), later)
    assert codes(sub)[1] == {"late"}
