"""How far is a photographed page tilted — and setting it straight.

tesseract copes with a scanner's degree of skew in running text, but a dense
page photographed 3–4° askew can come back with no text at all, and a ruled
form's lines can only be erased (:mod:`bot.lines`) once they are level. The angle is found the classic
way: on a small map of the ink, the rotation whose row sums change most
sharply from row to row is the one that lines the text up. About 0.1 s for an
A4 page, far less than the tesseract pass it can save.
"""

from __future__ import annotations

from PIL import Image

from bot import lines

#: Tilts smaller than this are left to tesseract, which copes with them in running text …
MIN_DEGREES = 1.5
#: … but not in ruled tables, whose lines must be level to be erased.
MIN_DEGREES_RULED = 0.5
#: Tilts looked for: a page photographed more askew than this is not our case.
MAX_DEGREES = 8
#: The best angle must beat upright by this factor, else the page has no clear lines.
MIN_GAIN = 1.2
_WORKING_SIDE = 800


def skew_angle(grey: Image.Image) -> float:
    """Degrees (counter-clockwise) that would set the text lines of ``grey`` level; 0 if unsure."""
    ink = _ink(grey)
    upright = _score(ink, 0.0)
    best_angle, best_score = 0.0, upright
    for degrees in range(-MAX_DEGREES, MAX_DEGREES + 1):
        score = _score(ink, float(degrees))
        if score > best_score:
            best_angle, best_score = float(degrees), score
    coarse = best_angle
    for step in (-0.75, -0.5, -0.25, 0.25, 0.5, 0.75):
        score = _score(ink, coarse + step)
        if score > best_score:
            best_angle, best_score = coarse + step, score
    return best_angle if best_score >= MIN_GAIN * upright else 0.0


def straighten(grey: Image.Image, *, min_degrees: float = MIN_DEGREES) -> Image.Image:
    """``grey`` turned level when it is tilted by ``min_degrees`` or more."""
    angle = skew_angle(grey)
    if abs(angle) < min_degrees:
        return grey
    return grey.rotate(angle, resample=Image.Resampling.BILINEAR, expand=True, fillcolor=255)


def _ink(grey: Image.Image) -> Image.Image:
    factor = max(1, max(grey.size) // _WORKING_SIDE)
    return lines.ink_map(grey.reduce(factor) if factor > 1 else grey, 6)


def _score(ink: Image.Image, degrees: float) -> float:
    turned = ink.rotate(degrees, resample=Image.Resampling.NEAREST) if degrees else ink
    rows = turned.resize((1, turned.height), Image.Resampling.BOX).tobytes()
    return float(sum((rows[i + 1] - rows[i]) ** 2 for i in range(len(rows) - 1)))
