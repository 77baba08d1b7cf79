"""Issue 18 in real Chromium: an upload that expands past its limit is refused at once while another session
reruns (item 1), and the Pods page's CSV opens in a spreadsheet as text (item 7)."""

from __future__ import annotations

import csv
import re
import time

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from core.outcomes import gone_label
from core.policy import MATCHED_CACHE
from tests.e2e.conftest import NAMESPACE, kubectl, kubectl_json, open_page, poll, settle
from tests.e2e.test_dashboard_e2e import pod_yaml
from tests.unit.test_engine_manifests import aliased

pytestmark = pytest.mark.e2e

# The issue: refused "within 1 s while another session's rerun stays under 1 s". The server's own work is
# milliseconds (tests/unit/test_engine_manifests.py bounds the loader at 1 s); in a browser on a shared 2-core machine
# an innocent 1 MB upload alone took 1.5-4.4 s at load 14, hence these bounds. Main spends minutes re-serialising.
REFUSAL_SECONDS = 10.0
RERUN_SECONDS = 5.0
REFUSED = "expands to more than 3 MiB once its aliases are resolved"
ERROR = "[data-testid='stAlertContentError']"
# Records in the page when an error first shows (performance.now(), ms), so another tab can be timed meanwhile.
WATCH_FOR_ERROR = """(selector) => {
  window.imcStarted = performance.now(); window.imcRefused = null;
  new MutationObserver((_, observer) => {
    if (document.querySelector(selector)) { window.imcRefused = performance.now(); observer.disconnect(); }
  }).observe(document.body, {subtree: true, childList: true});
}"""


def test_an_alias_bomb_upload_is_refused_at_once_while_another_session_reruns(viewer_app, browser, tmp_path):
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(aliased(1, 200))  # 1 MiB anchored once, aliased 200 times in args: the repro
    attacker = browser.new_context().new_page()
    other = browser.new_context(viewport={"width": 1600, "height": 1200}).new_page()
    try:
        open_page(other, f"{viewer_app.url}/pods")
        open_page(attacker, f"{viewer_app.url}/preview")
        attacker.get_by_role("radio", name="Upload").click()
        settle(attacker)
        attacker.evaluate(WATCH_FOR_ERROR, ERROR)
        attacker.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(str(bomb))
        search = other.get_by_role("textbox", name="Search")
        started = time.monotonic()
        search.fill("no-such-pod-anywhere")
        search.press("Enter")
        expect(other.get_by_text(re.compile(r"^0 of [\d,]+ ECI pods$"))).to_be_visible(timeout=60_000)
        rerun = time.monotonic() - started
        attacker.wait_for_function("() => window.imcRefused !== null", timeout=60_000)
        refused = attacker.evaluate("() => (window.imcRefused - window.imcStarted) / 1000")
        expect(attacker.locator(ERROR)).to_contain_text(f"bomb.yaml: document 1: {REFUSED}")
    finally:
        attacker.context.close()
        other.context.close()
    assert refused < REFUSAL_SECONDS, f"the upload was refused after {refused:.1f} s"
    assert rerun < RERUN_SECONDS, f"the other session's rerun took {rerun:.1f} s"


def test_the_pods_csv_quotes_a_formula_so_a_spreadsheet_shows_it_as_text(app, sim, page, namespace, tmp_path):
    formula = '=HYPERLINK("http://x","y")'
    kubectl(sim, "apply", "-f", "-", input_text=pod_yaml("e2e-formula", "nginx:1.25"))
    poll(lambda: (kubectl_json(sim, "get", "pod", "-n", namespace, "e2e-formula")["metadata"].get("annotations")
                  or {}).get(MATCHED_CACHE), 30, "ECI to report the hit")
    # ECI's matched-cache annotation, rewritten by anyone who may patch the pod: the CSV's "Cache ID"
    kubectl(sim, "annotate", "--overwrite", "pod", "-n", NAMESPACE, "e2e-formula", f"{MATCHED_CACHE}={formula}")
    open_page(page, f"{app.url}/pods?q=e2e-formula")
    expect(page.get_by_text(re.compile(r"^1 of [\d,]+ ECI pods$"))).to_be_visible(timeout=20_000)

    def downloaded_row() -> dict | None:
        """The pod's row of the page's CSV download, once the dashboard has seen the new annotation (None before, or
        when the live redraw replaced the button under the click)."""
        try:
            with page.expect_download(timeout=5_000) as download:
                page.get_by_role("button", name="Download CSV").click()
        except PlaywrightTimeout:
            return None
        path = tmp_path / "imc-pods.csv"
        download.value.save_as(path)
        with path.open(newline="") as handle:
            [row] = [r for r in csv.DictReader(handle) if r["Pod"] == "e2e-formula"]
        return row if "HYPERLINK" in row["Cache ID"] else None

    row = poll(downloaded_row, 60, "the download to hold the rewritten annotation")
    assert row["Cache ID"] == "'" + gone_label(formula)  # a hit on a cache imc never saw, named so (issue 20)
