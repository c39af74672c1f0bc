"""What the operator's files in ``rules/`` say: loaded once, validated, typed.

Every fee, IBAN, deadline, domain, keyword and text that an operator may need
to change lives in ``rules/``; the code holds none of them. Each file maps to
one typed section below. :func:`load_rules` reads the whole folder, compiles
every pattern and renders every template with sample values, and refuses with
``file:line: what is wrong`` (a :class:`~bot.errors.RulesError`) rather than
start with a half-valid configuration.
"""

from __future__ import annotations

import datetime
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.errors import RulesError

#: The rules folder shipped with pecbot (the repository's ``rules/``).
SHIPPED_RULES = Path(__file__).resolve().parent.parent / "rules"


@dataclass(frozen=True)
class Cue:
    """A named regular expression with a weight: a keyword, a label, a side cue."""

    name: str
    pattern: re.Pattern[str]
    weight: float = 1.0
    kind: str = ""
    """What the cue points to: a document kind, or an identity-document type."""
    side: str = ""
    """For identity cues: ``front``, ``back`` or ``passport``."""


@dataclass(frozen=True)
class Fee:
    name: str
    amount: Decimal
    description: str


@dataclass(frozen=True)
class PaymentRules:
    """payment.toml: whom the ETS pays, and how much is accepted."""

    payee_iban: str
    bic: str
    bank: str
    beneficiary: str
    beneficiary_aliases: tuple[str, ...]
    fees: tuple[Fee, ...]

    @property
    def accepted_amounts(self) -> tuple[Decimal, ...]:
        return tuple(fee.amount for fee in self.fees)


@dataclass(frozen=True)
class DeadlineRules:
    """deadline.toml: the last day (inclusive) to send the documents."""

    name: str
    month: int
    day: int
    timezone: ZoneInfo


@dataclass(frozen=True)
class ArubaRules:
    """aruba.toml: the domains a CSV-provided mailbox can be on, and the login shape."""

    pec_domains: tuple[str, ...]
    login_pattern: re.Pattern[str]


@dataclass(frozen=True)
class ClassifyRules:
    """classify.toml: keywords that say what kind of document a text is."""

    min_score: float
    cues: tuple[Cue, ...]


@dataclass(frozen=True)
class LabelRules:
    """receipt.toml / order_form.toml: label synonyms per concept, plus extra cues."""

    labels: Mapping[str, tuple[str, ...]]
    cues: tuple[Cue, ...]

    def of(self, concept: str) -> tuple[str, ...]:
        return self.labels.get(concept, ())


@dataclass(frozen=True)
class IdentityRules:
    """identity.toml: cues that tell the document type and the side shown."""

    min_score: float
    cues: tuple[Cue, ...]
    labels: Mapping[str, tuple[re.Pattern[str], ...]] = field(default_factory=dict)
    """Date labels per concept (``expiry``, ``issue``, ``birth``)."""
    numbers: Mapping[str, tuple[re.Pattern[str], ...]] = field(default_factory=dict)
    """Document-number shapes per identity-document type."""
    mrz_line: re.Pattern[str] | None = None
    """The shape of one machine-readable-zone line once OCR noise is cleaned."""
    max_validity_years: int = 11
    """An unlabelled expiry needs an issue date at most this many years before it."""


@dataclass(frozen=True)
class FindingText:
    code: str
    severity: str
    template: str
    """Jinja2 text of the ``detail`` shown to the ETS and the operator, in Italian."""


@dataclass(frozen=True)
class MissingText:
    """missing.toml: how a reply names a missing document and says what to send."""

    name: str
    help: str


@dataclass(frozen=True)
class Organisation:
    """organisation.toml: who we are, as the replies sign."""

    name: str
    email: str
    phone: str
    pec: str
    website: str


@dataclass(frozen=True)
class DigestRules:
    """digest.toml: when the operators' digest is sent."""

    timezone: ZoneInfo
    weekdays: tuple[int, ...]
    """Monday is 0."""
    times: tuple[datetime.time, ...]
    subject: str


_WEEKDAYS = ("lun", "mar", "mer", "gio", "ven", "sab", "dom")


@dataclass(frozen=True)
class Rules:
    folder: Path
    payment: PaymentRules
    deadline: DeadlineRules
    aruba: ArubaRules
    classify: ClassifyRules
    receipt: LabelRules
    order_form: LabelRules
    identity: IdentityRules
    findings: Mapping[str, FindingText]
    missing: Mapping[str, MissingText]
    organisation: Organisation
    digest: DigestRules


