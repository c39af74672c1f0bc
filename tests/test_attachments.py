"""Which documents does the original carry: unwrapping, skipping, naming, bad input."""

from __future__ import annotations

import io
import random
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs7

from bot.attachments import collect_attachments, sniff
from bot.model import AnalysisContext, Document, DocumentLimits, Envelope, Submission
from bot.rules import load_rules
from fixtures import degrade
from fixtures import p7m as samples

#: Only a hang detector: every bad input must be settled long before this.
HANG_SECONDS = 30


@pytest.fixture(scope="module")
def ctx() -> AnalysisContext:
    return AnalysisContext(rules=load_rules())


@pytest.fixture(scope="module")
def pdf() -> bytes:
    return samples.text_pdf(["Ricevuta di bonifico SEPA", "Importo 12,08 EUR"])


@pytest.fixture(scope="module")
def photo() -> bytes:
    page = degrade.render_pdf(samples.text_pdf(["Carta di identità"] * 6, size=16), dpi=100)[0]
    return degrade.to_jpeg(degrade.photo(page, random.Random(4)))


@pytest.fixture(scope="module")
def logo() -> bytes:
    return degrade.to_png(degrade.render_pdf(samples.text_pdf(["CSV"]), dpi=18)[0].crop((0, 0, 150, 60)))


def message(body: str = "Buongiorno, in allegato i documenti.") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Associazione Prova <prova@pec.it>"
    msg["To"] = "csvassovoce@pec.it"
    msg["Subject"] = "Rinnovo PEC"
    msg.set_content(body)
    return msg


def attach(msg: EmailMessage, data: bytes, filename: str | None, content_type: str = "application/octet-stream",
           **kwargs: object) -> None:
    maintype, subtype = content_type.split("/")
    msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename, **kwargs)  # type: ignore[arg-type]


def collect(msg: EmailMessage, ctx: AnalysisContext, *, pec: bool = False) -> list[Document]:
    envelope = Envelope(type="posta-certificata" if pec else "none", original=msg)
    sub = Submission(source="test", raw=b"", message=None if pec else msg, envelope=envelope)
    collect_attachments(sub, ctx)
    return sub.documents


@contextmanager
def settles() -> Iterator[None]:
    started = time.monotonic()
    yield
    assert time.monotonic() - started < HANG_SECONDS


def zipped(*members: tuple[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as archive:
        for name, data in members:
            archive.writestr(name, data)
    return out.getvalue()


# --- signed files ----------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["der", "pem", "base64"])
@pytest.mark.parametrize("times", [1, 2])
def test_p7m_is_unwrapped_to_the_signed_file(ctx: AnalysisContext, pdf: bytes, encoding: str, times: int) -> None:
    msg = message()
    attach(msg, samples.sign_p7m(pdf, encoding=encoding, times=times), "modulo.pdf.p7m",  # type: ignore[arg-type]
           "application/pkcs7-mime")
    [doc] = collect(msg, ctx)
    assert doc.unreadable is None
    assert (doc.filename, doc.content_type, doc.data) == ("modulo.pdf", "application/pdf", pdf)
    assert doc.origin == "modulo.pdf.p7m/modulo.pdf"


def test_ber_indefinite_length_p7m(ctx: AnalysisContext, pdf: bytes) -> None:
    msg = message()
    attach(msg, samples.sign_p7m(pdf, ber=True, times=2), "ricevuta.pdf.p7m.p7m")
    [doc] = collect(msg, ctx)
    assert (doc.filename, doc.data) == ("ricevuta.pdf", pdf)


def test_p7m_without_inner_extension_is_named_by_its_content(ctx: AnalysisContext, photo: bytes) -> None:
    msg = message()
    attach(msg, samples.sign_p7m(photo), "documento.p7m")
    [doc] = collect(msg, ctx)
    assert (doc.filename, doc.content_type) == ("documento.jpg", "image/jpeg")


def test_corrupt_and_detached_p7m_are_unreadable(ctx: AnalysisContext, pdf: bytes) -> None:
    key, cert = samples._signer()
    detached = (pkcs7.PKCS7SignatureBuilder().set_data(pdf).add_signer(cert, key, hashes.SHA256())
                .sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.DetachedSignature]))
    broken = samples.sign_p7m(pdf)[:300]
    msg = message()
    attach(msg, broken, "modulo.pdf.p7m")
    attach(msg, detached, "firma.pdf.p7m")
    with settles():
        docs = collect(msg, ctx)
    assert [d.unreadable for d in docs] == [
        "il file firmato (.p7m) è danneggiato",
        "il file firmato (.p7m) non contiene il documento (firma separata)",
    ]
    assert all(d.kind == "other" for d in docs)


