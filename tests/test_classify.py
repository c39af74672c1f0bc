"""bot.classify: what kind of document a text is, page by page, by content only."""

from __future__ import annotations

import io
import os
from dataclasses import replace
from pathlib import Path

import pdfplumber
import pytest
from PIL import Image

from bot.classify import classify_document, classify_documents, classify_text
from bot.model import AnalysisContext, Document, Page, Submission
from bot.rules import Rules, load_rules
from fixtures import degrade
from fixtures.documents import Sample
from fixtures.documents.order_forms import LAYOUTS as FORM_LAYOUTS
from fixtures.documents.order_forms import order_form
from fixtures.documents.receipts import LAYOUTS as RECEIPT_LAYOUTS
from fixtures.documents.receipts import receipt

SEEDS = Path("/work/shared/seeds")


@pytest.fixture(scope="module")
def rules() -> Rules:
    return load_rules()


def pdf_pages(sample: Sample) -> list[str]:
    with pdfplumber.open(io.BytesIO(sample.data)) as pdf:
        return [page.extract_text() or "" for page in pdf.pages]


def ocr_pages(sample: Sample) -> list[str]:
    """OCR as the pipeline does it: ita+eng, one thread, small images enlarged."""
    import pytesseract

    os.environ["OMP_THREAD_LIMIT"] = "1"
    if sample.content_type == "application/pdf":
        images = degrade.render_pdf(sample.data, dpi=300)
    else:
        images = [Image.open(io.BytesIO(sample.data))]
    texts = []
    for image in images:
        if max(image.size) < 1800:
            factor = 1800 / max(image.size)
            image = image.resize((round(image.width * factor), round(image.height * factor)))
        texts.append(pytesseract.image_to_string(image, lang="ita+eng"))
    return texts


# --- realistic texts, written as OCR and text layers return them -------------------

CIE_FRONT = """REPUBBLICA ITALIANA
MINISTERO DELL'INTERNO
CARTA DI IDENTITA / IDENTITY CARD CA12345AB
COMUNE DI / MUNICIPALITY CASERTA
COGNOME / SURNAME
ESPOSITO
NOME / NAME
GIULIA
LUOGO E DATA DI NASCITA / PLACE AND DATE OF BIRTH
NAPOLI (NA) 12.03.1975
SESSO / SEX F  STATURA / HEIGHT 165  CITTADINANZA / NATIONALITY ITA
EMISSIONE / ISSUING 02.05.2019  SCADENZA / EXPIRY 12.03.2030
"""
CIE_BACK_NOISY = """CODICE FISCALE / FISCAL CODE
SPSGLI75C52F839X
INDIRIZZO DI RESIDENZA / RESIDENCE
VIA ROMA 12 CASERTA (CE)
C<ITACA12345AB8<<<<<<<<<<<<<<<
7503124F3003122ITA<<<<<<<<<<<2
ESPOSITO<<GIULIA<<<<<<<<<<<<<<
"""
# A photo of an old paper ID: little survives OCR.
PAPER_ID_SPARSE = """C0MUNE DI MADDAL0NI
CARTA D' IDENTITA' N. AX 1234567
Cognome ROSSI Nome MARIO
nato il 01/02/1960 a CASERTA
Statura 1,75 Capelli castani Occhi marroni
"""
PASSPORT = """REPUBBLICA ITALIANA PASSAPORTO PASSPORT
P<ITAROSSI<<MARIO<<<<<<<<<<<<<<<<<<<<<<<<<<<
YA12345678ITA6002013M3005017<<<<<<<<<<<<<<04
"""
LICENCE = """PATENTE DI GUIDA
1. ROSSI 2. MARIO 3. 01/02/60 CASERTA (CE)
4a. 10/01/2020 4b. 01/02/2031 4c. MIT-UCO 5. U1A2B3C4D5 9. B
"""
APP_SCREENSHOT = """14:32
Dettaglio operazione
Bonifico SEPA
ARUBA SPA
-12,08 €
IBAN IT67D0538771336000042125809
Causale amicidelparcopec.it
Eseguito
"""
RECEIPT_WITH_PEC_CAUSALE = """Ricevuta bonifico
Ordinante: Associazione Amici del Parco ODV
Beneficiario: ARUBA S.P.A.
IBAN beneficiario: IT67D0538771336000042125809
Importo: 12,08 EUR
Causale: rinnovo casella PEC amicidelparco@pec.it modulo ordine
Data esecuzione: 14/03/2026  CRO 12345678901
"""
ORDER_FORM_WITH_PAYMENT_NOTES = """MODULO D'ORDINE PEC
Denominazione: Amici del Parco ODV   Codice fiscale: 93012340614
Legale rappresentante: Mario Rossi
Casella PEC da rinnovare: amicidelparco@pec.it
Login Aruba: 1234567@aruba.it
Il pagamento va effettuato tramite bonifico a favore di Aruba S.p.A.,
IBAN IT67D0538771336000042125809, indicando nella causale l'indirizzo PEC.
Data e firma
"""
ORDER_FORM_TERMS = """CONDIZIONI DEL SERVIZIO
1. Il servizio è erogato dal gestore alle condizioni generali pubblicate sul suo sito.
2. Il titolare è responsabile della custodia delle credenziali di accesso.
"""
STATUTO = """STATUTO DELL'ASSOCIAZIONE AMICI DEL PARCO ODV
Art. 1 - Denominazione e sede
È costituita l'associazione denominata Amici del Parco ODV, con sede legale in Caserta.
Art. 2 - Codice fiscale e legale rappresentante
Il presidente è il legale rappresentante dell'associazione. L'assemblea dei soci elegge
il consiglio direttivo. La casella PEC dell'associazione è amicidelparco@pec.it.
"""
INVOICE = """Aruba S.p.A. - Fattura n. 2026/123456 del 14/03/2026
Cliente: Associazione Amici del Parco ODV - Codice fiscale 93012340614
Descrizione: rinnovo casella PEC amicidelparco@pec.it - 1 anno
Imponibile 9,90  Aliquota IVA 22%  IVA 2,18  Totale 12,08 EUR
Modalità di pagamento: bonifico bancario - IBAN IT67D0538771336000042125809
"""
COVER_LETTER = """Gentili operatori del CSV,
in allegato il modulo d'ordine PEC compilato, la copia del documento di identità del
legale rappresentante e la ricevuta del bonifico effettuato ad Aruba per il rinnovo
della casella amicidelparco@pec.it.
In attesa di un vostro riscontro, porgo cordiali saluti.
Mario Rossi
"""


