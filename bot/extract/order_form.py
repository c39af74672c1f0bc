"""Which mailbox, login, tax code and name does an order form state?

No template of the *Modulo ordine PEC* is public, so nothing here assumes a
layout. Labels come from ``rules/order_form.toml`` (synonym lists, the most
specific first) and are matched leniently, because the text is either a PDF
text layer (pdfplumber flattens tables: label and value on one line, or the
value on the line below) or OCR of a scan or photo (``@`` read as ``©``,
spaces inside words, ``O`` for ``0``). A value is read after its label on the
same line, up to the next label, else on the line below. Typed values are
then recognised by their shape: an e-mail address, the login
(``rules.aruba.login_pattern``), an 11-digit or 16-character codice fiscale.

Addresses need care: a form shows the mailbox to renew, the Aruba login, an
ordinary *email di riferimento*, and often the CSV's own address in its
header. Each address belongs to the label before it (on its line, else the
column above it); the CSV's addresses are never the mailbox; an address on a
PEC domain with no mailbox label is the mailbox only when no label names one.
Nothing is guessed: a field with no labelled or unmistakable value is None.
"""

from __future__ import annotations

import bisect
import difflib
import re
import unicodedata
from dataclasses import dataclass

from stdnum.it import codicefiscale

from bot.model import OrderFormFields
from bot.rules import Rules

_EMAIL = re.compile(r"[a-z0-9][a-z0-9._%+-]*@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}", re.I)
_PERSON_CODE = re.compile(
    r"[A-Z]{6}[0-9LMNPQRSTUV]{2}[ABCDEHLMPRST][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]"
)
#: OCR confusions inside a field that can only hold digits.
_AS_DIGIT = str.maketrans("OoQDIl|iSsBZzG", "00001111558226")
_BOXED_DIGITS = re.compile(r"(?<![\w])((?:[0-9OoIl][ |]+){10}[0-9OoIl])(?![\w])")
_SEPARATORS = " \t:;=|[]{}()>-–—_.,*"
_EMAIL_CONCEPTS = ("mailbox", "aruba_login", "reference_email")
_PERSON_CONCEPTS = ("legal_representative", "rep_full_name", "rep_surname", "rep_first_name", "rep_birth")
_ETS_CONCEPTS = ("ets_name", "ets_tax_code", "vat", "mailbox", "aruba_login")
_NAME = re.compile(r"[A-Za-zÀ-ÿ][A-Za-zÀ-ÿ'.\s-]*")


@dataclass(frozen=True)
class _Hit:
    """A label found in the text."""

    concept: str
    rank: int
    """Position of the synonym in its list: lower is more specific."""
    start: int
    end: int


@dataclass(frozen=True)
class _Address:
    value: str
    start: int
    owner: _Hit | None


def _label_regex(label: str) -> str:
    """A pattern for ``label`` that survives OCR spacing, dots, apostrophes and i/l/o confusions."""
    fuzzy = {" ": r"\s*", ".": r"\.?\s*", "'": r"['`\s]?\s*", "-": r"[-\s]?", "/": r"\s*/\s*",
             "i": "[il1|]", "l": "[li1|]", "o": "[o0]", "à": "[àa]", "è": "[èée]", "ù": "[ùu]"}
    body = "".join(fuzzy.get(ch, re.escape(ch)) for ch in label.lower())
    return r"(?<![\w@.])" + body + r"(?![\w@]|\.\w)"


