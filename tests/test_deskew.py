"""Finding how far a photographed page is tilted."""

from __future__ import annotations

import pytest
from PIL import Image

from bot import deskew
from fixtures import degrade
from fixtures import p7m as samples


@pytest.fixture(scope="module")
def page() -> Image.Image:
    return degrade.render_pdf(samples.dense_page_pdf(2), dpi=100)[0].convert("L")


@pytest.mark.parametrize("tilt", [-6.0, -3.5, 2.5, 5.0])
def test_tilt_is_found_and_undone(page: Image.Image, tilt: float) -> None:
    tilted = page.rotate(tilt, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=255)
    assert deskew.skew_angle(tilted) == pytest.approx(-tilt, abs=0.5)
    assert deskew.skew_angle(deskew.straighten(tilted)) == pytest.approx(0, abs=0.75)


def test_level_page_and_blank_page_are_left_alone(page: Image.Image) -> None:
    assert deskew.straighten(page) is page
    blank = Image.new("L", (800, 1100), 250)
    assert deskew.skew_angle(blank) == 0.0
