"""Which parts of a MIME message are files the sender attached?

Not the message bodies, not the PEC provider's ``daticert.xml`` or
``smime.p7s``, not detached signatures or vcards, not the logos and
signature images an HTML body shows inline. A PDF sent ``inline`` is still a
document, and so is a phone photo that Apple Mail shows inline.
"""

from __future__ import annotations

import email.message
import io
import re
import warnings
from typing import Literal

from PIL import Image

from bot.attachments.sniff import FileType, sniff

Role = Literal["body", "skip", "file"]

_SKIPPED_TYPES = {
    "application/pkcs7-signature",
    "application/x-pkcs7-signature",
    "text/vcard",
    "text/x-vcard",
    "text/directory",
    "text/calendar",
    "message/delivery-status",
    "message/disposition-notification",
    "text/rfc822-headers",
}
_SKIPPED_NAMES = {"daticert.xml", "smime.p7s"}
_SKIPPED_EXTENSIONS = (".p7s", ".vcf", ".ics")
_CID = re.compile(r"cid:([^\"'\s>)]+)", re.IGNORECASE)
#: Sniffed types that make a text/* part a misdeclared file rather than a body.
_BINARY_MIMES = ("application/pdf", "image/", "application/zip", "application/pkcs7-mime")


def role(part: email.message.Message, data: bytes | None) -> Role:
    """Whether a leaf part is a body, something to skip, or a file to look at."""
    content_type = part.get_content_type()
    name = filename(part)
    lowered = (name or "").lower()
    if content_type in _SKIPPED_TYPES or lowered in _SKIPPED_NAMES:
        return "skip"
    if lowered.endswith(_SKIPPED_EXTENSIONS):
        return "skip"
    if data and b"<postacert" in data[:4096] and content_type.endswith("xml"):
        return "skip"  # a daticert.xml that lost its name
    if part.get_content_maintype() == "text" and not name:
        if part.get_content_disposition() != "attachment":
            if data and sniff(data).mime.startswith(_BINARY_MIMES):
                return "file"  # a PDF or image declared text/plain
            return "body"
        if not data:
            return "skip"  # an empty text fragment is not a file
    return "file"


def filename(part: email.message.Message) -> str | None:
    """The part's file name (RFC 2231 and 2047 decoded), without any folder; None if absent."""
    try:
        name = part.get_filename()  # falls back to Content-Type's name parameter
    except Exception:  # malformed parameters must not stop the walk
        return None
    if not isinstance(name, str):
        return None
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    return name[:200] or None


def inline(part: email.message.Message, referenced_cids: set[str]) -> bool:
    """True when the part is shown inside the body rather than offered as an attachment."""
    if part.get_content_disposition() != "attachment":
        return True
    content_id = (part.get("Content-ID") or "").strip().strip("<>")
    return bool(content_id) and content_id in referenced_cids


def referenced_cids(message: email.message.Message) -> set[str]:
    """The ``cid:`` references of every HTML body of ``message``."""
    found: set[str] = set()
    for part in message.walk():
        if part.get_content_type() != "text/html" or part.get_content_disposition() == "attachment":
            continue
        try:
            html = part.get_content() if isinstance(part, email.message.EmailMessage) else ""
        except Exception:  # an unknown charset: no references rather than a crash
            continue
        if isinstance(html, str):
            found.update(match.strip() for match in _CID.findall(html))
    return found


def decoration(data: bytes, kind: FileType, shown_inline: bool, min_pixels: int) -> bool:
    """True for a logo, a signature image or a tracking pixel: not a document.

    Inline images below ``min_pixels`` are decorations; any image below a
    quarter of it is too small to be a readable document anyway.
    """
    if not kind.is_image:
        return False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            width, height = Image.open(io.BytesIO(data)).size
    except Exception:  # unreadable or a bomb: reading will say so
        return False
    pixels = width * height
    return pixels < min_pixels // 4 or (shown_inline and pixels < min_pixels)
