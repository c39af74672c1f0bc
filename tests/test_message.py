"""bot.message: is it mail at all, and reading a real (defective) message safely."""

from __future__ import annotations

import base64
import io
import random
import zipfile
from datetime import UTC

import pytest

from bot import message as mail
from bot.errors import MessageUnreadable
from bot.message import parse_message
from bot.model import AnalysisContext, Submission
from bot.rules import load_rules
from fixtures.pec import aware, build_envelope, build_original, build_plain


@pytest.fixture(scope="module")
def ctx() -> AnalysisContext:
    return AnalysisContext(rules=load_rules())


def parse(raw: bytes, ctx: AnalysisContext) -> Submission:
    sub = Submission(source="test.eml", raw=raw)
    parse_message(sub, ctx)
    return sub


def zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("modulo.txt", "Modulo ordine PEC")
    return buffer.getvalue()


def test_a_pec_envelope_is_parsed(ctx: AnalysisContext) -> None:
    when = aware(2026, 7, 14)
    original = build_original("amicidelparco@pec.it", "csvassovoce@pec.it", "Rinnovo PEC", "Ciao",
                              date=when)
    sub = parse(build_envelope(original, date=when), ctx)
    assert sub.message is not None
    assert sub.message.get_content_type() == "multipart/signed"
    assert mail.header(sub.message, "x-trasporto") == "posta-certificata"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "empty"),
        (b"  \r\n\r\n \n", "empty"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n", "PDF"),
        (zip_bytes(), "ZIP"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "PNG"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "JPEG"),
        (bytes(random.Random(7).randrange(256) for _ in range(4000)), "not"),
        (b"From: a@b.it\x00\x00\x01binary\r\n\r\nbody", "binary"),
        (b"Buongiorno,\r\nin allegato i documenti richiesti.\r\nCordiali saluti\r\n", "header"),
        (b"Colore: rosso\r\nForma: quadrata\r\n\r\nnon una mail\r\n", "no e-mail header"),
    ],
    ids=["empty", "blank", "pdf", "zip", "png", "jpeg", "random", "nul", "prose", "no-mail-headers"],
)
def test_what_is_not_mail_is_refused_with_a_reason(raw: bytes, reason: str,
                                                   ctx: AnalysisContext) -> None:
    with pytest.raises(MessageUnreadable, match=reason):
        parse(raw, ctx)


def test_defective_real_mail_is_accepted(ctx: AnalysisContext) -> None:
    raw = (
        b"\xef\xbb\xbf\r\n"  # a BOM and a blank line some tools write first
        b"From: =?utf-8?q?Associazione_Amici_del_Parco?= <AmiciDelParco@PEC.it>\r\n"
        b"Subject: Rinnovo caf\xe8 =?bogus?q?broken?= \r\n"  # raw Latin-1 and a bad charset
        b"Date: not a date at all\r\n"
        b"Message-ID: <abc@pec.it> (comment)\r\n"
        b"X-Odd-Header:\r\n"
        b"Content-Type: multipart/mixed; boundary=\"B\"\r\n"
        b"\r\n"
        b"--B\r\n"
        b"Content-Type: text/plain; charset=unknown-8bit\r\n\r\nciao \xff\r\n"
        b"--B\r\n"
        b"Content-Type: application/pdf; name=\"a.pdf\"\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n"
        b"JVBERi0x!!!notbase64\r\n"  # and no closing boundary
    )
    sub = parse(raw, ctx)
    assert sub.message is not None
    message = sub.message
    assert mail.first_address(message, "from") == "amicidelparco@pec.it"
    assert mail.header(message, "subject") is not None
    assert "caf" in (mail.header(message, "subject") or "")
    assert mail.date(message) is None
    assert mail.message_id(message) == "<abc@pec.it>"
    parts = list(mail.leaves(message))
    assert [p.get_content_type() for p in parts] == ["text/plain", "application/pdf"]
    assert isinstance(mail.payload_bytes(parts[1]), bytes)


