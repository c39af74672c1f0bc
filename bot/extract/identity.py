"""What does an identity document show: which document, which sides, until when?

Judged page by page from weighted cues in ``rules/identity.toml``: each cue
found adds its weight to a side (``front``, ``back``, ``passport``) and, when
it names one, to a document type (``cie``, ``paper``, ``licence``,
``passport``). A page may show both faces (the two halves of a paper ID, a
CIE front and back scanned on one A4): every side reaching ``min_score`` is
seen. A passport data page is a whole document, so it counts as
``passport`` only. The expiry is left to :mod:`bot.extract.id_expiry`, the
machine-readable zone to :mod:`bot.extract.mrz_zone`.
"""

from __future__ import annotations

from collections import defaultdict
from typing import cast, get_args

from bot.extract.id_expiry import pick_expiry
from bot.extract.mrz_zone import MachineZone, read_zone
from bot.model import IdentityFields, IdSide, IdType, Page
from bot.rules import Rules

_SIDE_ORDER: tuple[IdSide, ...] = ("front", "back", "passport")


Scores = dict[str, float]


def _scores(text: str, rules: Rules) -> tuple[Scores, Scores]:
    """Weights of the cues found, summed per document type and per side (each cue once)."""
    kinds: Scores = defaultdict(float)
    sides: Scores = defaultdict(float)
    for cue in rules.identity.cues:
        if cue.pattern.search(text):
            if cue.kind:
                kinds[cue.kind] += cue.weight
            if cue.side:
                sides[cue.side] += cue.weight
    return kinds, sides


def _best_type(kinds: Scores, rules: Rules) -> IdType:
    if not kinds:
        return "unknown"
    kind, score = max(kinds.items(), key=lambda item: item[1])
    if score < rules.identity.min_score or kind not in get_args(IdType):
        return "unknown"
    return cast(IdType, kind)


def page_sides(text: str, rules: Rules) -> tuple[IdType, list[IdSide]]:
    """The document type this page looks like and every side it shows.

    Sides come in the order front, back, passport. A passport page hides the
    front-like labels it shares with a CIE (``Cognome / Surname``) unless a
    card of another type also scores on the same page.
    """
    kinds, sides = _scores(text, rules)
    id_type = _best_type(kinds, rules)
    floor = rules.identity.min_score
    seen = [side for side in _SIDE_ORDER if sides.get(side, 0.0) >= floor]
    if "passport" in seen:
        other_card = any(score >= floor for kind, score in kinds.items() if kind != "passport")
        if not other_card:
            seen = ["passport"]
    return id_type, seen


def _number(pages: list[Page], id_type: IdType, zone: MachineZone | None, rules: Rules) -> str | None:
    """The printed number when it has the type's shape, else the zone's.

    The zone's check digit cannot tell ``1`` from ``L`` (their values differ by
    20), so a printed number of the right shape is the better reading.
    """
    for pattern in rules.identity.numbers.get(id_type, ()):
        for page in pages:
            match = pattern.search(page.text)
            if match:
                return match.group(0).replace(" ", "")
    return zone.document_number if zone is not None else None


def _zone(pages: list[Page], rules: Rules) -> MachineZone | None:
    """The most trustworthy machine-readable zone of the pages: a fully valid one first."""
    zones = [zone for page in pages if (zone := read_zone(page.text, rules)) is not None]
    zones.sort(key=lambda zone: (zone.valid, zone.expiry is not None), reverse=True)
    return zones[0] if zones else None


def read_identity(pages: list[Page], rules: Rules) -> IdentityFields:
    """Type, sides, expiry, number and MRZ validity stated by the pages of one file.

    ``pages`` are those already classified as an identity document. Sides add
    up across pages; the type is the one with the most cue weight over all
    pages. Never raises on odd text: what cannot be read stays None/empty.
    """
    kinds: Scores = defaultdict(float)
    sides: set[IdSide] = set()
    for page in pages:
        page_kinds, _ = _scores(page.text, rules)
        for kind, score in page_kinds.items():
            kinds[kind] += score
        sides.update(page_sides(page.text, rules)[1])
    id_type = _best_type(kinds, rules)
    zone = _zone(pages, rules)
    return IdentityFields(
        id_type=id_type,
        sides=[side for side in _SIDE_ORDER if side in sides],
        expiry=pick_expiry([page.text for page in pages], zone, rules),
        number=_number(pages, id_type, zone, rules),
        mrz_valid=zone.valid if zone is not None else None,
    )