class _Form:
    """The normalised text of one form, its lines and its labels."""

    def __init__(self, text: str, rules: Rules) -> None:
        self.rules = rules
        self.text = self._normalise(text)
        self.line_starts = [0] + [m.end() for m in re.finditer(r"\n", self.text)]
        self.hits = self._find_labels()

    def _normalise(self, text: str) -> str:
        text = unicodedata.normalize("NFKC", text).replace("\u2019", "'").replace("\u2018", "'")
        for cue in self.rules.order_form.cues:
            if cue.kind == "at_sign":
                text = re.sub(rf"(?<=[\w.-]){cue.pattern.pattern}(?=[\w-])", "@", text, flags=re.I)
        # "amici@pec. it": OCR splits a domain at its dot; join it when nothing else follows.
        text = re.sub(r"(@[a-z0-9-]+)\s*\.\s+([a-z]{2,6})(?![\w.@])", r"\1.\2", text, flags=re.I)
        return re.sub(r"(@[a-z0-9-]+)\.{2,}(?=[a-z])", r"\1.", text, flags=re.I)

    def _find_labels(self) -> list[_Hit]:
        found: list[_Hit] = []
        for concept, synonyms in self.rules.order_form.labels.items():
            if concept == "ets_legal_forms":
                continue
            for rank, synonym in enumerate(synonyms):
                for m in re.finditer(_label_regex(synonym), self.text, re.I):
                    found.append(_Hit(concept, rank, m.start(), m.end()))
        # Where labels overlap, the longest wins ("codice fiscale dell'associazione"
        # over "dell'associazione", "casella pec da rinnovare" over "pec").
        found.sort(key=lambda h: (h.start - h.end, h.start))
        kept: list[_Hit] = []
        for hit in found:
            if all(hit.end <= k.start or hit.start >= k.end for k in kept):
                kept.append(hit)
        return sorted(kept, key=lambda h: h.start)

    def line_of(self, position: int) -> int:
        return bisect.bisect_right(self.line_starts, position) - 1

    def line_span(self, line: int) -> tuple[int, int]:
        start = self.line_starts[line]
        end = self.text.find("\n", start)
        return start, len(self.text) if end < 0 else end

    def hits_between(self, start: int, end: int) -> list[_Hit]:
        return [h for h in self.hits if start <= h.start < end]

    def of(self, *concepts: str) -> list[_Hit]:
        """Hits of ``concepts``, the most specific label first, then in reading order."""
        return sorted((h for h in self.hits if h.concept in concepts), key=lambda h: (h.rank, h.start))

    def segment(self, hit: _Hit, *, wraps: bool = False) -> str:
        """The value after ``hit``: up to the next label on its line, else the line below.

        With ``wraps``, a value in running text (the label mid-line, no comma
        or label before the line ends) goes on into the next line, as a
        sentence wraps.
        """
        line = self.line_of(hit.end)  # a label may wrap onto the next line
        line_start, line_end = self.line_span(line)
        later = self.hits_between(hit.end, line_end)
        own = self.text[hit.end : later[0].start if later else line_end].strip(_SEPARATORS + "\n")
        # Running text: the label mid-line, or opening a line that continues a long one.
        in_sentence = bool(self.text[line_start : hit.start].strip(_SEPARATORS)) or (
            line > 0 and len(self.text[slice(*self.line_span(line - 1))].strip()) >= 60
        )
        if (
            own and wraps and in_sentence and not later and not re.search(r"[,;]", own)
            and line + 1 < len(self.line_starts)
        ):
            start, end = self.line_span(line + 1)
            following = self.hits_between(start, end)
            more = re.split(r"[,;]", self.text[start : following[0].start if following else end])[0]
            if ":" not in more:
                own = f"{own} {more.strip(_SEPARATORS)}".strip()
        if own:
            return own
        rest = self.text[hit.end : line_end]
        for h in later:
            rest = rest.replace(self.text[h.start : h.end], " ")
        # Only a label standing alone (or beside other labels, as in a table
        # header row) has its value below it; a label mid-sentence does not.
        if rest.strip(_SEPARATORS) or line + 1 >= len(self.line_starts):
            return ""
        for below in range(line + 1, min(line + 3, len(self.line_starts))):
            start, end = self.line_span(below)
            if not self.text[start:end].strip(_SEPARATORS):
                continue
            first = self.hits_between(start, end)
            if first and not self.text[start : first[0].start].strip(_SEPARATORS):
                return ""
            return self.text[start : first[0].start if first else end].strip(_SEPARATORS)
        return ""


