"""What text does each page of each document hold? (text layer first, OCR when needed.)

The stage :func:`read_documents` gives every readable Document its pages:
a PDF page's text layer when it is usable (no OCR at all for a born-digital
PDF), else the page rendered at ``ctx.ocr.dpi`` and OCR'd; images (JPEG,
PNG, TIFF, WebP, HEIC …) are OCR'd. All OCR of the submission runs in one
parallel batch (:func:`bot.ocr.recognise_pages`).

Hostile or broken files get an Italian ``unreadable`` reason, decided
before anything large is decoded: a password, a corrupt file, too many
pages, an image whose header declares more pixels than we will decode.
"""

from __future__ import annotations

import html
import io
import math
import re
import time
import warnings
from functools import partial

import pypdfium2 as pdfium
from PIL import Image, ImageOps

from bot import ocr, textlayer
from bot.errors import AttachmentUnreadable
from bot.model import AnalysisContext, Document, DocumentLimits, Page, Submission

try:  # HEIC/HEIF photos (iPhones) decode only with the pillow-heif plugin
    from pillow_heif import register_heif_opener

    register_heif_opener()
except ImportError:  # pragma: no cover - the plugin is a declared dependency
    pass

PDF_PASSWORD = "il PDF è protetto da password"
PDF_CORRUPT = "il PDF è danneggiato"
PDF_EMPTY = "il PDF non ha pagine"
IMAGE_CORRUPT = "l'immagine è danneggiata o in un formato non leggibile"
IMAGE_TOO_BIG = "l'immagine è troppo grande per essere letta"
UNSUPPORTED = {
    "application/vnd.openxmlformats-officedocument": "documento Word/Office: serve il PDF",
    "application/vnd.oasis.opendocument": "documento LibreOffice: serve il PDF",
    "application/x-ole-storage": "documento Word/Office: serve il PDF",
    "application/vnd.rar": "archivio RAR non supportato: usare zip o allegare i file",
    "application/x-7z-compressed": "archivio 7z non supportato: usare zip o allegare i file",
    "application/gzip": "archivio gzip non supportato: usare zip o allegare i file",
}
UNKNOWN_FORMAT = "formato del file non riconosciuto"
#: Text and HTML files are read up to this many bytes: a receipt is a few KB.
MAX_TEXT_BYTES = 1_000_000
_SCRIPT = re.compile(r"<(script|style)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_BREAK = re.compile(r"<\s*(br|/p|/div|/tr|/li|/h\d)\b[^>]*>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]*>")

#: Pages are OCR'd at most this long on their long side: 300 dpi A4 is 3,508 px,
#: and larger scans read no better, only slower.
MAX_OCR_LONG_SIDE = 4200


def read_documents(sub: Submission, ctx: AnalysisContext) -> None:
    """Fill ``pages`` of every readable document, or set its ``unreadable`` reason.

    Never raises for bad documents. Pages whose OCR ran out of the
    attachment's time budget are left out; a document left with no page at
    all becomes unreadable.
    """
    started = time.perf_counter()
    # parsing a big message leaves freed heap behind: return it before OCR needs room
    ocr.release_memory()
    jobs: list[ocr.PageJob] = []
    for index, document in enumerate(sub.documents):
        if document.unreadable is not None:
            continue
        try:
            jobs.extend(_plan(index, document, ctx))
        except AttachmentUnreadable as exc:
            document.unreadable = str(exc)
        except Exception as exc:  # a parser choking on hostile bytes is still just unreadable
            document.unreadable = _damaged(document.content_type)
            sub.trace.append(f"reading: document {index + 1}: {type(exc).__name__}")
        if document.unreadable is not None:
            document.pages.clear()  # half a file is no document
    outcomes = ocr.recognise_pages(jobs, ctx.ocr)
    failures: dict[int, str] = {}
    for outcome in outcomes:
        document = sub.documents[outcome.job.attachment]
        if outcome.result is not None:
            document.pages.append(Page(outcome.job.number, outcome.result.text, ocr=True))
        else:
            failures.setdefault(outcome.job.attachment, outcome.failure or ocr.FAILED)
    for index, reason in failures.items():
        document = sub.documents[index]
        if not document.pages:
            document.unreadable = reason
        sub.trace.append(f"reading: document {index + 1}: some pages not read")
    for document in sub.documents:
        document.pages.sort(key=lambda page: page.number)
    sub.trace.append(
        f"reading: {sum(len(d.pages) for d in sub.documents)} pages, {len(jobs)} OCR'd, "
        f"{time.perf_counter() - started:.2f}s"
    )


def _damaged(mime: str) -> str:
    if mime == "application/pdf":
        return PDF_CORRUPT
    return IMAGE_CORRUPT if mime.startswith("image/") else UNKNOWN_FORMAT


def _plan(index: int, document: Document, ctx: AnalysisContext) -> list[ocr.PageJob]:
    """Read what needs no OCR now; return the OCR jobs for the rest."""
    mime = document.content_type
    if mime == "application/pdf":
        return _plan_pdf(index, document, ctx)
    if mime.startswith("image/"):
        return _plan_image(index, document, ctx.limits)
    if mime in ("text/plain", "text/html"):
        text = _file_text(document.data, markup=mime == "text/html")
        document.pages.append(Page(1, text))
        return []
    raise AttachmentUnreadable(UNSUPPORTED.get(mime, UNKNOWN_FORMAT))


