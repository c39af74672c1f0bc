"""The journey of one message through the analysis: read this module first.

Analysis is pure — bytes and rules in, a verdict out, no database, no network —
so ``pecbot check`` and the daemon run exactly the same code and can never
disagree. Each stage fills in only its own part of the :class:`Submission`;
a stage may end the journey early with a typed :class:`~bot.model.Stop`
(a PEC receipt, our own reply), never with an exception. Checks only record
findings; :func:`bot.verdict.decide` alone turns them into a verdict.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from bot import (
    attachments,
    checks,
    classify,
    envelope,
    extract,
    fields,
    message,
    reading,
    signature,
    triage,
    verdict,
)
from bot.config import Settings
from bot.errors import MessageUnreadable
from bot.model import AnalysisContext, Submission
from bot.rules import load_rules


@dataclass(frozen=True)
class Stage:
    name: str
    run: Callable[[Submission, AnalysisContext], None]


#: The stages, in the order a message goes through them.
STAGES: tuple[Stage, ...] = (
    Stage("parse", message.parse_message),  # bytes → e-mail message
    Stage("envelope", envelope.read_envelope),  # PEC envelope, receipt, anomaly or plain mail?
    Stage("signature", signature.verify_signature),  # does the provider's signature hold?
    Stage("triage", triage.triage),  # does this message need an answer at all?
    Stage("attachments", attachments.collect_attachments),  # which files did the sender attach?
    Stage("reading", reading.read_documents),  # what text does each page hold?
    Stage("classify", classify.classify_documents),  # order form, ID, receipt or other?
    Stage("extract", extract.extract_fields),  # what does each document state?
    Stage("fields", fields.merge_fields),  # the submission's fields, one value each
    Stage("checks", checks.run_checks),  # what is missing or wrong?
)


def analyse(raw: bytes, ctx: AnalysisContext, source: str = "") -> Submission:
    """Run every stage on ``raw`` and return the judged submission.

    Never raises for a bad message: bytes that are not a message get verdict
    ``error`` with the reason; everything else gets a verdict from
    :func:`bot.verdict.decide`.
    """
    sub = Submission(source=source, raw=raw)
    for stage in STAGES:
        started = time.perf_counter()
        try:
            stage.run(sub, ctx)
        except MessageUnreadable as exc:
            sub.error = str(exc)
            sub.trace.append(f"{stage.name}: not a message")
            break
        sub.trace.append(f"{stage.name}: {time.perf_counter() - started:.3f}s")
        if sub.stop is not None:
            sub.trace.append(f"stop: {sub.stop.reason}")
            break
    verdict.decide(sub, ctx)
    return sub


def make_context(
    settings: Settings,
    *,
    rules_folder: str | None = None,
    extra_trust: tuple[str, ...] = (),
    now: date | None = None,
) -> AnalysisContext:
    """The analysis context for ``settings``: rules loaded and validated, trust list read.

    Raises :class:`~bot.errors.RulesError` or :class:`~bot.errors.ConfigError`
    with a message meant for the operator.
    """
    rules = load_rules(rules_folder or settings.rules or None)
    trusted = signature.load_trusted([*settings.trust, *extra_trust])
    return AnalysisContext(rules=rules, trusted=trusted, own_address=settings.address.lower(), now=now)
