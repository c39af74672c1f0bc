"""Does the maths of a CMS SignedData (RFC 5652) hold over some content?

``cryptography`` cannot verify PKCS#7/CMS by itself: asn1crypto reads the
structure, cryptography checks the digest and the signature. This module
answers only "was this content signed by the key of this certificate,
unchanged?"; whether that certificate deserves trust is
:mod:`bot.signature`'s question. Nothing here raises on a malformed blob:
it is reported as not intact, with a reason for the operator.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import re
from dataclasses import dataclass
from datetime import datetime

from asn1crypto import algos, cms, core
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
_PEM = re.compile(rb"-----BEGIN [A-Z0-9 ]+-----(.*?)-----END [A-Z0-9 ]+-----", re.DOTALL)


@dataclass(frozen=True)
class SignerCheck:
    """The outcome of checking every signer of a SignedData against the content."""

    intact: bool
    """Every signer's digest matches the content and every signature verifies."""
    reason: str
    signers: tuple[x509.Certificate, ...] = ()
    """The certificate of each signer, in SignerInfo order."""
    signing_times: tuple[datetime | None, ...] = ()
    """Each signer's signingTime attribute (aware), when present."""
    certificates: tuple[x509.Certificate, ...] = ()
    """Every certificate the SignedData carries (the signer's chain, usually)."""


def load_signed_data(blob: bytes) -> cms.SignedData | None:
    """The SignedData in ``blob`` (DER, PEM or base64 text), or None when there is none."""
    for der in _candidates(blob):
        try:
            info = cms.ContentInfo.load(der)
            if info["content_type"].native != "signed_data":
                continue
            signed = info["content"]
            signed["signer_infos"].native  # noqa: B018 - asn1crypto parses lazily: force it here
            return signed
        except (ValueError, TypeError, KeyError):
            continue
    return None


def encapsulated_content(signed: cms.SignedData) -> bytes | None:
    """The content carried inside the SignedData (opaque signing), or None when detached."""
    try:
        content = signed["encap_content_info"]["content"]
        if isinstance(content, core.Void):
            return None
        value = content.native
    except (ValueError, TypeError, KeyError):
        return None
    return value if isinstance(value, bytes) else None


def check_signers(
    signed: cms.SignedData, content: bytes, known: tuple[x509.Certificate, ...] = ()
) -> SignerCheck:
    """Check each SignerInfo of ``signed`` over ``content``.

    The signer's certificate is looked up among the certificates the
    SignedData carries, then among ``known`` (e.g. the trusted set).
    """
    try:
        certificates = _certificates(signed)
        infos = list(signed["signer_infos"])
    except (ValueError, TypeError, KeyError) as exc:
        return SignerCheck(False, f"unreadable SignedData: {exc}")
    if not infos:
        return SignerCheck(False, "no signer in the SignedData", certificates=certificates)
    signers: list[x509.Certificate] = []
    times: list[datetime | None] = []
    for info in infos:
        try:
            signer = _signer_certificate(info["sid"], certificates + known)
            if signer is None:
                return SignerCheck(False, "the signer's certificate is missing",
                                   certificates=certificates)
            problem, signing_time = _check_one(info, signer, content)
        except (ValueError, TypeError, KeyError, UnsupportedAlgorithm) as exc:
            return SignerCheck(False, f"unreadable SignerInfo: {exc}", certificates=certificates)
        if problem:
            return SignerCheck(False, problem, certificates=certificates)
        signers.append(signer)
        times.append(signing_time)
    return SignerCheck(True, "signature verified", tuple(signers), tuple(times), certificates)


def _candidates(blob: bytes) -> list[bytes]:
    """The DER encodings ``blob`` may hold: itself, PEM armour removed, base64 decoded."""
    candidates = [blob]
    pem = _PEM.search(blob)
    text = pem.group(1) if pem else blob
    with contextlib.suppress(binascii.Error, ValueError):
        candidates.append(base64.b64decode(re.sub(rb"\s+", b"", text), validate=True))
    return candidates


