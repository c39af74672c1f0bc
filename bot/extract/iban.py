"""Which IBANs does a piece of text print, and is one of them the expected one?

Receipts print IBANs compact (``IT60X0542811101000000123456``), in groups of
four (``IT67 D053 8771 …``) or by component (``IT 67D 05387 71336
000042125809``). OCR adds its own confusions: O↔0, D/Q→0, I/L↔1, S↔5, B↔8,
Z↔2, G↔6. The IBAN's structure (for Italy: ``IT``, two check digits, the CIN
letter, five-digit ABI and CAB, a twelve-character account) says which
positions must be digits and which letters, so most confusions are undone by
position alone. Validation is schwifty's: mod-97 and the national check
(for Italy, the CIN letter).

No blind repair: a text is read as the IBAN it prints, as that IBAN with
letters and digits put back where the structure demands them (one candidate,
then validated), or compared with the IBAN the rules expect — never
"corrected" by trying substitutions until some valid IBAN comes out.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from functools import lru_cache

from schwifty import IBAN
from schwifty.exceptions import SchwiftyException

#: OCR confusion classes: characters tesseract mistakes for each other.
_CONFUSABLE: tuple[frozenset[str], ...] = (
    frozenset("0ODQ"),
    frozenset("1IL|[]!{}"),
    frozenset("5S$"),
    frozenset("8B"),
    frozenset("2Z"),
    frozenset("6G"),
    frozenset("7T"),
)
_TO_DIGIT = {c: d for group in _CONFUSABLE for d in group if d.isdigit() for c in group}
_TO_LETTER = {
    c: letter
    for group in _CONFUSABLE
    for letter in sorted(c for c in group if c.isalpha())[:1]
    for c in group
    if c.isdigit() or c in "|$[]!{}"
}
# Digits-to-letters is ambiguous for 0 (O, D or Q) and 1 (I or L): the first
# of each class (D and I) is what a country code or a CIN most often holds,
# but callers compare with an expected IBAN rather than trust this choice.

_SPACES = " \t\u00a0\u202f"
# Country code and check digits; OCR may turn one check digit into a look-alike (ITO9).
_HEAD = re.compile(r"(?<![A-Za-z0-9])([A-Za-z]{2})[ \u00a0]?(\d[\dODQIlSBZGo]|[ODQIlSBZGo]\d)")


@dataclass(frozen=True)
class PrintedIban:
    """An IBAN-shaped run of text: as printed, compact, where, and whether it validates."""

    printed: str
    compact: str
    start: int
    end: int
    valid: bool


def compact(text: str) -> str:
    """``text`` without spaces, dots or dashes, upper case: ``IT 67D 05387`` → ``IT67D05387``."""
    return re.sub(r"[\s.\-·]", "", text).upper()


def is_valid(iban: str) -> bool:
    """True when ``iban`` (any spacing) passes mod-97 and the country's own check (Italy's CIN)."""
    try:
        IBAN(compact(iban), validate_bban=True)
    except (SchwiftyException, ValueError):
        return False
    return True


@lru_cache(maxsize=64)
def _shape(country: str) -> str | None:
    """One character per IBAN position: ``a`` letter, ``n`` digit, ``c`` either.

    Derived from the country's BBAN spec (Italy: ``1!a5!n5!n12!c``), so it
    also serves foreign IBANs; None for a country schwifty does not know.
    """
    from schwifty import registry

    try:
        spec = registry.get_iban_spec(country)
    except SchwiftyException:
        return None
    shape = "aann"
    for count, kind in re.findall(r"(\d+)!?([anc])", spec.bban_spec):
        shape += kind * int(count)
    return shape if len(shape) == spec.iban_length else None


def _length(country: str) -> int:
    shape = _shape(country)
    return len(shape) if shape else 34


def find_ibans(text: str) -> list[PrintedIban]:
    """Every IBAN-shaped run in ``text``, valid or not, in reading order.

    A run starts with two capital letters and two digits and continues over
    letters, digits and single spaces (a line break too, when the next line
    completes the length) until the country's IBAN length is reached.
    """
    found: list[PrintedIban] = []
    position = 0
    while True:
        head = _HEAD.search(text, position)
        if head is None:
            return found
        country = head.group(1).upper()
        if _shape(country) is None:  # not an IBAN country: a word and a number
            position = head.end()
            continue
        needed = _length(country)
        chars = country + head.group(2).upper()
        end = i = head.end()
        while len(chars) < needed and i < len(text):
            char = text[i]
            if char.isascii() and (char.isalnum() or char in "|$[]!{}"):
                chars += char.upper()
                end = i = i + 1
            elif char in _SPACES and i + 1 < len(text) and text[i + 1] not in _SPACES + "\n":
                i += 1
            elif char == "\n" and _completes(text, _next_line(text, i), needed - len(chars)):
                i = _next_line(text, i)
            else:
                break
        if len(chars) >= 15:
            found.append(PrintedIban(text[head.start() : end], chars, head.start(), end, is_valid(chars)))
            position = end
        else:
            position = head.end()


def _next_line(text: str, newline: int) -> int:
    """Where the next non-blank line after the line break at ``newline`` starts."""
    match = re.compile(r"\n(?:[ \t]*\n)*").match(text, newline)
    return match.end() if match else newline + 1


def _completes(text: str, start: int, missing: int) -> bool:
    """True when the line starting at ``start`` begins with exactly ``missing`` IBAN characters."""
    line = text[start:].split("\n", 1)[0]
    run = re.match(r"[A-Z0-9]+(?:[ ][A-Z0-9]+)*", line)
    return run is not None and len(compact(run.group(0))) == missing


def iban_runs(text: str) -> list[tuple[str, int]]:
    """Every run of ``text`` that looks like a (possibly garbled) IBAN: ``(printed, start)``.

    For values read next to an IBAN label, where OCR may have spoilt the
    ``IT`` prefix itself (``1T67…``, ``{167…``): runs of letter/digit groups
    of 15 to 34 characters, mostly digits. Words (four letters or more that
    are not digit look-alikes) and table rulings end a run; what follows a
    complete IBAN of a known country (a BIC) is left out.
    """
    found: list[tuple[str, int]] = []

    def emit(words: list[tuple[str, int]]) -> None:
        while words and not any(c.isalnum() for c in words[-1][0]):
            words.pop()
        chars = compact(" ".join(word for word, _ in words))
        if 15 <= len(chars) <= 34 and sum(c.isdigit() for c in chars) * 2 >= len(chars):
            found.append((" ".join(word for word, _ in words), words[0][1]))

    for run in re.finditer(r"[A-Za-z0-9|$\[\]!{}]+(?:[ \u00a0]{1,2}[A-Za-z0-9|$\[\]!{}]+)*", text):
        current: list[tuple[str, int]] = []
        for token in re.finditer(r"\S+", run.group(0)):
            word = token.group(0)
            wordy = len(word) >= 4 and word.isalpha() and set(word.upper()) - set("ODQILSBZGT")
            border = not any(c.isalnum() for c in word)  # "|" alone: a table's ruling
            # "[on IT67 D053 …": a stray scrap before a clean country code is no part of it
            scrap = bool(
                current
                and re.match(r"[A-Za-z]{2}\d{2}", word)
                and not re.match(r"[A-Z0-9|\[{!]{2}[0-9ODQ]{2}", current[0][0].upper())
                and len(compact(" ".join(w for w, _ in current))) < 8
            )
            if wordy or (border and not current) or scrap:
                emit(current)
                current = []
                if not scrap:
                    continue
            current.append((word, run.start() + token.start()))
            country = "".join(_TO_LETTER.get(c, c) for c in compact(current[0][0])[:2])
            if len(compact(" ".join(w for w, _ in current))) >= _length(country):
                emit(current)  # a complete IBAN: what follows (a BIC, the next IBAN) is not part of it
                current = []
        emit(current)
    return found


def iban_like(text: str) -> str | None:
    """The longest run of ``text`` that looks like a (possibly garbled) IBAN, as printed."""
    runs = [printed for printed, _ in iban_runs(text)]
    return max(runs, key=lambda printed: len(compact(printed))) if runs else None


def _letters_for(char: str) -> str:
    """The letters a printed character may stand for at a letter position."""
    if char.isalpha():
        return "".join(sorted({char} | {c for g in _CONFUSABLE if char in g for c in g if c.isalpha()}))
    return "".join(sorted(c for g in _CONFUSABLE if char in g for c in g if c.isalpha()))


def by_position(text: str) -> str | None:
    """The valid IBAN ``text`` prints once each position holds its kind of character.

    Digit positions turn look-alike letters into digits (``O`` → ``0``);
    letter positions (country, Italy's CIN) take the letters a printed
    character may stand for (``1`` → ``I`` or ``L``); positions that may hold
    either are read as printed and then as digits. Only these few readings
    are validated, and the answer must be unique: None when no reading
    validates, or when two different ones would.
    """
    chars = compact(text)
    found: set[str] = set()
    for first, second in itertools.product(_letters_for(chars[:1]), _letters_for(chars[1:2])):
        shape = _shape(first + second)
        if shape is None or len(shape) != len(chars):
            continue
        options = []
        for char, kind in zip(chars, shape, strict=True):
            if kind == "n":
                options.append(_TO_DIGIT.get(char, char))
            elif kind == "a":
                options.append(_letters_for(char) or char)
            else:
                options.append(char)
        options[0], options[1] = first, second
        for letters in itertools.product(*(o for o, k in zip(options, shape, strict=True) if k == "a")):
            picked = iter(letters)
            reading = [next(picked) if k == "a" else o for o, k in zip(options, shape, strict=True)]
            as_printed = "".join(reading)
            as_digits = "".join(
                _TO_DIGIT.get(c, c) if k == "c" else c for c, k in zip(reading, shape, strict=True)
            )
            found.update(r for r in (as_printed, as_digits) if is_valid(r))
    return found.pop() if len(found) == 1 else None


def _same(printed: str, expected: str, kind: str) -> bool:
    """Does one printed character stand for the expected one at a position of ``kind``?"""
    if printed == expected:
        return True
    if kind == "n":
        return _TO_DIGIT.get(printed) == expected
    if kind == "a":
        return _TO_LETTER.get(printed) == expected or any(
            printed in group and expected in group for group in _CONFUSABLE
        )
    return any(printed in group and expected in group for group in _CONFUSABLE)


def matches_expected(candidate_text: str, expected_iban: str) -> bool:
    """True when ``candidate_text`` is ``expected_iban`` as printed or as OCR misread it.

    A candidate that validates on its own is a real IBAN and must equal the
    expected one exactly: a different valid IBAN never matches. One that does
    not validate cannot be a real account (a bank does not execute a transfer
    to an invalid IBAN), so it names the expected IBAN when, position by
    position, every character is the expected one or an OCR look-alike of it
    allowed at that position — with at most one further reading error (one
    character misread, dropped or added), which mod-97 alone could never turn
    into a match for another account.
    """
    expected = compact(expected_iban)
    chars = compact(candidate_text)
    if not chars or not expected:
        return False
    if is_valid(chars):
        return chars == expected
    shape = _shape(expected[:2]) or "c" * len(expected)
    if len(shape) != len(expected):
        return False
    if len(chars) > len(expected) + 1 and is_valid(chars[: len(expected)]):
        return chars[: len(expected)] == expected
    # Characters after a complete IBAN (a neighbour cell OCR glued on) are not part of it.
    candidates = {chars, chars[: len(expected)]} if len(chars) > len(expected) else {chars}
    return any(_errors(candidate, expected, shape) <= 1 for candidate in candidates)


def join_fragments(head: str, fragments: list[str], expected_iban: str) -> list[tuple[str, str]]:
    """Every IBAN text a cut ``head`` and one of ``fragments`` can make, with that fragment.

    OCR of a tilted photo can cut a long line in two and print the pieces
    apart (``IBAN beneficiario: IT67DO`` … ``538771 3360000421 25809``). A
    fragment can complete the head when it is a run of letter/digit groups,
    mostly digits, whose length is exactly what the head lacks for an IBAN
    as long as the expected one. Nothing is guessed: the caller keeps a
    joined text only if it validates or matches the expected IBAN.
    """
    chars = compact(head)
    needed = len(compact(expected_iban)) - len(chars)
    if len(chars) < 4 or needed <= 0:
        return []
    joined = []
    for fragment in fragments:
        run = re.fullmatch(r"[|\s]*([A-Za-z0-9]+(?:[ ][A-Za-z0-9]+)*)[|\s:;.]*", fragment)
        if run and len(compact(run.group(1))) == needed and sum(c.isdigit() for c in run.group(1)) * 2 > needed:
            joined.append((f"{head.strip()} {run.group(1)}", run.group(1)))
    return joined


def _errors(chars: str, expected: str, shape: str) -> int:
    """Edit distance where an allowed look-alike costs nothing (bounded: stops counting at 2)."""
    if abs(len(chars) - len(expected)) > 1:
        return 2
    previous = list(range(len(chars) + 1))
    for row, (want, kind) in enumerate(zip(expected, shape, strict=True), start=1):
        current = [row]
        for col, got in enumerate(chars, start=1):
            cost = 0 if _same(got, want, kind) else 1
            current.append(min(previous[col] + 1, current[col - 1] + 1, previous[col - 1] + cost))
        previous = current
    return min(previous[-1], 2)