def _plan_pdf(index: int, document: Document, ctx: AnalysisContext) -> list[ocr.PageJob]:
    jobs = []
    with textlayer.PDFIUM_LOCK:
        pdf = _open_pdf(document.data)
        try:
            count = len(pdf)
            if count == 0:
                raise AttachmentUnreadable(PDF_EMPTY)
            if count > ctx.limits.max_pages:
                raise AttachmentUnreadable(
                    f"il PDF ha {count} pagine, troppe da leggere (al massimo "
                    f"{ctx.limits.max_pages})"
                )
            for number in range(1, count + 1):
                page = pdf[number - 1]
                try:
                    text = textlayer.page_text(page)
                    if textlayer.usable(text, page):
                        document.pages.append(Page(number, text))
                        continue
                finally:
                    page.close()
                render = partial(
                    _render_page, document.data, number - 1, ctx.ocr.dpi, ctx.limits
                )
                jobs.append(ocr.PageJob(index, number, render))
        finally:
            pdf.close()
    return jobs


def _open_pdf(data: bytes) -> pdfium.PdfDocument:
    try:
        return pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        if exc.err_code == pdfium.raw.FPDF_ERR_PASSWORD:
            raise AttachmentUnreadable(PDF_PASSWORD) from exc
        raise AttachmentUnreadable(PDF_CORRUPT) from exc


def _render_page(data: bytes, page_index: int, dpi: int, limits: DocumentLimits) -> Image.Image:
    """One PDF page as a greyscale image at ``dpi`` (less for absurdly large pages)."""
    with textlayer.PDFIUM_LOCK:
        pdf = _open_pdf(data)
        try:
            page = pdf[page_index]
            width, height = page.get_size()
            scale = dpi / 72
            # a poster-sized page would render to gigapixels: cap the pixels instead
            pixels = width * height * scale * scale
            if pixels > limits.max_decoded_pixels:
                scale *= math.sqrt(limits.max_decoded_pixels / pixels)
            bitmap = page.render(scale=scale, grayscale=True)
            # copy: the PIL image would otherwise point into pdfium's buffer
            image = bitmap.to_pil().copy()
            bitmap.close()
            page.close()
        finally:
            pdf.close()
    # pdfium's decoded page images are freed now; give them back before tesseract runs
    ocr.release_memory()
    return image


def _plan_image(index: int, document: Document, limits: DocumentLimits) -> list[ocr.PageJob]:
    image = _open_image(document.data, limits)
    frames = getattr(image, "n_frames", 1) if image.format == "TIFF" else 1
    if frames > limits.max_pages:
        raise AttachmentUnreadable(IMAGE_TOO_BIG)
    return [
        ocr.PageJob(index, frame + 1, partial(_decode_image, document.data, frame, limits))
        for frame in range(frames)
    ]


def _open_image(data: bytes, limits: DocumentLimits) -> Image.Image:
    """The image with only its header read, refused if it declares too many pixels."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        raise AttachmentUnreadable(IMAGE_TOO_BIG) from exc
    except Exception as exc:
        raise AttachmentUnreadable(IMAGE_CORRUPT) from exc
    pixels = image.width * image.height
    if pixels > limits.max_image_pixels:
        raise AttachmentUnreadable(IMAGE_TOO_BIG)
    # only JPEG can be decoded at reduced size; anything else must fit whole
    if image.format != "JPEG" and pixels > limits.max_decoded_pixels:
        raise AttachmentUnreadable(IMAGE_TOO_BIG)
    return image


def _decode_image(data: bytes, frame: int, limits: DocumentLimits) -> Image.Image:
    """One frame, decoded small enough to OCR, turned by its EXIF orientation, greyscale."""
    image = _open_image(data, limits)
    try:
        if frame:
            image.seek(frame)
        long_side = max(image.size)
        if image.format == "JPEG":
            # libjpeg decodes at 1/2, 1/4, 1/8 directly: a huge photo never exists full size
            shrink = min(1.0, MAX_OCR_LONG_SIDE / long_side)
            image.draft("L", (math.ceil(image.width * shrink), math.ceil(image.height * shrink)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image.load()
    except AttachmentUnreadable:
        raise
    except Exception as exc:  # truncated or corrupt data
        raise AttachmentUnreadable(IMAGE_CORRUPT) from exc
    image = _flatten(ImageOps.exif_transpose(image) or image)
    factor = math.ceil(max(image.size) / MAX_OCR_LONG_SIDE)
    if factor > 1:
        image = image.reduce(factor)
    ocr.release_memory()  # the full-colour decode is garbage now
    return image


def _flatten(image: Image.Image) -> Image.Image:
    """Greyscale on white: transparent screenshots would otherwise turn black."""
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        return image.point(lambda value: value / 256).convert("L")
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("L")
    return image if image.mode == "L" else image.convert("L")


def _file_text(data: bytes, *, markup: bool) -> str:
    """The text of a plain-text or HTML attachment (a bank's e-mailed receipt)."""
    raw = data[:MAX_TEXT_BYTES]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("cp1252", errors="replace")
    if markup:
        text = _TAG.sub(" ", _BREAK.sub("\n", _SCRIPT.sub(" ", text)))
        text = html.unescape(text)
    lines = (" ".join(line.split()) for line in text.splitlines())
    return "\n".join(line for line in lines if line)
