"""Exactly once: the inbox → analysis steps, the outbox and the digest, on both backends."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from bot.store import audit, digests, health, intake, outbox, queue
from bot.store.blobs import BlobStore
from bot.store.db import session_factory
from bot.store.models import Document, InboxSeen, Message, Reply

T = TypeVar("T")
SOURCE = "imaps://bot@pec.example:993/INBOX"
T0 = datetime(2026, 7, 14, 10, 0, tzinfo=UTC)
REPOSITORY = Path(__file__).resolve().parent.parent
ANALYSIS = {
    "source": "x.eml",
    "verdict": "incomplete",
    "envelope": {
        "type": "posta-certificata",
        "sender": "amicidelparco@pec.it",
        "pec_id": "opec1@pec.aruba.it",
        "date": "2026-07-14T10:15:32+02:00",
        "signature": "valid",
    },
    "documents": [{"filename": "ricevuta.pdf", "kind": "payment_receipt", "ocr": False}],
    "fields": {"iban": "IT67D0538771336000042125809", "mailbox": "amicidelparco@pec.it"},
    "missing": ["order_form", "id_document"],
    "problems": [],
    "warnings": [],
}


def raw_message(n: int) -> bytes:
    return f"Message-ID: <m{n}@mail.example>\r\nSubject: n. {n}\r\n\r\nbody {n}\r\n".encode()


def fetch(
    session: Session,
    blobs: BlobStore,
    n: int,
    *,
    uidvalidity: int = 7,
    uid: int | None = None,
) -> Message | None:
    raw = raw_message(n)
    return intake.record_fetched(
        session,
        blobs,
        source=SOURCE,
        uidvalidity=uidvalidity,
        uid=uid if uid is not None else n,
        raw=raw,
        dedup_key=f"message-id:m{n}@mail.example",
        now=T0,
    )


def in_parallel(engine: Engine, workers: int, job: Callable[[Session, int], T]) -> list[T]:
    """Run ``job`` in ``workers`` threads at once, each with its own session (own connection)."""
    start = threading.Barrier(workers)
    results: list[T] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run(index: int) -> None:
        with session_factory(engine)() as session:
            try:
                start.wait()
                result = job(session, index)
                with lock:
                    results.append(result)
            except BaseException as exc:  # re-raised in the test's thread
                errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results


# --- inbox ----------------------------------------------------------------------------------


def test_fetched_message_is_stored_and_its_uid_seen(
    store_session: Session, blob_store: BlobStore
) -> None:
    message = fetch(store_session, blob_store, 1)
    assert message is not None and message.state == "fetched"
    assert blob_store.get(message.raw_sha256) == raw_message(1)
    assert message.size == len(raw_message(1))
    assert intake.is_seen(store_session, SOURCE, 7, 1)
    assert not intake.is_seen(store_session, SOURCE, 7, 2)
    assert not intake.is_seen(store_session, SOURCE, 8, 1)
    assert intake.highest_seen_uid(store_session, SOURCE, 7) == 1
    assert intake.highest_seen_uid(store_session, SOURCE, 8) is None


def test_same_message_after_uidvalidity_reset_is_not_stored_again(
    store_session: Session, blob_store: BlobStore
) -> None:
    first = fetch(store_session, blob_store, 1, uidvalidity=7, uid=40)
    again = fetch(store_session, blob_store, 1, uidvalidity=99, uid=3)
    assert first is not None and again is None
    assert store_session.scalar(select(func.count(Message.id))) == 1
    seen = store_session.scalars(select(InboxSeen).order_by(InboxSeen.id)).all()
    assert [(s.uidvalidity, s.uid, s.message_id) for s in seen] == [
        (7, 40, first.id),
        (99, 3, first.id),
    ]
    assert intake.highest_seen_uid(store_session, SOURCE, 99) == 3


def test_a_known_message_is_recorded_from_its_headers_alone(
    store_session: Session, blob_store: BlobStore
) -> None:
    fetch(store_session, blob_store, 1)
    assert intake.record_known(store_session, SOURCE, 99, 5, "message-id:m1@mail.example")
    assert not intake.record_known(store_session, SOURCE, 99, 6, "message-id:new@mail.example")
    assert intake.is_seen(store_session, SOURCE, 99, 5)
    assert not intake.is_seen(store_session, SOURCE, 99, 6)


def test_unseen_uids_are_the_ones_to_fetch(store_session: Session, blob_store: BlobStore) -> None:
    for n in (1, 2, 5):
        fetch(store_session, blob_store, n)
    assert intake.unseen_uids(store_session, SOURCE, 7, [5, 4, 3, 2, 1, 6]) == [3, 4, 6]
    assert intake.unseen_uids(store_session, SOURCE, 8, [1]) == [1]


def test_two_daemons_storing_the_same_message_keep_one(
    store_engine: Engine, blob_store: BlobStore
) -> None:
    results = in_parallel(
        store_engine, 4, lambda session, i: fetch(session, blob_store, 1, uid=10 + i)
    )
    assert len([r for r in results if r is not None]) == 1
    with session_factory(store_engine)() as session:
        assert session.scalar(select(func.count(Message.id))) == 1
        assert session.scalar(select(func.count(InboxSeen.id))) == 4


# --- analysis -------------------------------------------------------------------------------


def test_a_claimed_message_is_not_claimed_twice(
    store_session: Session, blob_store: BlobStore
) -> None:
    fetch(store_session, blob_store, 1)
    claimed = queue.claim_for_analysis(store_session, worker="a", now=T0)
    assert claimed is not None and claimed.state == "analysing" and claimed.attempts == 1
    assert (
        queue.claim_for_analysis(store_session, worker="b", now=T0 + timedelta(minutes=1)) is None
    )


def test_racing_workers_claim_every_message_exactly_once(
    store_engine: Engine, blob_store: BlobStore
) -> None:
    with session_factory(store_engine)() as session:
        for n in range(12):
            fetch(session, blob_store, n)

    def drain(session: Session, index: int) -> list[int]:
        mine = []
        while (
            message := queue.claim_for_analysis(session, worker=f"w{index}", now=T0)
        ) is not None:
            mine.append(message.id)
        return mine

    claims = in_parallel(store_engine, 3, drain)
    every = [message_id for mine in claims for message_id in mine]
    assert len(every) == 12 and len(set(every)) == 12


def test_analysis_is_recorded_with_documents(store_session: Session, blob_store: BlobStore) -> None:
    fetch(store_session, blob_store, 1)
    claimed = queue.claim_for_analysis(store_session, worker="a", now=T0)
    assert claimed is not None
    facts = queue.DocumentFacts(
        filename="ricevuta.pdf",
        kind="payment_receipt",
        sha256="ab" * 32,
        fields={"receipt": {"transferred_amount": "12.08"}},
    )
    assert queue.record_analysis(
        store_session,
        claimed.id,
        worker="a",
        analysis=ANALYSIS,
        documents=[facts],
        subject="Rinnovo PEC",
        message_id_header="<m1@mail.example>",
    )
    message = store_session.get(Message, claimed.id, populate_existing=True)
    assert message is not None
    assert (message.state, message.verdict, message.envelope_type) == (
        "analysed",
        "incomplete",
        "posta-certificata",
    )
    assert message.certified_sender == "amicidelparco@pec.it"
    assert message.certified_at == datetime(2026, 7, 14, 8, 15, 32, tzinfo=UTC)
    assert message.analysis == ANALYSIS
    assert message.lease_owner is None
    document = store_session.scalars(select(Document)).one()
    assert (document.kind, document.fields) == (
        "payment_receipt",
        {"receipt": {"transferred_amount": "12.08"}},
    )
    assert [m.id for m in queue.awaiting_filing(store_session)] == [claimed.id]


def test_a_worker_whose_lease_ran_out_cannot_record(
    store_session: Session, blob_store: BlobStore
) -> None:
    fetch(store_session, blob_store, 1)
    slow = queue.claim_for_analysis(
        store_session, worker="slow", lease=timedelta(minutes=5), now=T0
    )
    assert slow is not None
    later = T0 + timedelta(minutes=6)
    taken_over = queue.claim_for_analysis(store_session, worker="fast", now=later)
    assert taken_over is not None and taken_over.id == slow.id and taken_over.attempts == 2
    assert not queue.record_analysis(store_session, slow.id, worker="slow", analysis=ANALYSIS)
    assert queue.record_failure(store_session, slow.id, worker="slow", reason="late") is None
    assert queue.record_analysis(store_session, slow.id, worker="fast", analysis=ANALYSIS)
    assert store_session.scalar(select(func.count(Document.id))) == 0


def test_a_failing_message_is_retried_then_quarantined_without_blocking_others(
    store_session: Session, blob_store: BlobStore
) -> None:
    bad = fetch(store_session, blob_store, 1)
    good = fetch(store_session, blob_store, 2)
    assert bad is not None and good is not None
    now = T0
    for attempt in (1, 2):
        claimed = queue.claim_for_analysis(store_session, worker="w", now=now, max_attempts=3)
        assert claimed is not None and claimed.id == bad.id
        state = queue.record_failure(
            store_session,
            bad.id,
            worker="w",
            reason="ValueError: boom",
            max_attempts=3,
            retry_delay=timedelta(minutes=5),
            now=now,
        )
        assert state == "fetched"
        # While the bad one waits for its retry, the next message is served.
        other = queue.claim_for_analysis(store_session, worker="w", now=now + timedelta(seconds=1))
        if attempt == 1:
            assert other is not None and other.id == good.id
            queue.record_analysis(store_session, good.id, worker="w", analysis=ANALYSIS)
        else:
            assert other is None
        now += timedelta(minutes=5 * attempt + 1)
    claimed = queue.claim_for_analysis(store_session, worker="w", now=now, max_attempts=3)
    assert claimed is not None and claimed.attempts == 3
    assert (
        queue.record_failure(
            store_session, bad.id, worker="w", reason="ValueError: boom", max_attempts=3, now=now
        )
        == "quarantined"
    )
    assert [m.id for m in queue.quarantined(store_session)] == [bad.id]
    assert queue.claim_for_analysis(store_session, worker="w", now=now + timedelta(days=1)) is None
    errors = audit.errors_since(store_session, None)
    assert [(e.action, e.message_id, e.note) for e in errors] == [
        ("quarantined", bad.id, "ValueError: boom")
    ]
    # An operator sends it back.
    assert queue.release_quarantined(store_session, bad.id, actor="mario", note="fixed the rules")
    again = queue.claim_for_analysis(store_session, worker="w", now=now)
    assert again is not None and again.id == bad.id and again.attempts == 1


def test_a_message_that_kills_the_daemon_ends_in_quarantine(
    store_session: Session, blob_store: BlobStore
) -> None:
    fetch(store_session, blob_store, 1)
    now = T0
    for attempt in (1, 2):
        claimed = queue.claim_for_analysis(
            store_session,
            worker=f"run{attempt}",
            now=now,
            lease=timedelta(minutes=5),
            max_attempts=2,
        )
        assert claimed is not None  # ... and the daemon dies holding it
        now += timedelta(minutes=6)
    assert queue.claim_for_analysis(store_session, worker="run3", now=now, max_attempts=2) is None
    (message,) = queue.quarantined(store_session)
    assert "never finished in 2 attempts" in (message.last_error or "")


def test_kill_9_in_the_middle_of_a_step_loses_nothing(
    database_url: str, store_engine: Engine, blob_store: BlobStore
) -> None:
    # A real process: fetch, claim, start recording the analysis, and die by SIGKILL
    # before the commit. The half-done step must leave no trace.
    child = """
