"""The Overview's headline figures in real Chromium: each window's tiles say the window and n, and both rows of
tiles stay whole at 1440 and 1024 px (screenshots of the 1 h and 7 d windows under screenshots/)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import ms, new_context, open_page, screenshot
from tests.e2e.test_dashboard_e2e import pick_mode

pytestmark = pytest.mark.e2e

ROWS = (("ECI pods", "Ready caches", "Failed caches", "Disagreements"),
        ("Pods decided", "Cache hit rate", "Failed pods", "Pull time saved"),
        ("Hit start p50", "Hit start p90", "Miss start p50", "Miss start p90"))
TILE_TOPS = """labels => labels.map(label => {
  const metric = [...document.querySelectorAll("[data-testid='stMetric']")]
    .find(m => m.querySelector("[data-testid='stMetricLabel']").textContent.trim() === label);
  return metric ? Math.round(metric.getBoundingClientRect().top) : null;
})"""


def metric(page, label: str):
    """The metric tile with this label."""
    return page.locator("[data-testid='stMetric']").filter(
        has=page.locator("[data-testid='stMetricLabel']", has_text=re.compile(rf"^{re.escape(label)}$")))


@pytest.mark.parametrize("window", ["1 h", "7 d"])
@pytest.mark.parametrize("width", [1440, 1024])
def test_each_window_says_its_window_and_n_and_no_tile_wraps_alone(app, browser, width, window):
    context = new_context(browser, width, 1300)  # the tiles and the start figures, in one screen
    page = context.new_page()
    try:
        open_page(page, app.url)
        pick_mode(page, window)
        expect(page.get_by_text(f"Last {window}: pods created in the last {window}, from the history file")
               ).to_be_visible(timeout=ms(20))
        expect(metric(page, "Miss start p50").locator("[data-testid='stMetricDelta']")).to_have_text(
            re.compile(r"^of [\d,]+ miss(es)?$"))
        expect(metric(page, "Hit start p90").locator("[data-testid='stMetricDelta']")).to_have_text(
            re.compile(r"^of [\d,]+ hits?$"))
        for labels in ROWS:  # four tiles a row, side by side: none wrapped to a line of its own
            tops = page.evaluate(TILE_TOPS, list(labels))
            assert None not in tops and max(tops) - min(tops) <= 2, (window, labels, tops)
        screenshot(page, f"overview-{width}-{window.replace(' ', '')}")
    finally:
        context.close()