def _clean_value(value: str) -> str:
    value = re.sub(r"_{2,}|\.{2,}|…|[|\[\]{}]", " ", value)
    # OCR reads dot leaders and box borders as long runs of letters: no word is that long.
    words = [word for word in value.split() if len(word) <= 25]
    # A stray letter at the end is a box border or a speck, never part of a name.
    while words and len(words[-1]) == 1 and not words[-1].isdigit():
        words.pop()
    value = " ".join(words)
    return value.strip(" :;,-–—")


def _ets_name(form: _Form) -> str | None:
    forms = {f.lower() for f in form.rules.order_form.of("ets_legal_forms")}
    for hit in form.of("ets_name"):
        value = _EMAIL.sub(" ", form.segment(hit, wraps=True))
        value = re.sub(r"\b[\dOo]{5,}\b|\b[A-Z0-9]{16}\b|(?:\b\d\b[ |]*){5,}", " ", value)
        # A comma ends the name in a sentence, unless a legal form follows it.
        parts = re.split(r"[,;]", value)
        name = parts[0]
        for part in parts[1:]:
            if part.strip().lower() not in forms:
                break
            name += "," + part
        name = _clean_value(name)
        # OCR of an empty box or of the next label yields scraps ("GE", "C.B",
        # "Gabi"): a name has a real word, and one read on the line below a label
        # (where a misread label may sit) has at least two.
        _, line_end = form.line_span(form.line_of(hit.end))
        below = name not in _clean_value(form.text[hit.end : line_end])
        if (
            re.search(r"[A-Za-zÀ-ÿ]{3}", name)
            and re.search(r"[aeiouàèéìòù]", name, re.I)
            and len(re.findall(r"[A-Za-zÀ-ÿ]", name)) >= 4
            and len(name) <= 150
            and not (below and len(name.split()) < 2)
        ):
            return name
    return None


def _eleven_digits(segment: str) -> str | None:
    segment = _BOXED_DIGITS.sub(lambda m: re.sub(r"[ |]", "", m.group(1)), segment)
    for token in re.findall(r"[\w|]+", segment):
        if len(token) == 13 and token[:2].upper() == "IT":
            token = token[2:]
        digits = sum(ch.isdigit() for ch in token)
        if len(token) == 11 and digits >= 8:
            fixed = token.translate(_AS_DIGIT)
            if fixed.isdigit():
                return fixed
    return None


def _person_code(segment: str) -> str | None:
    """A 16-character code written as one token, or split in up to four groups by OCR."""
    tokens = re.findall(r"[A-Za-z0-9]+", segment)
    for first in range(len(tokens)):
        for last in range(first, min(first + 4, len(tokens))):
            code = "".join(tokens[first : last + 1]).upper()
            # Dot leaders read as letters can fake the shape: a real code shows digits.
            if _PERSON_CODE.fullmatch(code) and sum(ch.isdigit() for ch in code) >= 5:
                return code
    return None


def _belongs_to_person(form: _Form, hit: _Hit) -> bool:
    """True when the nearest section-like label before ``hit`` is about the representative."""
    for before in reversed([h for h in form.hits if h.end <= hit.start]):
        if before.concept in _PERSON_CONCEPTS:
            return True
        if before.concept in _ETS_CONCEPTS:
            return False
    return False


def _tax_code(form: _Form) -> str | None:
    for concept in ("ets_tax_code", "tax_code", "vat"):
        for hit in form.of(concept):
            if found := _eleven_digits(form.segment(hit)):
                return found
    # No 11-digit number: a 16-character code counts only where the form says it
    # is the association's, never in the representative's block.
    for hit in form.of("ets_tax_code", "tax_code"):
        if hit.concept == "tax_code" and _belongs_to_person(form, hit):
            continue
        if found := _person_code(form.segment(hit)):
            return found
    return None


