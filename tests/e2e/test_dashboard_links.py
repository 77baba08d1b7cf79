"""One click between related things, links that reproduce a view, and pages that fit at 1024 px (issue 10)."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from playwright.sync_api import expect

from bench.waits import poll
from tests.e2e.conftest import click_link, kubectl, ms, new_context, open_page, screenshot_whole, settle
from tests.e2e.test_dashboard_e2e import PAGES, no_exception, pod_yaml

pytestmark = pytest.mark.e2e

LINKS = "[data-testid='stPageLink'] a"


def test_the_overview_tiles_link_to_the_pods_they_count(app, page):
    open_page(page, app.url)
    # the tiles of what exists now link to exactly it; the window's tiles count deleted pods too, which no live
    # list shows, so they link nowhere (issue 20/21: a link lands on exactly what its tile counts)
    for query in ("phase=Ready", "phase=Failed", "disagree=1"):
        expect(page.locator(f"{LINKS}[href*='{query}']")).to_have_count(1, timeout=ms(20))
    for query in ("decision=miss", "decision=fail"):
        expect(page.locator(f"{LINKS}[href*='{query}']")).to_have_count(0)
    click_link(page, LINKS, "disagree=1")
    page.wait_for_url("**/pods?disagree=1", timeout=ms(30))
    expect(page.get_by_role("heading", name="Pods")).to_be_visible(timeout=ms(20))
    expect(page.get_by_role("switch", name="Only disagreements")).to_be_checked()
    no_exception(page)


def test_a_decision_link_lists_only_those_pods(app, sim, page, namespace):
    # an image nobody caches: the engine predicts a miss
    kubectl(sim, "apply", "-f", "-", input_text=pod_yaml("e2e-links-miss", "busybox:does-not-exist"))
    open_page(page, f"{app.url}/pods?decision=miss")
    expect(page.get_by_text("ECI pods", exact=False).first).to_be_visible(timeout=ms(20))

    poll(lambda: f"{namespace}/e2e-links-miss" in (column(page, "Pod") or []), 30, "the new pod in the table")
    predicted = column(page, "Predicted")
    assert predicted and all(value == "Miss" for value in predicted), predicted
    assert "decision=miss" in page.url
    no_exception(page)


def column(page, name: str) -> list[str] | None:
    """The cells of one column of the first table, from the grid's accessible DOM (the rows drawn)."""
    return page.evaluate(
        "(name) => { const grid = document.querySelector(\"[data-testid='stDataFrame']\"); if (!grid) return null;"
        " const header = [...grid.querySelectorAll('[role=columnheader]')].find(h => h.textContent.trim() === name);"
        " if (!header) return null; const index = header.getAttribute('aria-colindex');"
        " return [...grid.querySelectorAll(`[role=gridcell][aria-colindex='${index}']`)].map(c => c.textContent); }",
        name,
    )


def test_a_create_cache_link_fills_the_form(app, page):
    open_page(page, f"{app.url}/create-cache?images={quote('nginx:1.25,busybox:1.30')}")
    expect(page.get_by_label("Images", exact=True)).to_have_value("nginx:1.25\nbusybox:1.30", timeout=ms(20))
    no_exception(page)


def test_a_pods_cache_links_to_that_cache(app, sim, page, namespace):
    kubectl(sim, "apply", "-f", "-", input_text=pod_yaml("e2e-links-hit", "nginx:1.25"))
    open_page(page, f"{app.url}/pods?pod={namespace}/e2e-links-hit")
    link = page.locator(LINKS).filter(has_text="Open cache ")
    expect(link).to_be_visible(timeout=ms(20))
    cache = link.inner_text().strip().rsplit(" ", 1)[-1]
    link.click()
    page.wait_for_url(f"**/caches?cache={cache}", timeout=ms(30))
    expect(page.get_by_role("heading", name=cache, exact=True)).to_be_visible(timeout=ms(20))
    no_exception(page)