# --- archives --------------------------------------------------------------------------


def test_zip_members_become_documents(ctx: AnalysisContext, pdf: bytes, photo: bytes) -> None:
    signed = samples.sign_p7m(pdf)
    archive = zipped(("documenti/modulo.pdf.p7m", signed), ("../../../etc/carta.jpg", photo),
                     ("__MACOSX/documenti/._modulo.pdf.p7m", b"\x00\x05"), ("documenti/", b""),
                     (".DS_Store", b"\x00\x00\x00\x01Bud1"))
    msg = message()
    attach(msg, archive, "documenti.zip", "application/zip")
    docs = collect(msg, ctx, pec=True)
    assert [(d.filename, d.origin) for d in docs] == [
        ("modulo.pdf", "postacert.eml/documenti.zip/modulo.pdf.p7m/modulo.pdf"),
        ("carta.jpg", "postacert.eml/documenti.zip/carta.jpg"),
    ]
    assert docs[0].data == pdf


def test_zip_inside_zip(ctx: AnalysisContext, pdf: bytes) -> None:
    inner = zipped(("ricevuta.pdf", pdf))
    msg = message()
    attach(msg, zipped(("interno.zip", inner)), "esterno.zip")
    [doc] = collect(msg, ctx)
    assert doc.origin == "esterno.zip/interno.zip/ricevuta.pdf"


def test_encrypted_zip_is_unreadable(ctx: AnalysisContext) -> None:
    msg = message()
    attach(msg, samples.encrypted_zip("ricevuta.pdf"), "protetto.zip")
    [doc] = collect(msg, ctx)
    assert doc.unreadable == "l'archivio zip è protetto da password"
    assert (doc.filename, doc.kind, doc.origin) == ("ricevuta.pdf", "other", "protetto.zip/ricevuta.pdf")


def test_zip_bomb_is_refused_without_inflating(ctx: AnalysisContext) -> None:
    msg = message()
    attach(msg, samples.zip_bomb(megabytes=100), "bomba.zip")
    with settles():
        [doc] = collect(msg, ctx)
    assert doc.unreadable == "l'archivio supera i limiti di dimensione"


def test_zip_limits_on_entries_and_total_bytes(pdf: bytes) -> None:
    rng = random.Random(1)
    noise = [bytes(rng.randrange(256) for _ in range(40_000)) for _ in range(3)]
    limits = DocumentLimits(zip_max_entries=2, max_total_bytes=100_000)
    ctx = AnalysisContext(rules=load_rules(), limits=limits)
    many, heavy = message(), message()
    attach(many, zipped(*((f"f{i}.pdf", pdf) for i in range(3))), "tanti.zip")
    attach(heavy, zipped(("a.bin", noise[0]), ("b.bin", noise[1] + noise[2])), "pesante.zip")
    assert [d.unreadable for d in collect(many, ctx)] == ["l'archivio contiene troppi file"]
    assert [d.unreadable for d in collect(heavy, ctx)] == ["l'archivio supera i limiti di dimensione"]


def test_corrupt_zip_is_unreadable(ctx: AnalysisContext, pdf: bytes) -> None:
    msg = message()
    attach(msg, zipped(("a.pdf", pdf))[:60], "rotto.zip")
    [doc] = collect(msg, ctx)
    assert doc.unreadable == "l'archivio zip è danneggiato"