def _certificates(signed: cms.SignedData) -> tuple[x509.Certificate, ...]:
    found = []
    for choice in signed["certificates"] or ():
        if choice.name != "certificate":
            continue  # attribute certificates and other formats sign nothing here
        try:
            found.append(x509.load_der_x509_certificate(choice.chosen.dump()))
        except ValueError:
            continue
    return tuple(found)


def _signer_certificate(
    sid: cms.SignerIdentifier, certificates: tuple[x509.Certificate, ...]
) -> x509.Certificate | None:
    for certificate in certificates:
        parsed = asn1_x509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER))
        if sid.name == "issuer_and_serial_number":
            wanted = sid.chosen
            if parsed.serial_number == wanted["serial_number"].native and parsed.issuer == wanted["issuer"]:
                return certificate
        elif sid.name == "subject_key_identifier" and parsed.key_identifier == sid.chosen.native:
            return certificate
    return None


def _check_one(
    info: cms.SignerInfo, signer: x509.Certificate, content: bytes
) -> tuple[str | None, datetime | None]:
    """(what is wrong or None, signingTime) for one SignerInfo."""
    digest_name = info["digest_algorithm"]["algorithm"].native
    hash_type = _HASHES.get(digest_name)
    if hash_type is None:
        return f"unsupported digest algorithm {digest_name}", None
    signed_attrs = info["signed_attrs"]
    signing_time = None
    if isinstance(signed_attrs, core.Void) or len(signed_attrs) == 0:
        to_verify = content  # no signed attributes: the signature covers the content itself
    else:
        attributes = {attr["type"].native: attr["values"] for attr in signed_attrs}
        digests = attributes.get("message_digest")
        if not digests:
            return "no messageDigest among the signed attributes", None
        hasher = hashes.Hash(hash_type())
        hasher.update(content)
        if digests[0].native != hasher.finalize():
            return "the content does not match the signed digest", None
        if attributes.get("signing_time"):
            signing_time = attributes["signing_time"][0].native
        # The signature covers the DER of the attributes as a SET (tag 0x31), not as [0].
        to_verify = b"\x31" + signed_attrs.dump()[1:]
    problem = _verify(info, signer, to_verify, hash_type)
    return problem, signing_time


def _verify(
    info: cms.SignerInfo,
    signer: x509.Certificate,
    data: bytes,
    hash_type: type[hashes.HashAlgorithm],
) -> str | None:
    algorithm = info["signature_algorithm"]
    signature = info["signature"].native
    key = signer.public_key()
    try:
        kind = algorithm.signature_algo
        if kind == "rsassa_pkcs1v15" and isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, data, padding.PKCS1v15(), _hash_of(algorithm, hash_type)())
        elif kind == "rsassa_pss" and isinstance(key, rsa.RSAPublicKey):
            params = algorithm["parameters"]
            pss_hash = _HASHES[params["hash_algorithm"]["algorithm"].native]
            mgf_hash = _HASHES[params["mask_gen_algorithm"]["parameters"]["algorithm"].native]
            key.verify(signature, data, padding.PSS(padding.MGF1(mgf_hash()),
                                                    params["salt_length"].native), pss_hash())
        elif kind == "ecdsa" and isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, data, ec.ECDSA(_hash_of(algorithm, hash_type)()))
        else:
            return f"unsupported signature algorithm {kind} for this key"
    except InvalidSignature:
        return "the signature does not verify with the signer's certificate"
    return None


def _hash_of(
    algorithm: algos.SignedDigestAlgorithm, default: type[hashes.HashAlgorithm]
) -> type[hashes.HashAlgorithm]:
    """The hash named by a combined OID (sha256WithRSAEncryption …), else the digest algorithm."""
    try:
        return _HASHES.get(algorithm.hash_algo, default)
    except ValueError:
        return default  # rsaEncryption / id-ecPublicKey name no hash


