"""Every page reads right the first time: no contradiction, nothing hidden at 1024 px, no dead click (issue 21)."""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from bench.waits import poll
from core.caches import API_VERSION, KIND
from core.policy import IMC_ID
from core.timeutil import parse_time
from tests.e2e.conftest import click_link, kubectl, kubectl_json, ms, new_context, open_page, screenshot_whole, settle
from tests.e2e.test_dashboard_e2e import no_exception, pick_mode
from tests.e2e.test_dashboard_links import LINKS, column
from tests.e2e.test_patch_form_e2e import open_deployment

pytestmark = pytest.mark.e2e

NARROW = {"width": 1024, "height": 768}


@pytest.fixture(scope="module")
def namespace(sim):
    """A namespace of this module's own."""
    kubectl(sim, "create", "namespace", "e2e-read", check=False)
    return "e2e-read"


def apply(sim, obj: dict) -> None:
    """kubectl apply one object."""
    kubectl(sim, "apply", "-f", "-", input_text=json.dumps(obj))


def cache_object(name: str, images: list[str], size: int = 20) -> dict:
    """An ImageCache as a user writes it."""
    return {"apiVersion": API_VERSION, "kind": KIND, "metadata": {"name": name},
            "spec": {"images": images, "imageCacheSize": size}}


def eci_pod(name: str, namespace: str, images: list[str], annotations: dict | None = None) -> dict:
    """An ECI pod."""
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {
        "name": name, "namespace": namespace, "labels": {"alibabacloud.com/eci": "true"},
        "annotations": annotations or {}},
        "spec": {"containers": [{"name": f"c{n}", "image": image} for n, image in enumerate(images)]}}


def phase_of(sim, cache: str) -> str:
    """An ImageCache's phase now."""
    return (kubectl_json(sim, "get", "imagecache", cache).get("status") or {}).get("phase") or ""


def cells(page, name: str) -> list[str] | None:
    """The drawn cells of the column titled `name` in the first table that has one (the grid's accessible DOM)."""
    return page.evaluate(
        "(name) => { for (const grid of document.querySelectorAll(\"[data-testid='stDataFrame']\")) {"
        " const header = [...grid.querySelectorAll('[role=columnheader]')].find(h => h.textContent.trim() === name);"
        " if (!header) continue; const index = header.getAttribute('aria-colindex');"
        " return [...grid.querySelectorAll(`[role=gridcell][aria-colindex='${index}']`)].map(c => c.textContent); }"
        " return null; }",
        name,
    )


def narrow(browser):
    """A 1024×768 tab whose waits are stretched by IMC_TEST_SLOWDOWN."""
    return new_context(browser, **NARROW)


def open_overview(page, url: str) -> None:
    """The Overview with its tiles drawn."""
    open_page(page, url)
    expect(page.locator(f"{LINKS}[href*='phase=Failed']")).to_have_count(1, timeout=ms(20))


def test_the_ready_caches_tile_lands_on_only_ready_caches(app, page):
    open_overview(page, app.url)
    # the tile's link drawn (the first test on a worker meets a demo sim seconds old, its Overview still filling in)
    expect(page.locator(f"{LINKS}[href*='phase=Ready']")).to_have_count(1, timeout=ms(20))
    click_link(page, LINKS, "phase=Ready")
    page.wait_for_url("**/caches?phase=Ready", timeout=ms(30))
    expect(page.get_by_role("heading", name="Image caches")).to_be_visible(timeout=ms(20))
    phases = poll(lambda: column(page, "Phase"), 20, "the caches table drawn")
    assert set(phases) == {"Ready"}, phases
    open_overview(page, app.url)
    click_link(page, LINKS, "phase=Failed")
    page.wait_for_url("**/caches?phase=Failed", timeout=ms(30))
    failed = poll(lambda: column(page, "Phase"), 20, "the caches table drawn")
    assert set(failed) <= {"Failed", "UpdateFailed"} and failed, failed
    assert any(text.startswith("removed ") for text in column(page, "Expires")), column(page, "Expires")
    no_exception(page)


def refused_pod(sim, namespace: str) -> tuple[str, str]:
    """A pod pinned to a cache that was still building when the pod was created: (pod, cache).

    The sim builds a cache of 20 images in about 11 s of its time: a pod created right after the cache is refused,
    unless the machine was so slow that the cache was Ready first; then another pair is tried.
    """
    images = [f"registry.example.com/e2e/building-{number}:1" for number in range(20)]
    for attempt in range(5):
        cache, pod = f"e2e-building-{attempt}", f"e2e-refused-{attempt}"
        apply(sim, cache_object(cache, images))
        cache_id = poll(lambda cache=cache: (kubectl_json(sim, "get", "imagecache", cache).get("status") or {}).get(
            "imageCacheId"), 20, "the cache's ID")
        # a pod in the cache's own second reads as created before it ("did not exist yet", the same-second rule)
        created = parse_time(kubectl_json(sim, "get", "imagecache", cache)["metadata"]["creationTimestamp"])
        poll(lambda created=created: datetime.now(UTC) >= created + timedelta(seconds=1), 5,
             "a second after the cache's creation")
        apply(sim, eci_pod(pod, namespace, images[:1], {IMC_ID: cache_id}))
        conditions = kubectl_json(sim, "get", "pod", "-n", namespace, pod)["status"].get("conditions") or []
        if any(c.get("reason") == "ImageCacheNotComplete" for c in conditions):
            return pod, cache
    pytest.fail("every pinned pod was created after its cache was Ready")


