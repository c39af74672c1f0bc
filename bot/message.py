"""Are these bytes an e-mail message at all? If so, the parsed message — read safely.

The first stage of :mod:`bot.pipeline`. It is strict about one thing only —
the input must *look like* mail: a header block made of header fields,
holding at least one of the headers every real message carries — and lenient
about everything else. Real mail is full of defects (bad encodings, odd
headers, broken MIME); the stdlib parser records them in ``message.defects``
and this stage lets them pass, because later stages read what they can.

The helpers below read headers and parts of such a message without ever
raising: raw 8-bit headers, broken RFC 2047 words, undecodable payloads and
attached messages sent base64 all come back as a value or None.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import email.policy
import quopri
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from email.errors import HeaderParseError
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_to_datetime

from bot.errors import MessageUnreadable
from bot.model import AnalysisContext, Submission

#: Headers of which a real message carries at least one (RFC 5322 origination
#: and identification fields). A file without any of them is not mail.
_MAIL_HEADERS = ("from", "sender", "date", "subject", "message-id")

#: How much of the file is inspected to recognise what it is instead of mail.
_HEAD_BYTES = 8192

#: Signatures of the files most often renamed to .eml by mistake, only to word
#: the reason for the operator; any other non-mail input is refused anyway.
_FILE_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive (or an Office document)"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"\xd0\xcf\x11\xe0", "an old Office document"),
    (b"Rar!", "a RAR archive"),
    (b"7z\xbc\xaf", "a 7-Zip archive"),
)

#: A header field line: a printable name without colon or space, then a colon.
_FIELD_LINE = re.compile(rb"[!-9;-~]+[ \t]*:")
_MBOX_FROM_LINE = re.compile(rb"From \S")


def parse_message(sub: Submission, ctx: AnalysisContext) -> None:
    """Parse ``sub.raw`` into ``sub.message``.

    Raises :class:`~bot.errors.MessageUnreadable`, with an English reason for
    the operator, when the bytes are not an e-mail message (empty, binary, no
    header block, no mail header). Never raises for defects of a real message.
    """
    raw = _strip_leading_noise(sub.raw)
    _refuse_non_mail(raw)
    message = BytesParser(_class=EmailMessage, policy=email.policy.default).parsebytes(raw)
    present = {name.lower() for name in message}
    if not present.intersection(_MAIL_HEADERS):
        raise MessageUnreadable(
            "no e-mail header (From, Date, Subject, Message-ID) in the header block"
        )
    sub.message = message


def _strip_leading_noise(raw: bytes) -> bytes:
    """Drop a UTF-8 byte-order mark and blank lines some tools put before the headers."""
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    return raw.lstrip(b"\r\n")


def _refuse_non_mail(raw: bytes) -> None:
    """Raise MessageUnreadable unless ``raw`` starts with a plausible header block."""
    if not raw.strip():
        raise MessageUnreadable("the file is empty")
    head = raw[:_HEAD_BYTES]
    for magic, what in _FILE_SIGNATURES:
        if head.startswith(magic):
            raise MessageUnreadable(f"the file is {what}, not an e-mail message")
    header_block = re.split(rb"\r?\n\r?\n", head, maxsplit=1)[0]
    if b"\x00" in header_block:
        raise MessageUnreadable("the file holds binary data, not an e-mail message")
    lines = header_block.splitlines()
    if lines and _MBOX_FROM_LINE.match(lines[0]):
        lines = lines[1:]  # an mbox "From " separator line is not part of the message
    if not lines or not _FIELD_LINE.match(lines[0]):
        raise MessageUnreadable("the file does not start with e-mail header fields")


# --------------------------------------------------------------------------- safe reading

#: Deeper MIME nesting than this is not mail but an attack on the reader.
_MAX_DEPTH = 30
_ADDRESS = re.compile(r"[^\s\"'<>:,;()\[\]]+@[^\s\"'<>:,;()\[\]]+\.[A-Za-z]{2,}")
_DELIVERY_STATUS = ("message/delivery-status", "message/global-delivery-status")


def header(message: EmailMessage, name: str) -> str | None:
    """The first ``name`` header, unfolded and decoded (RFC 2047, raw UTF-8/Latin-1); None if absent."""
    wanted = name.lower()
    for key, value in message.raw_items():
        if key.lower() == wanted:
            return _decode(str(value))
    return None


def first_address(message: EmailMessage, name: str) -> str | None:
    """The first e-mail address in header ``name``, lower case; None when there is none."""
    value = header(message, name)
    if not value:
        return None
    for _, address in getaddresses([value]):
        if "@" in address:
            return address.strip().lower()
    match = _ADDRESS.search(value)
    return match.group(0).lower() if match else None


def addresses_in(value: str) -> list[str]:
    """Every address-looking token in a header value, lower case, in order."""
    return [match.lower() for match in _ADDRESS.findall(value)]


def message_id(message: EmailMessage) -> str | None:
    """The Message-ID as written (``<…>``), without surrounding space; None if absent."""
    value = header(message, "message-id")
    if not value:
        return None
    match = re.search(r"<[^<>\s]+>", value)
    return match.group(0) if match else value.split()[0]


def date(message: EmailMessage) -> datetime | None:
    """The Date header as an aware datetime (UTC when the zone is unknown); None if unreadable."""
    value = header(message, "date")
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def leaves(message: EmailMessage, depth: int = 0) -> Iterator[EmailMessage]:
    """The non-multipart parts of ``message``; attached messages are leaves, not opened."""
    if message.get_content_maintype() != "multipart":
        yield message
        return
    payload = message.get_payload()
    if not isinstance(payload, list) or depth >= _MAX_DEPTH:
        return
    for part in payload:
        if isinstance(part, EmailMessage):
            yield from leaves(part, depth + 1)


def filename(part: EmailMessage) -> str | None:
    """The part's file name (RFC 2231/2047 decoded), or None."""
    try:
        name = part.get_filename()
    except (HeaderParseError, ValueError, LookupError, TypeError, IndexError):
        return None
    return str(name).strip() if name else None


