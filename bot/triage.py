"""Does this message need an answer at all?

PEC receipts, auto-replies, bounces and our own messages coming back are not
submissions: they end the analysis with a typed :class:`~bot.model.Stop`
(verdict ``ignored``), so no reply can ever answer them and no loop can start.
"""

from __future__ import annotations

import email.message
from email.utils import getaddresses

from bot.model import AnalysisContext, Stop, Submission

#: Envelope types that describe a submission; every other type is a PEC receipt.
SUBMISSION_TYPES = ("posta-certificata", "anomalia", "none")

#: Every reply pecbot writes has a Message-ID starting with this.
MESSAGE_ID_PREFIX = "pecbot."

_ROBOT_LOCAL_PARTS = ("mailer-daemon", "postmaster", "no-reply", "noreply", "do-not-reply")


def _addresses(message: email.message.Message, header: str) -> list[str]:
    return [addr.lower() for _, addr in getaddresses(message.get_all(header, [])) if addr]


def _is_automatic(message: email.message.Message) -> str | None:
    """Why ``message`` was written by a machine (RFC 3834, RFC 3464), or None."""
    auto = str(message.get("Auto-Submitted", "no")).strip().lower()
    if auto and not auto.startswith("no"):
        return f"auto-submitted:{auto.split(';')[0]}"
    if message.get_content_type() == "multipart/report" or any(
        part.get_content_type() == "message/delivery-status" for part in message.walk()
    ):
        return "delivery-report"
    precedence = str(message.get("Precedence", "")).strip().lower()
    if precedence in ("bulk", "junk", "list"):
        return f"precedence:{precedence}"
    if message.get("X-Autoreply") or message.get("X-Autorespond"):
        return "auto-reply"
    return None


def triage(sub: Submission, ctx: AnalysisContext) -> None:
    """Stop the analysis unless the message is a submission that deserves a reply."""
    env = sub.envelope
    assert env is not None, "triage runs after the envelope stage"
    if env.type not in SUBMISSION_TYPES:
        sub.stop = Stop(f"pec-receipt:{env.type}")
        return
    own = ctx.own_address.lower()
    original = env.original if env.original is not None else sub.message
    senders = {env.sender or ""} | (set(_addresses(original, "From")) if original else set())
    original_id = str(original.get("Message-ID", "")) if original is not None else ""
    if (own and own in senders) or original_id.strip().lstrip("<").startswith(MESSAGE_ID_PREFIX):
        sub.stop = Stop("own-message")
        return
    if any(s.split("@")[0] in _ROBOT_LOCAL_PARTS for s in senders if s):
        sub.stop = Stop("robot-sender")
        return
    if original is not None:
        reason = _is_automatic(original)
        if reason:
            sub.stop = Stop(reason)
            return
    if env.type == "none" and original is None:
        sub.stop = Stop("no-content")