def test_a_pod_pinned_to_a_cache_creating_at_its_creation_will_not_start_and_says_so(app, sim, page, namespace):
    pod, cache = refused_pod(sim, namespace)
    poll(lambda: phase_of(sim, cache) == "Ready", 60, "the pinned cache Ready since")  # now Ready, then was not
    open_page(page, f"{app.url}/pods?pod={namespace}/{pod}")
    main = page.locator("[data-testid='stMain']")
    expect(main.get_by_text("Will not start.", exact=False)).to_be_visible(timeout=ms(20))
    # the dashboard's watch may still hold the cache as Creating ("was not Ready …; it is Creating now") when the page
    # is drawn: both wordings tell the cache as it stood at the pod's creation (a fresh clone's run saw the first)
    at_creation = re.compile(rf"{re.escape(cache)} was not Ready (yet )?when the pod was created")
    expect(main.get_by_text(at_creation).first).to_be_visible(timeout=ms(20))
    expect(main.get_by_text("still starting", exact=False)).to_have_count(0)
    expect(main.get_by_text(f"{cache} is Ready", exact=False)).to_have_count(0)
    no_exception(page)
    screenshot_whole(page, "pod-refused-1600")


def test_a_deep_link_to_a_deleted_pod_in_the_ledger_shows_its_row(app, sim, page, namespace):
    apply(sim, eci_pod("e2e-gone", namespace, ["nginx:1.25"]))
    ledger = app.log.parent / "history.sqlite3"

    def row() -> tuple | None:
        """The pod's row, or None while the dashboard has not yet written it (or made the file)."""
        try:
            with sqlite3.connect(f"file:{ledger}?mode=ro", uri=True) as connection:
                return connection.execute("SELECT deleted FROM pods WHERE namespace = ? AND name = ?",
                                          (namespace, "e2e-gone")).fetchone()
        except sqlite3.OperationalError:  # no file yet, or no table yet
            return None

    poll(row, 30, "the pod in the dashboard's ledger")
    kubectl(sim, "delete", "pod", "-n", namespace, "e2e-gone", "--wait=true")
    poll(lambda: (row() or (None,))[0] is not None, 30, "the ledger to mark the pod deleted")
    open_page(page, f"{app.url}/pods?pod={namespace}/e2e-gone")
    expect(page.get_by_text("This pod is no longer in the cluster", exact=False)).to_be_visible(timeout=ms(20))
    expect(page.get_by_text("There is no pod", exact=False)).to_have_count(0)
    facts = poll(lambda: dict(zip(cells(page, "") or [], cells(page, "Value") or [], strict=False)), 20,
                 "the ledger's row drawn")
    assert " ago (" in facts["Deleted"] and facts["Deleted"].endswith(" UTC)"), facts
    assert facts["imc predicted"] == "hit" and facts["Cache"] != "none", facts
    no_exception(page)


def test_the_pin_picker_preselects_the_cache_the_workload_uses_now(app, sim, page, namespace):
    # "big" holds both images but is too big for the pod's 30 GiB of storage: ECI uses "used", which holds one
    images = ["registry.example.com/e2e/pin-a:1", "registry.example.com/e2e/pin-b:1"]
    apply(sim, cache_object("e2e-pin-big", images, size=100))
    apply(sim, cache_object("e2e-pin-used", images[:1]))
    poll(lambda: phase_of(sim, "e2e-pin-big") == phase_of(sim, "e2e-pin-used") == "Ready", 60, "both caches Ready")
    labels = {"app": "e2e-pin", "alibabacloud.com/eci": "true"}
    apply(sim, {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "e2e-pin", "namespace": namespace},
                "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "e2e-pin"}}, "template": {
                    "metadata": {"labels": labels},
                    "spec": {"containers": [{"name": f"c{n}", "image": image} for n, image in enumerate(images)]}}}})
    open_deployment(page, app.url, namespace, "e2e-pin")
    expect(page.get_by_text("ECI uses cache e2e-pin-used", exact=False).first).to_be_visible(timeout=ms(20))
    pick_mode(page, "Pin")
    picker = page.get_by_role("combobox", name="Cache to pin")
    value = poll(lambda: picker.input_value(), 20, "the picker drawn")
    assert value.startswith("e2e-pin-used ("), value
    no_exception(page)


