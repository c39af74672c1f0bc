"""Is this document an order form, an identity document, a receipt, or something else?

Judged from the text only, never from the file name: senders call a receipt
``modulo.pdf`` and an ID scan ``IMG_2031.jpg``. Each page is scored on its
own, because one PDF may hold an order form on page 1 and the ID scans on
pages 2–3. The keywords and their weights live in ``rules/classify.toml``;
a weight may be negative ("this is a statute, not a form").

A page with too little evidence of its own (the terms-and-conditions page of
an order form, a blank back, an OCR pass that read almost nothing) takes the
kind of the page before it in the same file, or of the page after it when it
opens the file: a document rarely changes kind on a page with no title.
"""

from __future__ import annotations

import unicodedata
from collections import Counter

from bot.model import AnalysisContext, Document, DocumentKind, Submission
from bot.rules import Rules

#: The kinds a cue may point to, in the order ties are broken.
KINDS: tuple[DocumentKind, ...] = ("order_form", "payment_receipt", "id_document")


def _normalise(text: str) -> str:
    # NFKC folds the ligatures and full-width forms OCR and PDF fonts produce;
    # typographic apostrophes become plain ones so one pattern fits both.
    return unicodedata.normalize("NFKC", text).replace("\u2019", "'").replace("\u2018", "'")


def classify_text(text: str, rules: Rules) -> tuple[DocumentKind, dict[str, float]]:
    """The kind ``text`` looks like, and the score of every kind.

    Each cue of ``rules.classify`` found in the text adds its weight once to its
    kind. The best-scoring kind wins when it reaches ``min_score``; otherwise
    (little text, or nothing that speaks for one kind) the answer is ``other``.
    Ties go to the order form, then the receipt: their cues are the more
    specific.
    """
    normalised = _normalise(text)
    scores: dict[str, float] = {kind: 0.0 for kind in KINDS}
    for cue in rules.classify.cues:
        if cue.pattern.search(normalised):
            scores[cue.kind] = scores.get(cue.kind, 0.0) + cue.weight
    best = max(KINDS, key=lambda kind: scores[kind])
    if scores[best] < rules.classify.min_score:
        return "other", scores
    return best, scores


def _inherit(own: list[DocumentKind | None]) -> list[DocumentKind | None]:
    """Fill pages without a kind of their own from the page before, else the one after."""
    filled = list(own)
    previous: DocumentKind | None = None
    for index, kind in enumerate(filled):
        if kind is None:
            filled[index] = previous
        else:
            previous = kind
    following: DocumentKind | None = None
    for index in range(len(filled) - 1, -1, -1):
        if filled[index] is None:
            filled[index] = following
        else:
            following = filled[index]
    return filled


def classify_document(doc: Document, rules: Rules) -> None:
    """Set ``kind`` on every page of ``doc``, and ``doc.kind`` / ``doc.kind_scores``.

    ``doc.kind`` is the kind covering most pages (ties: the one the file opens
    with); ``doc.kind_scores`` are the scores of the whole text. When no single
    page says enough but the pages together do (a weak front and a weak back
    of one card), every page takes the kind of the whole.
    """
    whole_kind, whole_scores = classify_text("\n".join(p.text for p in doc.pages), rules)
    doc.kind_scores = whole_scores
    own: list[DocumentKind | None] = []
    for page in doc.pages:
        kind, _ = classify_text(page.text, rules)
        own.append(None if kind == "other" else kind)
    if all(kind is None for kind in own):
        for page in doc.pages:
            page.kind = whole_kind
        doc.kind = whole_kind
        return
    for page, inherited in zip(doc.pages, _inherit(own), strict=True):
        page.kind = inherited or "other"
    # Counter keeps first-seen order and max() keeps the first of equals: on a
    # tie the kind the file opens with wins (a form followed by its ID scans).
    counts = Counter(page.kind for page in doc.pages)
    doc.kind = max(counts, key=lambda kind: counts[kind])


def classify_documents(sub: Submission, ctx: AnalysisContext) -> None:
    """The ``classify`` stage: give every readable document and each of its pages a kind.

    Unreadable documents keep ``other``: they count as no document at all.
    """
    for doc in sub.documents:
        if doc.unreadable is not None or not doc.pages:
            continue
        classify_document(doc, ctx.rules)