class _File:
    """One TOML file with enough of its text kept to point at lines."""

    def __init__(self, folder: Path, name: str) -> None:
        self.path = folder / name
        self.name = str(self.path)
        try:
            self.text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise RulesError(self.name, None, "file missing") from None
        except UnicodeDecodeError as exc:
            raise RulesError(self.name, None, f"not UTF-8 text ({exc.reason})") from None
        try:
            self.data = tomllib.loads(self.text)
        except tomllib.TOMLDecodeError as exc:
            match = re.search(r"at line (\d+)", str(exc))
            line = int(match.group(1)) if match else None
            message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
            raise RulesError(self.name, line, f"not valid TOML: {message}") from None

    def line_of(self, *needles: str) -> int | None:
        """The first line holding all ``needles`` (to point the operator at it)."""
        for number, line in enumerate(self.text.splitlines(), start=1):
            if all(needle in line for needle in needles):
                return number
        return None

    def fail(self, problem: str, *needles: str) -> RulesError:
        return RulesError(self.name, self.line_of(*needles) if needles else None, problem)

    def table(self, data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
        value = data.get(key)
        if not isinstance(value, dict):
            return _raise(self.fail(f"missing table [{key}]"))
        return value

    def string(self, data: Mapping[str, Any], key: str) -> str:
        value = data.get(key)
        if not isinstance(value, str) or not value.strip():
            return _raise(self.fail(f"'{key}' must be a non-empty string", key))
        return value.strip()

    def strings(self, data: Mapping[str, Any], key: str) -> tuple[str, ...]:
        value = data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            return _raise(self.fail(f"'{key}' must be a list of strings", key))
        return tuple(value)

    def integer(self, data: Mapping[str, Any], key: str, low: int, high: int) -> int:
        value = data.get(key)
        if not isinstance(value, int) or not low <= value <= high:
            return _raise(self.fail(f"'{key}' must be a whole number from {low} to {high}", key))
        return value

    def number(self, data: Mapping[str, Any], key: str, default: float) -> float:
        value = data.get(key, default)
        if not isinstance(value, int | float):
            return _raise(self.fail(f"'{key}' must be a number", key))
        return float(value)

    def pattern(self, source: str, *needles: str) -> re.Pattern[str]:
        try:
            return re.compile(source, re.IGNORECASE | re.MULTILINE)
        except re.error as exc:
            raise self.fail(f"bad regular expression {source!r}: {exc}", *needles) from None

    def cues(self, data: Mapping[str, Any], sides: bool = False) -> tuple[Cue, ...]:
        entries = data.get("cue", [])
        if not isinstance(entries, list):
            raise self.fail("[[cue]] must be an array of tables")
        cues = []
        names: set[str] = set()
        for entry in entries:
            name = self.string(entry, "name")
            if not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", name):
                raise self.fail(f"cue name {name!r} must be kebab-case", name)
            if name in names:
                raise self.fail(f"cue name {name!r} used twice", name)
            names.add(name)
            source = self.string(entry, "pattern")
            side = entry.get("side", "")
            if sides and side not in ("", "front", "back", "passport"):
                raise self.fail(f"cue {name!r}: side must be front, back or passport", name)
            cues.append(
                Cue(
                    name=name,
                    pattern=self.pattern(source, name),
                    weight=self.number(entry, "weight", 1.0),
                    kind=str(entry.get("kind", "")),
                    side=str(side),
                )
            )
        return tuple(cues)


def _raise(error: RulesError) -> Any:
    raise error


def _payment(folder: Path) -> PaymentRules:
    f = _File(folder, "payment.toml")
    payee = f.table(f.data, "payee")
    iban = re.sub(r"\s+", "", f.string(payee, "iban")).upper()
    from schwifty import IBAN
    from schwifty.exceptions import SchwiftyException

    try:
        IBAN(iban, validate_bban=True)
    except SchwiftyException as exc:
        raise f.fail(f"payee iban is not a valid IBAN: {exc}", "iban") from None
    fees = []
    for entry in f.data.get("fee", []):
        name = f.string(entry, "name")
        try:
            amount = Decimal(f.string(entry, "amount"))
        except InvalidOperation:
            raise f.fail("fee amount must be written like \"9.90\"", name) from None
        if amount <= 0 or amount.as_tuple().exponent != -2:
            raise f.fail("fee amount must be positive with two decimals, like \"9.90\"", name)
        fees.append(Fee(name, amount, f.string(entry, "description")))
    if not fees:
        raise f.fail("at least one [[fee]] is needed")
    return PaymentRules(
        payee_iban=iban,
        bic=f.string(payee, "bic"),
        bank=f.string(payee, "bank"),
        beneficiary=f.string(payee, "beneficiary"),
        beneficiary_aliases=f.strings(payee, "beneficiary_aliases"),
        fees=tuple(fees),
    )


def _deadline(folder: Path) -> DeadlineRules:
    f = _File(folder, "deadline.toml")
    section = f.table(f.data, "deadline")
    month = f.integer(section, "month", 1, 12)
    day = f.integer(section, "day", 1, 31)
    try:
        datetime.date(2024, month, day)  # a leap year accepts every real day
    except ValueError:
        raise f.fail(f"{day}/{month} is not a day of the year", "day") from None
    zone_name = f.string(section, "timezone")
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise f.fail(f"unknown timezone {zone_name!r}", "timezone") from None
    return DeadlineRules(f.string(section, "name"), month, day, zone)


def _aruba(folder: Path) -> ArubaRules:
    f = _File(folder, "aruba.toml")
    section = f.table(f.data, "aruba")
    domains = tuple(d.lower().lstrip("@") for d in f.strings(section, "pec_domains"))
    if not domains:
        raise f.fail("'pec_domains' must list at least one domain", "pec_domains")
    login = f.pattern(f.string(section, "login_pattern"), "login_pattern")
    return ArubaRules(domains, login)


def _classify(folder: Path) -> ClassifyRules:
    f = _File(folder, "classify.toml")
    section = f.table(f.data, "classify")
    cues = f.cues(f.data)
    for cue in cues:
        if cue.kind not in ("order_form", "id_document", "payment_receipt"):
            raise f.fail(f"cue {cue.name!r}: kind must be order_form, id_document or payment_receipt", cue.name)
    return ClassifyRules(f.number(section, "min_score", 2.0), cues)


def _labels(folder: Path, name: str) -> LabelRules:
    f = _File(folder, name)
    labels = f.table(f.data, "labels")
    parsed = {concept: f.strings(labels, concept) for concept in labels}
    for concept, synonyms in parsed.items():
        if not synonyms:
            raise f.fail(f"label list {concept!r} is empty", concept)
    return LabelRules(parsed, f.cues(f.data))


def _identity(folder: Path) -> IdentityRules:
    f = _File(folder, "identity.toml")
    section = f.table(f.data, "identity")

    def patterns(table: str) -> dict[str, tuple[re.Pattern[str], ...]]:
        entries = f.data.get(table, {})
        if not isinstance(entries, dict):
            raise f.fail(f"[{table}] must be a table", f"[{table}]")
        return {
            key: tuple(f.pattern(source, key) for source in f.strings(entries, key))
            for key in entries
        }

    mrz = f.data.get("mrz", {})
    return IdentityRules(
        f.number(section, "min_score", 1.0),
        f.cues(f.data, sides=True),
        labels=patterns("labels"),
        numbers=patterns("numbers"),
        mrz_line=f.pattern(f.string(mrz, "line"), "line") if mrz.get("line") else None,
        max_validity_years=f.integer(section, "max_validity_years", 1, 30)
        if "max_validity_years" in section else 11,
    )


def _findings(folder: Path) -> dict[str, FindingText]:
    f = _File(folder, "findings.toml")
    texts = {}
    for code, entry in f.data.items():
        if not isinstance(entry, dict):
            raise f.fail(f"[{code}] must be a table", code)
        severity = f.string(entry, "severity")
        if severity not in ("problem", "warning"):
            raise f.fail(f"[{code}] severity must be problem or warning", code)
        texts[code] = FindingText(code, severity, f.string(entry, "detail"))
    return texts


def _missing(folder: Path) -> dict[str, MissingText]:
    f = _File(folder, "missing.toml")
    texts = {}
    for kind in ("order_form", "id_document", "payment_receipt"):
        entry = f.data.get(kind)
        if not isinstance(entry, dict):
            raise f.fail(f"missing table [{kind}]")
        texts[kind] = MissingText(f.string(entry, "name"), f.string(entry, "help"))
    return texts


def _organisation(folder: Path) -> Organisation:
    f = _File(folder, "organisation.toml")
    section = f.table(f.data, "organisation")
    return Organisation(
        name=f.string(section, "name"),
        email=f.string(section, "email"),
        phone=f.string(section, "phone"),
        pec=f.string(section, "pec"),
        website=f.string(section, "website"),
    )


def _digest(folder: Path) -> DigestRules:
    f = _File(folder, "digest.toml")
    section = f.table(f.data, "digest")
    zone_name = f.string(section, "timezone")
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise f.fail(f"unknown timezone {zone_name!r}", "timezone") from None
    days = []
    for name in f.strings(section, "weekdays"):
        if name.lower()[:3] not in _WEEKDAYS:
            raise f.fail(f"unknown weekday {name!r} (use lun, mar, mer, gio, ven, sab, dom)", "weekdays")
        days.append(_WEEKDAYS.index(name.lower()[:3]))
    times = []
    for text in f.strings(section, "times"):
        try:
            times.append(datetime.time.fromisoformat(text))
        except ValueError:
            raise f.fail(f"time {text!r} must be written like 08:00", "times") from None
    return DigestRules(zone, tuple(days), tuple(sorted(times)), f.string(section, "subject"))


def load_rules(folder: Path | str | None = None) -> Rules:
    """Read and validate every file of the rules folder (the shipped one by default)."""
    path = Path(folder) if folder is not None else SHIPPED_RULES
    if not path.is_dir():
        raise RulesError(str(path), None, "rules folder not found")
    rules = Rules(
        folder=path,
        payment=_payment(path),
        deadline=_deadline(path),
        aruba=_aruba(path),
        classify=_classify(path),
        receipt=_labels(path, "receipt.toml"),
        order_form=_labels(path, "order_form.toml"),
        identity=_identity(path),
        findings=_findings(path),
        missing=_missing(path),
        organisation=_organisation(path),
        digest=_digest(path),
    )
    from bot.texts import validate_templates

    validate_templates(rules)
    return rules
