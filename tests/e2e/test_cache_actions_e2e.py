"""Actions on the Image caches page (issue 22): a delete shows its impact and waits for the name when a live workload
depends on the cache; an update shows what changes while the cache is Updating, then goes Updating → Ready; a viewer
sees every action disabled with the reason."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pytest
from playwright.sync_api import expect

from core.caches import AUTO_CREATED_PREFIX
from core.policy import IMC_ID, INSTANCE_ID
from tests.e2e.conftest import click_until, kubectl, kubectl_json, ms, new_context, open_page, poll, screenshot, settle
from tests.e2e.test_dashboard_e2e import no_exception, pick_mode
from tests.e2e.test_pages_read_right_e2e import cells
from tests.integration.conftest import new_api_client
from tests.integration.test_sim_cache_updates import phases_after

pytestmark = pytest.mark.e2e

NAMESPACE = "e2e-actions"


@pytest.fixture(scope="module")
def namespace(sim):
    """A namespace of this module's own."""
    kubectl(sim, "create", "namespace", NAMESPACE, check=False)
    return NAMESPACE


def ready_cache(sim, name: str, images: list[str]) -> str:
    """Create an ImageCache and wait until it is Ready; its cache ID."""
    body = {"apiVersion": "eci.alibabacloud.com/v1", "kind": "ImageCache", "metadata": {"name": name},
            "spec": {"images": images}}
    kubectl(sim, "apply", "-f", "-", input_text=json.dumps(body))
    cache = poll(lambda: kubectl_json(sim, "get", "imagecache", name), timeout=60, message=f"{name} Ready",
                 until=lambda obj: (obj.get("status") or {}).get("phase") == "Ready")
    return cache["status"]["imageCacheId"]


def cache_exists(sim, name: str) -> bool:
    """Whether kubectl still finds the ImageCache."""
    return kubectl(sim, "get", "imagecache", name, check=False).returncode == 0


def shown(locator) -> Callable[[int], None]:
    """That a locator is visible, as `click_until` asks."""
    return lambda timeout: expect(locator).to_be_visible(timeout=timeout)


def test_deleting_a_cache_a_pinned_deployment_uses_needs_its_name_typed(app, sim, browser, namespace):
    cache = "e2e-actions-pinned"
    cache_id = ready_cache(sim, cache, ["docker.io/e2eactions/web:1.0"])
    deployment = eci_deployment(namespace, "pinned-web", "docker.io/e2eactions/web:1.0", {IMC_ID: cache_id})
    kubectl(sim, "apply", "-f", "-", input_text=json.dumps(deployment))
    context = new_context(browser, 1440, 900)
    page = context.new_page()
    try:
        open_page(page, f"{app.url}/caches?cache={cache}")
        pick_mode(page, "Delete")
        workload = f"Deployment/{namespace}/pinned-web"
        poll(lambda: cells(page, "Workload"), timeout=30, message=f"the impact naming {workload}",
             until=lambda shown: shown is not None and workload in shown)
        changes = cells(page, "What changes")
        assert changes[cells(page, "Workload").index(workload)].startswith("pinned → fail")
        delete = page.get_by_role("button", name="Delete", exact=True)
        for width in (1440, 1024):  # the impact between its title and the button, in view
            page.set_viewport_size({"width": width, "height": 900})
            settle(page)
            delete.scroll_into_view_if_needed()
            screenshot(page, f"cache-actions-delete-impact-{width}", full_page=False)

        click_until(page, delete, shown(page.get_by_text("Nothing was deleted", exact=False)))
        assert cache_exists(sim, cache)
        expect(page.get_by_text("If it is deleted")).to_be_visible()  # the impact stays on screen
        confirm = page.get_by_placeholder(cache)
        confirm.fill(cache)
        confirm.press("Tab")
        settle(page)
        click_until(page, delete, shown(page.get_by_text(f"Deleted ImageCache {cache}", exact=False)))
        poll(lambda: cache_exists(sim, cache), timeout=30, message=f"{cache} gone", until=lambda found: not found)
        no_exception(page)
    finally:
        context.close()


