"""Does the identity document show both sides, and is it still valid?"""

from __future__ import annotations

from bot.checks.base import finding, judged_day
from bot.fields import merge_identities
from bot.model import AnalysisContext, Finding, Submission
from bot.texts import italian_date

_SIDE_NAMES = {"front": "il fronte", "back": "il retro"}


def both_sides(sub: Submission, ctx: AnalysisContext) -> list[Finding]:
    """``id_document_one_side`` unless front and back (or a passport page) were seen."""
    identity = merge_identities([d.identity for d in sub.documents if d.identity])
    if identity is None:
        return []
    sides = set(identity.sides)
    if "passport" in sides or {"front", "back"} <= sides:
        return []
    seen = [_SIDE_NAMES[s] for s in ("front", "back") if s in sides]
    described = seen[0] if seen else "un lato che non riusciamo a riconoscere"
    return [finding(ctx, "id_document_one_side", sides=described)]


def not_expired(sub: Submission, ctx: AnalysisContext) -> list[Finding]:
    """``id_document_expired`` when the expiry read is before the judged day."""
    day = judged_day(sub, ctx)
    expiry = sub.fields.id_expiry
    if expiry is None or day is None or expiry >= day:
        return []
    return [finding(ctx, "id_document_expired", expiry=italian_date(expiry))]