# --- forwarded messages ----------------------------------------------------------------


def test_forwarded_message_part_and_eml_file(ctx: AnalysisContext, pdf: bytes, photo: bytes) -> None:
    first, second = message("inoltro 1"), message("inoltro 2")
    attach(first, pdf, "ricevuta.pdf", "application/pdf")
    attach(second, photo, "carta.jpg", "image/jpeg")
    outer = message()
    outer.add_attachment(first, filename="inoltrato.eml")
    attach(outer, second.as_bytes(), "altro.eml")
    docs = collect(outer, ctx)
    assert [(d.filename, d.origin) for d in docs] == [
        ("ricevuta.pdf", "inoltrato.eml/ricevuta.pdf"),
        ("carta.jpg", "altro.eml/carta.jpg"),
    ]


def pec_envelope(original: EmailMessage) -> EmailMessage:
    """A PEC transport envelope around ``original``, built by hand (no signature check here)."""
    envelope = EmailMessage()
    envelope["X-Trasporto"] = "posta-certificata"
    envelope["Subject"] = "POSTA CERTIFICATA: Rinnovo PEC"
    envelope.set_content("Messaggio di posta certificata: il messaggio originale è incluso in allegato.")
    envelope.add_attachment(b"<?xml version='1.0'?><postacert tipo='posta-certificata'/>",
                            maintype="application", subtype="xml", filename="daticert.xml")
    envelope.add_attachment(original, filename="postacert.eml")
    envelope.add_attachment(b"0\x82\x01\x00firma", maintype="application", subtype="pkcs7-signature",
                            filename="smime.p7s")
    return envelope


def test_forwarded_pec_envelope_yields_the_documents_of_its_postacert(ctx: AnalysisContext, pdf: bytes) -> None:
    original = message()
    attach(original, pdf, "modulo.pdf", "application/pdf")
    forward = message("vi inoltro la PEC ricevuta")
    forward.add_attachment(pec_envelope(original), filename="pec.eml")
    [doc] = collect(forward, ctx, pec=True)
    assert doc.origin == "postacert.eml/pec.eml/postacert.eml/modulo.pdf"


def test_forwarding_depth_is_limited(pdf: bytes) -> None:
    ctx = AnalysisContext(rules=load_rules(), limits=DocumentLimits(max_depth=2))
    innermost = message()
    attach(innermost, pdf, "modulo.pdf", "application/pdf")
    current = innermost
    for _ in range(3):
        wrapper = message()
        wrapper.add_attachment(current, filename="inoltro.eml")
        current = wrapper
    [doc] = collect(current, ctx)
    assert doc.unreadable is not None and "livelli" in doc.unreadable


# --- what is and is not a document -----------------------------------------------------


def test_bodies_signatures_and_cards_are_not_documents(ctx: AnalysisContext, pdf: bytes) -> None:
    msg = message("Testo del messaggio")
    msg.add_alternative("<html><body><p>Testo del messaggio</p></body></html>", subtype="html")
    attach(msg, pdf, "modulo.pdf", "application/pdf")
    attach(msg, b"<postacert/>", "daticert.xml", "application/xml")
    attach(msg, b"0\x82firma", "modulo.pdf.p7s", "application/pkcs7-signature")
    attach(msg, b"BEGIN:VCARD\r\nFN:Mario Rossi\r\nEND:VCARD\r\n", "mario.vcf", "text/vcard")
    assert [d.filename for d in collect(msg, ctx)] == ["modulo.pdf"]


def test_inline_logo_is_left_out_but_inline_pdf_and_photo_are_documents(
    ctx: AnalysisContext, pdf: bytes, photo: bytes, logo: bytes
) -> None:
    msg = message()
    msg.add_alternative('<html><body>Saluti <img src="cid:logo@csv"><img src="cid:foto@csv"></body></html>',
                        subtype="html")
    html = msg.get_payload()[1]
    html.add_related(logo, maintype="image", subtype="png", cid="<logo@csv>", filename="image001.png")
    html.add_related(photo, maintype="image", subtype="jpeg", cid="<foto@csv>", filename="IMG_0042.jpg")
    attach(msg, pdf, "modulo.pdf", "application/pdf", disposition="inline")
    docs = collect(msg, ctx)
    assert [d.filename for d in docs] == ["IMG_0042.jpg", "modulo.pdf"]


