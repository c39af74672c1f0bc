"""Does the provider's signature hold, and do we trust the provider?

A PEC envelope is S/MIME: ``multipart/signed`` whose first part (the notice,
daticert.xml and postacert.eml) is covered by the detached CMS signature in
``smime.p7s``. The signature covers the *exact bytes* of that part with CRLF
line endings, so they are cut out of the raw message: re-serialising the
parsed message would change them. Trust comes from the operator's PEM files
(``--trust``, ``PECBOT_TRUST``): the signer must be one of them or chain to
one, with every certificate valid at the signing time — provider
certificates expire, old envelopes stay valid.

Outcomes: ``valid``, ``untrusted`` (sound maths, unknown provider),
``invalid`` (content changed, bad signature, broken blob), ``absent``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from email.message import EmailMessage, Message
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.x509.oid import NameOID

from bot.cms import check_signers, encapsulated_content, load_signed_data
from bot.errors import ConfigError
from bot.model import AnalysisContext, SignatureStatus, Submission

_SIGNATURE_TYPES = ("application/pkcs7-signature", "application/x-pkcs7-signature")
_OPAQUE_TYPES = ("application/pkcs7-mime", "application/x-pkcs7-mime")
#: Longest chain followed from the signer to a trusted certificate.
_MAX_CHAIN = 6


def load_trusted(paths: Iterable[str | Path]) -> tuple[x509.Certificate, ...]:
    """Every certificate in the given PEM files (each may hold several).

    Raises :class:`~bot.errors.ConfigError` naming the file when one cannot be
    read or holds no certificate.
    """
    found: list[x509.Certificate] = []
    for path in paths:
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise ConfigError(f"cannot read trusted certificates {path}: {exc.strerror}") from None
        try:
            if b"-----BEGIN" in data:
                found.extend(x509.load_pem_x509_certificates(data))
            else:
                found.append(x509.load_der_x509_certificate(data))
        except ValueError:
            raise ConfigError(f"{path} holds no readable certificate (PEM expected)") from None
    return tuple(found)


def verify_signature(sub: Submission, ctx: AnalysisContext) -> None:
    """Set ``sub.envelope.signature`` (valid/invalid/untrusted/absent) and ``signer``.

    Never raises: a malformed signature is ``invalid``, a missing one ``absent``.
    """
    if sub.envelope is None or sub.message is None:
        return
    claimed = sub.envelope.date
    try:
        status, signer = _judge(sub.message, sub.raw, ctx.trusted, claimed)
    except Exception:  # hostile input must end as a verdict, never as a crash
        status, signer = "invalid", None
    sub.envelope.signature = status
    sub.envelope.signer = signer


def _judge(
    message: EmailMessage,
    raw: bytes,
    trusted: tuple[x509.Certificate, ...],
    claimed: datetime | None,
) -> tuple[SignatureStatus, str | None]:
    content_type = message.get_content_type()
    if content_type == "multipart/signed":
        parts = list(message.iter_parts())
        blobs = [p for p in parts[1:] if p.get_content_type() in _SIGNATURE_TYPES]
        if not blobs:
            return "absent", None
        boundary = message.get_boundary()
        content = _first_part_bytes(raw, boundary) if boundary else None
        signed = load_signed_data(_payload(blobs[0]))
        if content is None or signed is None:
            return "invalid", None
    elif content_type in _OPAQUE_TYPES:
        signed = load_signed_data(_payload(message))
        content = encapsulated_content(signed) if signed is not None else None
        if content is None:
            # enveloped (encrypted) data or a detached blob with nothing to check
            return "absent", None
    else:
        return "absent", None
    check = check_signers(signed, content, trusted)
    if not check.intact:
        return "invalid", None
    signer = check.signers[0].subject.rfc4514_string({NameOID.EMAIL_ADDRESS: "emailAddress"})
    for certificate, signing_time in zip(check.signers, check.signing_times, strict=True):
        when = signing_time or claimed or datetime.now(UTC)
        if not _chains_to_trusted(certificate, check.certificates, trusted, when, _MAX_CHAIN):
            return "untrusted", signer
    return "valid", signer


def _payload(part: Message) -> bytes:
    data = part.get_payload(decode=True)
    return data if isinstance(data, bytes) else b""


def _first_part_bytes(raw: bytes, boundary: str) -> bytes | None:
    """The exact bytes of the first body part of the top multipart, CRLF line endings.

    Per RFC 2046 the CRLF before a delimiter belongs to the delimiter, not to
    the part; mailboxes that store bare LF are brought back to CRLF first.
    """
    data = re.sub(rb"\r?\n", b"\r\n", raw)
    delimiter = b"--" + boundary.encode("latin-1", errors="replace")
    opening = re.search(rb"(?:^|\r\n)" + re.escape(delimiter) + rb"[ \t]*\r\n", data)
    if opening is None:
        return None
    end = data.find(b"\r\n" + delimiter, opening.end())
    return data[opening.end():end] if end != -1 else None


def _chains_to_trusted(
    certificate: x509.Certificate,
    pool: tuple[x509.Certificate, ...],
    trusted: tuple[x509.Certificate, ...],
    when: datetime,
    depth: int,
) -> bool:
    """True when ``certificate`` is trusted or issued, through ``pool``, by a trusted one.

    Every certificate on the way must be valid at ``when``, and every issuer a CA.
    """
    if not _valid_at(certificate, when):
        return False
    if certificate in trusted:
        return True
    if depth == 0:
        return False
    for issuer in (*trusted, *pool):
        if issuer == certificate or issuer.subject != certificate.issuer or not _is_ca(issuer):
            continue
        try:
            certificate.verify_directly_issued_by(issuer)
        except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
            continue
        if _chains_to_trusted(issuer, pool, trusted, when, depth - 1):
            return True
    return False


def _valid_at(certificate: x509.Certificate, when: datetime) -> bool:
    moment = when if when.tzinfo else when.replace(tzinfo=UTC)
    return certificate.not_valid_before_utc <= moment <= certificate.not_valid_after_utc


def _is_ca(certificate: x509.Certificate) -> bool:
    try:
        return bool(certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        # X.509 v1 roots (still found in old trust stores) carry no extensions at all.
        return certificate.version == x509.Version.v1
