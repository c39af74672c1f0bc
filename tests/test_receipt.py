"""bot.extract.receipt: the fields of generated receipts, as pdfplumber and tesseract read them."""

from __future__ import annotations

import io
import os
import random
import shutil
from decimal import Decimal
from pathlib import Path

import pdfplumber
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from bot.extract.receipt import read_receipt
from bot.model import ReceiptFields
from bot.rules import Rules, load_rules
from fixtures import degrade
from fixtures.documents import Sample
from fixtures.documents.receipts import (
    APP_LAYOUTS,
    CAUSALE_STYLES,
    LAYOUTS,
    causale_for,
    italian_iban,
    receipt,
)

ARUBA = "IT67D0538771336000042125809"
OTHER = italian_iban(random.Random("another payee"))


@pytest.fixture(scope="module")
def rules() -> Rules:
    return load_rules()


def pdf_text(sample: Sample) -> str:
    with pdfplumber.open(io.BytesIO(sample.data)) as pdf:
        return "\n".join(page.extract_text() or "" for page in pdf.pages)


def ocr_text(sample: Sample) -> str:
    """What tesseract reads (the way DOCUMENTS.md §5 advises: 300 dpi, ita+eng, one thread)."""
    import pytesseract

    os.environ["OMP_THREAD_LIMIT"] = "1"
    if sample.content_type == "application/pdf":
        images = degrade.render_pdf(sample.data, dpi=300)
    else:
        images = [Image.open(io.BytesIO(sample.data))]
    return "\n".join(pytesseract.image_to_string(i, lang="ita+eng", config="--psm 4") for i in images)


def fields_of(found: ReceiptFields) -> dict[str, str | None]:
    return {
        "iban": found.payee_iban,
        "amount": None if found.transferred_amount is None else f"{found.transferred_amount:.2f}",
        "causale": found.causale,
        "payer_iban": found.payer_iban,
        "beneficiary": found.beneficiary,
        "execution_date": None if found.execution_date is None else found.execution_date.isoformat(),
    }


# --- text PDFs: every layout, every field --------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_text_pdf_gives_every_field(layout: str, seed: int, rules: Rules) -> None:
    sample = receipt(layout, seed=seed)  # type: ignore[arg-type]
    found = read_receipt(pdf_text(sample), rules)
    assert fields_of(found) == {key: sample.truth[key] for key in fields_of(found)}
    assert found.status is None
    assert found.payee_iban_text is None


def test_generation_is_deterministic() -> None:
    for form in ("pdf", "screenshot"):
        first = receipt("fineco_app", seed=5, form=form)  # type: ignore[arg-type]
        assert first.data == receipt("fineco_app", seed=5, form=form).data  # type: ignore[arg-type]
        assert first.data != receipt("fineco_app", seed=6, form=form).data  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        receipt("intesa", seed=1, form="screenshot")


# --- the traps, on every layout ------------------------------------------------------------


@pytest.mark.parametrize("layout", LAYOUTS)
def test_wrong_payee_iban_is_read_as_printed(layout: str, rules: Rules) -> None:
    sample = receipt(layout, seed=3, payee_iban=OTHER)  # type: ignore[arg-type]
    found = read_receipt(pdf_text(sample), rules)
    assert found.payee_iban == OTHER
    assert found.payer_iban == sample.truth["payer_iban"]


