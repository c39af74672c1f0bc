"""bot.extract.identity: document type, sides and expiry of identity documents.

Fast tests run on hand-written OCR-like text (noise included); the ``ocr``
tests generate documents with fixtures.documents.identity, read them with
tesseract (a small helper below, not the product's OCR) and check the reader.
"""

from __future__ import annotations

import io
import os
from datetime import date
from functools import cache

import pytest
from PIL import Image

from bot.extract.identity import page_sides, read_identity
from bot.model import Page
from bot.rules import Rules, load_rules
from fixtures.degrade import render_pdf
from fixtures.documents import Sample
from fixtures.documents.identity import identity_sample


@pytest.fixture(scope="module")
def rules() -> Rules:
    return load_rules()


def pages(*texts: str) -> list[Page]:
    return [Page(number=i + 1, text=t, ocr=True, kind="id_document") for i, t in enumerate(texts)]


CIE_FRONT = """REPUBBLICA ITALIANA CARTA DI IDENTITA / IDENTITY CARD
MINISTERO DELL'INTERNO.
CT04503RF
COMUNE DI / MUNICIPALITY
TORINO
COGNOME / SURNAME
MANCINI
LUOGO E DATA DI NASCITA / PLACE AND DATE OF BIRTH
BARI (BA) 04.10.1961
SESSO / SEX STATURA / HEIGHT CITTADINANZA / NATIONALITY
M 187 ITA
EMISSIONE / ISSUING SCADENZA / EXPIRY
21.12.2018 1O.05.2028
FIRMA DEL TITOLARE / HOLDER'S SIGNATURE
I N I
"""

CIE_BACK = """ssetcueisosasez2—[IIIIMMINIi{ HMMA
INDIRIZZO DI RESIDENZA / RESIDENCE
VIA GARIBALDI 138 TORINO (TO)
ESTREMI ATTO DI NASCITA
N. 1753 P.I S. A 1961
C<ITACT0O04503RFl<<<<<<<<<<<ccc<
6110040M2805106ITA<<<<<<<<<<<8
MANCINI<<LUCA<<<<<<<<<<<<<<<<<
"""

PAPER_SPREAD = """REPUBBLICA ITALIANA CONNOTATI E CONTRASSEGNI SALIENTI
COMUNE DI VERONA Mila 1,59
CARTA D'IDENTITÀ N. AD 0190227 Capelli CASTANI
Cognome LOMBARDI Occhi CASTANI
Nome ANDREA
nato il 19/04/1960 (atto n. 597 P.1S. A)
Stato eivile CELIBE VERONA, li 10.09.2025
Valida fino al 05.12.2034
Professione COMMERCIANTE
IL SINDACO
"""

LICENCE_FRONT = """PATENTE DI GUIDA
REPUBBLICA ITALIANA
1. GRECO
2. PAOLO
3. 05/10/69 MILANO (MI)
4a. 25/02/20
4b. 28/07/29
4c. MIT-UCO
5. U1M280775E
9. AM/B1/B
"""

LICENCE_BACK = """10. 11.
AM 25/02/20 28/07/29
Al
Bl 25/02/20 28/07/29
B 25/02/20 28/07/29
"""

PASSPORT = """REPUBBLICA ITALIANA
PASSAPORTO / PASSPORT
Tipo / Type Codice / Code Passaporto N. / Passport No.
P ITA YR8896473
Cognome / Surname
RIZZO
Data di nascita / Date of birth Sesso / Sex
11 DIC/DEC 1973 F
Data di rilascio / Date of issue Autorità / Authority
08 APR/APR 2018 MINISTRO AFFARI ESTERI
Data di scadenza / Date of expiry
28 MAR/MAR 2028
P<ITARIZZO<<SILVIA<<<<<<<<<<<<<<<<<<<<<<<<<<
YR88964738ITA7312117F2803283<<<<<<<<<<<<<<02
"""


