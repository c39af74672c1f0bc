"""Are these bytes an e-mail message at all? If so, the parsed message.

The first stage of :mod:`bot.pipeline`. It is strict about one thing only —
the input must *look like* mail: a header block made of header fields,
holding at least one of the headers every real message carries — and lenient
about everything else. Real mail is full of defects (bad encodings, odd
headers, broken MIME); the stdlib parser records them in ``message.defects``
and this stage lets them pass, because later stages read what they can.
"""

from __future__ import annotations

import email.policy
import re
from email.message import EmailMessage
from email.parser import BytesParser

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
    present = {name.lower() for name in message.keys()}
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