def payload_bytes(part: EmailMessage) -> bytes | None:
    """The part's decoded body (base64, quoted-printable …), or None when there is none."""
    try:
        data = part.get_payload(decode=True)
    except (ValueError, LookupError, TypeError, binascii.Error):
        return None
    return data if isinstance(data, bytes) else None


def attached_message(part: EmailMessage) -> EmailMessage | None:
    """The message carried by ``part`` (message/rfc822 or an .eml file), or None.

    Some providers send message/rfc822 base64-encoded, which the stdlib parses
    as a message with no headers: it is decoded and parsed again.
    """
    encoding = (header(part, "content-transfer-encoding") or "").lower()
    payload = part.get_payload()
    if isinstance(payload, list):
        if not payload or not isinstance(payload[0], EmailMessage):
            return None
        inner = payload[0]
        if encoding not in ("base64", "quoted-printable"):
            return inner
        text = inner.get_payload()
        data = _decode_transfer(text.encode("ascii", "replace") if isinstance(text, str) else b"",
                                encoding)
    else:
        data = payload_bytes(part)
    if not data:
        return None
    attached = BytesParser(_class=EmailMessage, policy=email.policy.default).parsebytes(data)
    present = {name.lower() for name in attached}
    return attached if present.intersection(_MAIL_HEADERS) else None


def is_delivery_report(message: EmailMessage) -> bool:
    """True for a bounce or delivery notice (multipart/report, message/delivery-status)."""
    if message.get_content_type() == "multipart/report":
        return True
    return any(part.get_content_type() in _DELIVERY_STATUS for part in leaves(message))


def _decode(raw: str) -> str:
    # 8-bit header bytes arrive as surrogate escapes: back to bytes, then UTF-8 or Latin-1.
    data = raw.encode("utf-8", "surrogateescape")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("cp1252", "replace")
    text = re.sub(r"\r?\n(?=[ \t])", "", text)
    with contextlib.suppress(HeaderParseError, UnicodeError, LookupError, ValueError):
        text = str(make_header(decode_header(text)))
    return text.strip()


def _decode_transfer(data: bytes, encoding: str) -> bytes | None:
    try:
        if encoding == "base64":
            return base64.b64decode(re.sub(rb"\s+", b"", data), validate=False)
        return quopri.decodestring(data)
    except (binascii.Error, ValueError):
        return None
