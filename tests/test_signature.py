"""bot.signature (and bot.cms): does the provider's signature hold, do we trust the provider?

Signatures come from three independent producers: the fixture builder
(asn1crypto), cryptography's PKCS7SignatureBuilder and the openssl CLI; and
``openssl smime -verify`` checks our verdicts.
"""

from __future__ import annotations

import base64
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID

from bot.envelope import read_envelope
from bot.errors import ConfigError
from bot.message import parse_message
from bot.model import AnalysisContext, Envelope, Submission
from bot.rules import load_rules
from bot.signature import load_trusted, verify_signature
from fixtures.pec import (
    KEYS,
    RECEIPTS,
    aware,
    build_anomaly,
    build_envelope,
    build_original,
    build_plain,
    build_receipt,
    replace_signature,
    signed_content,
    trusted_pem,
)

WHEN = aware(2026, 7, 14)
Certs = tuple[x509.Certificate, ...]


@pytest.fixture(scope="module")
def rules_ctx() -> AnalysisContext:
    return AnalysisContext(rules=load_rules())


@pytest.fixture(scope="module")
def trusted() -> Certs:
    return load_trusted([trusted_pem()])


@pytest.fixture(scope="module")
def original() -> EmailMessage:
    return build_original(
        "amicidelparco@pec.it", "csvassovoce@pec.it", "Rinnovo PEC", "In allegato i documenti.",
        [("ricevuta.txt", "text/plain", b"Importo: 12,08 EUR\n"),
         ("modulo.pdf", "application/pdf", b"%PDF-1.4 test")],
        date=WHEN, message_id="<orig-1@pec.it>",
    )


@pytest.fixture(scope="module")
def envelope(original: EmailMessage) -> bytes:
    return build_envelope(original, date=WHEN)


@pytest.fixture
def check(rules_ctx: AnalysisContext, trusted: Certs) -> Callable[..., Envelope]:
    def run(raw: bytes, trust: Certs | None = None) -> Envelope:
        ctx = AnalysisContext(rules=rules_ctx.rules, trusted=trusted if trust is None else trust)
        sub = Submission(source="test.eml", raw=raw)
        parse_message(sub, ctx)
        read_envelope(sub, ctx)
        verify_signature(sub, ctx)
        assert sub.envelope is not None
        return sub.envelope

    return run


