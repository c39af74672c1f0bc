"""What kind of file is this, judging by its bytes alone?

Senders' clients declare ``application/octet-stream`` for PDFs, ``image/jpg``
for PNGs, and name a JPEG ``documento.pdf``; a signed ``.p7m`` may be DER,
PEM or bare base64. Only the first bytes are trusted here: magic numbers, and
for CMS the signedData object identifier near the start.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class FileType:
    """A sniffed type: the MIME type we report and the extension we name files with."""

    mime: str
    extension: str

    @property
    def is_image(self) -> bool:
        return self.mime.startswith("image/")


PDF = FileType("application/pdf", "pdf")
JPEG = FileType("image/jpeg", "jpg")
PNG = FileType("image/png", "png")
GIF = FileType("image/gif", "gif")
TIFF = FileType("image/tiff", "tif")
WEBP = FileType("image/webp", "webp")
BMP = FileType("image/bmp", "bmp")
HEIC = FileType("image/heic", "heic")
ZIP = FileType("application/zip", "zip")
CMS = FileType("application/pkcs7-mime", "p7m")
MESSAGE = FileType("message/rfc822", "eml")
TNEF = FileType("application/ms-tnef", "dat")
WORD = FileType("application/vnd.openxmlformats-officedocument", "docx")
OPENDOCUMENT = FileType("application/vnd.oasis.opendocument", "odt")
OLE = FileType("application/x-ole-storage", "doc")
RAR = FileType("application/vnd.rar", "rar")
SEVEN_ZIP = FileType("application/x-7z-compressed", "7z")
GZIP = FileType("application/gzip", "gz")
HTML = FileType("text/html", "html")
XML = FileType("application/xml", "xml")
TEXT = FileType("text/plain", "txt")
UNKNOWN = FileType("application/octet-stream", "bin")

#: DER of the signedData OID 1.2.840.113549.1.7.2, found within the first bytes of a .p7m.
_SIGNED_DATA_OID = bytes.fromhex("06092a864886f70d010702")
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}
_BASE64_HEAD = re.compile(rb"^[A-Za-z0-9+/=\s]{64,}$")
_HEADER_LINE = re.compile(rb"^[A-Za-z][A-Za-z0-9-]{1,40}:[ \t]")
_MESSAGE_HEADERS = {
    b"received", b"from", b"to", b"subject", b"date", b"message-id", b"mime-version",
    b"content-type", b"return-path", b"delivered-to", b"x-trasporto", b"reply-to",
}


def sniff(data: bytes) -> FileType:
    """The type ``data`` really has, from its leading bytes; never raises."""
    head = data[:2048]
    # before the PDF test: a signed PDF holds "%PDF-" within its first bytes
    if is_cms(data):
        return CMS
    if head.startswith(b"%PDF-"):
        return PDF
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith((b"GIF87a", b"GIF89a")):
        return GIF
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return TIFF
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS:
        return HEIC
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return _zip_or_office(head)
    if head.startswith(b"\x78\x9f\x3e\x22"):
        return TNEF
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return OLE
    if head.startswith(b"Rar!\x1a\x07"):
        return RAR
    if head.startswith(b"7z\xbc\xaf\x27\x1c"):
        return SEVEN_ZIP
    if head.startswith(b"\x1f\x8b"):
        return GZIP
    if head.startswith(b"BM") and len(head) > 26 and head[6:10] == b"\x00\x00\x00\x00":
        return BMP
    # A PDF header may follow up to 1 KB of junk (Acrobat tolerates it, so do we);
    # tested last, since a zip or a .p7m also holds "%PDF-" near its start.
    if b"%PDF-" in head[:1024]:
        return PDF
    return _textual(head)


def is_cms(data: bytes) -> bool:
    """True when ``data`` looks like a CMS/PKCS#7 SignedData: DER, PEM or bare base64."""
    head = data[:64]
    if head[:1] == b"\x30":
        return _SIGNED_DATA_OID in head[:24]
    stripped = data[:4096].lstrip()
    if stripped.startswith(b"-----BEGIN"):
        first_line = stripped.split(b"\n", 1)[0].upper()
        return any(word in first_line for word in (b"PKCS7", b"CMS", b"SIGNED", b"P7M"))
    if _BASE64_HEAD.match(stripped[:128]):
        compact = b"".join(stripped[:256].split())
        try:
            decoded = base64.b64decode(compact[: len(compact) // 4 * 4])
        except (binascii.Error, ValueError):
            return False
        return decoded[:1] == b"\x30" and _SIGNED_DATA_OID in decoded[:24]
    return False


def _zip_or_office(head: bytes) -> FileType:
    # Office files are zips whose first member names the format; they are
    # documents we cannot read, not archives to open.
    if b"[Content_Types].xml" in head or b"word/" in head or b"xl/" in head:
        return WORD
    if b"mimetypeapplication/vnd.oasis.opendocument" in head:
        return OPENDOCUMENT
    return ZIP


def _textual(head: bytes) -> FileType:
    if not head or b"\x00" in head:
        return UNKNOWN
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # a multi-byte character cut at the end of the window is still text
        if exc.start < len(head) - 4:
            text = head.decode("latin-1")
            if sum(ch.isprintable() or ch in "\r\n\t" for ch in text) < 0.95 * len(text):
                return UNKNOWN
        else:
            text = head[: exc.start].decode("utf-8")
    if _looks_like_message(head):
        return MESSAGE
    lowered = text.lstrip().lower()
    if lowered.startswith(("<!doctype html", "<html")) or "<html" in lowered[:512]:
        return HTML
    if lowered.startswith("<?xml"):
        return XML
    return TEXT


def _looks_like_message(head: bytes) -> bool:
    """Header lines up to a blank line: two with a well-known e-mail header, or a MIME
    entity's lone ``Content-Type`` (what an S/MIME ``smime.p7m`` wraps)."""
    lines = head.replace(b"\r\n", b"\n").split(b"\n")
    if lines and lines[0].lower().startswith(b"content-type:"):
        return True
    headers = 0
    known = False
    for line in lines[:60]:
        if not line:
            break
        if line[:1] in (b" ", b"\t"):
            continue  # folded continuation of the previous header
        if not _HEADER_LINE.match(line):
            return False
        headers += 1
        known = known or line.split(b":", 1)[0].lower() in _MESSAGE_HEADERS
    return headers >= 2 and known
