"""Is a PDF page's text layer enough, and in which order are its lines?"""

from __future__ import annotations

import io

import pypdfium2 as pdfium
import pytest
from PIL import Image
from reportlab.lib.pagesizes import A4
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen import canvas

from bot import textlayer
from fixtures import p7m as samples


def first_page(pdf: bytes) -> pdfium.PdfPage:
    return pdfium.PdfDocument(pdf)[0]


def picture_page(text: str, picture_share: float) -> bytes:
    """A page with ``text`` and a grey picture covering ``picture_share`` of its height."""
    out = io.BytesIO()
    page = canvas.Canvas(out, pagesize=A4, invariant=True)
    width, height = A4
    page.drawImage(ImageReader(Image.new("RGB", (200, 280), (200, 200, 200))), 0, 0, width,
                   height * picture_share)
    page.drawString(20, height - 20, text)
    page.showPage()
    page.save()
    return out.getvalue()


@pytest.mark.parametrize(
    ("text", "picture_share", "usable"),
    [
        ("Pagina 2", 0.0, True),  # a short page is just short
        ("Scansionato con CamScanner", 0.95, False),  # a stamp over a scan
        ("Scansionato con CamScanner", 0.2, True),  # a logo is not a scan
        ("", 0.0, False),  # nothing: maybe text drawn as outlines
    ],
)
def test_usable(text: str, picture_share: float, usable: bool) -> None:
    page = first_page(picture_page(text, picture_share))
    assert textlayer.usable(textlayer.page_text(page), page) is usable


def test_glyph_garbage_is_not_usable() -> None:
    page = first_page(samples.text_pdf(["x"]))
    assert not textlayer.usable("\ue001\ue002\ue003 \x7f\ue004" * 40 + "abc", page)
    assert textlayer.usable("Importo del bonifico: 12,08 EUR. " * 10, page)


def test_lines_are_rebuilt_from_positions() -> None:
    out = io.BytesIO()
    page = canvas.Canvas(out, pagesize=A4, invariant=True)
    page.drawString(300, 700, "12,08 EUR")  # drawn first, printed right
    page.drawString(60, 650, "Causale: rinnovo")
    page.drawString(60, 700, "Importo:")
    page.setFont("Helvetica-Bold", 12)
    page.drawString(60, 750, "Ricev")
    page.drawString(60 + page.stringWidth("Ricev", "Helvetica-Bold", 12), 750, "uta")
    page.showPage()
    page.save()
    text = textlayer.page_text(first_page(out.getvalue()))
    assert text.splitlines() == ["Ricevuta", "Importo: 12,08 EUR", "Causale: rinnovo"]