# --- page_sides on text -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "id_type", "sides"),
    [
        (CIE_FRONT, "cie", ["front"]),
        (CIE_BACK, "cie", ["back"]),
        (CIE_FRONT + "\n" + CIE_BACK, "cie", ["front", "back"]),
        (PAPER_SPREAD, "paper", ["front", "back"]),
        (LICENCE_FRONT, "licence", ["front"]),
        (LICENCE_BACK, "licence", ["back"]),
        (PASSPORT, "passport", ["passport"]),
    ],
)
def test_page_sides(rules: Rules, text: str, id_type: str, sides: list[str]) -> None:
    assert page_sides(text, rules) == (id_type, sides)


def test_paper_data_half_alone_is_a_front(rules: Rules) -> None:
    text = "REPUBBLICA ITALIANA\nCARTA D'IDENTITA N. AT 6335691\nCognome\nNome\nnato il\nStato civile\nProfessione\n"
    assert page_sides(text, rules) == ("paper", ["front"])


def test_cie_back_with_unreadable_zone_is_still_a_back(rules: Rules) -> None:
    text = "C0DICE FISCALE / FISCAL CODE\nMNCLCU61R04A662B\nINDIRIZZO DI RESIDENZA / RESIDENCE\nVIA ROMA 1\n>>>>>>>>>V9IMN1>>IN\n"
    assert page_sides(text, rules)[1] == ["back"]


def test_text_of_something_else_shows_no_side(rules: Rules) -> None:
    text = "Ricevuta bonifico\nBeneficiario ARUBA SPA\nImporto 12,08 EUR\nData esecuzione 14/03/2026\n"
    assert page_sides(text, rules) == ("unknown", [])
    assert page_sides("", rules) == ("unknown", [])


def test_upside_down_ocr_garbage_shows_no_side(rules: Rules) -> None:
    text = "AUIdXI / YZNIOVIS ONINSSI / ANOISSIWI\n6ZO7'CT'TT 0Z0Z'60'SO\nVII OLT W\n"
    assert page_sides(text, rules) == ("unknown", [])


# --- read_identity on text ----------------------------------------------------------


def test_front_and_back_on_two_pages_add_up(rules: Rules) -> None:
    found = read_identity(pages(CIE_FRONT, CIE_BACK), rules)
    assert found.id_type == "cie"
    assert found.sides == ["front", "back"]
    assert found.expiry == date(2028, 5, 10)
    assert found.number == "CT04503RF"


def test_cie_front_expiry_is_paired_by_column_not_the_issue_or_birth(rules: Rules) -> None:
    found = read_identity(pages(CIE_FRONT), rules)
    assert found.expiry == date(2028, 5, 10)
    assert found.mrz_valid is None


def test_expiry_without_labels_is_the_latest_date_paired_with_an_issue(rules: Rules) -> None:
    text = "CARTA DI IDENTITA / IDENTITY CARD\nBARI (BA) 04.10.1961\nM 187 ITA\n21.12.2018 10.05.2028\n"
    assert read_identity(pages(text), rules).expiry == date(2028, 5, 10)


def test_a_birth_date_alone_is_never_the_expiry(rules: Rules) -> None:
    text = "CARTA D'IDENTITA N. AT 6335691\nCognome\nMORETTI\n13/01/1962 (atto n. 479 P.I S. A)\n"
    assert read_identity(pages(text), rules).expiry is None
    labelled = "LUOGO E DATA DI NASCITA / PLACE AND DATE OF BIRTH\nBARI (BA) 04.10.1961\n"
    assert read_identity(pages(labelled), rules).expiry is None


def test_licence_two_digit_years_and_field_4b(rules: Rules) -> None:
    found = read_identity(pages(LICENCE_FRONT), rules)
    assert (found.id_type, found.expiry, found.number) == ("licence", date(2029, 7, 28), "U1M280775E")


