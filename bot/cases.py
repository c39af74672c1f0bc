"""Where does each association stand, across all its messages?

A case is one mailbox to renew. It gathers the documents of every submission
filed to it, in the order they arrived, and is judged by the same checks as a
single message: the receipt that satisfies the rules wins (else the newest),
the newest order form speaks for the association, and identity sides add up
(front today, back tomorrow). Envelope matters (signature, lateness) belong to
each message, not to the case; documents from a message whose signature is
broken are not trusted and do not count.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bot import verdict
from bot.checks import DOCUMENT_CHECKS, run_checks
from bot.fields import merge_fields
from bot.model import AnalysisContext, Document, Envelope, Finding, Submission


@dataclass
class CaseState:
    """A case as the ETS and the operators see it."""

    mailbox: str
    ets_name: str | None
    complete: bool
    missing: list[str] = field(default_factory=list)
    problems: list[Finding] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)

    @property
    def status(self) -> str:
        return "complete" if self.complete else "incomplete"


def case_mailbox(sub: Submission) -> str | None:
    """The mailbox a submission is about: the order form's, else the certified sender."""
    return sub.fields.mailbox


def evaluate_case(
    mailbox: str,
    documents: list[Document],
    last_certified: datetime | None,
    ctx: AnalysisContext,
) -> CaseState:
    """Judge a case over ``documents`` (oldest first) as if one message had carried them all."""
    combined = Submission(
        source=f"case:{mailbox}",
        raw=b"",
        envelope=Envelope(type="posta-certificata", sender=mailbox, date=last_certified),
        documents=[d for d in documents if d.unreadable is None],
    )
    merge_fields(combined, ctx)
    if combined.fields.mailbox != mailbox:
        # The case is keyed by its mailbox; a form naming another one was filed
        # elsewhere, so judge the causale against this case's own mailbox.
        combined.fields.mailbox = mailbox
    run_checks(combined, ctx, DOCUMENT_CHECKS)
    verdict.decide(combined, ctx)
    return CaseState(
        mailbox=mailbox,
        ets_name=combined.fields.ets_name,
        complete=combined.verdict == "complete",
        missing=list(combined.missing),
        problems=combined.problems,
        warnings=combined.warnings,
    )
