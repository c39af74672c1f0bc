"""Stored message → analysis recorded: the daemon's second step, in this process or in several.

The analysis itself is :func:`bot.pipeline.analyse`, the same as ``pecbot
check``. Each message is leased before it is analysed and recorded only by
the lease holder, so several processes can share a backlog and a killed one
loses nothing. A message that makes the analysis fail is retried a bounded
number of times, then quarantined for a person; it never stops the others.
"""

from __future__ import annotations

import time
import traceback
from datetime import timedelta
from pathlib import Path

import structlog
from sqlalchemy.orm import Session, sessionmaker

from bot.config import Settings
from bot.filing import analysis_extras
from bot.model import AnalysisContext
from bot.pipeline import analyse, make_context
from bot.records import document_record
from bot.report import to_json
from bot.store import queue
from bot.store.blobs import BlobStore
from bot.store.db import make_engine, session_factory
from bot.store.leases import worker_name
from bot.store.queue import DocumentFacts

log = structlog.get_logger("pecbot.analysis")


def analyse_stored(
    ctx: AnalysisContext, sessions: sessionmaker[Session], blobs: BlobStore, worker: str, settings: Settings
) -> int:
    """Analyse stored messages until none waits; returns how many were recorded."""
    done = 0
    with sessions() as session:
        while (message := queue.claim_for_analysis(
            session, worker=worker, max_attempts=settings.max_attempts,
            lease=timedelta(seconds=max(600.0, 4 * ctx.ocr.seconds_per_attachment)),
        )) is not None:
            message_id, sha = message.id, message.raw_sha256
            started = time.perf_counter()
            try:
                sub = analyse(blobs.get(sha), ctx, source=f"message:{message_id}")
                analysis = to_json(sub) | {"pecbot": analysis_extras(sub)}
                facts = [
                    DocumentFacts(
                        filename=doc.filename,
                        kind=doc.kind,
                        fields=document_record(doc),
                        id_sides=list(doc.identity.sides) if doc.identity else [],
                        unreadable=doc.unreadable,
                    )
                    for doc in sub.documents
                ]
                queue.record_analysis(
                    session, message_id, worker=worker, analysis=analysis, documents=facts,
                    subject=sub.envelope.subject if sub.envelope else None,
                    message_id_header=sub.envelope.message_id if sub.envelope else None,
                )
            except Exception as exc:  # noqa: BLE001 - one bad message must not stop the rest
                session.rollback()
                reason = f"{type(exc).__name__}: {exc}"
                outcome = queue.record_failure(
                    session, message_id, worker=worker, reason=reason,
                    max_attempts=settings.max_attempts,
                )
                log.error("analysis_failed", message=message_id, outcome=outcome,
                          error=type(exc).__name__, where=traceback.format_exc(limit=-1).strip()[-300:])
                continue
            done += 1
            log.info("message_analysed", message=message_id, verdict=sub.verdict,
                     documents=len(sub.documents), seconds=round(time.perf_counter() - started, 3))
    return done



def analysis_process(settings: Settings) -> int:
    """Entry point of one analysis process: its own rules, engine and lease name."""
    from bot import logs

    logs.configure()
    ctx = make_context(settings)
    engine = make_engine(settings.database_url)
    try:
        return analyse_stored(ctx, session_factory(engine), BlobStore(Path(settings.store)), worker_name(), settings)
    finally:
        engine.dispose()
