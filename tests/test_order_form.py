"""bot.extract.order_form: mailbox, Aruba login, tax code and name from an order form's text."""

from __future__ import annotations

import io
import os

import pdfplumber
import pytest
from PIL import Image
from stdnum.it import codicefiscale

from bot.extract.order_form import read_order_form
from bot.model import OrderFormFields
from bot.rules import Rules, load_rules
from fixtures import degrade
from fixtures.documents import Sample
from fixtures.documents.order_forms import (
    ARUBA_DOMAINS,
    LAYOUTS,
    OTHER_PEC_DOMAINS,
    TRAPS,
    association_tax_code,
    order_form,
    trap_sample,
)


@pytest.fixture(scope="module")
def rules() -> Rules:
    return load_rules()


def pdf_text(sample: Sample) -> str:
    with pdfplumber.open(io.BytesIO(sample.data)) as pdf:
        return "\n".join(page.extract_text() or "" for page in pdf.pages)


def ocr_text(sample: Sample) -> str:
    """tesseract as the pipeline runs it: ita+eng, one thread, PDFs rendered at 300 dpi."""
    import pytesseract

    os.environ["OMP_THREAD_LIMIT"] = "1"
    if sample.content_type == "application/pdf":
        images = degrade.render_pdf(sample.data, dpi=300)
    else:
        images = [Image.open(io.BytesIO(sample.data))]
    return "\n".join(pytesseract.image_to_string(image, lang="ita+eng") for image in images)


def _same_name(read: str | None, truth: str) -> bool:
    def key(text: str) -> str:
        return "".join(ch for ch in text.lower() if ch.isalnum())

    return read is not None and key(read) == key(truth)


@pytest.fixture(scope="module")
def text_forms(rules: Rules) -> list[tuple[Sample, OrderFormFields]]:
    samples = [order_form(layout, seed=seed) for layout in LAYOUTS for seed in range(len(ARUBA_DOMAINS))]
    return [(s, read_order_form(pdf_text(s), rules)) for s in samples]


def test_every_layout_as_text_pdf_gives_exact_fields(text_forms: list[tuple[Sample, OrderFormFields]]) -> None:
    for sample, fields in text_forms:
        where = sample.filename
        assert fields.mailbox == sample.truth["mailbox"], where
        assert fields.aruba_login == sample.truth["aruba_login"], where
        assert fields.tax_code == sample.truth["tax_code"], where
        assert fields.tax_code_valid is True, where
        assert _same_name(fields.ets_name, sample.truth["ets_name"]), (where, fields.ets_name)
        assert fields.legal_representative, where
        assert fields.reference_email and fields.reference_email != fields.mailbox, where


def test_mailboxes_on_every_aruba_domain_are_read(text_forms: list[tuple[Sample, OrderFormFields]]) -> None:
    domains = {f.mailbox.partition("@")[2] for _, f in text_forms if f.mailbox}
    assert domains == set(ARUBA_DOMAINS)


def test_the_csv_address_in_the_header_is_never_the_mailbox(
    text_forms: list[tuple[Sample, OrderFormFields]],
) -> None:
    for sample, fields in text_forms:
        assert "csvassovoce@pec.it" not in (fields.mailbox, fields.reference_email), sample.filename


@pytest.mark.parametrize("layout", LAYOUTS)
def test_traps(rules: Rules, layout: str) -> None:
    for seed, trap in enumerate(TRAPS):
        sample = trap_sample(trap, layout, seed=seed)  # type: ignore[arg-type]
        fields = read_order_form(pdf_text(sample), rules)
        where = (layout, trap)
        assert fields.mailbox == sample.truth["mailbox"], where
        assert fields.aruba_login == sample.truth["aruba_login"], where
        assert fields.tax_code == sample.truth["tax_code"], where
        if trap == "no_login":
            assert fields.aruba_login is None
        if trap == "not_aruba":
            assert fields.mailbox.partition("@")[2] in OTHER_PEC_DOMAINS  # type: ignore[union-attr]
        if trap == "bad_tax_code":
            assert fields.tax_code_valid is False
        if trap == "gmail_reference":
            assert fields.reference_email and fields.reference_email.endswith("@gmail.com")
            assert not fields.mailbox.endswith("@gmail.com")  # type: ignore[union-attr]


def test_fixture_tax_codes_are_valid_or_deliberately_not() -> None:
    import random

    rng = random.Random(5)
    assert all(codicefiscale.is_valid(association_tax_code(rng)) for _ in range(50))
    assert not any(codicefiscale.is_valid(association_tax_code(rng, valid=False)) for _ in range(50))


# --- OCR noise, written as tesseract returns it --------------------------------------

def test_ocr_at_signs_spaces_and_digit_confusions(rules: Rules) -> None:
    text = """MODULO D'ORDINE PEC
Denominazione / Ragione sociale | Amici del Parco ODV |
Codice fiscale | 93O12340614
Casella PEC da rinnovare | amicidelparco©pec. it
Login Aruba | 12345O7 @aruba.it
Email di riferimento | mario.rossi(at)gmail.com
"""
    fields = read_order_form(text, rules)
    assert fields.mailbox == "amicidelparco@pec.it"
    assert fields.aruba_login == "1234507@aruba.it"
    assert fields.tax_code == "93012340614" and fields.tax_code_valid is False
    assert fields.reference_email == "mario.rossi@gmail.com"
    assert fields.ets_name == "Amici del Parco ODV"


