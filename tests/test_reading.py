"""What text each page holds: text layers without OCR, scans with OCR, bad files refused."""

from __future__ import annotations

import io
import random
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager

import pillow_heif
import pytesseract
import pytest
from PIL import Image, ImageDraw, ImageFont
from reportlab.lib.pagesizes import A4
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen import canvas

from bot import ocr, reading
from bot.attachments.sniff import sniff
from bot.model import AnalysisContext, Document, OcrSettings, Submission
from bot.rules import load_rules
from fixtures import degrade
from fixtures import p7m as samples

HANG_SECONDS = 30
RECEIPT = [
    "Ricevuta di bonifico SEPA",
    "Data esecuzione: 14/07/2025",
    "Ordinante: Associazione Amici del Parco",
    "Beneficiario: Aruba S.p.A.",
    "Banca del beneficiario: BPER Banca",
    "Importo: 12,08 EUR",
    "Commissioni: 0,50 EUR",
    "Causale: rinnovo casella associazione",
    "Stato: operazione eseguita",
]


@pytest.fixture(scope="module")
def ctx() -> AnalysisContext:
    return AnalysisContext(rules=load_rules())


@pytest.fixture
def tesseract_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every tesseract process started during the test (OSD included)."""
    calls: list[str] = []
    real = pytesseract.pytesseract.run_tesseract

    def counting(*args: object, **kwargs: object) -> object:
        calls.append(str(args[0]))
        return real(*args, **kwargs)

    monkeypatch.setattr(pytesseract.pytesseract, "run_tesseract", counting)
    return calls


@pytest.fixture(scope="module")
def scanned_receipt() -> Image.Image:
    page = degrade.render_pdf(samples.text_pdf(RECEIPT, size=16), dpi=200)[0]
    return degrade.scan(page, random.Random(2))


def read(ctx: AnalysisContext, *files: tuple[str, bytes]) -> Submission:
    documents = [Document(name, sniff(data).mime, data) for name, data in files]
    sub = Submission(source="test", raw=b"", documents=documents)
    reading.read_documents(sub, ctx)
    return sub


@contextmanager
def settles() -> Iterator[None]:
    started = time.monotonic()
    yield
    assert time.monotonic() - started < HANG_SECONDS


def labels_then_values_pdf() -> bytes:
    """A generator that draws every label first and every value afterwards."""
    out = io.BytesIO()
    page = canvas.Canvas(out, pagesize=A4, invariant=True)
    labels = ["Beneficiario:", "IBAN:", "Importo:"]
    values = ["Aruba S.p.A.", "IT67 D053 8771 3360 0004 2125 809", "12,08 EUR"]
    for row, label in enumerate(labels):
        page.drawString(60, 700 - 20 * row, label)
    page.setFont("Helvetica-Bold", 11)
    for row, value in enumerate(values):
        page.drawString(200, 701 - 20 * row, value)
    page.showPage()
    page.save()
    return out.getvalue()


def stamped_scan_pdf(scan: Image.Image) -> bytes:
    """A scanned page as a picture, plus the one line of text a scanner app stamps on it."""
    out = io.BytesIO()
    page = canvas.Canvas(out, pagesize=A4, invariant=True)
    page.drawImage(ImageReader(scan.convert("RGB")), 0, 0, *A4)
    page.setFont("Helvetica", 6)
    page.drawString(20, 10, "Scansionato con CamScanner")
    page.showPage()
    page.save()
    return out.getvalue()


# --- text layers: no OCR ---------------------------------------------------------------


def test_text_layer_pdfs_are_read_without_any_ocr(ctx: AnalysisContext, tesseract_calls: list[str]) -> None:
    two_pages = samples.huge_pdf(pages=2)
    sub = read(ctx, ("ricevuta.pdf", samples.text_pdf(RECEIPT)), ("modulo.pdf", two_pages),
               ("bonifico.pdf", samples.encrypted_pdf(samples.text_pdf(RECEIPT), user_password="")))
    assert tesseract_calls == []
    receipt, form, owner_locked = sub.documents
    assert receipt.text.splitlines() == RECEIPT
    assert [p.number for p in form.pages] == [1, 2] and "Pagina 2 di 2" in form.pages[1].text
    assert owner_locked.unreadable is None and "12,08 EUR" in owner_locked.text
    assert not any(d.ocr for d in sub.documents)


def test_text_layer_lines_follow_the_page_not_the_drawing_order(ctx: AnalysisContext) -> None:
    [doc] = read(ctx, ("ricevuta.pdf", labels_then_values_pdf())).documents
    assert doc.text.splitlines() == [
        "Beneficiario: Aruba S.p.A.",
        "IBAN: IT67 D053 8771 3360 0004 2125 809",
        "Importo: 12,08 EUR",
    ]


def test_text_and_html_attachments(ctx: AnalysisContext) -> None:
    html = (b"<html><head><style>p{color:red}</style></head><body><p>Importo:&nbsp;12,08 &euro;</p>"
            b"<p>Beneficiario: Aruba</p></body></html>")
    sub = read(ctx, ("ricevuta.html", html), ("note.txt", "Causale: rinnovo più veloce".encode("cp1252")))
    assert sub.documents[0].text == "Importo: 12,08 €\nBeneficiario: Aruba"
    assert sub.documents[1].text == "Causale: rinnovo più veloce"


def test_office_documents_are_unreadable_with_a_reason(ctx: AnalysisContext) -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as docx:
        docx.writestr("[Content_Types].xml", "<Types/>")
        docx.writestr("word/document.xml", "<w:document/>")
    [doc] = read(ctx, ("modulo.docx", out.getvalue())).documents
    assert doc.unreadable == "documento Word/Office: serve il PDF"


# --- bad PDFs and images ---------------------------------------------------------------


def test_password_protected_pdf_is_unreadable(ctx: AnalysisContext, tesseract_calls: list[str]) -> None:
    with settles():
        [doc] = read(ctx, ("ricevuta.pdf", samples.encrypted_pdf())).documents
    assert doc.unreadable == "il PDF è protetto da password"
    assert doc.pages == [] and tesseract_calls == []


def test_corrupt_pdf_is_unreadable(ctx: AnalysisContext) -> None:
    truncated = samples.text_pdf(RECEIPT)[:40]
    with settles():
        docs = read(ctx, ("rotto.pdf", samples.corrupt_pdf()), ("troncato.pdf", truncated)).documents
    assert [d.unreadable for d in docs] == ["il PDF è danneggiato"] * 2


def test_thousand_page_pdf_is_refused_quickly(ctx: AnalysisContext, tesseract_calls: list[str]) -> None:
    with settles():
        [doc] = read(ctx, ("mille.pdf", samples.huge_pdf(1000))).documents
    assert doc.unreadable == "il PDF ha 1000 pagine, troppe da leggere (al massimo 30)"
    assert tesseract_calls == []


@pytest.mark.parametrize("size", [(60000, 60000), (8000, 8000)])
def test_decompression_bomb_png_is_refused_from_its_header(
    ctx: AnalysisContext, tesseract_calls: list[str], size: tuple[int, int]
) -> None:
    with settles():
        [doc] = read(ctx, ("bomba.png", samples.bomb_png(*size))).documents
    assert doc.unreadable == "l'immagine è troppo grande per essere letta"
    assert tesseract_calls == []


def test_truncated_image_is_unreadable(ctx: AnalysisContext, scanned_receipt: Image.Image) -> None:
    jpeg = degrade.to_jpeg(scanned_receipt)
    [doc] = read(ctx, ("foto.jpg", jpeg[:2000])).documents
    assert doc.unreadable is not None


def test_huge_jpeg_is_decoded_reduced(ctx: AnalysisContext, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[int, int]] = []

    def fake_recognise(image: Image.Image, settings: OcrSettings, *, deadline: float) -> ocr.OcrText:
        seen.append(image.size)
        return ocr.OcrText("testo", 90.0, 10, 10)

    monkeypatch.setattr(ocr, "recognise", fake_recognise)
    big = Image.new("L", (6000, 9000), 255)
    ImageDraw.Draw(big).text((100, 100), "Ricevuta", fill=0)
    buffer = io.BytesIO()
    big.save(buffer, format="JPEG", quality=50)
    [doc] = read(ctx, ("grande.jpg", buffer.getvalue())).documents
    assert doc.unreadable is None and doc.pages[0].ocr
    assert max(seen[0]) <= reading.MAX_OCR_LONG_SIDE
    assert seen[0][1] > seen[0][0]  # still portrait


def test_pages_past_the_time_budget_make_the_document_unreadable(
    ctx: AnalysisContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    def slow(image: Image.Image, settings: OcrSettings, *, deadline: float) -> ocr.OcrText:
        time.sleep(max(0.0, deadline - time.monotonic()))
        raise ocr.AttachmentUnreadable(ocr.TIMEOUT)

    monkeypatch.setattr(ocr, "recognise", slow)
    fast_ctx = AnalysisContext(rules=ctx.rules, ocr=OcrSettings(seconds_per_attachment=0.2))
    image = degrade.to_png(Image.new("L", (800, 600), 255))
    with settles():
        [doc] = read(fast_ctx, ("foto.png", image)).documents
    assert doc.unreadable == ocr.TIMEOUT


# --- OCR -------------------------------------------------------------------------------


@pytest.mark.ocr
def test_scanned_pdf_is_ocrd(ctx: AnalysisContext, scanned_receipt: Image.Image, tesseract_calls: list[str]) -> None:
    pdf = degrade.to_pdf([scanned_receipt])
    [doc] = read(ctx, ("scansione.pdf", pdf)).documents
    assert doc.ocr and doc.unreadable is None
    assert "12,08" in doc.text and "Beneficiario" in doc.text
    assert len(tesseract_calls) == 1  # an upright scan costs one tesseract pass


@pytest.mark.ocr
def test_scan_with_a_stamp_text_layer_is_still_ocrd(ctx: AnalysisContext, scanned_receipt: Image.Image) -> None:
    [doc] = read(ctx, ("scansione.pdf", stamped_scan_pdf(scanned_receipt))).documents
    assert doc.ocr and "Beneficiario" in doc.text


@pytest.mark.ocr
def test_photo_formats_are_ocrd(ctx: AnalysisContext, scanned_receipt: Image.Image) -> None:
    small = scanned_receipt.crop((0, 0, scanned_receipt.width, scanned_receipt.height // 3))
    heic = io.BytesIO()
    pillow_heif.from_pillow(small.convert("RGB")).save(heic, format="HEIF", quality=90)
    # a screenshot: black text on a transparent background
    clear = Image.new("RGBA", (900, 200), (0, 0, 0, 0))
    font = ImageFont.load_default(size=40)
    ImageDraw.Draw(clear).text((20, 60), "Importo 12,08 EUR eseguito", fill=(0, 0, 0, 255), font=font)
    tiff = io.BytesIO()
    small.save(tiff, format="TIFF", save_all=True, append_images=[small.rotate(0)])
    sub = read(ctx, ("foto.heic", heic.getvalue()), ("schermata.png", degrade.to_png(clear)),
               ("scansione.tif", tiff.getvalue()))
    heic_doc, png_doc, tiff_doc = sub.documents
    assert heic_doc.content_type == "image/heic" and "Beneficiario" in heic_doc.text
    assert "12,08" in png_doc.text
    assert [p.number for p in tiff_doc.pages] == [1, 2] and all(p.ocr for p in tiff_doc.pages)


@pytest.mark.ocr
def test_exif_orientation_is_applied_before_ocr(
    ctx: AnalysisContext, scanned_receipt: Image.Image, tesseract_calls: list[str]
) -> None:
    # a phone stores the sensor's pixels sideways and says "turn 90° clockwise" in EXIF
    top = scanned_receipt.crop((0, 0, scanned_receipt.width, scanned_receipt.height // 2))
    sideways = top.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    jpeg = io.BytesIO()
    sideways.convert("RGB").save(jpeg, format="JPEG", quality=90, exif=exif.tobytes())
    [doc] = read(ctx, ("foto.jpg", jpeg.getvalue())).documents
    assert "Beneficiario" in doc.text
    assert len(tesseract_calls) == 1
