"""Replies: Italian, specific, threaded, marked as automatic."""

from __future__ import annotations

from datetime import date

import pytest

from bot.cases import evaluate_case
from bot.checks import run_checks
from bot.fields import merge_fields
from bot.model import AnalysisContext
from bot.replies import compose_reply
from bot.rules import load_rules
from tests.helpers import identity, order_form, receipt, submission


@pytest.fixture(scope="module")
def ctx() -> AnalysisContext:
    return AnalysisContext(rules=load_rules(), own_address="csvassovoce@pec.it")


def _reply(ctx: AnalysisContext, *docs):  # type: ignore[no-untyped-def]
    sub = submission(*docs)
    merge_fields(sub, ctx)
    run_checks(sub, ctx)
    case = evaluate_case(sub.fields.mailbox or "", sub.documents, sub.envelope.date, ctx)  # type: ignore[union-attr]
    return compose_reply(sub, case, ctx, sender="csvassovoce@pec.it", today=date(2026, 7, 14), key="m1")


def test_incomplete_reply_says_exactly_what_is_missing_and_wrong(ctx: AnalysisContext) -> None:
    message = _reply(ctx, identity("front", filename="fronte.jpg"), receipt(amount="9.90", filename="bonifico.pdf"))
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "fronte.jpg" in text and "bonifico.pdf" in text
    assert "il modulo d'ordine PEC" in text
    assert "9,90 €" in text and "12,08 €" in text
    assert "solo il fronte" in text
    assert "30 luglio 2026" in text and "mancano 16 giorni" in text
    assert "COMPLETA" not in text
    assert message["Subject"] == "Rinnovo PEC amicidelparco@pec.it: documentazione da completare"


def test_complete_reply_confirms(ctx: AnalysisContext) -> None:
    message = _reply(ctx, order_form(), identity("front", "back"), receipt())
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "COMPLETA" in text and "manca ancora" not in text
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "<strong>completa</strong>" in html


def test_reply_headers(ctx: AnalysisContext) -> None:
    message = _reply(ctx, receipt())
    assert message["To"] == "amicidelparco@pec.it"
    assert message["From"] == "csvassovoce@pec.it"
    assert message["In-Reply-To"] == "<orig-1@example.it>" == message["References"]
    assert message["Auto-Submitted"] == "auto-replied"
    assert message["Message-ID"].startswith("<pecbot.") and message["Message-ID"].endswith("@pec.it>")
    again = _reply(ctx, receipt())
    assert again["Message-ID"] == message["Message-ID"]