@pytest.mark.parametrize("payer_first", [True, False])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_the_payers_iban_is_never_the_payees(layout: str, payer_first: bool, rules: Rules) -> None:
    sample = receipt(layout, seed=4, payer_first=payer_first)  # type: ignore[arg-type]
    found = read_receipt(pdf_text(sample), rules)
    assert found.payee_iban == ARUBA
    assert found.payer_iban == sample.truth["payer_iban"] != ARUBA


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize(
    ("amount", "fees"),
    [(Decimal("12.08"), Decimal("1.00")), (Decimal("12.08"), Decimal("2.50")), (Decimal("9.90"), Decimal("1.00")),
     (Decimal("12.80"), Decimal("0.00")), (Decimal("1234.56"), Decimal("0.75"))],
)
def test_transferred_amount_is_not_fees_or_total(layout: str, amount: Decimal, fees: Decimal, rules: Rules) -> None:
    sample = receipt(layout, seed=5, amount=amount, fees=fees)  # type: ignore[arg-type]
    found = read_receipt(pdf_text(sample), rules)
    assert found.transferred_amount == amount


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("style", CAUSALE_STYLES)
def test_causale_as_written(layout: str, style: str, rules: Rules) -> None:
    causale = causale_for("amicidelparco@pec.it", style)  # type: ignore[arg-type]
    sample = receipt(layout, seed=6, causale=causale)  # type: ignore[arg-type]
    assert read_receipt(pdf_text(sample), rules).causale == causale


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("status", ["In attesa di autorizzazione", "Annullato", "Da autorizzare"])
def test_a_transfer_not_executed_says_so(layout: str, status: str, rules: Rules) -> None:
    sample = receipt(layout, seed=7, status=status)  # type: ignore[arg-type]
    found = read_receipt(pdf_text(sample), rules)
    assert found.status is not None
    assert found.status.lower() in status.lower() or status.lower() in found.status.lower()
    assert found.payee_iban == ARUBA


@pytest.mark.parametrize("layout", LAYOUTS)
def test_masked_iban_is_kept_as_text_only(layout: str, rules: Rules) -> None:
    sample = receipt(layout, seed=8, payee_iban_shown="masked")  # type: ignore[arg-type]
    found = read_receipt(pdf_text(sample), rules)
    assert found.payee_iban is None
    assert found.payee_iban_text is not None and "****" in found.payee_iban_text
    assert found.transferred_amount == Decimal("12.08")


@pytest.mark.parametrize("layout", LAYOUTS)
def test_absent_payee_iban_is_not_replaced_by_the_payers(layout: str, rules: Rules) -> None:
    sample = receipt(layout, seed=9, payee_iban_shown="absent")  # type: ignore[arg-type]
    found = read_receipt(pdf_text(sample), rules)
    assert found.payee_iban is None
    assert found.payer_iban == sample.truth["payer_iban"]


# --- structures the generated layouts do not cover -----------------------------------------


def test_ocr_column_blocks_labels_then_values(rules: Rules) -> None:
    text = (
        "Ricevuta bonifico\nOrdinante:\nIBAN ordinante:\nBeneficiario:\nIBAN beneficiario:\n"
        "Importo:\nCommissioni:\nTotale addebitato:\nCausale:\n\nMario Rossi\n"
        "IT60X0542811101000000123456\nAruba S.p.A.\nIT67 D053 8771 3360 0004 2125 809\n"
        "12,08 EUR\n1,00 EUR\n13,08 EUR\namicidelparcopec.it\n"
    )
    found = read_receipt(text, rules)
    assert (found.payee_iban, found.payer_iban) == (ARUBA, "IT60X0542811101000000123456")
    assert (found.transferred_amount, found.causale, found.beneficiary) == (
        Decimal("12.08"), "amicidelparcopec.it", "Aruba S.p.A.")


def test_values_printed_above_their_labels(rules: Rules) -> None:
    text = (
        "Mario Rossi\nOrdinante\nIT60X0542811101000000123456\nConto di addebito\n"
        "ARUBA SPA\nBeneficiario\nIT67D0538771336000042125809\nIBAN beneficiario\n"
        "12,08 €\nImporto\n1,00 €\nCommissioni\n"
    )
    found = read_receipt(text, rules)
    assert (found.payee_iban, found.transferred_amount) == (ARUBA, Decimal("12.08"))
    assert found.payer_iban == "IT60X0542811101000000123456"


def test_ocr_garbled_payee_iban_matches_the_expected_one(rules: Rules) -> None:
    text = "Beneficiario: Aruba S.p.A.\nIBAN beneficiario: 1T67 DO53 8771 336O OOO4 2I25 8O9\nImporto: 12,O8 €\n"
    found = read_receipt(text, rules)
    assert found.payee_iban == ARUBA
    assert found.payee_iban_text is None


