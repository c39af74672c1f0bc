"""Which pixels are a form's ruled lines — and the page without them.

Order forms are tables: every value sits in a bordered cell. tesseract
takes a cell's borders for a picture and drops what is inside — on a scanned
order form it read the labels and lost every value. Erasing long straight
runs of ink before OCR brings the values back. Lines are found by a
morphological opening (a run of ink at least :data:`MIN_LINE_SHARE` of the
page long, horizontally or vertically) built from shifted min/max
composites, since Pillow has no line-shaped kernels; a cheap look at a
reduced page decides first whether there are lines at all.
"""

from __future__ import annotations

from collections.abc import Callable

from PIL import Image, ImageChops, ImageFilter

#: A ruled line is a straight run of ink at least this share of the page's width
#: (17 mm on an A4): longer than any stroke of even a big bold glyph.
MIN_LINE_SHARE = 1 / 12
#: A rule is thinner than this share of the page's width (12 px on a 300 dpi A4),
#: or than 6 px, whichever is more: where a not-quite-level rule steps by a pixel
#: it looks twice as thick.
MAX_RULE_THICKNESS_SHARE = 1 / 200
#: A page is ruled when its lines add up to this many page widths.
MIN_RULED_WIDTHS = 2.0
#: How much darker than its surroundings a pixel must be to count as ink.
INK_CONTRAST = 25
_SURVEY_SIDE = 1000
_WORKING_SIDE = 1000


def ink_map(grey: Image.Image, radius: int) -> Image.Image:
    """255 where a pixel is clearly darker than the paper around it (within about
    ``radius`` px), 0 elsewhere: whole strokes and rules, not shadows or tints.

    The paper's brightness is the local maximum, taken on a reduced copy:
    against a local mean, a thick stroke's middle would not count as ink.
    """
    factor = max(1, radius // 3)
    small = grey.reduce(factor) if factor > 1 else grey
    paper = small.filter(ImageFilter.MaxFilter(5)).filter(ImageFilter.BoxBlur(2))
    if factor > 1:
        paper = paper.resize(grey.size, Image.Resampling.BILINEAR)
    return ImageChops.subtract(paper, grey).point(
        lambda value: 255 if value > INK_CONTRAST else 0
    )


def ruled(grey: Image.Image) -> bool:
    """True when the page carries table rules (judged on a reduced copy: ~10 ms)."""
    factor = max(1, max(grey.size) // _SURVEY_SIDE)
    small = grey.reduce(factor) if factor > 1 else grey
    survey = _rules(ink_map(small, 6), max(8, round(small.width * MIN_LINE_SHARE)))
    return survey.histogram()[255] >= MIN_RULED_WIDTHS * small.width


def remove_rules(grey: Image.Image) -> Image.Image:
    """``grey`` with its ruled lines painted white (best on a level page)."""
    # found at half size (four times cheaper), painted at full size
    half = grey.reduce(2) if max(grey.size) > 2 * _WORKING_SIDE else grey
    radius = 6 * max(1, max(half.size) // _WORKING_SIDE)
    mask = _rules(ink_map(half, radius), max(8, round(half.width * MIN_LINE_SHARE)))
    # widen the mask by a pixel or two: a rule's anti-aliased edges are ink too
    mask = _sweep(mask, 2, True, ImageChops.lighter, -1)
    mask = _sweep(_sweep(mask, 2, False, ImageChops.lighter, -1), 2, True, ImageChops.lighter, 1)
    mask = _sweep(mask, 2, False, ImageChops.lighter, 1)
    if mask.size != grey.size:
        mask = mask.resize(grey.size, Image.Resampling.NEAREST)
    return ImageChops.lighter(grey, mask)


def _rules(ink: Image.Image, length: int) -> Image.Image:
    """The ink of thin horizontal or vertical runs at least ``length`` pixels long.

    Thin: a rule is a few pixels thick, while the long strokes of big bold
    glyphs (an app's "-9,99 €") are thicker and must stay.
    """
    # ink thickened by a pixel each way across the line, so that a line that is not quite
    # level (it steps by a pixel now and then) is still one unbroken run
    thickness = max(6, round(ink.width * MAX_RULE_THICKNESS_SHARE)) + 2
    found = []
    for along in (True, False):
        across = not along
        tolerant = _sweep(_sweep(ink, 2, across, ImageChops.lighter, -1), 2, across,
                          ImageChops.lighter, 1)
        runs = _extend(_erode(tolerant, length, horizontal=along), length, horizontal=along)
        thick = _erode(runs, thickness, horizontal=across)
        # grown past the opening's reach, so no sliver along a thick stroke's edge survives
        thick = _sweep(thick, 3 * thickness, across, ImageChops.lighter, -1)
        thick = _sweep(thick, 2 * thickness, across, ImageChops.lighter, 1)
        found.append(ImageChops.subtract(runs, thick))
    return ImageChops.lighter(*found)


def _erode(image: Image.Image, length: int, *, horizontal: bool) -> Image.Image:
    """Keep a pixel only when the ``length`` pixels from it along one axis are all ink."""
    return _sweep(image, length, horizontal, ImageChops.darker, 1)


def _extend(image: Image.Image, length: int, *, horizontal: bool) -> Image.Image:
    """Spread each ink pixel back over the ``length`` pixels an erosion took from it."""
    return _sweep(image, length, horizontal, ImageChops.lighter, -1)


def _sweep(
    image: Image.Image,
    length: int,
    horizontal: bool,
    combine: Callable[[Image.Image, Image.Image], Image.Image],
    direction: int,
) -> Image.Image:
    # doubling the window each step: log2(length) composites instead of length
    out = image
    span = 1
    while span < length:
        step = min(span, length - span)
        shift = direction * step
        out = combine(out, ImageChops.offset(out, shift if horizontal else 0,
                                             0 if horizontal else shift))
        span += step
    return out
