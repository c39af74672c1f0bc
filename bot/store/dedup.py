"""Which key says "this is a message we already have", whatever its inbox UID.

UIDs die with a UIDVALIDITY reset and the same message can land twice (two
folders, a provider's redelivery), so every stored message also carries a
key computed from the message itself, in this order of preference:

1. PEC items: the provider's Message-ID, which for a transport envelope is
   the PEC ``identificativo``; each receipt gets its own, so the kind
   (``X-Trasporto`` / ``X-Ricevuta``) is part of the key and a delivery receipt
   is never mistaken for the acceptance that shares its identificativo;
2. ordinary mail: its Message-ID;
3. otherwise: the SHA-256 of the raw bytes.

Only headers are read, so the key can be computed from ``BODY.PEEK[HEADER]``
before deciding to download a large message at all.
"""

from __future__ import annotations

import hashlib
from email.parser import BytesHeaderParser
from email.policy import compat32

#: Headers a PEC provider sets: their presence makes an item a PEC one.
PEC_KIND_HEADERS = ("X-Ricevuta", "X-Trasporto")
MAX_ID_LENGTH = 500
MAX_KIND_LENGTH = 50


def dedup_key(raw: bytes) -> str:
    """The deduplication key of a message, from its header block (or its whole bytes).

    Pass the whole raw message when there is no Message-ID to fall back on:
    the hash is then over what was passed.
    """
    # compat32 keeps headers as raw strings: no decoding can fail here.
    headers = BytesHeaderParser(policy=compat32).parsebytes(raw)
    message_id = _normalise_message_id(headers.get("Message-ID"))
    kind = next(
        (str(headers[name]).strip().lower() for name in PEC_KIND_HEADERS if headers.get(name)), None
    )
    if message_id and len(message_id) > MAX_ID_LENGTH:  # keep keys within the column
        message_id = "sha256:" + hashlib.sha256(message_id.encode()).hexdigest()
    if message_id and kind:
        return f"pec:{kind[:MAX_KIND_LENGTH]}:{message_id}"
    if message_id:
        return f"message-id:{message_id}"
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def _normalise_message_id(value: object) -> str | None:
    """Without angle brackets and folding; only the domain is lower-cased (local parts are not)."""
    if value is None:
        return None
    text = " ".join(str(value).split()).strip().strip("<>").strip()
    if not text:
        return None
    local, at, domain = text.rpartition("@")
    return f"{local}@{domain.lower()}" if at else text
