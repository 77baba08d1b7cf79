"""Issue 25 in Chromium: one kubeconfig of two `imc sim` clusters (east with 3 ECI pods, west with 7); the sidebar's
context picker re-points the pages, a deep link ?context= opens on its cluster, the Fleet page shows both side by side
and still shows east, saying why west is not live, once west is gone."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from kubernetes import client
from playwright.sync_api import expect

from bench.fleet import merge_kubeconfigs
from bench.waits import Dashboard, poll, scaled, start_dashboard
from sim.launch import SimProcess, start_sim
from sim.scenarios import deployment
from tests.e2e.conftest import click_until, ms, new_context, open_page, screenshot, screenshot_whole, settle
from tests.e2e.test_dashboard_e2e import choose
from tests.integration.conftest import TEST_SPEED, new_api_client

pytestmark = pytest.mark.e2e
PODS = {"east": 3, "west": 7}
BOTH = re.compile(r"^10 of 10 ECI pods in 2 clusters$")  # the Pods page of a context IMC_CONTEXTS names shows both


@pytest.fixture(scope="module")
def fleet(tmp_path_factory) -> Iterator[tuple[dict[str, SimProcess], Dashboard]]:
    """Two empty sims with 3 and 7 ECI pods, merged into one kubeconfig (east current), and a dashboard watching both
    (IMC_CONTEXTS=east,west)."""
    home = tmp_path_factory.mktemp("fleet-e2e")
    sims: dict[str, SimProcess] = {}
    try:
        for name, replicas in PODS.items():
            sims[name] = start_sim(scenario="empty", state_dir=home / name, extra_args=("--speed", TEST_SPEED),
                                   timeout=scaled(30))
            apps = client.AppsV1Api(new_api_client(sims[name]))
            apps.create_namespaced_deployment("default", deployment(f"{name}-web", ["nginx:1.27"], replicas=replicas))
        for name, replicas in PODS.items():
            core = client.CoreV1Api(new_api_client(sims[name]))
            poll(lambda c=core, n=replicas: len(c.list_namespaced_pod("default").items) == n, 30, f"{name}'s pods")
        kubeconfig = merge_kubeconfigs({name: sim.kubeconfig for name, sim in sims.items()}, home / "kubeconfig")
        try:
            app = start_dashboard(str(kubeconfig), home / "streamlit.log", XDG_CACHE_HOME=str(home / "cache"),
                                  IMC_CONTEXT="", IMC_CONTEXTS="east,west")
        except RuntimeError as exc:
            pytest.fail(str(exc))
        yield sims, app
        app.stop()
    finally:
        for sim in sims.values():
            sim.stop()


def eci_pods(page):
    """The Overview's ECI pods tile's value."""
    return page.locator("[data-testid='stMetric']", has_text="ECI pods").locator("[data-testid='stMetricValue']")


def context_badge(page, name: str):
    """The cluster badge naming a context."""
    return page.get_by_text(re.compile(rf"Context {re.escape(name)}$")).first  # after its icon's name


def test_switching_context_in_the_sidebar_shows_the_other_clusters_counts_on_every_page(fleet, page):
    _, app = fleet
    open_page(page, app.url)
    expect(eci_pods(page)).to_have_text("3", timeout=ms(30))
    expect(context_badge(page, "east")).to_be_visible()
    choose(page, "Context", "west")
    expect(eci_pods(page)).to_have_text("7", timeout=ms(30))
    expect(context_badge(page, "west")).to_be_visible()
    expect(page).to_have_url(re.compile(r"[?&]context=west"))
    click_until(page, page.get_by_role("link", name="Pods"),
                lambda timeout: expect(page.get_by_text(BOTH)).to_be_visible(timeout=timeout))
    expect(page).to_have_url(re.compile(r"/pods\?(.*&)?context=west"))
    expect(context_badge(page, "west")).to_be_visible()


def test_a_deep_link_opens_on_its_context_and_the_write_form_names_it(fleet, page):
    _, app = fleet
    open_page(page, f"{app.url}/pods?context=west")
    expect(page.get_by_text(BOTH)).to_be_visible(timeout=ms(30))
    expect(page.get_by_role("combobox", name="Context")).to_have_value("west")
    open_page(page, f"{app.url}/create-cache?context=east")
    expect(context_badge(page, "east")).to_be_visible(timeout=ms(30))
    expect(page.locator("[data-testid='stHorizontalBlock'], [data-testid='stLayoutWrapper']",
                        has=page.get_by_role("button", name="Create")).get_by_text("in context east")).to_be_visible()


def fleet_cells(page, column: str) -> list[str] | None:
    """The drawn cells of one column of the Fleet table."""
    from tests.e2e.test_pages_read_right_e2e import cells

    return cells(page, column)


@contextmanager
def sized_page(browser, width: int):
    """A tab `width` px wide (900 high), closed afterwards."""
    context = new_context(browser, width, 900)
    try:
        yield context.new_page()
    finally:
        context.close()


def no_sideways_scroll(page) -> None:
    """The page's main part is no wider than the window."""
    assert page.evaluate("() => document.querySelector(\"[data-testid='stMain']\").scrollWidth"
                         " <= window.innerWidth"), "the page scrolls sideways"


