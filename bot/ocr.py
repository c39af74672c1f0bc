"""What text does a page image hold? (tesseract, one process per page, in parallel.)

Each page costs one tesseract run when it is upright and readable — the
common case of a scan. Before it, the page is made easy to read: greyscale,
levelled when photographed askew (:mod:`bot.deskew`), a ruled form's lines
erased (:mod:`bot.lines`), small crops enlarged; phone photos already had
their EXIF orientation applied (:mod:`bot.reading`). Only when that pass
reads little or with low confidence do we pay for orientation detection
(``--psm 0``) and a pass on the turned image, and for other segmentations.

Pages of the whole submission run in a thread pool sized to the cores: each
thread only waits on its tesseract child, so threads parallelise as well as
processes would. Every child runs with ``OMP_THREAD_LIMIT=1`` (tesseract's
OpenMP threads fight each other and the pool: a dense page took ~25 s
instead of ~4 s without it) and a timeout drawn from its attachment's time
budget.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import pytesseract
from PIL import Image

from bot import deskew, lines
from bot.errors import AttachmentUnreadable
from bot.model import OcrSettings


def _glibc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc if hasattr(libc, "malloc_trim") else None  # only glibc has it
    except OSError:
        return None


_LIBC = _glibc()

# pytesseract starts tesseract with os.environ as its environment; setting the
# limit here is the only way to reach the child through pytesseract.
os.environ["OMP_THREAD_LIMIT"] = "1"

TIMEOUT = "la lettura del documento ha superato il tempo massimo"
FAILED = "la lettura (OCR) del documento non è riuscita"

#: Images whose long side is shorter get enlarged: tesseract wants letters ≥ ~20 px tall.
MIN_LONG_SIDE = 1800
#: A pass is good enough to keep when its mean word confidence (0–100) reaches this
#: (text read sideways or upside down scores 40–52 here, upright 80–95) …
MIN_MEAN_CONFIDENCE = 55.0
#: … and it has this many confident words, or nearly all its words are confident
#: (a screenshot that says only "Bonifico eseguito").
MIN_CONFIDENT_WORDS = 8
#: The first reading: automatic page segmentation, which finds columns and paragraphs …
FIRST = "--psm 3"
#: … except on a ruled form, read as one block, row by row, so that each value stays on
#: its label's line (automatic segmentation would make the labels and values two columns).
FIRST_RULED = "--psm 6"
#: A reading with fewer confident words than this is tried again in other ways …
FEW_WORDS = 15
#: … one uniform block and sparse text (on cards and ruled tables automatic
#: segmentation drops whole columns), and local (Sauvola) thresholding instead of
#: one global threshold (which, for a pale card on white paper, separates the card
#: from the paper and loses the text).
FALLBACKS = ("--psm 6", "--psm 11", "--psm 3 -c thresholding_method=2", "--psm 3")
#: Below this size a brute-force try of the other orientations is cheap enough.
SMALL_IMAGE_PIXELS = 6_000_000


@dataclass(frozen=True)
class OcrText:
    """The text tesseract read, and how much to trust it."""

    text: str
    mean_confidence: float
    confident_words: int
    """Words of two or more letters or digits read with confidence ≥ 60."""
    words: int = 0
    confident_characters: int = 0
    """Letters and digits in the confident words: what a reading is compared by."""
    rotation: int = 0
    """Degrees (counter-clockwise) the image was turned for this reading."""
    passes: int = 1
    """tesseract runs spent on the page (orientation detection included)."""

    @property
    def good(self) -> bool:
        if self.mean_confidence < MIN_MEAN_CONFIDENCE:
            return False
        return self.confident_words >= MIN_CONFIDENT_WORDS or (
            self.confident_words >= 2 and self.confident_words >= 0.8 * self.words
        )


@dataclass(frozen=True)
class PageJob:
    """One page to OCR: ``load`` decodes or renders it inside the worker, so only
    as many full-size pages are in memory as there are workers."""

    attachment: int
    """Which attachment the page belongs to: its pages share one time budget."""
    number: int
    load: Callable[[], Image.Image]


@dataclass(frozen=True)
class PageOutcome:
    job: PageJob
    result: OcrText | None
    failure: str | None = None
    """Why the page has no text (Italian), when ``result`` is None."""


@dataclass(frozen=True)
class Prepared:
    """A page image ready for tesseract, and how to segment it first."""

    image: Image.Image
    ruled: bool
    """The page is a ruled form: its rules are erased and it is read row by row."""

    @property
    def first_config(self) -> str:
        return FIRST_RULED if self.ruled else FIRST


def prepare(image: Image.Image) -> Prepared:
    """Greyscale, level, without table rules, small images (phone crops, cards) enlarged."""
    grey = image if image.mode == "L" else image.convert("L")
    ruled = lines.ruled(grey)
    if ruled:
        grey = lines.remove_rules(deskew.straighten(grey, min_degrees=deskew.MIN_DEGREES_RULED))
    else:
        grey = deskew.straighten(grey)
    long_side = max(grey.size)
    if 0 < long_side < MIN_LONG_SIDE:
        factor = min(3.0, MIN_LONG_SIDE / long_side)
        size = (round(grey.width * factor), round(grey.height * factor))
        grey = grey.resize(size, Image.Resampling.LANCZOS)
    return Prepared(grey, ruled)


def recognise(image: Image.Image, settings: OcrSettings, *, deadline: float) -> OcrText:
    """The text of ``image``, turned upright if it needs to be.

    One tesseract pass when that pass reads well — the case of an upright
    page. Otherwise orientation detection and a pass on the turned image;
    and when even the best reading holds only a few words, the
    :data:`FALLBACKS`.
    Raises :class:`AttachmentUnreadable` when ``deadline`` (a
    ``time.monotonic()`` instant) passes or tesseract fails on the first pass;
    a later pass failing only leaves the best reading so far.
    """
    prepared = prepare(image)
    grey, first_config = prepared.image, prepared.first_config
    with tempfile.TemporaryDirectory(prefix="pecbot-ocr-") as name:
        folder = Path(name)
        best = _pass(grey, 0, folder, settings, deadline, first_config)
        passes = 1
        try:
            if not best.good:
                passes += 1  # orientation detection
                for rotation in _other_orientations(grey, folder, deadline):
                    passes += 1
                    candidate = _pass(grey, rotation, folder, settings, deadline, first_config)
                    if candidate.confident_characters > best.confident_characters:
                        best = candidate
                    if best.good:
                        break
            if best.confident_words < FEW_WORDS:
                first = best
                for config in (c for c in FALLBACKS if c != first_config):
                    passes += 1
                    other = _pass(grey, first.rotation, folder, settings, deadline, config)
                    # the first reading keeps lines best: leave it only for a clear gain
                    if (other.confident_characters >= 1.3 * first.confident_characters + 5
                            and other.confident_characters > best.confident_characters):
                        best = other
        except AttachmentUnreadable:
            pass  # out of time for the extra passes: the first reading stands
        return replace(best, passes=passes)


def recognise_pages(jobs: Sequence[PageJob], settings: OcrSettings) -> list[PageOutcome]:
    """OCR every page in ``jobs`` in parallel; outcomes come back in ``jobs`` order.

    Each attachment's clock starts when its first page starts; a page that
    would start after its attachment's budget, or runs past it, gets the
    failure :data:`TIMEOUT`. Never raises.
    """
    deadlines: dict[int, float] = {}
    lock = threading.Lock()

    def run(job: PageJob) -> PageOutcome:
        with lock:
            deadline = deadlines.setdefault(
                job.attachment, time.monotonic() + settings.seconds_per_attachment
            )
        if time.monotonic() >= deadline:
            return PageOutcome(job, None, TIMEOUT)
        try:
            return PageOutcome(job, recognise(job.load(), settings, deadline=deadline))
        except AttachmentUnreadable as exc:
            return PageOutcome(job, None, str(exc))
        except Exception:  # a decoder or renderer choking on hostile bytes
            return PageOutcome(job, None, FAILED)
        finally:
            release_memory()

    workers = min(len(jobs), settings.workers or os.cpu_count() or 1)
    if workers <= 1:
        return [run(job) for job in jobs]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ocr") as pool:
        return list(pool.map(run, jobs))


def release_memory() -> None:
    """Hand freed heap memory back to the operating system (glibc only; else a no-op).

    A rendered or decoded page is tens of MB; glibc keeps such freed blocks
    in each thread's arena, so without this the process would keep the
    largest pages of every worker thread resident for good.
    """
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def _pass(
    grey: Image.Image, rotation: int, folder: Path, settings: OcrSettings, deadline: float,
    config: str,
) -> OcrText:
    turned = grey.rotate(rotation, expand=True) if rotation else grey
    # PNM: written instantly, read natively by leptonica (PNG compression costs ~0.3 s/page)
    source = folder / f"page-{rotation}.pnm"
    turned.save(source)
    base = folder / f"out-{rotation}-{abs(hash(config))}"
    _tesseract(source, base, f"{config} -c tessedit_create_tsv=1", "txt", settings, deadline)
    text = base.with_suffix(".txt").read_text(encoding="utf-8", errors="replace")
    mean, confident, words, characters = _confidence(
        base.with_suffix(".tsv").read_text(encoding="utf-8", errors="replace")
    )
    return OcrText(text.strip(), mean, confident, words, characters, rotation)


def _other_orientations(grey: Image.Image, folder: Path, deadline: float) -> list[int]:
    """Rotations worth a second pass: the one tesseract's OSD finds, else all three
    for images small enough (cards, crops) that brute force is cheap."""
    source = folder / "page-0.pnm"
    base = folder / "osd"
    try:
        _tesseract(source, base, "--psm 0", "osd", OcrSettings(languages="osd"), deadline)
        report = base.with_suffix(".osd").read_text(encoding="utf-8", errors="replace")
        detected = pytesseract.pytesseract.osd_to_dict(report)
        rotate = int(detected.get("rotate", 0))
        if rotate and float(detected.get("orientation_conf", 0)) >= 1.0:
            return [(360 - rotate) % 360]
    except AttachmentUnreadable as exc:
        if str(exc) == TIMEOUT:
            raise
        # OSD refuses pages with too few characters: fall through to brute force
    except (ValueError, OSError):
        pass
    if grey.width * grey.height <= SMALL_IMAGE_PIXELS:
        return [180, 90, 270]
    return []


def _tesseract(
    source: Path, base: Path, config: str, extension: str, settings: OcrSettings,
    deadline: float,
) -> None:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise AttachmentUnreadable(TIMEOUT)
    try:
        pytesseract.pytesseract.run_tesseract(
            str(source), str(base), extension, settings.languages, config, timeout=remaining
        )
    except pytesseract.TesseractError as exc:  # before RuntimeError: it is a subclass
        raise AttachmentUnreadable(FAILED) from exc
    except RuntimeError as exc:  # pytesseract's "Tesseract process timeout"
        raise AttachmentUnreadable(TIMEOUT) from exc
    except OSError as exc:
        raise AttachmentUnreadable(FAILED) from exc


def _confidence(tsv: str) -> tuple[float, int, int, int]:
    """From tesseract's TSV: the mean word confidence, the confident words, all words,
    and the letters and digits of the confident words."""
    confidences: list[float] = []
    confident = characters = 0
    for line in tsv.splitlines()[1:]:
        columns = line.split("\t")
        if len(columns) < 12 or columns[0] != "5" or not columns[11].strip():
            continue
        try:
            confidence = float(columns[10])
        except ValueError:
            continue
        if confidence < 0:
            continue
        confidences.append(confidence)
        alphanumeric = sum(ch.isalnum() for ch in columns[11])
        if confidence >= 60 and alphanumeric >= 2:
            confident += 1
            characters += alphanumeric
    mean = sum(confidences) / len(confidences) if confidences else 0.0
    return mean, confident, len(confidences), characters