def test_licence_front_with_field_numbers_lost_by_ocr(rules: Rules) -> None:
    text = "PATENTE DI\nGUIDA\n05/10/69 MILANO (MI)\n. 25/02/20\n. 28/07/29\n. MIT-UCO\n"
    found = read_identity(pages(text), rules)
    assert (found.sides, found.expiry) == (["front"], date(2029, 7, 28))


def test_licence_back_reads_the_expiry_column(rules: Rules) -> None:
    assert read_identity(pages(LICENCE_BACK), rules).expiry == date(2029, 7, 28)


def test_licence_back_with_columns_broken_apart_by_ocr(rules: Rules) -> None:
    text = "9: 10.\nAM 23/02/19\nBl 23/02/19\nB 23/02/19\niil, 12.\n02/10/28\n02/10/28\n02/10/28\n"
    found = read_identity(pages(text), rules)
    assert (found.sides, found.expiry) == (["back"], date(2028, 10, 2))


def test_licence_faces_side_by_side_merge_into_one_text(rules: Rules) -> None:
    text = (
        "sas 6 10. 115\ni PATENTE DI GUIDA 18/04/21 03/09/30\nREPUBBLICA ITALIANA\nFONTANA\n"
        "18/04/21 03/09/30\n08/12/1959 BARI (BA) 18/04/21 03/09/30\n. 18/04/2021\n. 03/09/2030\n"
        "U1K534996N\nAM/B1/B\n"
    )
    found = read_identity(pages(text), rules)
    assert (found.sides, found.expiry) == (["front", "back"], date(2030, 9, 3))


def test_paper_id_expiry_and_prorogation(rules: Rules) -> None:
    assert read_identity(pages(PAPER_SPREAD), rules).expiry == date(2034, 12, 5)
    stamped = PAPER_SPREAD + "VALIDITA PROROGATA FINO AL 05/12/2039\n"
    assert read_identity(pages(stamped), rules).expiry == date(2039, 12, 5)


def test_passport_expiry_number_and_zone(rules: Rules) -> None:
    found = read_identity(pages(PASSPORT), rules)
    assert (found.sides, found.expiry, found.mrz_valid) == (["passport"], date(2028, 3, 28), True)
    assert found.number == "YR8896473"


def test_cie_back_expiry_from_the_zone_even_when_inserted_characters_spoil_it(rules: Rules) -> None:
    # the number line has an inserted "O": the zone is not valid, but line 2's
    # expiry still carries its own check digit
    found = read_identity(pages(CIE_BACK), rules)
    assert found.mrz_valid is False
    assert found.expiry == date(2028, 5, 10)


def test_a_valid_zone_beats_a_misread_label(rules: Rules) -> None:
    misread = CIE_FRONT.replace("1O.05.2028", "10.05.2088")
    back = CIE_BACK.replace("C<ITACT0O04503RFl", "C<ITACT04503RF1")
    found = read_identity(pages(misread, back), rules)
    assert found.mrz_valid is True
    assert found.expiry == date(2028, 5, 10)


def test_no_pages_and_noise_never_raise(rules: Rules) -> None:
    assert read_identity([], rules).sides == []
    noise = read_identity(pages("<<<<<<<<\n\x00\ufffd 99.99.9999 31/02/2030"), rules)
    assert (noise.expiry, noise.sides) == (None, [])


# --- the generator ------------------------------------------------------------------


def test_generator_is_deterministic_and_states_the_truth() -> None:
    one = identity_sample("cie", ["front"], "photo", seed=7)
    assert one.data == identity_sample("cie", ["front"], "photo", seed=7).data
    assert one.truth["id_sides"] == ["front"] and one.ocr
    paper_front = identity_sample("paper", ["front"], "scan", seed=7)
    assert paper_front.truth["id_expiry"] is None  # the data half states no expiry
    two = identity_sample("licence", ["front", "back"], "pdf-two-pages", seed=7)
    assert len(render_pdf(two.data, dpi=30)) == 2


# --- OCR of generated documents -----------------------------------------------------