def eci_deployment(namespace: str, name: str, image: str, annotations: dict | None = None) -> dict:
    """A one-replica ECI Deployment of one container."""
    template = {"metadata": {"labels": {"app": name, "alibabacloud.com/eci": "true"},
                             **({"annotations": annotations} if annotations else {})},
                "spec": {"containers": [{"name": "main", "image": image}]}}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": namespace},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}}, "template": template}}


def test_updating_a_ready_cache_shows_the_meanwhile_then_goes_updating_and_ready(app, sim, browser, namespace):
    cache, old, new = "e2e-actions-update", "docker.io/e2eactions/api:1.0", "docker.io/e2eactions/api-sidecar:1.0"
    ready_cache(sim, cache, [old])
    deployment = eci_deployment(namespace, "update-api", old)
    kubectl(sim, "apply", "-f", "-", input_text=json.dumps(deployment))
    context = new_context(browser, 1440, 900)
    page = context.new_page()
    try:
        open_page(page, f"{app.url}/caches?cache={cache}")
        pick_mode(page, "Update images")
        images = page.get_by_role("textbox", name="Images after the update")
        for attempt in range(3):  # a fill landing in a live redraw can be lost
            images.fill(f"{old}\n{new}")
            images.press("Tab")
            settle(page)
            try:
                expect(images).to_have_value(f"{old}\n{new}", timeout=ms(10))
                break
            except AssertionError:
                if attempt == 2:
                    raise
        # before the button: what changes while it is Updating (not usable), then once it is Ready again
        meanwhile = page.get_by_text("While it updates (Updating", exact=False)
        expect(meanwhile).to_be_visible(timeout=ms(20))
        workload = f"Deployment/{namespace}/update-api"
        poll(lambda: cells(page, "Workload"), timeout=30, message=f"the while-Updating impact naming {workload}",
             until=lambda shown: shown is not None and workload in shown)
        changes = cells(page, "What changes")
        assert changes[cells(page, "Workload").index(workload)] == "hit → miss, and ECI auto-creates a cache for it"
        expect(page.get_by_text("Once it is Ready with the new images")).to_be_visible()
        button = page.get_by_role("button", name="Update images", exact=True)
        assert meanwhile.bounding_box()["y"] < button.bounding_box()["y"]
        for width in (1440, 1024):
            page.set_viewport_size({"width": width, "height": 900})
            settle(page)
            button.scroll_into_view_if_needed()
            screenshot(page, f"cache-actions-update-impact-{width}", full_page=False)

        seen = kubectl_json(sim, "get", "imagecache", cache)["metadata"]["resourceVersion"]
        click_until(page, button, shown(page.get_by_text(f"Updated ImageCache {cache}", exact=False)))
        api = new_api_client(sim)
        try:
            phases = phases_after(api, cache, seen, timeout=60)
        finally:
            api.close()
        assert phases == ["Ready", "Updating", "Ready"], phases  # the spec stored, then ECI's update
        after = kubectl_json(sim, "get", "imagecache", cache)
        assert after["spec"]["images"] == [old, new] and after["status"]["phase"] == "Ready"
        events = kubectl_json(sim, "get", "events", "-n", "default")["items"]
        audit = [e for e in events if e["reason"] == "ImageCacheImagesUpdated"
                 and e["involvedObject"].get("name") == cache]
        assert len(audit) == 1 and new in audit[0]["message"]
        no_exception(page)
    finally:
        context.close()


