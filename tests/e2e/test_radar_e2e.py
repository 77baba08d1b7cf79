"""The cache radar in Chromium (issue 22): a cache that expires within the window is listed, one after it is not."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from bench.waits import poll
from tests.e2e.conftest import kubectl, ms, open_page, screenshot_whole
from tests.e2e.test_dashboard_e2e import no_exception

pytestmark = pytest.mark.e2e

EXPIRING = """() => { for (const grid of document.querySelectorAll("[data-testid='stDataFrame']")) {
    const headers = [...grid.querySelectorAll('[role=columnheader]')];
    if (!headers.some(h => h.textContent.trim() === 'Expires in')) continue;
    const index = headers.find(h => h.textContent.trim() === 'Cache').getAttribute('aria-colindex');
    return [...grid.querySelectorAll(`[role=gridcell][aria-colindex='${index}']`)].map(c => c.textContent); }
    return []; }"""


def cache_yaml(name: str, days: int) -> str:
    """An ImageCache kept `days` days."""
    return (f"apiVersion: eci.alibabacloud.com/v1\nkind: ImageCache\nmetadata: {{name: {name}}}\n"
            f"spec: {{images: ['nginx:1.25'], retentionDays: {days}}}\n")


def expiring(page) -> list[str]:
    """The caches the radar's Expiring table draws (a link cell's accessible text is its /caches?cache= link)."""
    return [cell.rsplit("?cache=", 1)[-1] for cell in page.evaluate(EXPIRING)]


def test_the_radar_lists_a_cache_that_expires_within_the_window(app, sim, page):
    kubectl(sim, "apply", "-f", "-", input_text=cache_yaml("e2e-radar-soon", 3) + "---\n" +
            cache_yaml("e2e-radar-later", 20))
    # searched, so only these two caches' rows are in the tables (the grid draws only the rows in its view)
    open_page(page, f"{app.url}/radar?search=e2e-radar")
    expect(page.get_by_role("textbox", name="Search")).to_have_value("e2e-radar")
    poll(lambda: expiring(page), 30, "the radar listing e2e-radar-soon as expiring",
         until=lambda listed: "e2e-radar-soon" in listed)
    assert "e2e-radar-later" not in expiring(page)  # 20 days: past the 7-day window
    open_page(page, f"{app.url}/radar?search=e2e-radar&days=30")
    expect(page.get_by_text("Within 30 days;", exact=False)).to_be_visible(timeout=ms(10))
    poll(lambda: expiring(page), 30, "the radar listing both caches within 30 days",
         until=lambda listed: {"e2e-radar-soon", "e2e-radar-later"} <= set(listed))
    no_exception(page)
    screenshot_whole(page, "radar-expiring-1600")