def _addresses(form: _Form) -> list[_Address]:
    """Every e-mail address in the form with the label it belongs to, if any."""
    found: list[_Address] = []
    taken: list[tuple[int, int]] = []
    # "amici del parco@pec.it": OCR spaces inside an address that fills a labelled field.
    for hit in form.of(*_EMAIL_CONCEPTS):
        segment = form.segment(hit)
        joined = re.sub(r"\s+", "", segment)
        tail = _EMAIL.search(segment)
        # Only lower-case words right before an address that ends the field are its pieces.
        if (
            tail is not None
            and tail.end() == len(segment)
            and re.fullmatch(r"[a-z0-9._ -]+ ", segment[: tail.start()])
            and _EMAIL.fullmatch(joined)
        ):
            start = form.text.find(segment, hit.end)
            found.append(_Address(joined.lower(), start, hit))
            taken.append((start, start + len(segment)))
    by_line: dict[int, int] = {}
    for m in _EMAIL.finditer(form.text):
        if any(s <= m.start() < e for s, e in taken):
            continue
        line = form.line_of(m.start())
        line_start, line_end = form.line_span(line)
        before = form.hits_between(line_start, m.start())
        value = m.group(0).lower()
        # A line holding nothing but "anziani insieme@pec.it" is one address that
        # OCR cut in two (columns read apart from their labels); a short word is a
        # sentence's preposition, not a piece.
        alone = form.text[line_start:line_end].strip(_SEPARATORS)
        piece = re.fullmatch(r"([a-z0-9._-]{4,}) " + re.escape(m.group(0)), alone)
        if piece and not before:
            value = piece.group(1) + value
        if before:
            owner = before[-1] if before[-1].concept in _EMAIL_CONCEPTS else None
        elif _EMAIL.sub("", form.text[line_start : m.start()]).strip(_SEPARATORS):
            owner = None  # words of their own before it: not a value under a label row
        else:
            index = by_line.get(line, 0)
            by_line[line] = index + 1
            owner = _column_owner(form, line, index)
        found.append(_Address(value, m.start(), owner))
    return sorted(found, key=lambda a: a.start)


def _column_owner(form: _Form, line: int, index: int) -> _Hit | None:
    """The address label above: the ``index``-th label of the line before still waiting for a value."""
    above = line - 1
    while above >= 0 and not form.text[slice(*form.line_span(above))].strip():
        above -= 1
    if above < 0:
        return None
    start, end = form.line_span(above)
    hits = form.hits_between(start, end)
    rest = form.text[start:end]
    for h in hits:
        rest = rest.replace(form.text[h.start : h.end], " ")
    if rest.strip(_SEPARATORS):
        # Not a row of labels but a sentence wrapping onto this line ("come email
        # di riferimento per le comunicazioni / x@gmail.com"): its last label speaks.
        last = hits[-1] if hits else None
        if last and last.concept in _EMAIL_CONCEPTS and not _EMAIL.search(form.text[last.end : end]):
            return last
        return None
    waiting = [
        h for i, h in enumerate(hits)
        if h.concept in _EMAIL_CONCEPTS
        and not _EMAIL.search(form.text[h.end : hits[i + 1].start if i + 1 < len(hits) else end])
    ]
    return waiting[min(index, len(waiting) - 1)] if waiting else None


def _as_login(address: str, rules: Rules) -> str | None:
    """``address`` as an Aruba login, reading O/l/S… in its digits as the digits they stand for."""
    address = address.lower()
    if rules.aruba.login_pattern.fullmatch(address):
        return address
    local, _, domain = address.partition("@")
    if sum(ch.isdigit() for ch in local) * 10 >= len(local) * 6:
        fixed = local.translate(_AS_DIGIT) + "@" + domain
        if rules.aruba.login_pattern.fullmatch(fixed):
            return fixed
    return None


def _one_edit_apart(a: str, b: str) -> bool:
    if abs(len(a) - len(b)) > 1 or a == b:
        return False
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b, strict=True)) == 1
    short, long = sorted((a, b), key=len)
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))