def cert(name: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate((KEYS / name).read_bytes())


def key(name: str) -> rsa.RSAPrivateKey:
    loaded = serialization.load_pem_private_key((KEYS / name).read_bytes(), password=None)
    assert isinstance(loaded, rsa.RSAPrivateKey)
    return loaded


def openssl(*args: str, data: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["openssl", *args], input=data, capture_output=True, timeout=30,
                          check=False)


# --------------------------------------------------------------------------- trust files


def test_load_trusted_reads_every_certificate_of_every_file(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes((KEYS / "trusted_root.pem").read_bytes()
                       + (KEYS / "untrusted_root.pem").read_bytes())
    certs = load_trusted([trusted_pem(), str(bundle)])
    assert [c.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value for c in certs] == [
        "TEST Root CA", "TEST Root CA", "TEST Rogue Root CA",
    ]


def test_load_trusted_refuses_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="missing.pem"):
        load_trusted([tmp_path / "missing.pem"])
    junk = tmp_path / "junk.pem"
    junk.write_text("-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n")
    with pytest.raises(ConfigError, match="junk.pem"):
        load_trusted([junk])
    empty = tmp_path / "empty.pem"
    empty.write_bytes(b"")
    with pytest.raises(ConfigError, match="empty.pem"):
        load_trusted([empty])


# --------------------------------------------------------------------------- verdicts


@pytest.mark.parametrize(("micalg", "header"), [
    ("sha-256", b"application/pkcs7-signature"), ("sha1", b"application/x-pkcs7-signature"),
])
def test_valid_provider_signature(micalg: str, header: bytes, original: EmailMessage,
                                  check: Callable[..., Envelope]) -> None:
    raw = build_envelope(original, date=WHEN, micalg=micalg)
    assert header in raw
    env = check(raw)
    assert env.signature == "valid"
    assert env.signer is not None
    assert "posta-certificata@pec.testprovider.it" in env.signer
    assert "TEST PROVIDER PEC S.p.A." in env.signer


def test_the_trust_anchor_may_be_the_root_the_intermediate_or_the_provider(
    envelope: bytes, check: Callable[..., Envelope]
) -> None:
    assert check(envelope, (cert("trusted_ca1.pem"),)).signature == "valid"
    assert check(envelope, (cert("trusted_provider.pem"),)).signature == "valid"
    assert check(envelope, (cert("untrusted_root.pem"), cert("trusted_root.pem"))).signature == "valid"


def test_unknown_provider_is_untrusted(original: EmailMessage,
                                       check: Callable[..., Envelope]) -> None:
    raw = build_envelope(original, date=WHEN, provider="untrusted")
    env = check(raw)
    assert env.signature == "untrusted"
    assert env.signer is not None and "pec.rogueprovider.it" in env.signer
    assert check(raw, (cert("untrusted_root.pem"),)).signature == "valid"
    assert check(build_envelope(original, date=WHEN), ()).signature == "untrusted"


def test_tampered_content_is_invalid(original: EmailMessage,
                                     check: Callable[..., Envelope]) -> None:
    assert check(build_envelope(original, date=WHEN, tamper=True)).signature == "invalid"

    def raise_the_amount(content: bytes) -> bytes:
        assert b"12,08" in content
        return content.replace(b"12,08", b"21,08")

    env = check(build_envelope(original, date=WHEN, micalg="sha1", tamper=raise_the_amount))
    assert env.signature == "invalid"
    assert env.signer is None


def test_outer_headers_are_not_signed(envelope: bytes, check: Callable[..., Envelope]) -> None:
    changed = envelope.replace(b"Subject: POSTA CERTIFICATA: Rinnovo PEC",
                               b"Subject: POSTA CERTIFICATA: Altro oggetto")
    assert changed != envelope
    assert check(changed).signature == "valid"


def test_broken_signature_blobs_are_invalid(original: EmailMessage, envelope: bytes,
                                            check: Callable[..., Envelope]) -> None:
    der = _der_of(envelope)
    for blob in (b"", b"garbage", b"\x30\x82\xff\xff", der[: len(der) // 2],
                 der[:-40] + bytes(40)):
        assert check(replace_signature(envelope, blob)).signature == "invalid"
    # A genuine provider signature, but over another envelope's content.
    other = build_envelope(original, date=WHEN + timedelta(minutes=1), pec_id="opec-other@x")
    assert check(replace_signature(envelope, _der_of(other))).signature == "invalid"


def _der_of(raw: bytes) -> bytes:
    body = raw.split(b'filename="smime.p7s"')[1].split(b"\r\n\r\n", 1)[1].split(b"\r\n--")[0]
    return base64.b64decode(body)


def test_no_signature_is_absent(original: EmailMessage, check: Callable[..., Envelope]) -> None:
    assert check(build_envelope(original, date=WHEN, sign=False)).signature == "absent"
    assert check(build_plain(original)).signature == "absent"
    forged = (b"X-Trasporto: posta-certificata\r\nFrom: a@pec.it\r\nSubject: POSTA CERTIFICATA: x"
              b"\r\n\r\nciao\r\n")
    env = check(forged)
    assert (env.type, env.signature, env.signer) == ("posta-certificata", "absent", None)


@pytest.mark.parametrize("tipo", sorted(RECEIPTS))
def test_receipts_are_signed_too(tipo: str, original: EmailMessage,
                                 check: Callable[..., Envelope]) -> None:
    raw = build_receipt(tipo, original=original, sender="csvassovoce@pec.it",
                        recipient="amicidelparco@pec.it", date=WHEN, micalg="sha1")
    assert check(raw).signature == "valid"


def test_anomaly_is_signed_by_the_recipient_provider(original: EmailMessage,
                                                     check: Callable[..., Envelope]) -> None:
    assert check(build_anomaly(original, date=WHEN)).signature == "valid"
    assert check(build_anomaly(original, date=WHEN, provider="untrusted")).signature == "untrusted"


def test_lf_only_storage_still_verifies(envelope: bytes, check: Callable[..., Envelope]) -> None:
    assert check(envelope.replace(b"\r\n", b"\n")).signature == "valid"


def test_opaque_signed_envelope(original: EmailMessage, check: Callable[..., Envelope]) -> None:
    assert check(build_envelope(original, date=WHEN, opaque=True)).signature == "valid"
    raw = build_envelope(original, date=WHEN, opaque=True, provider="untrusted")
    assert check(raw).signature == "untrusted"


def test_validity_is_judged_at_the_signing_time(original: EmailMessage,
                                                check: Callable[..., Envelope]) -> None:
    """The 'expired' provider certificate was valid 2020–2021 only."""
    old = build_envelope(original, date=aware(2021, 6, 1), provider="expired")
    assert check(old).signature == "valid"
    late = build_envelope(original, date=aware(2026, 7, 14), provider="expired")
    assert check(late).signature == "untrusted"


# --------------------------------------------------------------------------- other producers


def _builder_sign(content: bytes, certificate: x509.Certificate, private_key: object,
                  *extra: x509.Certificate, options: tuple[pkcs7.PKCS7Options, ...] = (),
                  rsa_padding: padding.PSS | None = None) -> bytes:
    builder = pkcs7.PKCS7SignatureBuilder().set_data(content).add_signer(
        certificate, private_key, hashes.SHA256(), rsa_padding=rsa_padding  # type: ignore[arg-type]
    )
    for certificate_extra in extra:
        builder = builder.add_certificate(certificate_extra)
    return builder.sign(serialization.Encoding.DER,
                        [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary, *options])


def test_signatures_made_by_cryptography_builder(envelope: bytes,
                                                 check: Callable[..., Envelope]) -> None:
    content = signed_content(envelope)
    provider, provider_key, ca1 = cert("trusted_provider.pem"), key("trusted_provider.key"), cert(
        "trusted_ca1.pem")
    plain = _builder_sign(content, provider, provider_key, ca1)
    assert check(replace_signature(envelope, plain)).signature == "valid"
    pss = _builder_sign(content, provider, provider_key, ca1, rsa_padding=padding.PSS(
        mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH))
    assert check(replace_signature(envelope, pss)).signature == "valid"
    bare = _builder_sign(content, provider, provider_key, ca1,
                         options=(pkcs7.PKCS7Options.NoAttributes,))
    assert check(replace_signature(envelope, bare)).signature == "valid"
    # Without the intermediate in the CMS, the root alone cannot be reached.
    lone = _builder_sign(content, provider, provider_key)
    assert check(replace_signature(envelope, lone)).signature == "untrusted"
    assert check(replace_signature(envelope, lone),
                 (cert("trusted_root.pem"), ca1)).signature == "valid"


def test_ecdsa_signature(envelope: bytes, check: Callable[..., Envelope]) -> None:
    ec_key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "TEST EC PEC provider")])
    ec_cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(ec_key.public_key()).serial_number(77)
        .not_valid_before(datetime(2020, 1, 1, tzinfo=UTC))
        .not_valid_after(datetime(2045, 1, 1, tzinfo=UTC))
        .sign(ec_key, hashes.SHA256())
    )
    raw = replace_signature(envelope, _builder_sign(signed_content(envelope), ec_cert, ec_key))
    assert check(raw, (ec_cert,)).signature == "valid"
    assert check(raw).signature == "untrusted"


