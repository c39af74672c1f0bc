"""Complete, incomplete, ignored or error — and why. The only place that decides.

Collect, then decide: checks have recorded their findings; here they become
one verdict, so one reply can list everything missing at once. ``complete``
needs every required document and no problem at all: when in doubt, a
submission is incomplete, never complete.
"""

from __future__ import annotations

from bot.model import REQUIRED_KINDS, AnalysisContext, Submission


def decide(sub: Submission, ctx: AnalysisContext) -> None:
    """Set ``sub.missing`` and ``sub.verdict`` from what the stages recorded."""
    if sub.error is not None:
        sub.verdict = "error"
        return
    if sub.stop is not None:
        sub.verdict = "ignored"
        return
    sub.missing = [kind for kind in REQUIRED_KINDS if not sub.documents_of(kind)]
    sub.verdict = "complete" if not sub.missing and not sub.problems else "incomplete"
