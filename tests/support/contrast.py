"""WCAG 2.x contrast of the text a real browser shows (no tests here): every visible text node's
element, form control value and placeholder, with its computed colour over the background it
actually sits on (ancestors' backgrounds composited, alpha and opacity included).

A ratio is (L1 + 0.05) / (L2 + 0.05) of the relative luminances; the bar is 4.5:1, or 3:1 for
large text (at least 24 px, or 18.66 px bold). WCAG 1.4.3 exempts disabled controls ("part of
an inactive user interface component"); they are flagged, and the console holds them to the bar
too (an advisor still reads what they cannot press yet)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypedDict


class Sample(TypedDict):
    screen: str
    text: str
    where: str
    ratio: float
    required: float
    fg: str
    bg: str
    disabled: bool


MEASURE = (Path(__file__).with_suffix(".js")).read_text(encoding="utf-8")



async def measure(page: Any, screen: str) -> list[Sample]:
    """The contrast of every visible text on `page` now, tagged with `screen`."""
    samples: list[Sample] = [{**s, "screen": screen} for s in await page.evaluate(MEASURE)]
    return samples


def below_bar(samples: list[Sample]) -> list[Sample]:
    """The texts under their bar, disabled controls included."""
    return [s for s in samples if s["ratio"] < s["required"]]