def test_order_forms_of_every_layout_are_order_forms(rules: Rules) -> None:
    for layout in FORM_LAYOUTS:
        sample = order_form(layout, seed=11)
        first = pdf_pages(sample)[0]
        kind, scores = classify_text(first, rules)
        assert kind == "order_form", (layout, scores)


def test_receipts_of_every_bank_layout_are_receipts(rules: Rules) -> None:
    for layout in RECEIPT_LAYOUTS:
        kind, scores = classify_text("\n".join(pdf_pages(receipt(layout, seed=3))), rules)
        assert kind == "payment_receipt", (layout, scores)


@pytest.mark.parametrize("text", [CIE_FRONT, CIE_BACK_NOISY, PAPER_ID_SPARSE, PASSPORT, LICENCE])
def test_identity_texts_are_identity_documents(rules: Rules, text: str) -> None:
    assert classify_text(text, rules)[0] == "id_document"


def test_sparse_app_screenshot_is_a_receipt(rules: Rules) -> None:
    assert classify_text(APP_SCREENSHOT, rules)[0] == "payment_receipt"


def test_confusions_between_the_three_kinds(rules: Rules) -> None:
    # the back of a CIE shows a codice fiscale, a form shows payment notes,
    # a receipt's causale names the PEC and even the form
    assert classify_text(CIE_BACK_NOISY, rules)[0] == "id_document"
    assert classify_text(ORDER_FORM_WITH_PAYMENT_NOTES, rules)[0] == "order_form"
    assert classify_text(RECEIPT_WITH_PEC_CAUSALE, rules)[0] == "payment_receipt"


@pytest.mark.parametrize("text", [STATUTO, INVOICE, COVER_LETTER, ORDER_FORM_TERMS, "", "   \n"])
def test_unrelated_documents_are_other(rules: Rules, text: str) -> None:
    kind, scores = classify_text(text, rules)
    assert kind == "other", scores