def test_apply_is_disabled_for_a_deployment_not_on_eci_with_the_reason(app, page):
    open_deployment(page, app.url, "default", "toolbox")
    pick_mode(page, "Off")
    settle(page)
    expect(page.get_by_text("template after", exact=False).first).to_be_visible()  # there is a change to apply
    expect(page.get_by_role("button", name="Apply")).to_be_disabled()
    expect(page.get_by_text("do not run on ECI", exact=False)).to_be_visible()
    no_exception(page)


# The grid draws on a canvas; its accessible table holds a header for each column in view (the last one maybe cut),
# and its scroller is as wide as all the columns
DRAWN_HEADERS = """() => { const grid = document.querySelector("[data-testid='stDataFrame']"); if (!grid) return null;
    const scroller = grid.querySelector('.dvn-scroller');
    const headers = [...grid.querySelectorAll('[role=columnheader]')].map(h => h.textContent.trim());
    return headers.length ? [headers, scroller.scrollWidth > scroller.clientWidth] : null; }"""


def test_at_1024_the_caches_and_pods_tables_show_what_matters_without_scrolling_sideways(app, browser):
    context = narrow(browser)
    try:
        page = context.new_page()
        for path, columns in (("caches", ("Name", "Phase", "Expires", "Pods hit")),
                              ("pods", ("Pod", "Predicted", "ECI", "Cache"))):
            open_page(page, f"{app.url}/{path}")
            expect(page.locator("[data-testid='stDataFrame']").first).to_be_visible(timeout=ms(20))
            headers, scrolls = poll(lambda: page.evaluate(DRAWN_HEADERS), 20, f"the {path} table's headers")
            in_full = headers[:-1] if scrolls else headers  # when it scrolls, the last header drawn may be cut
            assert set(columns) <= set(in_full), (path, headers, scrolls)
            screenshot_whole(page, f"read-right-{path}-1024")
            page.set_viewport_size(NARROW)
    finally:
        context.close()


WIDE = {"width": 1440, "height": 900}
# a grid by one of its headers: its headers in view, whether it scrolls sideways, the drawn cells of a column
GRID_WITH = """([header, column]) => { for (const grid of document.querySelectorAll("[data-testid='stDataFrame']")) {
    const headers = [...grid.querySelectorAll('[role=columnheader]')];
    if (!headers.some(h => h.textContent.trim() === header)) continue;
    const scroller = grid.querySelector('.dvn-scroller');
    const index = headers.find(h => h.textContent.trim() === column)?.getAttribute('aria-colindex');
    return {headers: headers.map(h => h.textContent.trim()), scrolls: scroller.scrollWidth > scroller.clientWidth + 1,
            cells: [...grid.querySelectorAll(`[role=gridcell][aria-colindex='${index}']`)].map(c => c.textContent)}; }
    return null; }"""


def test_at_1440_the_pods_table_shows_every_column_and_the_owner_by_its_name(app, browser):
    context = new_context(browser, **WIDE)
    try:
        page = context.new_page()
        open_page(page, f"{app.url}/pods?q=etl-hourly")
        table = poll(lambda: page.evaluate(GRID_WITH, ["Pod", "Owner"]), 20, "the pods table drawn",
                     until=lambda grid: grid and grid["cells"])
        assert set(table["cells"]) == {"etl-hourly"}, table["cells"]  # the workload's name; its kind is in the detail
        assert not table["scrolls"], table["headers"]
        assert {"Pod", "Predicted", "ECI", "Cache", "Agrees", "Start", "Pull", "Owner", "Phase"} <= set(
            table["headers"]), table["headers"]
        no_exception(page)
    finally:
        context.close()


def test_a_pods_detail_gives_its_owner_and_its_verdict_reasons_without_scrolling_sideways(app, browser):
    context = new_context(browser, **WIDE)
    try:
        page = context.new_page()
        open_page(page, f"{app.url}/pods?q=etl-hourly")
        # only etl-hourly's rows: a loaded run once read the table of another moment, and took an etl pod
        pod = poll(lambda: cells(page, "Pod"), 20, "a pod of etl-hourly",
                   until=lambda rows: rows and all("/etl-hourly-" in row for row in rows))[0]
        for viewport in (NARROW, WIDE):
            page.set_viewport_size(viewport)
            open_page(page, f"{app.url}/pods?pod={pod}")
            verdicts = poll(lambda: page.evaluate(GRID_WITH, ["Reasons", "Reasons"]), 20, "the verdict table drawn",
                            until=lambda grid: grid and grid["cells"])
            assert not verdicts["scrolls"] and "Reasons" in verdicts["headers"], (viewport, verdicts["headers"])
            expect(page.get_by_text("Owner CronJob/etl-hourly", exact=False)).to_be_visible(timeout=ms(20))
            screenshot_whole(page, f"read-right-pod-{viewport['width']}")
        no_exception(page)
    finally:
        context.close()