@pytest.mark.parametrize("width", [1440, 1024])
def test_the_fleet_page_shows_both_clusters_side_by_side(fleet, browser, width):
    _, app = fleet
    with sized_page(browser, width) as page:
        open_page(page, f"{app.url}/fleet")
        poll(lambda: fleet_cells(page, "Context") == ["east", "west"], 30, "a row for east and for west")
        poll(lambda: fleet_cells(page, "ECI pods") == ["3", "7"], 30, "each cluster's own ECI pods")
        assert fleet_cells(page, "Watch") == ["Live", "Live"]
        no_sideways_scroll(page)
        screenshot_whole(page, f"fleet-{width}")
        open_page(page, f"{app.url}/?context=west")
        expect(eci_pods(page)).to_have_text("7", timeout=ms(30))
        page.get_by_role("combobox", name="Context").click()
        settle(page)
        screenshot(page, f"context-picker-{width}", full_page=False)  # the open list is in the first screen


@pytest.mark.parametrize("width", [1440, 1024])
def test_pods_and_caches_show_both_clusters_with_a_cluster_column_and_the_filter_narrows_to_one(fleet, browser, width):
    _, app = fleet
    with sized_page(browser, width) as page:
        open_page(page, f"{app.url}/pods")
        expect(page.get_by_text(BOTH)).to_be_visible(timeout=ms(30))
        poll(lambda: sorted(fleet_cells(page, "Cluster") or []) == ["east"] * 3 + ["west"] * 7, 30,
             "a Cluster cell for each of both clusters' pods")
        header = page.evaluate("() => { const h = [...document.querySelectorAll('[role=columnheader]')]"
                               ".find(h => h.textContent.trim() === 'Cluster'); if (!h) return null;"
                               " const r = h.getBoundingClientRect(); return {x: r.x, width: r.width}; }")
        assert header is not None and header["width"] <= 100 and header["x"] + header["width"] <= width, header
        no_sideways_scroll(page)
        screenshot_whole(page, f"pods-two-clusters-{width}")
        page.locator("[data-testid='stMultiSelect']", has_text="Cluster").click()
        page.keyboard.type("west")
        page.keyboard.press("Enter")
        page.keyboard.press("Escape")
        expect(page.get_by_text(re.compile(r"^7 of 10 ECI pods in 2 clusters$"))).to_be_visible(timeout=ms(30))
        poll(lambda: fleet_cells(page, "Cluster") == ["west"] * 7, 30, "west's pods alone")
        expect(page).to_have_url(re.compile(r"[?&]cluster=west"))
        open_page(page, f"{app.url}/caches")
        expect(page.get_by_text(re.compile(r"caches in 2 clusters"))).to_be_visible(timeout=ms(30))
        screenshot_whole(page, f"caches-two-clusters-{width}")


def test_a_cluster_gone_says_so_in_its_row_and_the_other_stays_live(fleet, page):
    sims, app = fleet
    sims["west"].process.kill()
    open_page(page, f"{app.url}/fleet")
    poll(lambda: (fleet_cells(page, "Watch") or ["", ""])[1].startswith("Not live since"), 40,
         "west's row to say it is not live")
    assert fleet_cells(page, "Watch")[0] == "Live" and fleet_cells(page, "ECI pods")[0] == "3"
    screenshot_whole(page, "fleet-west-down")
