"""The one typed object that travels through the analysis, and its parts.

A :class:`Submission` is created from raw bytes and each stage of
:mod:`bot.pipeline` fills in only its own part: the envelope, the documents
with their pages, kinds and fields, the findings, and finally the verdict.
Nothing else is passed between stages.
"""

from __future__ import annotations

import email.message
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from cryptography import x509

    from bot.rules import Rules

EnvelopeType = Literal[
    "posta-certificata",
    "accettazione",
    "non-accettazione",
    "presa-in-carico",
    "avvenuta-consegna",
    "errore-consegna",
    "preavviso-errore-consegna",
    "rilevazione-virus",
    "anomalia",
    "none",
]
SignatureStatus = Literal["valid", "invalid", "untrusted", "absent"]
DocumentKind = Literal["order_form", "id_document", "payment_receipt", "other"]
IdSide = Literal["front", "back", "passport"]
IdType = Literal["cie", "paper", "licence", "passport", "unknown"]
Verdict = Literal["complete", "incomplete", "ignored", "error"]
Severity = Literal["problem", "warning"]

#: The three documents every submission needs, in the order replies list them.
REQUIRED_KINDS: tuple[DocumentKind, ...] = ("order_form", "id_document", "payment_receipt")


@dataclass
class Envelope:
    """What the PEC provider says about the message (or the plain headers)."""

    type: EnvelopeType
    sender: str | None = None
    """Certified sender (daticert ``mittente``), lower case; the From address for ``none``."""
    reply_to: str | None = None
    """Where an answer must go: daticert ``risposte``, else Reply-To, else the sender."""
    pec_id: str | None = None
    """daticert ``identificativo``: shared by a message and all its receipts."""
    date: datetime | None = None
    """Certified date-time (timezone-aware), else the Date header."""
    subject: str | None = None
    """The original subject, without the provider's prefix."""
    message_id: str | None = None
    """Message-ID of the message as it reached the inbox."""
    original_message_id: str | None = None
    """Message-ID of the sender's original (X-Riferimento-Message-ID / daticert msgid)."""
    signature: SignatureStatus = "absent"
    signer: str | None = None
    """Subject of the certificate that signed the envelope, for operators."""
    original: email.message.EmailMessage | None = field(default=None, repr=False)
    """The sender's own message (``postacert.eml``), or the message itself for ``none``."""
    auto_submitted: str | None = None
    precedence: str | None = None
    is_delivery_report: bool = False
    error: str | None = None
    """daticert ``errore`` when not ``nessuno`` (receipts only)."""


@dataclass
class Page:
    """The text of one page (or one image) of a document."""

    number: int
    text: str
    ocr: bool = False
    kind: DocumentKind = "other"
    """What this page alone looks like; a PDF may hold several documents."""


@dataclass
class ReceiptFields:
    """What a bank-transfer receipt states."""

    payee_iban: str | None = None
    """A valid IBAN read next to a payee label: upper case, no spaces."""
    payee_iban_text: str | None = None
    """What was printed there when it did not validate (for the operator)."""
    transferred_amount: Decimal | None = None
    """The amount sent to the payee: not the fees, not the total debited."""
    causale: str | None = None
    beneficiary: str | None = None
    payer_iban: str | None = None
    execution_date: date | None = None
    status: str | None = None
    """A status word that means the transfer was not executed (``in attesa`` …)."""


@dataclass
class OrderFormFields:
    """What the Aruba order form states about the mailbox holder."""

    ets_name: str | None = None
    tax_code: str | None = None
    tax_code_valid: bool | None = None
    mailbox: str | None = None
    aruba_login: str | None = None
    legal_representative: str | None = None
    reference_email: str | None = None


@dataclass
class IdentityFields:
    """What an identity document shows."""

    id_type: IdType = "unknown"
    sides: list[IdSide] = field(default_factory=list)
    expiry: date | None = None
    number: str | None = None
    mrz_valid: bool | None = None
    """True when an MRZ was read and its check digits hold; None when no MRZ was read."""