def test_address_cut_by_ocr_inside_a_labelled_field(rules: Rules) -> None:
    fields = read_order_form("Casella PEC: amici del parco@arubapec.it\nLogin: 1234 567@aruba.it", rules)
    assert fields.mailbox == "amicidelparco@arubapec.it"
    assert fields.aruba_login == "1234567@aruba.it"


def test_aruba_domain_one_ocr_slip_away_is_that_domain(rules: Rules) -> None:
    assert read_order_form("Casella PEC: amici@arubapcc.it", rules).mailbox == "amici@arubapec.it"
    # a real other provider stays what it is: that is mailbox_not_aruba's business
    assert read_order_form("Casella PEC: amici@legalmail.it", rules).mailbox == "amici@legalmail.it"


def test_misread_csv_address_is_still_the_csvs(rules: Rules) -> None:
    text = "Spett.le CSV\nesvassovoce@pec.it\nIl sottoscritto Mario Rossi chiede il rinnovo"
    assert read_order_form(text, rules).mailbox is None


def test_digits_in_boxes_and_labels_above_values(rules: Rules) -> None:
    text = """Denominazione Codice fiscale
Circolo La Fenice APS 9 3 0 1 2 3 4 0 6 1 4
Casella PEC da rinnovare Email di riferimento
lafenice@gigapec.it fenice.aps@gmail.com
"""
    fields = read_order_form(text, rules)
    assert fields.tax_code == "93012340614"
    assert fields.mailbox == "lafenice@gigapec.it"
    assert fields.reference_email == "fenice.aps@gmail.com"
    assert fields.ets_name == "Circolo La Fenice APS"


def test_representatives_code_is_not_the_associations(rules: Rules) -> None:
    text = """Legale rappresentante
Cognome: Rossi
Nome: Mario
Codice fiscale: RSSMRA70B01H501R
Casella PEC: amici@pec.it"""
    fields = read_order_form(text, rules)
    assert fields.tax_code is None
    assert fields.legal_representative == "Mario Rossi"


def test_a_sixteen_character_code_given_as_the_associations(rules: Rules) -> None:
    fields = read_order_form("Codice fiscale dell'associazione: RSSMRA70B01H501R", rules)
    assert fields.tax_code == "RSSMRA70B01H501R" and fields.tax_code_valid is True


def test_declaration_with_wrapped_name(rules: Rules) -> None:
    text = """Il sottoscritto Mario Rossi, nato a Caserta il 01/02/1970, in qualità di legale rappresentante
dell'associazione Croce Verde San Leucio
ODV, con sede in Caserta, codice fiscale 93012340614, chiede il rinnovo della casella
croceverde@pec.it associata alla login Aruba 7654321@aruba.it."""
    fields = read_order_form(text, rules)
    assert fields.ets_name == "Croce Verde San Leucio ODV"
    assert fields.legal_representative == "Mario Rossi"
    assert fields.mailbox == "croceverde@pec.it"
    assert fields.aruba_login == "7654321@aruba.it"
    assert fields.tax_code == "93012340614"


def test_nothing_stated_means_none_never_a_guess(rules: Rules) -> None:
    assert read_order_form("", rules) == OrderFormFields()
    fields = read_order_form(
        "Modulo ordine PEC\nContatti: mario.rossi@gmail.com\nTelefono 08231234567\n93012340614\n"
        "Login Aruba: mario@aruba.it\nDenominazione: ____________", rules)
    assert fields.mailbox is None  # an ordinary address is not a PEC mailbox
    assert fields.tax_code is None  # an unlabelled number is not a tax code
    assert fields.aruba_login is None  # a login must be digits@aruba.it
    assert fields.ets_name is None


def test_unlabelled_pec_address_is_the_mailbox_when_no_label_names_one(rules: Rules) -> None:
    fields = read_order_form("Richiesta rinnovo\namici@pec.it\nmario@gmail.com", rules)
    assert fields.mailbox == "amici@pec.it"


# --- real OCR of scans and photos ----------------------------------------------------

OCR_SAMPLES = [
    ("declaration", "scan", 3),
    ("declaration", "photo", 4),
    ("on_screen", "scan", 2),
    ("boxed", "scan", 4),
    ("boxed", "photo", 4),
]


@pytest.mark.ocr
@pytest.mark.parametrize(("layout", "form", "seed"), OCR_SAMPLES)
def test_scans_and_photos_give_mailbox_and_login(rules: Rules, layout: str, form: str, seed: int) -> None:
    sample = order_form(layout, seed=seed, form=form)  # type: ignore[arg-type]
    fields = read_order_form(ocr_text(sample), rules)
    assert fields.mailbox == sample.truth["mailbox"]
    assert fields.aruba_login == sample.truth["aruba_login"]
    # whatever else OCR lost, nothing read may be wrong
    assert fields.tax_code in (None, sample.truth["tax_code"])