def test_lf_only_files_and_mbox_from_lines_are_mail(ctx: AnalysisContext) -> None:
    when = aware(2026, 7, 14)
    original = build_original("a@pec.it", "b@pec.it", "Rinnovo", "testo", date=when)
    raw = b"From a@pec.it Tue Jul 14 10:15:32 2026\n" + build_plain(original).replace(b"\r\n", b"\n")
    sub = parse(raw, ctx)
    assert sub.message is not None
    assert mail.header(sub.message, "subject") == "Rinnovo"


def test_headers_are_decoded_from_rfc2047_and_raw_utf8(ctx: AnalysisContext) -> None:
    raw = (
        "From: \"Per conto di: amici@pec.it\" <posta-certificata@pec.aruba.it>\r\n"
        "Subject: =?iso-8859-1?q?Rinnovo_=E8_urgente?=\r\n"
        "X-Raw: già fatto\r\n"
        "Date: Tue, 14 Jul 2026 10:15:32 -0000\r\n\r\nbody\r\n"
    ).encode()
    message = parse(raw, ctx).message
    assert message is not None
    assert mail.header(message, "subject") == "Rinnovo è urgente"
    assert mail.header(message, "x-raw") == "già fatto"
    assert mail.header(message, "missing") is None
    assert mail.first_address(message, "from") == "posta-certificata@pec.aruba.it"
    assert mail.addresses_in(mail.header(message, "from") or "") == [
        "amici@pec.it", "posta-certificata@pec.aruba.it",
    ]
    moment = mail.date(message)
    assert moment is not None and moment.tzinfo is not None
    assert moment.utcoffset() == UTC.utcoffset(None)


def test_a_base64_message_rfc822_part_is_decoded(ctx: AnalysisContext) -> None:
    inner = b"From: a@b.it\r\nSubject: dentro\r\nMessage-ID: <in@b.it>\r\n\r\ntesto\r\n"
    raw = (
        b"From: x@y.it\r\nSubject: fuori\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n"
        b"--XX\r\nContent-Type: message/rfc822; name=postacert.eml\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n" + base64.encodebytes(inner) + b"--XX--\r\n"
    )
    message = parse(raw, ctx).message
    assert message is not None
    part = next(mail.leaves(message))
    attached = mail.attached_message(part)
    assert attached is not None
    assert mail.header(attached, "subject") == "dentro"


def test_delivery_reports_are_recognised(ctx: AnalysisContext) -> None:
    raw = (
        b"From: MAILER-DAEMON@mx.example\r\nSubject: Undelivered\r\n"
        b"Content-Type: multipart/report; report-type=delivery-status; boundary=R\r\n\r\n"
        b"--R\r\nContent-Type: text/plain\r\n\r\nsorry\r\n"
        b"--R\r\nContent-Type: message/delivery-status\r\n\r\nAction: failed\r\n--R--\r\n"
    )
    message = parse(raw, ctx).message
    assert message is not None
    assert mail.is_delivery_report(message)
    plain = parse(b"From: a@b.it\r\nSubject: x\r\n\r\nciao\r\n", ctx).message
    assert plain is not None and not mail.is_delivery_report(plain)


def test_mangled_envelopes_either_parse_or_are_refused(ctx: AnalysisContext) -> None:
    """Random damage to a real envelope never escapes as anything but MessageUnreadable."""
    when = aware(2026, 7, 14)
    original = build_original("a@pec.it", "b@pec.it", "Rinnovo", "testo",
                              [("r.txt", "text/plain", b"12,08")], date=when)
    envelope = build_envelope(original, date=when)
    rng = random.Random(2026)
    for _ in range(150):
        data = bytearray(envelope[: rng.randrange(1, len(envelope))])
        for _ in range(rng.randrange(1, 20)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        sub = Submission(source="mangled", raw=bytes(data))
        try:
            parse_message(sub, ctx)
        except MessageUnreadable:
            continue
        assert sub.message is not None
        for part in mail.leaves(sub.message):
            mail.filename(part)
            mail.payload_bytes(part)
            mail.attached_message(part)