@dataclass
class Document:
    """One file the sender attached, after unwrapping .p7m, archives and forwards."""

    filename: str
    content_type: str
    """The type sniffed from the bytes, not the one the sender's client declared."""
    data: bytes = field(repr=False)
    origin: str = ""
    """Where it came from, e.g. ``postacert.eml/documenti.zip/modulo.pdf.p7m``."""
    pages: list[Page] = field(default_factory=list)
    kind: DocumentKind = "other"
    kind_scores: dict[str, float] = field(default_factory=dict)
    unreadable: str | None = None
    """Why the file could not be read (Italian, for the operator and the reply)."""
    receipt: ReceiptFields | None = None
    order_form: OrderFormFields | None = None
    identity: IdentityFields | None = None

    @property
    def ocr(self) -> bool:
        """True when any page's text came from OCR."""
        return any(page.ocr for page in self.pages)

    @property
    def text(self) -> str:
        return "\n".join(page.text for page in self.pages)

    def pages_of(self, kind: DocumentKind) -> list[Page]:
        return [page for page in self.pages if page.kind == kind]

    @property
    def kinds(self) -> list[DocumentKind]:
        """Every kind some page of this file holds, the main one first."""
        seen: list[DocumentKind] = [self.kind] if self.kind != "other" else []
        for page in self.pages:
            if page.kind != "other" and page.kind not in seen:
                seen.append(page.kind)
        return seen


@dataclass
class Fields:
    """The submission's fields as the contract names them."""

    iban: str | None = None
    amount: Decimal | None = None
    causale: str | None = None
    mailbox: str | None = None
    aruba_login: str | None = None
    tax_code: str | None = None
    ets_name: str | None = None
    id_expiry: date | None = None


@dataclass
class Finding:
    """One thing a check noticed. Checks only record; :mod:`bot.verdict` decides."""

    code: str
    severity: Severity
    detail: str
    document: str | None = None


@dataclass(frozen=True)
class Stop:
    """A normal early end of the analysis (a receipt, our own reply): not an error."""

    reason: str


@dataclass
class Submission:
    """Everything known about one message, filled in stage by stage."""

    source: str
    raw: bytes = field(repr=False)
    message: email.message.EmailMessage | None = field(default=None, repr=False)
    envelope: Envelope | None = None
    documents: list[Document] = field(default_factory=list)
    fields: Fields = field(default_factory=Fields)
    findings: list[Finding] = field(default_factory=list)
    missing: list[DocumentKind] = field(default_factory=list)
    verdict: Verdict | None = None
    error: str | None = None
    stop: Stop | None = None
    trace: list[str] = field(default_factory=list)
    """Stages run and checks hit, in order: for logs and for the operator."""

    @property
    def problems(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "problem"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    def documents_of(self, kind: DocumentKind) -> list[Document]:
        """Readable documents holding ``kind`` on at least one page, in message order."""
        return [d for d in self.documents if d.unreadable is None and kind in d.kinds]


@dataclass(frozen=True)
class OcrSettings:
    languages: str = "ita+eng"
    dpi: int = 300
    seconds_per_attachment: float = 120.0
    workers: int = 0
    """Parallel tesseract processes; 0 means one per core."""


@dataclass(frozen=True)
class DocumentLimits:
    """Operational bounds on what one message may cost to unpack and read.

    Not business rules (they stay out of ``rules/``): they only keep a hostile or
    broken attachment — a zip bomb, a 1,000-page PDF, a huge image — from taking
    unbounded time or memory. Whatever exceeds them becomes ``Document.unreadable``.
    """

    max_depth: int = 6
    """Containers inside containers: forwarded messages, archives, signed files."""
    max_documents: int = 60
    """Files taken from one message; the rest are ignored."""
    max_file_bytes: int = 60_000_000
    """One unpacked file (a zip member, a signed file's content)."""
    max_total_bytes: int = 150_000_000
    """Everything unpacked from one message's archives and signed files together."""
    zip_max_entries: int = 200
    zip_max_ratio: float = 200.0
    """Uncompressed size over compressed size of one zip member."""
    max_pages: int = 30
    """PDF pages read; a longer PDF is refused rather than half read."""
    max_image_pixels: int = 200_000_000
    """Pixels an image may declare in its header; beyond, it is refused undecoded."""
    max_decoded_pixels: int = 50_000_000
    """Pixels decoded at full size; JPEGs beyond are decoded reduced, others refused."""
    min_document_pixels: int = 160_000
    """Inline images smaller than this (≈ 400×400) are logos or signatures, not documents."""


@dataclass(frozen=True)
class AnalysisContext:
    """What the analysis needs besides the message: read-only, shared by all stages."""

    rules: Rules
    trusted: tuple[x509.Certificate, ...] = ()
    own_address: str = ""
    now: date | None = None
    """The day deadline and expiry are judged against; None: the certified date."""
    ocr: OcrSettings = OcrSettings()
    limits: DocumentLimits = DocumentLimits()