os.environ.setdefault("OMP_THREAD_LIMIT", "1")


def _ocr_image(image: Image.Image) -> str:
    """Tesseract (ita+eng) on one image, turned upright: OSD's hint first, then the
    other quarter turns; OSD misjudges sparse cards, so word confidence decides."""
    import pytesseract

    turns = [0, 180, 90, 270]
    try:
        osd = pytesseract.image_to_osd(image, output_type=pytesseract.Output.DICT)
        turns.remove(osd["rotate"])
        turns.insert(0, osd["rotate"])
    except (pytesseract.TesseractError, ValueError):
        pass
    best: tuple[float, str] = (-1.0, "")
    for turn in turns:
        upright = image.rotate(turn, expand=True) if turn else image
        for threshold in (0, 2):  # Otsu, then Sauvola for grey cards on white paper
            data = pytesseract.image_to_data(
                upright, lang="ita+eng", config=f"--psm 3 -c thresholding_method={threshold}",
                output_type=pytesseract.Output.DICT,
            )
            lines: dict[tuple[int, int, int], list[str]] = {}
            confidences = []
            for i, word in enumerate(data["text"]):
                if word.strip():
                    key = (data["block_num"][i], data["par_num"][i], data["line_num"][i])
                    lines.setdefault(key, []).append(word)
                    confidences.append(float(data["conf"][i]))
            mean = sum(confidences) / len(confidences) if confidences else 0.0
            score = mean * min(len(confidences), 20)  # a few confident words are not a page
            if score > best[0]:
                best = (score, "\n".join(" ".join(words) for words in lines.values()))
            if mean >= 75 and len(confidences) >= 10:
                return best[1]  # upright text reads at 85-95, upside-down noise near 50
            if len(confidences) >= 10:
                break  # enough words: the threshold is fine, the turn is wrong
    return best[1]


def ocr_pages(sample: Sample) -> list[Page]:
    if sample.data[:4] == b"%PDF":
        images = render_pdf(sample.data, dpi=300)
    else:
        images = [Image.open(io.BytesIO(sample.data)).convert("RGB")]
    return pages(*(_ocr_image(image) for image in images))


@cache
def _read(id_type: str, sides: tuple[str, ...], form: str, seed: int, rotation: int = 0,
          expiry: date | None = None) -> tuple[Sample, list[Page]]:
    sample = identity_sample(id_type, sides, form, seed=seed, rotation=rotation, expiry=expiry)  # type: ignore[arg-type]
    return sample, ocr_pages(sample)


OCR_CASES = [
    ("cie", ("front",), "photo", 1, 0),
    ("cie", ("back",), "scan", 2, 0),
    ("cie", ("front", "back"), "pdf-two-pages", 3, 0),
    ("paper", ("front", "back"), "one-image-both-sides", 4, 0),
    ("licence", ("front",), "photo", 5, 90),
    ("licence", ("back",), "scan", 6, 0),
    ("passport", ("passport",), "pdf", 7, 0),
]


@pytest.mark.ocr
@pytest.mark.parametrize(("id_type", "sides", "form", "seed", "rotation"), OCR_CASES)
def test_ocr_sides_type_and_expiry(
    rules: Rules, id_type: str, sides: tuple[str, ...], form: str, seed: int, rotation: int
) -> None:
    sample, read = _read(id_type, sides, form, seed, rotation)
    found = read_identity(read, rules)
    assert found.sides == sample.truth["id_sides"]
    assert found.id_type == sample.truth["id_type"]
    assert found.expiry is not None and found.expiry.isoformat() == sample.truth["id_expiry"]


@pytest.mark.ocr
def test_ocr_expired_card_photographed_upside_down(rules: Rules) -> None:
    sample, read = _read("cie", ("front", "back"), "photo", 8, 180, date(2024, 11, 3))
    found = read_identity(read, rules)
    assert found.sides == ["front", "back"]
    assert found.expiry == date(2024, 11, 3)
