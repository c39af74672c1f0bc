"""What does a PDF page's text layer say, in reading order — and is it worth reading?

The text comes from pdfium (pypdfium2), not pdfminer/pdfplumber: on a dense
A4 page pdfplumber spends ~0.14 s building its character objects, pdfium
~0.005 s, and a message of text-layer PDFs must be analysed in well under
0.15 s. pdfium returns text in content-stream order, which splits a label
from its value when a bank's generator draws all labels first; so, like
pdfplumber, we rebuild lines from positions: pdfium's text runs (its
"rects") are grouped into lines by vertical overlap and sorted left to right.

pdfium is not thread-safe: every call into it, here and in
:mod:`bot.reading`, holds :data:`PDFIUM_LOCK`.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from dataclasses import dataclass

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

PDFIUM_LOCK = threading.RLock()

#: A page needs OCR when a picture covers most of it and its text layer holds fewer
#: letters and digits than this: a scanner's stamp or an OCR'd header, not the content.
SCAN_TEXT_CHARACTERS = 200
SCAN_IMAGE_COVERAGE = 0.5
#: Share of visible characters that must be ordinary letters, digits or punctuation.
MIN_PLAIN_SHARE = 0.8

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\u00ad]")
_PLAIN = re.compile(r"[\w\s.,;:!?'\"()\[\]/\\@#%&*+=<>€$£°|_-]", re.UNICODE)


@dataclass(frozen=True)
class _Run:
    left: float
    bottom: float
    right: float
    top: float
    text: str

    @property
    def middle(self) -> float:
        return (self.bottom + self.top) / 2


def page_text(page: pdfium.PdfPage) -> str:
    """The page's text layer as lines in reading order (top to bottom, left to right)."""
    with PDFIUM_LOCK:
        textpage = page.get_textpage()
        try:
            runs = []
            for index in range(textpage.count_rects()):
                left, bottom, right, top = textpage.get_rect(index)
                text = _CONTROL.sub("", textpage.get_text_bounded(left, bottom, right, top))
                if text.strip():
                    runs.append(_Run(left, bottom, right, top, " ".join(text.split())))
        finally:
            textpage.close()
    return "\n".join(_lines(runs))


def usable(text: str, page: pdfium.PdfPage) -> bool:
    """True when ``text`` (the page's text layer) can stand in for reading the page.

    False for an empty layer, for glyph garbage (fonts without a Unicode
    map), and for a scan that carries only a stamp or an OCR'd header over
    a full-page picture.
    """
    visible = [ch for ch in text if not ch.isspace()]
    alphanumeric = sum(ch.isalnum() for ch in visible)
    if alphanumeric == 0:
        return False  # blank, or text drawn as outlines: only pixels will tell
    plain = sum(1 for ch in visible if _PLAIN.match(ch) and unicodedata.category(ch)[0] != "C")
    if plain < MIN_PLAIN_SHARE * len(visible):
        return False
    if alphanumeric < SCAN_TEXT_CHARACTERS:
        # a short text over a big picture is a scanner's stamp; without a picture,
        # a short text is simply all the page says
        return image_coverage(page) < SCAN_IMAGE_COVERAGE
    return True


def image_coverage(page: pdfium.PdfPage) -> float:
    """The share of the page area covered by its largest picture."""
    with PDFIUM_LOCK:
        width, height = page.get_size()
        area = max(width * height, 1.0)
        largest = 0.0
        for image in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=2):
            left, bottom, right, top = image.get_bounds()
            largest = max(largest, (right - left) * (top - bottom))
    return min(largest / area, 1.0)


def _lines(runs: list[_Run]) -> list[str]:
    """Group runs whose vertical extents overlap by half into lines, then order them."""
    lines: list[list[_Run]] = []
    for run in sorted(runs, key=lambda r: -r.middle):
        if lines:
            line = lines[-1]
            bottom = min(r.bottom for r in line)
            top = max(r.top for r in line)
            height = min(top - bottom, run.top - run.bottom) or 1.0
            overlap = min(top, run.top) - max(bottom, run.bottom)
            if overlap >= 0.5 * height:
                line.append(run)
                continue
        lines.append([run])
    return [_join(sorted(line, key=lambda r: r.left)) for line in lines]


def _join(line: list[_Run]) -> str:
    text = line[0].text
    for previous, run in zip(line, line[1:], strict=False):
        gap = run.left - previous.right
        # a run split mid-word (a font change) is glued back; a real gap keeps a space
        glue = "" if gap < 0.15 * (run.top - run.bottom) else " "
        text += glue + run.text
    return text