def test_ocr_garbled_other_iban_is_repaired_only_by_position(rules: Rules) -> None:
    garbled = OTHER[:6] + OTHER[6:].replace("0", "O", 2)
    found = read_receipt(f"Beneficiario: Mario Bianchi\nIBAN: {garbled}\nImporto: 12,08 €\n", rules)
    assert found.payee_iban == OTHER


def test_unreadable_iban_stays_text(rules: Rules) -> None:
    found = read_receipt("Beneficiario: Aruba S.p.A.\nIBAN: IT67 D053 8?71 3#60 0004\nImporto 12,08\n", rules)
    assert found.payee_iban is None
    assert found.payee_iban_text is not None and found.payee_iban_text.startswith("IT67 D053")


def test_an_iban_cut_in_two_by_ocr_is_joined(rules: Rules) -> None:
    text = (
        "Beneficiario: ARUBA SPA\n538771 3360000421 25809\n\nIBAN beneficiario: IT67DO\n"
        "Importo (EUR): 12,08\n"
    )
    assert read_receipt(text, rules).payee_iban == ARUBA


def test_two_ibans_on_one_line_under_one_party_label(rules: Rules) -> None:
    """A tilted photo split the header row "Ordinante Beneficiario" over two lines."""
    payer = "IT60X0542811101000000123456"
    text = f"Beneficiario\nOrdinante\nMario Rossi ARUBA SPA\n{payer} IT67 D053 8771 3360 0004 2125 809\nImporto 12,08 €\n"
    found = read_receipt(text, rules)
    assert (found.payee_iban, found.payer_iban) == (ARUBA, payer)


def test_lost_payee_heading_in_a_table(rules: Rules) -> None:
    """OCR dropped the white-on-dark "BENEFICIARIO" bar: the second party's IBAN is the payee's."""
    payer = "IT60X0542811101000000123456"
    text = f"ORDINANTE\nNome Mario Rossi\nIBAN {payer}\nNome Aruba S.p.A.\nIBAN IT67 D053 8771 3360 0004 2125 809\n"
    found = read_receipt(text, rules)
    assert (found.payee_iban, found.payer_iban) == (ARUBA, payer)


@pytest.mark.parametrize("payee", [ARUBA, OTHER])
def test_labels_printed_out_of_order(payee: str, rules: Rules) -> None:
    """OCR put the payee's "IBAN" label before the "BENEFICIARIO" bar: both IBANs look like the payer's."""
    payer = "IT60X0542811101000000123456"
    text = f"ORDINANTE\n| Chiara Gallo\n| {payer}\nNome\n| IBAN\nBENEFICIARIO\n| Aruba S.p.A.\n| {payee}\n"
    found = read_receipt(text, rules)
    assert (found.payee_iban, found.payer_iban) == (payee, payer)


def test_header_row_whose_values_ocr_broke_over_lines(rules: Rules) -> None:
    text = "Importo Commissioni Totale addebitato\n13,08 € 1,00 €\n\n12,08 €\nCausale\nrinnovo\n"
    text_in_order = "Importo Commissioni Totale addebitato\n12,08 € 1,00 €\n\n13,08 €\nCausale\nrinnovo\n"
    assert read_receipt(text_in_order, rules).transferred_amount == Decimal("12.08")
    assert read_receipt(text, rules).transferred_amount == Decimal("13.08")  # as printed: first column


def test_table_rulings_read_as_text_are_ignored(rules: Rules) -> None:
    text = "BENEFICIARIO\n=\n—-\nNome\n| ARUBA S.P.A.\nIBAN\n_-\n| IT67 D053 8771 3360 0004 2125 809 ;\n"
    found = read_receipt(text, rules)
    assert (found.payee_iban, found.beneficiary) == (ARUBA, "ARUBA S.P.A.")


def test_label_words_inside_a_causale_are_not_labels(rules: Rules) -> None:
    text = (
        "Beneficiario: Aruba S.p.A.\nIBAN: IT67D0538771336000042125809\n"
        "Causale: pagamento importo rinnovo a favore di amicidelparcopec.it\nImporto: 12,08 €\n"
    )
    found = read_receipt(text, rules)
    assert found.causale == "pagamento importo rinnovo a favore di amicidelparcopec.it"
    assert found.beneficiary == "Aruba S.p.A."


