"""Cases, operators' decisions and the purge of closed cases, on both backends."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from bot.store import audit, casebook, intake, outbox, queue, retention
from bot.store.blobs import BlobStore
from bot.store.db import session_factory
from bot.store.models import AuditEntry, Case, Document, Message, Reply

T0 = datetime(2026, 7, 14, 10, 0, tzinfo=UTC)
MAILBOX = "amicidelparco@pec.it"
REQUIRED = ("order_form", "id_document", "payment_receipt")


def analysis(verdict: str, kinds: Sequence[str]) -> dict[str, object]:
    return {
        "verdict": verdict,
        "envelope": {
            "type": "posta-certificata",
            "sender": MAILBOX,
            "pec_id": None,
            "date": "2026-07-14T10:00:00+02:00",
            "signature": "valid",
        },
        "documents": [{"filename": f"{k}.pdf", "kind": k, "ocr": False} for k in kinds],
        "fields": {
            "iban": "IT67D0538771336000042125809",
            "tax_code": "97000000000",
            "ets_name": "Amici del Parco",
        },
        "missing": [k for k in REQUIRED if k not in kinds],
        "problems": [{"code": "amount_mismatch", "detail": "10,00 EUR instead of 12,08 EUR"}],
        "warnings": [],
    }


def filed_message(
    session: Session, blobs: BlobStore, n: int, kinds: Sequence[str], raw: bytes | None = None
) -> Message:
    """A message through fetch, analysis and filing into the mailbox's case, its reply sent."""
    raw = raw or f"Message-ID: <m{n}@x>\r\n\r\nbody {n}".encode()
    stored = intake.record_fetched(
        session, blobs, source="s", uidvalidity=1, uid=n, raw=raw, dedup_key=f"k{n}", now=T0
    )
    assert stored is not None
    claimed = queue.claim_for_analysis(session, worker="w", now=T0)
    assert claimed is not None and claimed.id == stored.id
    documents = [
        queue.DocumentFacts(filename=f"{k}-{n}.pdf", kind=k, fields={"secret": "personal"})
        for k in kinds
    ]
    queue.record_analysis(
        session,
        stored.id,
        worker="w",
        analysis=analysis("incomplete", kinds),
        documents=documents,
        subject="Rinnovo PEC di Mario Rossi",
    )
    case = casebook.case_for_mailbox(session, MAILBOX, now=T0)
    casebook.attach_message(session, stored.id, case.id)
    reply = outbox.queue_reply(
        session,
        stored.id,
        recipient=MAILBOX,
        message_id_header=f"<r{n}@bot>",
        mime=b"Gentile Mario Rossi ...",
        case_id=case.id,
    )
    outbox.mark_sent(session, reply.id, now=T0)
    return stored


def by_kinds(case: Case, documents: Sequence[Document]) -> casebook.Assessment:
    """A stand-in judgement: complete once every required kind is among the documents."""
    kinds = {d.kind for d in documents}
    missing = [k for k in REQUIRED if k not in kinds]
    return casebook.Assessment(
        status="incomplete" if missing else "complete", missing=missing, ets_name="Amici del Parco"
    )


