"""Patch deployment opens on the Deployment's current settings and proposes nothing unasked (issue 10, items 1 and 8)."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from core.policy import AUTO_IMC, IMC_ID
from kube.access import FIELD_MANAGER
from tests.e2e.conftest import kubectl, kubectl_json, ms, open_page, screenshot, settle
from tests.e2e.test_dashboard_e2e import choose, no_exception, pick_mode

pytestmark = pytest.mark.e2e

MISSING = "imc-2ze0notthere000000"  # the demo's ml/inference pins this ID, which no cache has


@pytest.fixture(scope="module")
def namespace(sim):
    """A namespace of this module's own."""
    kubectl(sim, "create", "namespace", "e2e-patch", check=False)
    return "e2e-patch"


def open_deployment(page, url: str, namespace: str, name: str) -> None:
    """The Patch deployment page on one Deployment."""
    open_page(page, f"{url}/patch-deployment")
    choose(page, "Namespace", namespace)
    settle(page)
    choose(page, "Deployment", name)
    settle(page)
    expect(page.get_by_role("combobox", name="Deployment")).to_have_value(name)
    # drawn by the server for this Deployment (the box shows the name before the rerun that draws its controls)
    expect(page.get_by_text(f"Current template annotations of {namespace}/{name}")).to_be_visible(timeout=ms(20))


def test_a_deployment_pinned_to_a_missing_cache_opens_on_its_pin_and_proposes_nothing(app, sim, page):
    open_deployment(page, app.url, "ml", "inference")
    expect(page.get_by_role("radio", name="Pin")).to_be_checked()
    picker = page.get_by_role("combobox", name="Cache to pin")
    expect(picker).to_have_value(f"{MISSING} (current pin: no such cache)")
    expect(page.get_by_text("No change: pick another mode or pull policy.")).to_be_visible()
    expect(page.get_by_role("button", name="Apply")).to_be_disabled()
    expect(page.get_by_text("rolls the Deployment", exact=False)).to_have_count(0)
    # the other caches are offered by how many of its images they hold, with the count
    picker.click()
    options = page.get_by_role("option")
    expect(options.first).to_contain_text(MISSING)
    expect(options.nth(1)).to_contain_text(" of 1 images")
    page.keyboard.press("Escape")
    screenshot(page, "patch-current-pin")
    after = kubectl_json(sim, "get", "deployment", "-n", "ml", "inference", "--show-managed-fields")
    # the demo scales and rolls by itself, so its resourceVersion moves (seen under xdist); a write of the
    # dashboard's would own fields under its field manager
    assert FIELD_MANAGER not in {entry["manager"] for entry in after["metadata"].get("managedFields") or []}
    assert after["spec"]["template"]["metadata"]["annotations"][IMC_ID] == MISSING
    no_exception(page)


def test_after_an_apply_the_page_links_to_the_new_pods(app, sim, page, namespace):
    labels = {"app": "e2e-pinned", "alibabacloud.com/eci": "true"}
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "e2e-pinned", "namespace": namespace},
                  "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "e2e-pinned"}}, "template": {
                      "metadata": {"labels": labels, "annotations": {IMC_ID: MISSING}},
                      "spec": {"containers": [{"name": "web", "image": "nginx:1.25"}]}}}}
    kubectl(sim, "apply", "-f", "-", input_text=json.dumps(deployment))
    open_deployment(page, app.url, namespace, "e2e-pinned")
    expect(page.get_by_role("button", name="Apply")).to_be_disabled()
    expect(page.get_by_text("Now and After describe pods created from the template", exact=False)).to_be_visible()
    pick_mode(page, "Off")
    expect(page.get_by_role("button", name="Apply")).to_be_enabled()
    page.get_by_role("button", name="Apply").click()
    settle(page)
    link = page.get_by_role("link", name=f"See the new pods of {namespace}/e2e-pinned")
    expect(link).to_be_visible(timeout=ms(20))
    annotations = kubectl_json(sim, "get", "deployment", "-n", namespace, "e2e-pinned")["spec"]["template"]["metadata"][
        "annotations"]
    assert annotations.get(AUTO_IMC) == "false" and IMC_ID not in annotations
    screenshot(page, "patch-applied")
    link.click()
    page.wait_for_url("**/pods?*", timeout=ms(20))
    assert "e2e-pinned" in page.url
    no_exception(page)