import os, signal, sys
from datetime import datetime, UTC
from sqlalchemy import update
from bot.store import intake, queue
from bot.store.blobs import BlobStore
from bot.store.db import make_engine, session_factory
from bot.store.models import Document, Message
session = session_factory(make_engine(sys.argv[1]))()
blobs = BlobStore(sys.argv[2])
now = datetime(2026, 7, 14, 10, 0, tzinfo=UTC)
message = intake.record_fetched(session, blobs, source="s", uidvalidity=1, uid=1,
                               raw=b"Subject: x\\r\\n\\r\\nbody", dedup_key="k1", now=now)
queue.claim_for_analysis(session, worker="doomed", now=now)
session.execute(update(Message).where(Message.id == message.id).values(state="analysed"))
session.add(Document(message_id=message.id, kind="other", filename="half.pdf"))
session.flush()
os.kill(os.getpid(), signal.SIGKILL)
"""
    process = subprocess.run(
        [sys.executable, "-c", child, database_url, str(blob_store.root)],
        cwd=REPOSITORY,
        capture_output=True,
        timeout=60,
    )
    assert process.returncode == -9, process.stderr.decode()
    with session_factory(store_engine)() as session:
        message = session.scalars(select(Message)).one()
        assert (message.state, message.lease_owner) == ("analysing", "doomed")
        assert session.scalar(select(func.count(Document.id))) == 0
        assert blob_store.get(message.raw_sha256) == b"Subject: x\r\n\r\nbody"
        # The restarted daemon takes the message over once the dead one's lease ran out.
        later = datetime(2026, 7, 14, 11, 0, tzinfo=UTC)
        resumed = queue.claim_for_analysis(session, worker="restarted", now=later)
        assert resumed is not None and resumed.id == message.id


# --- outbox ---------------------------------------------------------------------------------


def analysed_message(session: Session, blobs: BlobStore, n: int = 1) -> Message:
    fetch(session, blobs, n)
    claimed = queue.claim_for_analysis(session, worker="w", now=T0)
    assert claimed is not None
    queue.record_analysis(session, claimed.id, worker="w", analysis=ANALYSIS)
    return claimed


def queue_one(session: Session, message_id: int, body: bytes = b"reply") -> Reply:
    return outbox.queue_reply(
        session,
        message_id,
        recipient="amicidelparco@pec.it",
        message_id_header=f"<r{message_id}@bot>",
        mime=body,
        subject="Re: Rinnovo PEC",
    )


def test_queueing_a_reply_twice_keeps_one(store_session: Session, blob_store: BlobStore) -> None:
    message = analysed_message(store_session, blob_store)
    first = queue_one(store_session, message.id, b"first")
    second = queue_one(store_session, message.id, b"second")
    assert first.id == second.id and second.mime == b"first"
    assert store_session.scalar(select(func.count(Reply.id))) == 1
    assert message.state == "reply_queued"  # re-read after the step's commit


def test_racing_daemons_queue_one_reply(store_engine: Engine, blob_store: BlobStore) -> None:
    with session_factory(store_engine)() as session:
        message_id = analysed_message(session, blob_store).id
    replies = in_parallel(store_engine, 4, lambda s, i: queue_one(s, message_id, f"r{i}".encode()))
    assert len({reply.id for reply in replies}) == 1


def test_a_reply_is_sent_once_then_done(store_session: Session, blob_store: BlobStore) -> None:
    message = analysed_message(store_session, blob_store)
    reply = queue_one(store_session, message.id)
    (claimed,) = outbox.claim_pending_replies(store_session, worker="a", now=T0)
    assert claimed.id == reply.id and claimed.mime == b"reply"
    assert outbox.claim_pending_replies(store_session, worker="b", now=T0) == []
    assert outbox.mark_sent(store_session, reply.id, now=T0)
    assert not outbox.mark_sent(store_session, reply.id, now=T0)
    assert outbox.claim_pending_replies(store_session, worker="b", now=T0 + timedelta(days=1)) == []
    done = store_session.get(Message, message.id, populate_existing=True)
    assert done is not None and done.state == "done"
    assert (
        outbox.replies_queued_since(store_session, "amicidelparco@pec.it", T0 - timedelta(days=1))
        == 1
    )


def test_a_reply_whose_sender_died_is_sent_by_the_next_run(
    store_session: Session, blob_store: BlobStore
) -> None:
    reply = queue_one(store_session, analysed_message(store_session, blob_store).id)
    assert outbox.claim_pending_replies(
        store_session, worker="dead", lease=timedelta(minutes=10), now=T0
    )
    assert (
        outbox.claim_pending_replies(store_session, worker="next", now=T0 + timedelta(minutes=5))
        == []
    )
    (again,) = outbox.claim_pending_replies(
        store_session, worker="next", now=T0 + timedelta(minutes=11)
    )
    assert again.id == reply.id and again.attempts == 2


def test_failed_sends_are_retried_then_given_up(
    store_session: Session, blob_store: BlobStore
) -> None:
    reply = queue_one(store_session, analysed_message(store_session, blob_store).id)
    outbox.claim_pending_replies(store_session, worker="a", now=T0)
    state = outbox.mark_failed(
        store_session,
        reply.id,
        worker="a",
        error="421 try later",
        retry_delay=timedelta(minutes=10),
        now=T0,
    )
    assert state == "pending"
    assert (
        outbox.claim_pending_replies(store_session, worker="a", now=T0 + timedelta(minutes=9)) == []
    )
    assert outbox.claim_pending_replies(store_session, worker="a", now=T0 + timedelta(minutes=10))
    state = outbox.mark_failed(
        store_session, reply.id, worker="a", error="550 no such user", permanent=True, now=T0
    )
    assert state == "failed"
    assert [r.id for r in outbox.failed_replies(store_session)] == [reply.id]
    assert [e.action for e in audit.errors_since(store_session, None)] == ["reply_failed"]


# --- digest and health ----------------------------------------------------------------------


def test_a_digest_period_is_sent_once(store_session: Session) -> None:
    digest = digests.claim_digest(store_session, "2026-07-14", "text", worker="a", now=T0)
    assert digest is not None and digest.text == "text"
    assert digests.claim_digest(store_session, "2026-07-14", "other", worker="b", now=T0) is None
    assert digests.mark_digest_failed(store_session, digest.id, worker="a", error="smtp down")
    retry = digests.claim_digest(store_session, "2026-07-14", "newer text", worker="b", now=T0)
    assert retry is not None and retry.text == "text"
    assert digests.mark_digest_sent(store_session, retry.id, now=T0)
    assert (
        digests.claim_digest(
            store_session, "2026-07-14", "text", worker="c", now=T0 + timedelta(days=1)
        )
        is None
    )
    assert digests.last_digest_sent_at(store_session) == T0


def test_health_reports_last_poll_and_errors_since_the_digest(store_session: Session) -> None:
    assert health.last_poll(store_session) is None
    health.record_poll(store_session, now=T0)
    health.record_poll(store_session, now=T0 + timedelta(minutes=1))
    assert health.last_poll(store_session) == T0 + timedelta(minutes=1)
    audit.record_daemon_error(store_session, "InboxError: connection refused", at=T0)
    audit.record_daemon_error(store_session, "InboxError: timeout", at=T0 + timedelta(hours=2))
    recent = audit.errors_since(store_session, T0 + timedelta(hours=1))
    assert [e.note for e in recent] == ["InboxError: timeout"]
