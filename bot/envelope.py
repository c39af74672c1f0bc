"""What kind of PEC message is this, who certified it, and what is the original?

The provider never hands over the sender's message as is: it wraps it in a
transport envelope, sends a receipt, or an anomaly envelope (PEC.md). Each
reader in :data:`READERS` recognises one family of envelopes and returns None
for the others; the first that recognises the message wins, and a message no
reader recognises is plain mail. Today there is one reader, PEC's; a REM
(ETSI EN 319 532) reader would sit beside it.

Signals are weighed, not trusted singly: the outer headers (X-Trasporto,
X-Ricevuta) are outside the signed part, daticert.xml is inside it, so
daticert wins when both speak.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import tzinfo
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from typing import cast, get_args

from bot import message as mail
from bot.cms import encapsulated_content, load_signed_data
from bot.daticert import Daticert, parse_daticert
from bot.model import AnalysisContext, Envelope, EnvelopeType, Submission

#: A reader gets the message as received and the part holding the envelope's
#: body (the same message, or the content of an opaque signature).
EnvelopeReader = Callable[[EmailMessage, EmailMessage, tzinfo], Envelope | None]

_PEC_TYPES = frozenset(get_args(EnvelopeType)) - {"anomalia", "none"}
#: A provider's subject prefix ("POSTA CERTIFICATA: ", "AVVISO DI MANCATA CONSEGNA: " …):
#: upper-case words before a colon. One prefix only: the original may start with "RE:".
_PROVIDER_PREFIX = re.compile(r"^[A-Z][A-Z0-9 .'/-]*:\s*")
_OPAQUE_TYPES = ("application/pkcs7-mime", "application/x-pkcs7-mime")


def read_envelope(sub: Submission, ctx: AnalysisContext) -> None:
    """Fill ``sub.envelope`` from ``sub.message``: type, certified sender, dates, original.

    Never raises for a malformed envelope: what cannot be read stays None and
    a message no reader recognises is plain mail (type ``none``).
    """
    if sub.message is None:
        return
    message = sub.message
    body = _opaque_body(message) or message
    zone = ctx.rules.deadline.timezone
    for reader in READERS:
        envelope = reader(message, body, zone)
        if envelope is not None:
            break
    else:
        envelope = read_plain(message)
    envelope.message_id = mail.message_id(message)
    original = envelope.original
    envelope.auto_submitted = _lower(mail.header(message, "auto-submitted")) or (
        _lower(mail.header(original, "auto-submitted")) if original is not None else None
    )
    envelope.precedence = _lower(mail.header(message, "precedence")) or (
        _lower(mail.header(original, "precedence")) if original is not None else None
    )
    envelope.is_delivery_report = mail.is_delivery_report(message) or (
        original is not None and mail.is_delivery_report(original)
    )
    sub.envelope = envelope


def read_pec(message: EmailMessage, body: EmailMessage, zone: tzinfo) -> Envelope | None:
    """A PEC transport envelope, receipt or anomaly; None when the message is none of them."""
    transport = _lower(mail.header(message, "x-trasporto"))
    if transport == "errore":
        return _anomaly(message, body)
    parts = list(mail.leaves(body))
    daticert = _daticert(parts, zone)
    receipt = _lower(mail.header(message, "x-ricevuta"))
    if daticert is not None and daticert.kind in _PEC_TYPES:
        kind = daticert.kind
    elif receipt in _PEC_TYPES:
        kind = receipt
    elif transport == "posta-certificata":
        kind = transport
    else:
        return None
    d = daticert or _NO_DATICERT
    original = _original(parts)
    sender = d.sender or _on_behalf_of(message) or mail.first_address(message, "reply-to")
    return Envelope(
        type=cast(EnvelopeType, kind),  # one of _PEC_TYPES, checked above
        sender=sender,
        reply_to=d.reply_to or mail.first_address(message, "reply-to") or sender,
        pec_id=d.pec_id,
        date=d.date or mail.date(message),
        subject=d.subject or _original_subject(message, original),
        original_message_id=mail.header(message, "x-riferimento-message-id") or d.msgid,
        original=original,
        error=d.error if d.error and d.error != "nessuno" else None,
    )


#: The envelope readers, tried in order; plain mail when none recognises the message.
READERS: tuple[EnvelopeReader, ...] = (read_pec,)


def read_plain(message: EmailMessage) -> Envelope:
    """A message outside any certified circuit: its own headers are all we know."""
    sender = mail.first_address(message, "from")
    return Envelope(
        type="none",
        sender=sender,
        reply_to=mail.first_address(message, "reply-to") or sender,
        date=mail.date(message),
        subject=mail.header(message, "subject"),
        original_message_id=mail.message_id(message),
        original=message,
    )


def _anomaly(message: EmailMessage, body: EmailMessage) -> Envelope:
    """``X-Trasporto: errore``: ordinary mail let in; its own daticert does not exist.

    A daticert.xml inside the attached original describes that original, so
    nothing is read from any daticert here.
    """
    original = _original(list(mail.leaves(body)))
    sender = (
        _on_behalf_of(message)
        or (mail.first_address(original, "from") if original is not None else None)
        or mail.first_address(message, "reply-to")
    )
    original_reply_to = mail.first_address(original, "reply-to") if original is not None else None
    return Envelope(
        type="anomalia",
        sender=sender,
        reply_to=mail.first_address(message, "reply-to") or original_reply_to or sender,
        date=mail.date(message),
        subject=_original_subject(message, original),
        original_message_id=mail.header(message, "x-riferimento-message-id")
        or (mail.message_id(original) if original is not None else None),
        original=original,
    )


def _daticert(parts: list[EmailMessage], zone: tzinfo) -> Daticert | None:
    """The envelope's own daticert.xml (never one inside the attached original)."""
    named = [p for p in parts if (mail.filename(p) or "").lower() == "daticert.xml"]
    xml = [p for p in parts if p.get_content_type() in ("application/xml", "text/xml")]
    for part in named + xml:
        data = mail.payload_bytes(part)
        if data and (parsed := parse_daticert(data, zone)) is not None:
            return parsed
    return None


