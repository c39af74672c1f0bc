"""bot.envelope (and bot.daticert): what kind of PEC message, who certified it, the original."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import pytest

from bot.daticert import parse_daticert
from bot.envelope import READERS, read_envelope
from bot.errors import MessageUnreadable
from bot.message import parse_message
from bot.model import AnalysisContext, Envelope, Submission
from bot.rules import load_rules
from fixtures.pec import (
    RECEIPTS,
    aware,
    build_anomaly,
    build_envelope,
    build_original,
    build_plain,
    build_receipt,
)

WHEN = aware(2026, 7, 14, 10, 15, 32)


@pytest.fixture(scope="module")
def ctx() -> AnalysisContext:
    return AnalysisContext(rules=load_rules())


@pytest.fixture(scope="module")
def original() -> EmailMessage:
    return build_original(
        "amicidelparco@pec.it", "csvassovoce@pec.it", "Rinnovo PEC",
        "Buongiorno, in allegato i documenti.",
        [("ricevuta.txt", "text/plain", b"Importo: 12,08 EUR\n"),
         ("modulo.pdf", "application/pdf", b"%PDF-1.4 test")],
        date=WHEN - timedelta(seconds=3), message_id="<orig-1@mail.amicidelparco.it>",
    )


def read(raw: bytes, ctx: AnalysisContext) -> Envelope:
    sub = Submission(source="test.eml", raw=raw)
    parse_message(sub, ctx)
    read_envelope(sub, ctx)
    assert sub.envelope is not None
    return sub.envelope


def filenames(message: EmailMessage | None) -> list[str]:
    assert message is not None
    return [part.get_filename() or "" for part in message.iter_attachments()]


def test_transport_envelope(original: EmailMessage, ctx: AnalysisContext) -> None:
    pec_id = "opec21010.20260714101532.12345.67.1.89@pec.testprovider.it"
    env = read(build_envelope(original, date=WHEN, pec_id=pec_id), ctx)
    assert env.type == "posta-certificata"
    assert env.sender == "amicidelparco@pec.it"
    assert env.reply_to == "amicidelparco@pec.it"
    assert env.pec_id == pec_id
    assert env.date == datetime(2026, 7, 14, 8, 15, 32, tzinfo=UTC)
    assert env.date is not None and env.date.utcoffset() == timedelta(hours=2)
    assert env.subject == "Rinnovo PEC"
    assert env.message_id == f"<{pec_id}>"
    assert env.original_message_id == "<orig-1@mail.amicidelparco.it>"
    assert env.error is None
    assert not env.is_delivery_report
    assert env.auto_submitted is None
    # The original is postacert.eml with the sender's attachments, never the envelope's parts.
    assert env.original is not None
    assert env.original["Message-ID"] == "<orig-1@mail.amicidelparco.it>"
    assert filenames(env.original) == ["ricevuta.txt", "modulo.pdf"]


def test_certified_sender_is_lower_case_and_reply_to_follows_risposte(
    original: EmailMessage, ctx: AnalysisContext
) -> None:
    raw = build_envelope(original, date=WHEN, sender="AmiciDelParco@PEC.it",
                         reply_to="Segreteria@AmiciDelParco.it")
    env = read(raw, ctx)
    assert env.sender == "amicidelparco@pec.it"
    assert env.reply_to == "segreteria@amicidelparco.it"


@pytest.mark.parametrize("offset", [1, 2, -5])
def test_certified_date_keeps_the_zona(offset: int, original: EmailMessage,
                                       ctx: AnalysisContext) -> None:
    when = aware(2026, 1, 30, 23, 59, 59, offset_hours=offset)
    env = read(build_envelope(original, date=when), ctx)
    assert env.date == when
    assert env.date is not None and env.date.utcoffset() == timedelta(hours=offset)


def test_daticert_date_wins_over_the_date_header(original: EmailMessage,
                                                 ctx: AnalysisContext) -> None:
    raw = build_envelope(original, date=WHEN)
    raw = raw.replace(b"Date: Tue, 14 Jul 2026 10:15:32 +0200\r\nSubject: POSTA",
                      b"Date: Fri, 31 Jul 2026 09:00:00 +0200\r\nSubject: POSTA")
    assert read(raw, ctx).date == WHEN


def test_daticert_without_zona_is_read_in_the_rules_timezone(ctx: AnalysisContext) -> None:
    xml = (b'<?xml version="1.0"?><postacert tipo="posta-certificata" errore="nessuno">'
           b"<dati><data><giorno>30/07/2026</giorno><ora>23:30:00</ora></data></dati></postacert>")
    parsed = parse_daticert(xml, ctx.rules.deadline.timezone)
    assert parsed is not None and parsed.date is not None
    assert parsed.date.utcoffset() == ctx.rules.deadline.timezone.utcoffset(parsed.date.replace(tzinfo=None))


@pytest.mark.parametrize("tipo", sorted(RECEIPTS))
def test_every_receipt_type(tipo: str, ctx: AnalysisContext) -> None:
    raw = build_receipt(tipo, sender="csvassovoce@pec.it", recipient="amicidelparco@pec.it",
                        date=WHEN, subject="Re: Rinnovo PEC - esito",
                        original_message_id="<pecbot.42@pec.it>", pec_id=f"opec-{tipo}@pec.testprovider.it")
    env = read(raw, ctx)
    assert env.type == tipo
    assert env.sender == "csvassovoce@pec.it"
    assert env.pec_id == f"opec-{tipo}@pec.testprovider.it"
    assert env.subject == "Re: Rinnovo PEC - esito"
    assert env.original_message_id == "<pecbot.42@pec.it>"
    assert env.date == WHEN
    expected_error = {"errore-consegna": "no-dest", "non-accettazione": "altro",
                      "preavviso-errore-consegna": "altro", "rilevazione-virus": "virus"}
    assert env.error == expected_error.get(tipo)
    assert env.original is None  # only a complete delivery receipt carries a message


def test_complete_delivery_receipt_carries_our_own_message(ctx: AnalysisContext) -> None:
    reply = build_original("csvassovoce@pec.it", "amicidelparco@pec.it", "Re: Rinnovo PEC",
                           "Mancano i documenti.", [("elenco.txt", "text/plain", b"modulo\n")],
                           date=WHEN, message_id="<pecbot.7@pec.it>")
    raw = build_receipt("avvenuta-consegna", original=reply, sender="csvassovoce@pec.it",
                        recipient="amicidelparco@pec.it", date=WHEN)
    env = read(raw, ctx)
    assert env.type == "avvenuta-consegna"
    assert env.original is not None
    assert env.original["Message-ID"] == "<pecbot.7@pec.it>"
    assert filenames(env.original) == ["elenco.txt"]
    brief = build_receipt("avvenuta-consegna", original=reply, sender="csvassovoce@pec.it",
                          recipient="amicidelparco@pec.it", date=WHEN, ricevuta="sintetica")
    assert read(brief, ctx).original is None


def test_daticert_tipo_wins_over_the_unsigned_header(ctx: AnalysisContext) -> None:
    raw = build_receipt("errore-consegna", sender="csvassovoce@pec.it",
                        recipient="x@pec.it", date=WHEN, subject="Re: x")
    raw = raw.replace(b"X-Ricevuta: errore-consegna", b"X-Ricevuta: avvenuta-consegna")
    assert read(raw, ctx).type == "errore-consegna"


def test_headers_alone_still_name_the_type(ctx: AnalysisContext) -> None:
    raw = (b"X-Ricevuta: accettazione\r\nFrom: posta-certificata@pec.testprovider.it\r\n"
           b"To: csvassovoce@pec.it\r\nSubject: ACCETTAZIONE: RE: Rinnovo\r\n"
           b"X-Riferimento-Message-ID: <pecbot.1@pec.it>\r\nMessage-ID: <r1@x>\r\n\r\ntesto\r\n")
    env = read(raw, ctx)
    assert env.type == "accettazione"
    assert env.subject == "RE: Rinnovo"  # one prefix off, the original's own "RE:" kept
    assert env.original_message_id == "<pecbot.1@pec.it>"
    forged = (b'X-Trasporto: posta-certificata\r\nFrom: "Per conto di: Amici@pec.it" '
              b"<posta-certificata@pec.x.it>\r\nSubject: POSTA CERTIFICATA: Rinnovo\r\n\r\nciao\r\n")
    env = read(forged, ctx)
    assert (env.type, env.sender, env.subject, env.pec_id) == (
        "posta-certificata", "amici@pec.it", "Rinnovo", None)


def test_anomaly_envelope(original: EmailMessage, ctx: AnalysisContext) -> None:
    raw = build_anomaly(original, date=WHEN)
    env = read(raw, ctx)
    assert env.type == "anomalia"
    assert env.sender == "amicidelparco@pec.it"
    assert env.reply_to == "amicidelparco@pec.it"
    assert env.pec_id is None
    assert env.subject == "Rinnovo PEC"
    assert env.date == WHEN
    assert env.original_message_id == "<orig-1@mail.amicidelparco.it>"
    assert filenames(env.original) == ["ricevuta.txt", "modulo.pdf"]


def test_anomaly_around_a_bounced_pec_does_not_read_the_inner_daticert(
    original: EmailMessage, ctx: AnalysisContext
) -> None:
    inner = build_envelope(original, date=WHEN - timedelta(days=2), pec_id="opec-inner@pec.x.it")
    env = read(build_anomaly(inner, date=WHEN, recipient="csvassovoce@pec.it"), ctx)
    assert env.type == "anomalia"
    assert env.pec_id is None
    assert env.date == WHEN
    # The anomaly's own "Per conto di": the bounced envelope's From, not its daticert mittente.
    assert env.sender == "posta-certificata@pec.testprovider.it"


def test_anomaly_around_a_bounce_is_a_delivery_report(ctx: AnalysisContext) -> None:
    bounce = (
        b"From: MAILER-DAEMON@mx.example.it\r\nTo: amicidelparco@pec.it\r\n"
        b"Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <b1@mx.example.it>\r\n"
        b"Auto-Submitted: auto-replied\r\n"
        b"Content-Type: multipart/report; report-type=delivery-status; boundary=R\r\n\r\n"
        b"--R\r\nContent-Type: text/plain\r\n\r\nsorry\r\n"
        b"--R\r\nContent-Type: message/delivery-status\r\n\r\nAction: failed\r\n--R--\r\n"
    )
    env = read(build_anomaly(bounce, date=WHEN, recipient="csvassovoce@pec.it"), ctx)
    assert env.type == "anomalia"
    assert env.sender == "mailer-daemon@mx.example.it"
    assert env.is_delivery_report
    assert env.auto_submitted == "auto-replied"


def test_plain_mail(original: EmailMessage, ctx: AnalysisContext) -> None:
    original = build_original("Mario.Rossi@Example.it", "csvassovoce@pec.it", "POSTA: Rinnovo",
                              "ciao", date=WHEN, message_id="<p1@example.it>",
                              reply_to="segreteria@example.it",
                              extra_headers=[("Precedence", "Bulk")])
    env = read(build_plain(original), ctx)
    assert env.type == "none"
    assert env.sender == "mario.rossi@example.it"
    assert env.reply_to == "segreteria@example.it"
    assert env.subject == "POSTA: Rinnovo"  # no provider, no prefix to strip
    assert env.date == WHEN
    assert env.message_id == env.original_message_id == "<p1@example.it>"
    assert env.pec_id is None
    assert env.precedence == "bulk"
    assert env.original is not None and env.original["Subject"] == "POSTA: Rinnovo"


def test_auto_submitted_original_inside_an_envelope(ctx: AnalysisContext) -> None:
    auto = build_original("amicidelparco@pec.it", "csvassovoce@pec.it", "Risposta automatica",
                          "Sono in ferie.", date=WHEN,
                          extra_headers=[("Auto-Submitted", "auto-replied")])
    assert read(build_envelope(auto, date=WHEN), ctx).auto_submitted == "auto-replied"


def test_malformed_daticert_is_read_leniently(original: EmailMessage, ctx: AnalysisContext) -> None:
    env = read(build_envelope(original, date=WHEN, pec_id="opec-m@pec.testprovider.it",
                              daticert_malformed=True), ctx)
    assert env.type == "posta-certificata"
    assert env.pec_id == "opec-m@pec.testprovider.it"
    assert env.sender == "amicidelparco@pec.it"
    assert env.date == WHEN
    parsed = parse_daticert(
        b'<?xml version="1.0" encoding="UTF-8"?>\n<postacert tipo="accettazione" errore="nessuno">'
        b"<intestazione><oggetto>Soci A&B <2026></oggetto></intestazione><dati>"
        b"<identificativo>opec1@x</identificativo><msgid><abc123@mail.example></msgid>"
        b"</dati></postacert>", ctx.rules.deadline.timezone,
    )
    assert parsed is not None
    assert parsed.msgid == "<abc123@mail.example>"
    assert parsed.subject == "Soci A&B <2026>"
    assert parsed.pec_id == "opec1@x"


def test_latin1_daticert_declared_utf8(ctx: AnalysisContext) -> None:
    xml = ('<?xml version="1.0" encoding="UTF-8"?><postacert tipo="posta-certificata" '
           'errore="nessuno"><intestazione><oggetto>Perché il rinnovo</oggetto>'
           "</intestazione></postacert>").encode("iso-8859-1")
    parsed = parse_daticert(xml, ctx.rules.deadline.timezone)
    assert parsed is not None and parsed.subject == "Perché il rinnovo"


def test_daticert_entities_are_never_resolved(original: EmailMessage, ctx: AnalysisContext) -> None:
    xxe = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<!DOCTYPE postacert [\n  <!ENTITY xxe SYSTEM "file:///etc/passwd">\n'
        b'  <!ENTITY remote SYSTEM "http://127.0.0.1:9/dtd">\n'
        b'  <!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">\n'
        b'  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">\n]>\n'
        b'<postacert tipo="posta-certificata" errore="nessuno"><intestazione>'
        b"<mittente>&xxe;amicidelparco@pec.it</mittente>"
        b"<oggetto>Rinnovo &xxe;&remote;&lol3;</oggetto></intestazione><dati>"
        b"<identificativo>opec-x@pec.testprovider.it&xxe;</identificativo></dati></postacert>\n"
    )
    started = time.perf_counter()
    env = read(build_envelope(original, date=WHEN, daticert_xml=xxe), ctx)
    assert time.perf_counter() - started < 2
    fields = [env.sender, env.reply_to, env.subject, env.pec_id, env.original_message_id]
    assert not any("root:" in (value or "") for value in fields)
    assert not any("lol" in (value or "") for value in fields)
    assert env.sender == "amicidelparco@pec.it"
    assert env.subject == "Rinnovo"
    assert env.pec_id == "opec-x@pec.testprovider.it"


def test_opaque_signed_envelope_is_opened(original: EmailMessage, ctx: AnalysisContext) -> None:
    env = read(build_envelope(original, date=WHEN, opaque=True, pec_id="opec-o@pec.testprovider.it"),
               ctx)
    assert (env.type, env.pec_id, env.sender) == (
        "posta-certificata", "opec-o@pec.testprovider.it", "amicidelparco@pec.it")
    assert filenames(env.original) == ["ricevuta.txt", "modulo.pdf"]


def test_lf_only_envelope(original: EmailMessage, ctx: AnalysisContext) -> None:
    raw = build_envelope(original, date=WHEN).replace(b"\r\n", b"\n")
    env = read(raw, ctx)
    assert env.type == "posta-certificata" and env.sender == "amicidelparco@pec.it"
    assert filenames(env.original) == ["ricevuta.txt", "modulo.pdf"]


def test_the_pec_reader_is_one_replaceable_entry() -> None:
    assert [reader.__name__ for reader in READERS] == ["read_pec"]


def test_damaged_envelopes_never_raise(original: EmailMessage, ctx: AnalysisContext) -> None:
    samples = [
        build_envelope(original, date=WHEN),
        build_receipt("avvenuta-consegna", original=original, sender="a@pec.it",
                      recipient="b@pec.it", date=WHEN),
        build_anomaly(original, date=WHEN),
    ]
    rng = random.Random(14)
    for _ in range(120):
        data = bytearray(rng.choice(samples))
        for _ in range(rng.randrange(1, 40)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        sub = Submission(source="damaged", raw=bytes(data[: rng.randrange(200, len(data))]))
        try:
            parse_message(sub, ctx)
        except MessageUnreadable:
            continue
        read_envelope(sub, ctx)
        assert sub.envelope is not None
