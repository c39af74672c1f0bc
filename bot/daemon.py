"""The loop that ties inbox → store → analysis → case → outbox together.

One pass does four things, each a series of committed steps (see
:mod:`bot.store`), so a kill at any moment loses nothing and repeats no reply:

1. **fetch**: new messages are downloaded and stored (raw bytes first);
2. **analyse**: each stored message is analysed offline by the same pipeline
   as ``pecbot check``; a message that makes it fail is retried, then
   quarantined for a person, never blocking the rest;
3. **file**: each analysed message joins its case and its reply is queued;
4. **send**: queued replies go out and are marked sent only once the server
   accepted them; while the server is down they wait.

Then the digest, when its time has come. This is the only place that catches
every exception: what it catches is recorded for the operators.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import structlog
from sqlalchemy.orm import Session, sessionmaker

from bot import digest as digests
from bot.analysis import analyse_stored, analysis_process
from bot.config import Settings
from bot.errors import InboxError, OutboxError, StoreError
from bot.filing import file_message
from bot.inbox import Inbox, InboxOptions, open_inbox
from bot.model import AnalysisContext
from bot.outbox import Outbox, OutboxOptions, open_outbox
from bot.pipeline import make_context
from bot.store import audit, health, intake, outbox, queue
from bot.store import models as db
from bot.store.blobs import BlobStore
from bot.store.db import ensure_schema, make_engine, session_factory
from bot.store.dedup import dedup_key
from bot.store.leases import release_dead_local_leases, worker_name

log = structlog.get_logger("pecbot.daemon")


@dataclass
class Daemon:
    settings: Settings
    ctx: AnalysisContext
    sessions: sessionmaker[Session]
    blobs: BlobStore
    inbox: Inbox
    outbox: Outbox
    worker: str
    today: Callable[[], date] = date.today

    # -- 1. fetch -------------------------------------------------------
    def fetch(self) -> int:
        """Store every new message of the inbox; returns how many were new."""
        stored = 0
        with self.sessions() as session:

            def last_seen(uidvalidity: int) -> int:
                return intake.highest_seen_uid(session, self.inbox.source, uidvalidity) or 0

            while True:
                batch = self.inbox.fetch_new(last_seen)
                if not batch:
                    break
                for fetched in batch:
                    row = intake.record_fetched(
                        session,
                        self.blobs,
                        source=fetched.source,
                        uidvalidity=fetched.uidvalidity,
                        uid=fetched.uid,
                        raw=fetched.raw,
                        dedup_key=dedup_key(fetched.raw),
                    )
                    self.inbox.acknowledge(fetched)
                    if row is not None:
                        stored += 1
                        log.info("message_stored", message=row.id, size=len(fetched.raw))
            health.record_poll(session)
        return stored

    # -- 2. analyse -----------------------------------------------------
    def analyse_waiting(self) -> int:
        """Analyse every stored message; a backlog is shared by one process per core."""
        processes = self.settings.analysis_workers or os.cpu_count() or 1
        with self.sessions() as session:
            waiting = queue.waiting_count(session)
        if processes == 1 or waiting < 2:
            return analyse_stored(self.ctx, self.sessions, self.blobs, self.worker, self.settings)
        spawn = multiprocessing.get_context("spawn")  # a clean interpreter: no inherited connections
        with ProcessPoolExecutor(max_workers=min(processes, waiting), mp_context=spawn) as pool:
            return sum(pool.map(analysis_process, [self.settings] * min(processes, waiting)))

    # -- 3. file --------------------------------------------------------
    def file_analysed(self) -> int:
        filed = 0
        with self.sessions() as session:
            for message_id in [m.id for m in queue.awaiting_filing(session)]:
                case_id = file_message(
                    session, message_id, self.ctx, sender=self.settings.address,
                    replies_per_day=self.settings.replies_per_sender_per_day, today=self.today(),
                )
                filed += 1
                log.info("message_filed", message=message_id, case=case_id, replied=case_id is not None)
        return filed

    # -- 4. send --------------------------------------------------------
    def send_replies(self) -> int:
        sent = 0
        with self.sessions() as session:
            while batch := outbox.claim_pending_replies(session, worker=self.worker):
                if not self._send_batch(session, batch):
                    break
                sent += len(batch)
        return sent

    def _send_batch(self, session: Session, batch: list[db.Reply]) -> bool:
        """Send one claimed batch; False when the server is down (the rest wait)."""
        for reply in batch:
            reply_id, mime = reply.id, reply.mime or b""
            message = message_from_bytes(mime, policy=policy.default)
            assert isinstance(message, EmailMessage)
            try:
                self.outbox.send(message)
            except OutboxError as exc:
                outbox.mark_failed(session, reply_id, worker=self.worker, error=str(exc),
                                   permanent=exc.permanent)
                log.warning("reply_not_sent", reply=reply_id, permanent=exc.permanent)
                if not exc.permanent:
                    return False  # the server is down: the rest wait for the next pass
                continue
            outbox.mark_sent(session, reply_id)
            log.info("reply_sent", reply=reply_id, case=reply.case_id)
        return True

    # -- one pass -------------------------------------------------------
    def run_pass(self) -> None:
        """Fetch, analyse, file, send, digest: each part survives the failure of another."""
        for name, step in (
            ("fetch", self.fetch),
            ("analyse", self.analyse_waiting),
            ("file", self.file_analysed),
            ("send", self.send_replies),
            ("digest", self.digest_if_due),
        ):
            try:
                step()
            except (InboxError, StoreError) as exc:
                self._record_error(name, exc)
            except Exception as exc:  # noqa: BLE001 - the loop must go on; a person is told
                self._record_error(name, exc)

    def digest_if_due(self) -> None:
        digests.send_if_due(self.sessions, self.ctx, self.settings, self.outbox, worker=self.worker)

    def _record_error(self, step: str, exc: Exception) -> None:
        log.error("step_failed", step=step, error=type(exc).__name__, reason=str(exc)[:300])
        try:
            with self.sessions() as session:
                audit.record_daemon_error(session, f"{step}: {type(exc).__name__}: {str(exc)[:500]}")
        except Exception:  # noqa: BLE001 - the database itself may be what failed
            log.error("error_not_recorded", step=step)


def build(settings: Settings) -> Daemon:
    """A daemon for ``settings``: schema upgraded, rules validated, servers configured."""
    ctx = make_context(settings)
    ensure_schema(settings.database_url, upgrade=True)
    engine = make_engine(settings.database_url)
    sessions = session_factory(engine)
    with sessions() as session:
        freed = release_dead_local_leases(session)
    if freed:
        log.info("leases_released", rows=freed)
    inbox = open_inbox(settings.inbox, options=InboxOptions(
        ca_file=Path(settings.imap_ca_file) if settings.imap_ca_file else None,
        idle_renew=settings.idle_seconds,
    ))
    out = open_outbox(settings.outbox, options=OutboxOptions(
        ca_file=Path(settings.smtp_ca_file) if settings.smtp_ca_file else None,
    ))
    return Daemon(settings, ctx, sessions, BlobStore(Path(settings.store)), inbox, out, worker_name())


def run(settings: Settings, *, once: bool) -> int:
    """``pecbot run``: one pass with ``once``, else forever (IDLE or polling between passes)."""
    daemon = build(settings)
    log.info("daemon_started", once=once)
    try:
        while True:
            daemon.run_pass()
            if once:
                return 0
            try:
                daemon.inbox.wait(daemon.settings.poll_seconds)
            except InboxError as exc:
                daemon._record_error("wait", exc)
                time.sleep(min(daemon.settings.poll_seconds, 30.0))
    finally:
        daemon.inbox.close()