def selected_row(page) -> str:
    """The text of the table's selected row (the grid's accessible DOM), or ""."""
    return page.evaluate("() => { const row = document.querySelector(\"[data-testid='stDataFrame'] "
                         "tr[aria-selected=true]\"); return row ? row.textContent : ''; }")


def test_a_deep_linked_pod_is_selected_and_stays_so_when_rows_move_above_it(app, sim, page, namespace):
    kubectl(sim, "apply", "-f", "-", input_text=pod_yaml("e2e-links-zz", "nginx:1.25"))
    # searched, so the rows fit the table's height (the grid draws, and marks selected, only the rows in view)
    open_page(page, f"{app.url}/pods?q=e2e-links-z&pod={namespace}/e2e-links-zz")
    poll(lambda: selected_row(page).startswith(f"{namespace}/e2e-links-zz"), 20, "the linked pod selected")
    # a pod sorting just above ours: the row positions move under the selection
    kubectl(sim, "apply", "-f", "-", input_text=pod_yaml("e2e-links-za", "nginx:1.25"))
    poll(lambda: f"{namespace}/e2e-links-za" in (column(page, "Pod") or []), 30, "the new pod in the table")
    settle(page)
    expect(page.get_by_role("heading", name=f"{namespace}/e2e-links-zz")).to_be_visible()
    assert f"pod={namespace}/e2e-links-zz" in page.url
    no_exception(page)


def test_at_1024_every_pill_and_toggle_on_pods_lies_inside_the_viewport(app, browser):
    context = new_context(browser, 1024, 768)
    try:
        page = context.new_page()
        open_page(page, f"{app.url}/pods")
        controls = page.locator("[data-testid='stButtonGroup'] button, [data-testid='stCheckbox'] label")
        # four pills and the toggle, all drawn (the first can be visible before the rest are in the page)
        expect(controls.nth(4)).to_be_visible(timeout=ms(20))
        settle(page)
        for number in range(controls.count()):
            box = controls.nth(number).bounding_box()
            assert box and box["x"] >= 0 and box["y"] >= 0, (number, box)
            assert box["x"] + box["width"] <= 1024 and box["y"] + box["height"] <= 768, (number, box)
    finally:
        context.close()


# the text of metric labels, values and headings that the browser cut short with an ellipsis
CLIPPED_LABELS = """() => [...document.querySelectorAll(
    "[data-testid='stMetricLabel'] *, [data-testid='stMetricValue'] *, [data-testid='stHeading'] *")]
    .filter(e => getComputedStyle(e).textOverflow === "ellipsis" && e.scrollWidth > e.clientWidth)
    .map(e => e.textContent)"""


@pytest.mark.parametrize("width", [1440, 1024])
def test_every_page_loads_without_an_exception_and_fits_the_width(app, browser, width):
    context = new_context(browser, width, 900)
    try:
        page = context.new_page()
        for name, path in PAGES.items():
            open_page(page, f"{app.url}/{path}")
            expect(page.locator("[data-testid='stMain']")).to_be_visible()
            if name == "overview":
                # a new session's first page is drawn in pieces: on a loaded machine its tiles took over 5 s
                expect(page.get_by_text("Demo cluster").first).to_be_visible(timeout=ms(20))
                expect(page.locator("[data-testid='stMetric']", has_text="ECI pods")).to_be_visible(timeout=ms(20))
                expect(page.locator(".js-plotly-plot").first).to_be_visible(timeout=ms(20))
            settle(page)
            wide = page.evaluate("() => { const main = document.querySelector(\"[data-testid='stMain']\");"
                                 " return [main.scrollWidth, main.clientWidth]; }")
            assert wide[0] <= wide[1], f"{name} at {width} px scrolls sideways: {wide}"
            clipped = page.evaluate(CLIPPED_LABELS)
            assert not clipped, f"{name} at {width} px cuts labels short: {clipped}"
            no_exception(page)
            screenshot_whole(page, f"page-{name}-{width}")
            page.set_viewport_size({"width": width, "height": 900})
    finally:
        context.close()