def _aruba_spelling(address: str, rules: Rules) -> str:
    """``address`` with its domain read as the Aruba domain one OCR slip away, if there is one.

    Like the payee IBAN, the Aruba domains are known from the rules: a domain
    one character off one of them (``arubapcc.it``) is that domain misread,
    not another provider, and must not raise ``mailbox_not_aruba``.
    """
    local, _, domain = address.partition("@")
    if domain in rules.aruba.pec_domains or len(domain) < 7:
        return address
    near = [d for d in rules.aruba.pec_domains if _one_edit_apart(domain, d)]
    return f"{local}@{near[0]}" if len(near) == 1 else address


def _is_pec_domain(domain: str, rules: Rules) -> bool:
    if domain in rules.aruba.pec_domains:
        return True
    return any(c.kind == "pec_domain" and c.pattern.search(domain) for c in rules.order_form.cues)


def _is_own(address: str, rules: Rules) -> bool:
    """The CSV's own addresses, printed in the form's header: never the ETS's.

    Compared leniently, since OCR misreads them too (``esvassovoce@pec.it``).
    """
    own = rules.organisation
    if address.endswith("@" + own.email.lower().partition("@")[2]):
        return True
    return difflib.SequenceMatcher(None, address, own.pec.lower()).ratio() >= 0.9


def _first(addresses: list[_Address]) -> str | None:
    ranked = sorted(addresses, key=lambda a: (a.owner.rank if a.owner else 99, a.start))
    return ranked[0].value if ranked else None


def _legal_representative(form: _Form) -> str | None:
    for hit in form.of("legal_representative", "rep_full_name"):
        name = _clean_value(form.segment(hit, wraps=True).split(",")[0])
        if _NAME.fullmatch(name) and 2 <= len(name.split()) <= 5:
            return name
    first = [_clean_value(form.segment(h)) for h in form.of("rep_first_name")]
    last = [_clean_value(form.segment(h)) for h in form.of("rep_surname")]
    first = [n for n in first if _NAME.fullmatch(n) and len(n.split()) <= 3]
    last = [n for n in last if _NAME.fullmatch(n) and len(n.split()) <= 3]
    return f"{first[0]} {last[0]}" if first and last else None


def read_order_form(text: str, rules: Rules) -> OrderFormFields:
    """The fields an order form states; each one None when the form does not state it.

    ``mailbox`` (lower case) is the address labelled as the PEC to renew, else
    the one address on a PEC domain; ``aruba_login`` only ever holds a value
    shaped like ``rules.aruba.login_pattern``; ``tax_code`` is the
    association's codice fiscale (11 digits, or a 16-character one the form
    gives as the association's), with ``tax_code_valid`` from its check digit.
    """
    form = _Form(text, rules)
    addresses = [a for a in _addresses(form) if not _is_own(a.value, rules)]
    logins = [(a, login) for a in addresses if (login := _as_login(a.value, rules))]
    labelled_logins = [login for a, login in logins if a.owner and a.owner.concept == "aruba_login"]
    candidates = labelled_logins or [login for _, login in logins]
    aruba_login = candidates[0] if candidates else None
    others = [a for a in addresses if not _as_login(a.value, rules)]
    labelled = [a for a in others if a.owner and a.owner.concept == "mailbox"]
    on_pec = [a for a in others if _is_pec_domain(a.value.partition("@")[2], rules)]
    mailbox = _first(labelled) or (on_pec[0].value if on_pec else None)
    mailbox = _aruba_spelling(mailbox, rules) if mailbox else None
    reference = _first(
        [a for a in others if a.owner and a.owner.concept == "reference_email" and a.value != mailbox]
    )
    tax_code = _tax_code(form)
    return OrderFormFields(
        ets_name=_ets_name(form),
        tax_code=tax_code,
        tax_code_valid=codicefiscale.is_valid(tax_code) if tax_code else None,
        mailbox=mailbox,
        aruba_login=aruba_login,
        legal_representative=_legal_representative(form),
        reference_email=reference,
    )