def test_attached_logo_referenced_from_the_body_is_left_out(ctx: AnalysisContext, logo: bytes) -> None:
    msg = message()
    msg.add_alternative('<html><body><img src="cid:firma123"></body></html>', subtype="html")
    attach(msg, logo, "firma.png", "image/png", cid="<firma123>")
    assert collect(msg, ctx) == []


def test_real_type_is_sniffed_whatever_the_name_and_content_type(ctx: AnalysisContext, pdf: bytes,
                                                                  photo: bytes) -> None:
    msg = message()
    attach(msg, photo, "scansione.pdf", "application/pdf")
    attach(msg, pdf, "foto.jpg", "image/jpeg")
    attach(msg, pdf, "ricevuta.txt", "text/plain")
    docs = collect(msg, ctx)
    assert [(d.filename, d.content_type) for d in docs] == [
        ("scansione.pdf", "image/jpeg"), ("foto.jpg", "application/pdf")
    ]  # the third is the same bytes as the second: kept once


def test_pdf_declared_as_inline_text_body_is_still_a_document(ctx: AnalysisContext, pdf: bytes) -> None:
    msg = message()
    part = EmailMessage()
    part.set_content(pdf, maintype="text", subtype="plain", cte="base64")
    msg.make_mixed()
    msg.attach(part)
    [doc] = collect(msg, ctx)
    assert doc.content_type == "application/pdf"


def test_missing_filenames_are_made_from_the_sniffed_type(ctx: AnalysisContext, pdf: bytes, photo: bytes) -> None:
    msg = message()
    attach(msg, pdf, None, "application/octet-stream")
    attach(msg, photo, None, "application/octet-stream")
    assert [d.filename for d in collect(msg, ctx)] == ["allegato-1.pdf", "allegato-2.jpg"]


def test_encoded_filenames_are_decoded(ctx: AnalysisContext, pdf: bytes, photo: bytes) -> None:
    raw = (
        b"From: a@pec.it\r\nTo: b@pec.it\r\nSubject: x\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="B"\r\n\r\n'
        b"--B\r\nContent-Type: text/plain\r\n\r\ntesto\r\n"
        b"--B\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n"
        b"Content-Disposition: attachment; filename*=utf-8''ricevuta%20pagamento%20%C3%A8.pdf\r\n\r\n"
        + __import__("base64").encodebytes(pdf).replace(b"\n", b"\r\n")
        + b"--B\r\nContent-Type: image/jpeg; name=\"=?iso-8859-1?Q?carta_identit=E0.jpg?=\"\r\n"
        b"Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment\r\n\r\n"
        + __import__("base64").encodebytes(photo).replace(b"\n", b"\r\n")
        + b"--B--\r\n"
    )
    from email import message_from_bytes, policy

    msg = message_from_bytes(raw, policy=policy.default)
    assert [d.filename for d in collect(msg, ctx)] == ["ricevuta pagamento è.pdf", "carta identità.jpg"]  # type: ignore[arg-type]


def test_empty_attachment_is_unreadable(ctx: AnalysisContext) -> None:
    msg = message()
    attach(msg, b"", "ricevuta.pdf", "application/pdf")
    [doc] = collect(msg, ctx)
    assert (doc.unreadable, doc.kind) == ("il file è vuoto", "other")


def test_winmail_dat_is_unreadable(ctx: AnalysisContext) -> None:
    msg = message()
    attach(msg, b"\x78\x9f\x3e\x22" + bytes(200), "winmail.dat", "application/ms-tnef")
    [doc] = collect(msg, ctx)
    assert doc.unreadable is not None and "winmail.dat" in doc.unreadable


