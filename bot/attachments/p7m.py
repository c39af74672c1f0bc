"""What file does a signed ``.p7m`` (firma digitale, CAdES) carry?

A ``.p7m`` is a CMS SignedData with the signed file attached. Italian senders'
tools produce it as DER, as PEM, or as bare base64; some sign twice (a
``.pdf.p7m.p7m``); some write BER with indefinite lengths. asn1crypto reads
all of these. The signature itself is not checked here: we only need the
document inside.
"""

from __future__ import annotations

import base64
import binascii
import re

from asn1crypto import cms

from bot.errors import AttachmentUnreadable

CORRUPT = "il file firmato (.p7m) è danneggiato"
DETACHED = "il file firmato (.p7m) non contiene il documento (firma separata)"
ENCRYPTED = "il file (.p7m) è cifrato"

_PEM_BODY = re.compile(rb"-----BEGIN[^\n]*-----(.*?)-----END", re.DOTALL)


def to_der(data: bytes) -> bytes:
    """The DER/BER bytes of a CMS object given as DER, PEM or bare base64."""
    stripped = data.lstrip()
    if stripped[:1] == b"\x30":
        return stripped
    match = _PEM_BODY.search(stripped)
    body = match.group(1) if match else stripped
    # PEM bodies may carry headers ("Proc-Type: ...") before a blank line
    if b":" in body.split(b"\n\n", 1)[0] and b"\n\n" in body:
        body = body.split(b"\n\n", 1)[1]
    try:
        return base64.b64decode(b"".join(body.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise AttachmentUnreadable(CORRUPT) from exc


def signed_content(data: bytes) -> bytes:
    """The file signed inside one CMS layer of ``data``.

    Raises :class:`AttachmentUnreadable` with an Italian reason when the
    layer is corrupt, detached (no content) or encrypted. A second signature
    layer is returned as is: the caller unwraps again.
    """
    der = to_der(data)
    try:
        info = cms.ContentInfo.load(der)
        content_type = info["content_type"].native
        if content_type == "enveloped_data":
            raise AttachmentUnreadable(ENCRYPTED)
        if content_type != "signed_data":
            raise AttachmentUnreadable(CORRUPT)
        encapsulated = info["content"]["encap_content_info"]["content"]
        if encapsulated.native is None:
            raise AttachmentUnreadable(DETACHED)
        content = encapsulated.native
    except AttachmentUnreadable:
        raise
    except Exception as exc:  # asn1crypto raises ValueError, TypeError, KeyError … on bad input
        raise AttachmentUnreadable(CORRUPT) from exc
    if isinstance(content, bytes):
        return content
    # Some signers declare a non-data content type; its DER is the file.
    return bytes(encapsulated.contents or b"")