def test_the_csv_notice_is_not_a_receipt_nor_an_id(rules: Rules) -> None:
    notice = next(SEEDS.glob("000_*.txt"), None)
    if notice is None:
        pytest.skip("shared seeds not available")
    assert classify_text(notice.read_text(encoding="utf-8"), rules)[0] in ("other", "order_form")
    _, scores = classify_text(notice.read_text(encoding="utf-8"), rules)
    assert scores["payment_receipt"] < rules.classify.min_score
    assert scores["id_document"] < rules.classify.min_score


def test_below_min_score_is_other(rules: Rules) -> None:
    strict = replace(rules, classify=replace(rules.classify, min_score=100.0))
    kind, scores = classify_text(ORDER_FORM_WITH_PAYMENT_NOTES, strict)
    assert kind == "other" and scores["order_form"] > 2


def _document(*texts: str, filename: str = "allegato.pdf") -> Document:
    return Document(filename=filename, content_type="application/pdf", data=b"",
                    pages=[Page(i + 1, text) for i, text in enumerate(texts)])


def test_pages_of_one_pdf_get_their_own_kinds(rules: Rules) -> None:
    doc = _document(ORDER_FORM_WITH_PAYMENT_NOTES, ORDER_FORM_TERMS, CIE_FRONT, CIE_BACK_NOISY,
                    RECEIPT_WITH_PEC_CAUSALE)
    classify_document(doc, rules)
    assert [p.kind for p in doc.pages] == [
        "order_form", "order_form", "id_document", "id_document", "payment_receipt"]
    assert doc.kind == "order_form"  # a tie on page count goes to the kind the file opens with
    assert doc.kinds == ["order_form", "id_document", "payment_receipt"]
    assert set(doc.kind_scores) == {"order_form", "id_document", "payment_receipt"}


def test_main_kind_is_the_one_covering_most_pages(rules: Rules) -> None:
    doc = _document(RECEIPT_WITH_PEC_CAUSALE, CIE_FRONT, CIE_BACK_NOISY)
    classify_document(doc, rules)
    assert doc.kind == "id_document"
    assert doc.pages[0].kind == "payment_receipt"


def test_a_leading_page_without_cues_takes_the_kind_after_it(rules: Rules) -> None:
    doc = _document("", "Pagina 1 di 2", ORDER_FORM_WITH_PAYMENT_NOTES)
    classify_document(doc, rules)
    assert [p.kind for p in doc.pages] == ["order_form"] * 3


def test_weak_pages_that_together_say_enough_take_the_whole_kind(rules: Rules) -> None:
    doc = _document("REPUBBLICA ITALIANA\nCOMUNE DI CASERTA", "SCADENZA / EXPIRY 12.03.2030")
    classify_document(doc, rules)
    assert doc.kind == "id_document" and [p.kind for p in doc.pages] == ["id_document"] * 2


def test_the_filename_does_not_matter(rules: Rules) -> None:
    doc = _document(CIE_FRONT, filename="ricevuta_bonifico_modulo_ordine.pdf")
    classify_document(doc, rules)
    assert doc.kind == "id_document"
    other = _document(STATUTO, filename="modulo_ordine_pec.pdf")
    classify_document(other, rules)
    assert other.kind == "other" and other.pages[0].kind == "other"


def test_stage_skips_unreadable_documents(rules: Rules) -> None:
    readable = _document(RECEIPT_WITH_PEC_CAUSALE)
    broken = _document(CIE_FRONT)
    broken.unreadable = "file danneggiato"
    sub = Submission(source="test", raw=b"", documents=[readable, broken])
    classify_documents(sub, AnalysisContext(rules=rules))
    assert readable.kind == "payment_receipt"
    assert broken.kind == "other" and broken.pages[0].kind == "other"


@pytest.mark.ocr
def test_ocr_of_scans_and_photos_classifies(rules: Rules) -> None:
    from fixtures.documents.identity import identity_sample

    samples = [
        order_form("declaration", seed=3, form="photo"),
        receipt("hype_app", seed=1, form="screenshot"),
        receipt("intesa", seed=2, form="photo"),
        identity_sample("cie", form="photo", seed=4),
    ]
    for sample in samples:
        doc = _document(*ocr_pages(sample), filename=sample.filename)
        classify_document(doc, rules)
        assert doc.kind == sample.kind, (sample.filename, doc.kind_scores)