def _original(parts: list[EmailMessage]) -> EmailMessage | None:
    """The attached original (``postacert.eml``), preferring it by name over other messages."""
    messages = [p for p in parts if p.get_content_type() == "message/rfc822"]
    named = [p for p in parts if (mail.filename(p) or "").lower() == "postacert.eml"]
    for part in named + messages:
        if (original := mail.attached_message(part)) is not None:
            return original
    return None


def _on_behalf_of(message: EmailMessage) -> str | None:
    """The sender named in the provider's From ("Per conto di: x@y" <provider>), if any.

    Any address in the From header other than the mailbox the header sends
    from is taken, so wording and encoding of the display name do not matter.
    """
    value = mail.header(message, "from") or ""
    sending = mail.first_address(message, "from")
    named = [address for address in mail.addresses_in(value) if address != sending]
    return named[0] if named else None


def _original_subject(message: EmailMessage, original: EmailMessage | None) -> str | None:
    if original is not None and (subject := mail.header(original, "subject")) is not None:
        return subject
    subject = mail.header(message, "subject")
    return _PROVIDER_PREFIX.sub("", subject, count=1) if subject else subject


def _opaque_body(message: EmailMessage) -> EmailMessage | None:
    """The message inside an opaque signature (application/pkcs7-mime signed-data), if any."""
    if message.get_content_type() not in _OPAQUE_TYPES:
        return None
    signed = load_signed_data(mail.payload_bytes(message) or b"")
    content = encapsulated_content(signed) if signed is not None else None
    if not content:
        return None
    return BytesParser(_class=EmailMessage, policy=default_policy).parsebytes(content)


def _lower(value: str | None) -> str | None:
    return value.strip().lower() or None if value else None


_NO_DATICERT = Daticert(
    kind=None, error=None, error_detail=None, sender=None, recipients=(), reply_to=None,
    subject=None, provider=None, date=None, pec_id=None, msgid=None, receipt_kind=None,
    delivered_to=None,
)