def test_one_case_per_mailbox_even_when_daemons_race(store_engine: Engine) -> None:
    start = threading.Barrier(4)
    ids: list[int] = []

    def open_case() -> None:
        with session_factory(store_engine)() as session:
            start.wait()
            ids.append(casebook.case_for_mailbox(session, MAILBOX).id)

    threads = [threading.Thread(target=open_case) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(ids) == 4 and len(set(ids)) == 1


def test_case_status_is_computed_over_all_its_messages(
    store_session: Session, blob_store: BlobStore
) -> None:
    first = filed_message(store_session, blob_store, 1, ["order_form"])
    case_id = first.case_id
    assert case_id is not None
    case = casebook.reassess(store_session, case_id, by_kinds, now=T0)
    assert (case.effective_status, case.missing) == (
        "incomplete",
        ["id_document", "payment_receipt"],
    )
    filed_message(store_session, blob_store, 2, ["id_document", "payment_receipt"])
    case = casebook.reassess(store_session, case_id, by_kinds, now=T0 + timedelta(hours=1))
    assert (case.effective_status, case.missing, case.ets_name) == (
        "complete",
        [],
        "Amici del Parco",
    )
    assert case.completed_at == case.closed_at == T0 + timedelta(hours=1)
    ((listed, messages),) = casebook.cases_with_message_counts(store_session)
    assert (listed.id, messages) == (case_id, 2)


def test_a_manual_decision_is_never_overwritten_by_an_automatic_one(
    store_session: Session, blob_store: BlobStore
) -> None:
    message = filed_message(store_session, blob_store, 1, list(REQUIRED))
    assert message.case_id is not None
    case = casebook.reassess(store_session, message.case_id, by_kinds, now=T0)
    assert case.effective_status == "complete"
    reopened = casebook.decide(
        store_session,
        case.id,
        "incomplete",
        actor="giulia",
        note="ricevuta illeggibile",
        now=T0 + timedelta(hours=1),
    )
    assert reopened.effective_status == "incomplete" and reopened.closed_at is None
    after = casebook.reassess(store_session, case.id, by_kinds, now=T0 + timedelta(hours=2))
    assert after.status == "complete"  # the automatic view, kept for reference
    assert after.effective_status == "incomplete"
    assert (after.manual_by, after.manual_note, after.manual_at) == (
        "giulia",
        "ricevuta illeggibile",
        T0 + timedelta(hours=1),
    )
    marked = casebook.decide(store_session, case.id, "complete", actor="giulia", note="verificato")
    assert marked.effective_status == "complete" and marked.closed_at is not None
    trail = audit.trail_of_case(store_session, case.id)
    assert [(e.actor, e.action) for e in trail] == [
        ("giulia", "reopened"),
        ("giulia", "marked_complete"),
    ]


def test_an_operator_moves_a_message_to_another_case(
    store_session: Session, blob_store: BlobStore
) -> None:
    message = filed_message(store_session, blob_store, 1, ["order_form"])
    filed_in = message.case_id
    other = casebook.case_for_mailbox(store_session, "altra@pec.it")
    previous = casebook.attach_message(
        store_session, message.id, other.id, actor="giulia", note="mailbox sbagliata sul modulo"
    )
    assert previous == filed_in and message.case_id == other.id  # objects are not left stale
    assert {d.case_id for d in store_session.scalars(select(Document))} == {other.id}
    assert [d.kind for d in casebook.documents_of_case(store_session, other.id)] == ["order_form"]
    moved = store_session.scalars(
        select(AuditEntry).where(AuditEntry.action == "message_moved")
    ).all()
    assert {e.case_id for e in moved} == {previous, other.id}


def test_purge_removes_personal_data_and_keeps_verdicts_and_audit(
    store_session: Session, blob_store: BlobStore
) -> None:
    shared_raw = b"Message-ID: <same@x>\r\n\r\nthe same bytes twice"
    first = filed_message(store_session, blob_store, 1, ["order_form"], raw=shared_raw)
    second = filed_message(store_session, blob_store, 2, ["id_document", "payment_receipt"])
    assert first.case_id is not None
    case = casebook.reassess(store_session, first.case_id, by_kinds, now=T0)
    casebook.decide(store_session, case.id, "complete", actor="giulia", note="ok", now=T0)
    # Another, still open case holds a message with the same bytes: its blob must stay.
    keeper = intake.record_fetched(
        store_session,
        blob_store,
        source="s2",
        uidvalidity=1,
        uid=1,
        raw=shared_raw,
        dedup_key="other-key",
        now=T0,
    )
    assert keeper is not None

    early = retention.purge_closed_cases(
        store_session, blob_store, keep_for=timedelta(days=30), now=T0 + timedelta(days=29)
    )
    assert early == retention.PurgeReport()
    report = retention.purge_closed_cases(
        store_session, blob_store, keep_for=timedelta(days=30), now=T0 + timedelta(days=31)
    )
    assert report == retention.PurgeReport(cases=1, messages=2, documents=3, blobs=1)

    assert blob_store.exists(keeper.raw_sha256)
    assert not blob_store.exists(second.raw_sha256)
    for document in store_session.scalars(select(Document)).all():
        assert (document.filename, document.fields, document.purged_at) == (
            None,
            None,
            T0 + timedelta(days=31),
        )
        assert document.kind in REQUIRED
    for message_id in (first.id, second.id):
        message = store_session.get(Message, message_id, populate_existing=True)
        assert message is not None and message.analysis is not None
        assert message.verdict == message.analysis["verdict"] == "incomplete"
        assert message.analysis["problems"] == [{"code": "amount_mismatch"}]
        assert "fields" not in message.analysis and message.subject is None
        assert message.raw_purged_at is not None
    assert store_session.scalar(select(func.count(Reply.id)).where(Reply.mime.is_not(None))) == 0
    actions = [e.action for e in audit.trail_of_case(store_session, case.id)]
    assert actions == ["marked_complete", "purged"]
    # A second run finds nothing left to do.
    again = retention.purge_closed_cases(
        store_session, blob_store, keep_for=timedelta(days=30), now=T0 + timedelta(days=40)
    )
    assert again == retention.PurgeReport()