def test_a_viewer_sees_every_action_disabled_with_the_reason(viewer_app, sim, page):
    caches = kubectl_json(sim, "get", "imagecaches")["items"]
    auto = [c for c in caches if c["metadata"]["name"].startswith(AUTO_CREATED_PREFIX)]
    assert auto, "the demo has auto-created caches"
    # the one ECI keeps longest, so it is still there while the test looks at it
    kept = max(auto, key=lambda c: (c.get("status") or {}).get("expireDateTime") or "9999")["metadata"]["name"]
    open_page(page, f"{viewer_app.url}/caches?cache={kept}")
    actions = {"Update images": "patch", "Extend retention": "patch", "Delete": "delete", "Adopt": "create"}
    for action, verb in actions.items():
        reason = page.get_by_text(f"{action} is disabled: ", exact=False)
        expect(reason).to_be_visible(timeout=ms(20))
        expect(reason).to_contain_text(f"may not {verb} imagecaches")
    buttons = {"Update images": "Update images", "Extend retention": "Extend retention", "Delete": "Delete",
               "Adopt": "Create named cache"}
    for action, button in buttons.items():
        pick_mode(page, action)
        # drawn after the action's impact, by a live part of the page that a loaded machine redraws slowly
        expect(page.get_by_role("button", name=button, exact=True)).to_be_disabled(timeout=ms(30))
    page.get_by_role("button", name="Create named cache").scroll_into_view_if_needed()
    screenshot(page, "cache-actions-viewer", full_page=False)
    no_exception(page)


def test_adopting_an_auto_created_cache_creates_a_named_one_and_links_a_pin_it_does_not_apply(app, sim, page,
                                                                                             namespace):
    image = "docker.io/e2eactions/adopt:1.0"
    deployment = eci_deployment(namespace, "adopt-web", image)
    kubectl(sim, "apply", "-f", "-", input_text=json.dumps(deployment))
    pods = poll(lambda: kubectl_json(sim, "get", "pods", "-n", namespace, "-l", "app=adopt-web")["items"], timeout=60,
                message="adopt-web's pod with its ECI instance ID",
                until=lambda items: any(INSTANCE_ID in (p["metadata"].get("annotations") or {}) for p in items))
    instance = next(p["metadata"]["annotations"][INSTANCE_ID] for p in pods
                    if INSTANCE_ID in (p["metadata"].get("annotations") or {}))
    auto = f"{AUTO_CREATED_PREFIX}{instance}"
    poll(lambda: cache_exists(sim, auto), timeout=60, message=f"ECI's {auto}")
    open_page(page, f"{app.url}/caches?cache={auto}")
    pick_mode(page, "Adopt")
    expect(page.get_by_text(f"Deployment/{namespace}/adopt-web").first).to_be_visible(timeout=ms(20))
    expect(page.get_by_role("textbox", name="Name of the new cache")).to_have_value("adopt-web-images")
    click_until(page, page.get_by_role("button", name="Create named cache"),
                shown(page.get_by_text("Created ImageCache adopt-web-images", exact=False)))
    named = kubectl_json(sim, "get", "imagecache", "adopt-web-images")
    assert named["spec"]["images"] == kubectl_json(sim, "get", "imagecache", auto)["spec"]["images"] == [image]
    template = kubectl_json(sim, "get", "deployment", "-n", namespace, "adopt-web")["spec"]["template"]
    assert IMC_ID not in (template["metadata"].get("annotations") or {})  # suggested, not applied
    link = page.get_by_role("link", name=f"Patch {namespace}/adopt-web: pin it to the new cache")
    expect(link).to_be_visible()
    poll(lambda: (kubectl_json(sim, "get", "imagecache", "adopt-web-images").get("status") or {}).get("phase"),
         timeout=60, message="adopt-web-images Ready", until=lambda phase: phase == "Ready")
    link.click()
    page.wait_for_url("**/patch-deployment?*", timeout=ms(30))
    settle(page)
    expect(page.get_by_role("combobox", name="Deployment")).to_have_value("adopt-web")
    expect(page.get_by_role("radio", name="Pin")).to_be_checked()
    expect(page.get_by_role("combobox", name="Cache to pin")).to_have_value(re.compile(r"^adopt-web-images \("))
    expect(page.get_by_role("button", name="Apply")).to_be_enabled()
    template = kubectl_json(sim, "get", "deployment", "-n", namespace, "adopt-web")["spec"]["template"]
    assert IMC_ID not in (template["metadata"].get("annotations") or {})
    no_exception(page)