def test_small_print_about_revoking_is_no_status(rules: Rules) -> None:
    text = (
        "Bonifico eseguito\nBeneficiario: Aruba S.p.A.\nImporto: 12,08 €\n"
        "L'ordine non può essere revocato dopo la data di esecuzione.\nPuò essere revocato\n"
        "revocato dopo la data di esecuzione indicata\nLe disposizioni in attesa saranno annullate entro 30 giorni\n"
    )
    assert read_receipt(text, rules).status is None


@pytest.mark.parametrize(
    ("banner", "status"),
    [("Il bonifico è in attesa di autorizzazione.", "in attesa di autorizzazione"),
     ("Ordine in attesa di autorizzazione da parte del secondo firmatario", "in attesa di autorizzazione"),
     ("Stato: RIFIUTATO", "RIFIUTATO"), ("Disposizione revocata", "revocata")],
)
def test_status_banners(banner: str, status: str, rules: Rules) -> None:
    found = read_receipt(f"Bonifico SEPA\n{banner}\nBeneficiario: Aruba S.p.A.\nImporto: 12,08 €\n", rules)
    assert found.status is not None and found.status.startswith(status)


def test_no_payee_label_at_all(rules: Rules) -> None:
    text = "Bonifico SEPA\nIT67 D053 8771 3360 0004 2125 809\n-12,08 €\nSaldo 1.234,56 €\n"
    found = read_receipt(text, rules)
    assert (found.payee_iban, found.transferred_amount) == (ARUBA, Decimal("12.08"))


def test_labels_come_from_the_rules(tmp_path: Path) -> None:
    folder = tmp_path / "rules"
    shutil.copytree(load_rules().folder, folder)
    receipt_toml = folder / "receipt.toml"
    receipt_toml.write_text(
        receipt_toml.read_text(encoding="utf-8").replace('"causale", "causale bonifico"', '"zz causale"'),
        encoding="utf-8",
    )
    custom = load_rules(folder)
    text = "Causale: rinnovo\nZZ causale: amicidelparcopec.it\n"
    assert read_receipt(text, custom).causale == "amicidelparcopec.it"


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("Importo: 12,08€ IBAN IT67D0538 Causale\nBeneficiario|*O")), max_size=200))
def test_never_raises(text: str) -> None:
    read_receipt(text, load_rules())


# --- OCR: a representative handful ---------------------------------------------------------

OCR_CASES = [
    ("intesa", "scan"), ("unicredit", "photo"), ("poste", "scan"), ("bper", "photo"),
    ("bcc", "scan"), ("fineco_app", "screenshot"), ("grid", "scan"), ("hype_app", "screenshot"),
]


@pytest.mark.ocr
@pytest.mark.parametrize(("layout", "form"), OCR_CASES)
def test_ocr_reads_iban_and_amount(layout: str, form: str, rules: Rules) -> None:
    sample = receipt(layout, seed=21, form=form)  # type: ignore[arg-type]
    assert sample.ocr
    found = read_receipt(ocr_text(sample), rules)
    assert found.payee_iban == ARUBA
    assert found.transferred_amount == Decimal(sample.truth["amount"])


@pytest.mark.ocr
def test_ocr_wrong_iban_and_fees_on_a_photo(rules: Rules) -> None:
    sample = receipt("intesa", seed=22, form="photo", payee_iban=OTHER, fees=Decimal("1.00"))
    found = read_receipt(ocr_text(sample), rules)
    assert found.payee_iban == OTHER
    assert found.transferred_amount == Decimal("12.08")


@pytest.mark.ocr
def test_ocr_screenshot_waiting_for_authorisation(rules: Rules) -> None:
    sample = receipt(APP_LAYOUTS[0], seed=23, form="screenshot", status="In attesa di autorizzazione",
                     amount=Decimal("9.90"))
    found = read_receipt(ocr_text(sample), rules)
    assert found.status is not None and "attesa" in found.status.lower()
    assert found.transferred_amount == Decimal("9.90")
