"""tesseract per page: one pass when upright, turned when not, parallel, within a time budget."""

from __future__ import annotations

import os
import random
import threading
import time

import pytesseract
import pytest
from PIL import Image

from bot import ocr
from bot.errors import AttachmentUnreadable
from bot.model import OcrSettings
from fixtures import degrade
from fixtures import p7m as samples

LINES = [
    "Ricevuta di bonifico SEPA",
    "Beneficiario: Aruba S.p.A.",
    "Importo: 12,08 EUR",
    "Causale: rinnovo casella associazione",
    "Data esecuzione: 14/07/2025",
]


@pytest.fixture(scope="module")
def page() -> Image.Image:
    return degrade.render_pdf(samples.text_pdf(LINES, size=16), dpi=150)[0].crop((0, 0, 1240, 700))


@pytest.fixture
def tesseract_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    real = pytesseract.pytesseract.run_tesseract

    def counting(*args: object, **kwargs: object) -> object:
        calls.append(str(args[0]))
        return real(*args, **kwargs)

    monkeypatch.setattr(pytesseract.pytesseract, "run_tesseract", counting)
    return calls


def later(seconds: float = 120) -> float:
    return time.monotonic() + seconds


def test_children_get_one_openmp_thread() -> None:
    # pytesseract hands os.environ to tesseract
    assert os.environ["OMP_THREAD_LIMIT"] == "1"


def test_prepare_makes_small_images_grey_and_larger() -> None:
    card = Image.new("RGB", (800, 500), (200, 180, 160))
    prepared = ocr.prepare(card).image
    assert prepared.mode == "L"
    assert max(prepared.size) >= ocr.MIN_LONG_SIDE
    assert prepared.width / prepared.height == pytest.approx(800 / 500, rel=0.01)
    a4 = Image.new("L", (2480, 3508), 255)
    assert ocr.prepare(a4).image.size == (2480, 3508)


@pytest.mark.ocr
def test_upright_scan_costs_one_pass(page: Image.Image, tesseract_calls: list[str]) -> None:
    scan = degrade.scan(page, random.Random(1))
    result = ocr.recognise(scan, OcrSettings(), deadline=later())
    assert len(tesseract_calls) == 1 and result.passes == 1
    assert "Beneficiario" in result.text and "12,08" in result.text
    assert result.good


@pytest.mark.ocr
@pytest.mark.parametrize("rotation", [90, 180])
def test_turned_photo_is_read_upright(page: Image.Image, rotation: int, tesseract_calls: list[str]) -> None:
    photo = degrade.photo(page, random.Random(rotation), rotation=rotation)
    result = ocr.recognise(photo, OcrSettings(), deadline=later())
    assert "Beneficiario" in result.text and "12,08" in result.text
    assert result.good and result.passes == len(tesseract_calls) >= 2


@pytest.mark.ocr
def test_tesseract_is_killed_at_the_deadline() -> None:
    dense = degrade.render_pdf(samples.dense_page_pdf(), dpi=300)[0]
    started = time.monotonic()
    with pytest.raises(AttachmentUnreadable, match="tempo massimo"):
        ocr.recognise(dense, OcrSettings(), deadline=later(0.5))
    assert time.monotonic() - started < 10


def test_pages_run_in_parallel_and_come_back_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    threads: set[str] = set()

    def fake(image: Image.Image, settings: OcrSettings, *, deadline: float) -> ocr.OcrText:
        threads.add(threading.current_thread().name)
        time.sleep(0.05)
        return ocr.OcrText(f"pagina {image.width}", 90.0, 10, 10)

    monkeypatch.setattr(ocr, "recognise", fake)
    jobs = [ocr.PageJob(0, n, lambda n=n: Image.new("L", (n, 10))) for n in range(1, 7)]
    outcomes = ocr.recognise_pages(jobs, OcrSettings(workers=3))
    assert [o.result.text for o in outcomes if o.result] == [f"pagina {n}" for n in range(1, 7)]
    assert len(threads) > 1


def test_an_attachment_shares_one_time_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    def slow(image: Image.Image, settings: OcrSettings, *, deadline: float) -> ocr.OcrText:
        time.sleep(0.3)
        return ocr.OcrText("testo", 90.0, 10, 10)

    monkeypatch.setattr(ocr, "recognise", slow)
    jobs = [ocr.PageJob(0, n, lambda: Image.new("L", (10, 10))) for n in (1, 2, 3)]
    jobs.append(ocr.PageJob(1, 1, lambda: Image.new("L", (10, 10))))
    outcomes = ocr.recognise_pages(jobs, OcrSettings(workers=1, seconds_per_attachment=0.5))
    assert [o.failure for o in outcomes] == [None, None, ocr.TIMEOUT, None]


def test_a_page_that_cannot_be_loaded_is_a_failure_not_a_crash() -> None:
    def refused() -> Image.Image:
        raise AttachmentUnreadable("l'immagine è troppo grande per essere letta")

    def broken() -> Image.Image:
        raise OSError("image file is truncated")

    outcomes = ocr.recognise_pages(
        [ocr.PageJob(0, 1, refused), ocr.PageJob(1, 1, broken)], OcrSettings(workers=2)
    )
    assert [o.failure for o in outcomes] == ["l'immagine è troppo grande per essere letta", ocr.FAILED]


@pytest.mark.ocr
def test_ruled_card_is_read_row_by_row(tesseract_calls: list[str]) -> None:
    # a licence back: short category codes in a ruled table, which automatic
    # segmentation reads as a picture and drops column by column
    import io

    from fixtures.documents.identity import identity_sample

    sample = identity_sample("licence", ("back",), "photo", seed=1)
    result = ocr.recognise(Image.open(io.BytesIO(sample.data)), OcrSettings(), deadline=later())
    codes = set(result.text.split())
    assert {"AM", "A2", "BE"} <= codes
    assert result.passes == len(tesseract_calls)