def test_a_forged_chain_is_not_trusted(envelope: bytes, check: Callable[..., Envelope]) -> None:
    """A leaf claiming 'TEST AgID CA1' as issuer but signed by another key, and a leaf
    issued by a provider leaf (not a CA), both stay untrusted."""
    ca1, provider = cert("trusted_ca1.pem"), cert("trusted_provider.pem")
    rogue_key = key("untrusted_provider.key")
    fake_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def leaf(issuer: x509.Name, signer: rsa.RSAPrivateKey) -> x509.Certificate:
        return (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake provider")]))
            .issuer_name(issuer).public_key(fake_key.public_key()).serial_number(99)
            .not_valid_before(datetime(2020, 1, 1, tzinfo=UTC))
            .not_valid_after(datetime(2045, 1, 1, tzinfo=UTC))
            .sign(signer, hashes.SHA256())
        )

    content = signed_content(envelope)
    claimed = leaf(ca1.subject, rogue_key)
    raw = replace_signature(envelope, _builder_sign(content, claimed, fake_key, ca1))
    assert check(raw).signature == "untrusted"
    under_leaf = leaf(provider.subject, key("trusted_provider.key"))
    raw = replace_signature(envelope, _builder_sign(content, under_leaf, fake_key, provider, ca1))
    assert check(raw).signature == "untrusted"


def test_openssl_agrees_with_our_verdicts(original: EmailMessage, envelope: bytes,
                                          tmp_path: Path) -> None:
    for name, raw, ours in (
        ("valid.eml", envelope, True),
        ("sha1.eml", build_envelope(original, date=WHEN, micalg="sha1"), True),
        ("tampered.eml", build_envelope(original, date=WHEN, tamper=True), False),
    ):
        path = tmp_path / name
        path.write_bytes(raw)
        result = openssl("smime", "-verify", "-in", str(path), "-CAfile", str(trusted_pem()),
                         "-out", str(tmp_path / "content.out"))
        assert (result.returncode == 0) is ours, result.stderr.decode()
        if ours:
            assert (tmp_path / "content.out").read_bytes().replace(b"\r\n", b"\n") == \
                signed_content(raw).replace(b"\r\n", b"\n")


def test_messages_signed_by_openssl_verify(envelope: bytes, tmp_path: Path,
                                           check: Callable[..., Envelope]) -> None:
    content = tmp_path / "content.eml"
    content.write_bytes(signed_content(envelope))
    signer = ("-signer", str(KEYS / "trusted_provider.pem"),
              "-inkey", str(KEYS / "trusted_provider.key"),
              "-certfile", str(KEYS / "trusted_ca1.pem"))
    # openssl's own S/MIME output, with its own boundary and layout, under PEC headers.
    smime = openssl("smime", "-sign", "-in", str(content), *signer, "-md", "sha256")
    assert smime.returncode == 0, smime.stderr.decode()
    raw = (b"X-Trasporto: posta-certificata\r\nSubject: POSTA CERTIFICATA: Rinnovo PEC\r\n"
           b'From: "Per conto di: amicidelparco@pec.it" <posta-certificata@pec.testprovider.it>'
           b"\r\nMessage-ID: <opec-openssl@pec.testprovider.it>\r\n" + smime.stdout)
    env = check(raw)
    assert (env.type, env.signature) == ("posta-certificata", "valid")
    # A detached DER signature from openssl, placed in our envelope.
    der = openssl("smime", "-sign", "-binary", "-in", str(content), *signer, "-md", "sha1",
                  "-outform", "DER")
    assert der.returncode == 0, der.stderr.decode()
    assert check(replace_signature(envelope, der.stdout)).signature == "valid"