def test_pec_original_origin_starts_with_postacert(ctx: AnalysisContext, pdf: bytes) -> None:
    msg = message()
    attach(msg, pdf, "modulo.pdf", "application/pdf")
    assert collect(msg, ctx, pec=True)[0].origin == "postacert.eml/modulo.pdf"
    assert collect(msg, ctx)[0].origin == "modulo.pdf"


def test_no_original_means_no_documents(ctx: AnalysisContext) -> None:
    sub = Submission(source="t", raw=b"", envelope=Envelope(type="accettazione"))
    collect_attachments(sub, ctx)
    assert sub.documents == []


# --- sniffing --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"%PDF-1.7\n...", sniff.PDF),
        (b"garbage before\n%PDF-1.4\n", sniff.PDF),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", sniff.JPEG),
        (b"\x89PNG\r\n\x1a\n\x00", sniff.PNG),
        (b"II*\x00\x08\x00", sniff.TIFF),
        (b"RIFF\x10\x00\x00\x00WEBPVP8 ", sniff.WEBP),
        (b"\x00\x00\x00\x18ftypheic\x00\x00", sniff.HEIC),
        (b"PK\x03\x04\x14\x00\x00\x00\x08\x00[Content_Types].xml", sniff.WORD),
        (b"Rar!\x1a\x07\x01\x00", sniff.RAR),
        (b"From: a@b.it\r\nSubject: x\r\n\r\nbody", sniff.MESSAGE),
        (b"Content-Type: multipart/mixed;\r\n boundary=x\r\n\r\n--x", sniff.MESSAGE),
        (b"<!DOCTYPE html><html><body>Ricevuta</body></html>", sniff.HTML),
        (b"Ricevuta del bonifico: importo 12,08 EUR", sniff.TEXT),
        (b"\x00\x01\x02\x03binary", sniff.UNKNOWN),
    ],
)
def test_sniff_magic(data: bytes, expected: sniff.FileType) -> None:
    assert sniff.sniff(data) == expected


def test_sniff_zip_and_p7m_even_when_they_hold_a_pdf(pdf: bytes) -> None:
    assert sniff.sniff(zipped(("a.pdf", pdf), compression=zipfile.ZIP_STORED)) == sniff.ZIP
    for encoding in ("der", "pem", "base64"):
        assert sniff.sniff(samples.sign_p7m(pdf, encoding=encoding)) == sniff.CMS  # type: ignore[arg-type]


def test_zip_bomb_with_lying_sizes_stays_bounded(ctx: AnalysisContext) -> None:
    import struct

    raw = bytearray(samples.zip_bomb(megabytes=50))
    # claim 10 KB uncompressed in both headers: the inflater must stop there, not at 50 MB
    local, central = raw.find(b"PK\x03\x04"), raw.find(b"PK\x01\x02")
    struct.pack_into("<I", raw, local + 22, 10_000)
    struct.pack_into("<I", raw, central + 24, 10_000)
    msg = message()
    attach(msg, bytes(raw), "bugiardo.zip")
    with settles():
        [doc] = collect(msg, ctx)
    assert doc.unreadable == "il file nell'archivio zip è danneggiato"  # its CRC fails at 10 KB


def test_smime_opaque_signed_original_is_opened(ctx: AnalysisContext, pdf: bytes) -> None:
    inner = EmailMessage()
    inner.set_content("testo firmato")
    attach(inner, pdf, "modulo.pdf", "application/pdf")
    del inner["MIME-Version"]
    msg = EmailMessage()
    msg["From"] = "prova@pec.it"
    msg.set_content(samples.sign_p7m(inner.as_bytes()), maintype="application", subtype="pkcs7-mime",
                    params={"smime-type": "signed-data"}, filename="smime.p7m")
    [doc] = collect(msg, ctx)
    assert (doc.filename, doc.origin, doc.data) == ("modulo.pdf", "smime.p7m/modulo.pdf", pdf)
