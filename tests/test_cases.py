"""A case over many messages: documents add up, later corrections clear problems."""

from __future__ import annotations

from datetime import datetime

import pytest

from bot.cases import evaluate_case
from bot.model import AnalysisContext
from bot.records import document_from_record, document_record
from bot.rules import load_rules
from tests.helpers import identity, order_form, receipt

WHEN = datetime.fromisoformat("2026-07-14T10:00:00+02:00")
BOX = "amicidelparco@pec.it"


@pytest.fixture(scope="module")
def ctx() -> AnalysisContext:
    return AnalysisContext(rules=load_rules())


def test_form_today_id_tomorrow_receipt_next_week(ctx: AnalysisContext) -> None:
    docs = [order_form()]
    assert evaluate_case(BOX, docs, WHEN, ctx).missing == ["id_document", "payment_receipt"]
    docs.append(identity("front"))
    state = evaluate_case(BOX, docs, WHEN, ctx)
    assert state.missing == ["payment_receipt"] and [p.code for p in state.problems] == ["id_document_one_side"]
    docs.append(identity("back"))
    docs.append(receipt())
    state = evaluate_case(BOX, docs, WHEN, ctx)
    assert state.complete and state.status == "complete" and state.ets_name == "Amici del Parco ODV"


def test_a_later_right_receipt_clears_a_wrong_one(ctx: AnalysisContext) -> None:
    docs = [order_form(), identity("front", "back"), receipt(amount="9.90")]
    assert [p.code for p in evaluate_case(BOX, docs, WHEN, ctx).problems] == ["amount_mismatch"]
    docs.append(receipt(amount="12.08"))
    assert evaluate_case(BOX, docs, WHEN, ctx).complete


def test_a_later_form_with_the_login_clears_the_missing_login(ctx: AnalysisContext) -> None:
    docs = [order_form(login=None), identity("passport"), receipt()]
    assert not evaluate_case(BOX, docs, WHEN, ctx).complete
    docs.append(order_form())
    assert evaluate_case(BOX, docs, WHEN, ctx).complete


def test_records_round_trip_keeps_the_verdict(ctx: AnalysisContext) -> None:
    docs = [order_form(), identity("front"), identity("back"), receipt(amount="9.90")]
    restored = [document_from_record(document_record(d)) for d in docs]
    before = evaluate_case(BOX, docs, WHEN, ctx)
    after = evaluate_case(BOX, restored, WHEN, ctx)
    assert (after.complete, after.missing, [p.code for p in after.problems]) == (
        before.complete, before.missing, [p.code for p in before.problems])
