"""The dashboard in real Chromium against the demo `imc sim`, driven by kubectl."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from bench.waits import poll
from core.policy import AUTO_IMC, MATCHED_CACHE
from tests.e2e.conftest import (
    NAMESPACE,
    click_link,
    click_until,
    fill,
    kubectl,
    kubectl_json,
    ms,
    open_page,
    screenshot,
    settle,
    start_app,
)

pytestmark = pytest.mark.e2e

PAGES = {"overview": "", "pods": "pods", "caches": "caches", "radar": "radar", "preview": "preview",
         "create-cache": "create-cache", "patch-deployment": "patch-deployment"}


def pod_yaml(name: str, image: str) -> str:
    """An ECI pod in the e2e namespace."""
    return f"""apiVersion: v1
kind: Pod
metadata:
  name: {name}
  namespace: {NAMESPACE}
  labels: {{alibabacloud.com/eci: "true", app: {name}}}
spec:
  containers:
  - {{name: main, image: "{image}", imagePullPolicy: IfNotPresent}}
"""


def no_exception(page) -> None:
    """Streamlit's exception box never appears."""
    expect(page.locator("[data-testid='stException']")).to_have_count(0)


def test_a_pod_created_with_kubectl_appears_live(app, sim, page, namespace):
    open_page(page, f"{app.url}/pods")
    search = page.get_by_role("textbox", name="Search")
    search.fill("e2e-live")
    search.press("Enter")
    settle(page)
    expect(page.get_by_text(re.compile(r"^0 of [\d,]+ ECI pods$"))).to_be_visible()
    kubectl(sim, "apply", "-f", "-", input_text=pod_yaml("e2e-live", "nginx:1.25"))
    expect(page.get_by_text(re.compile(r"^1 of [\d,]+ ECI pods$"))).to_be_visible(timeout=ms(20))
    no_exception(page)


def test_the_deep_link_explains_a_hit(app, sim, page, namespace):
    kubectl(sim, "apply", "-f", "-", input_text=pod_yaml("e2e-hit", "nginx:1.25"))
    cache_id = poll(lambda: (kubectl_json(sim, "get", "pod", "-n", namespace, "e2e-hit")["metadata"].get(
        "annotations") or {}).get(MATCHED_CACHE), 30, "ECI to report the hit")
    # nginx-base, unless another test of this worker made a cache that ECI ranks above it: the one ECI reported
    cache = next(item["metadata"]["name"] for item in kubectl_json(sim, "get", "imagecaches")["items"]
                 if (item.get("status") or {}).get("imageCacheId") == cache_id)
    open_page(page, f"{app.url}/pods?pod={namespace}/e2e-hit")
    expect(page.get_by_text("Predicted: Hit")).to_be_visible(timeout=ms(20))
    expect(page.get_by_text("ECI: Hit")).to_be_visible(timeout=ms(20))
    # the pods table above also names the cache, in cells the grid keeps hidden: the explanation's is visible
    expect(page.get_by_text(f"ECI uses cache {cache} ({cache_id})", exact=False).first).to_be_visible(timeout=ms(20))
    expect(page.get_by_text("Every cache's verdict")).to_be_visible(timeout=ms(20))
    no_exception(page)
    screenshot(page, "e2e-pod-explained")


def test_the_create_form_creates_a_cache_kubectl_sees(app, sim, page):
    open_page(page, f"{app.url}/create-cache")
    fill(page, "Name", "e2e-cache")
    fill(page, "Images", "nginx:1.25\nredis:7.2")
    expect(page.locator("[data-testid='stCode']").first).to_contain_text("e2e-cache")
    page.get_by_role("button", name="Create").click()
    settle(page)
    expect(page.get_by_text("Open the cache")).to_be_visible(timeout=ms(20))
    found = kubectl_json(sim, "get", "imagecache", "e2e-cache")
    assert found["spec"]["images"] == ["nginx:1.25", "redis:7.2"]
    expect(page.get_by_text("phase Ready", exact=False)).to_be_visible(timeout=ms(30))
    no_exception(page)
    screenshot(page, "e2e-cache-created")


def test_the_patch_form_changes_the_template_and_new_pods_follow(app, sim, page, namespace):
    deployment = f"""apiVersion: apps/v1
kind: Deployment
metadata: {{name: e2e-web, namespace: {namespace}}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: e2e-web}}}}
  template:
    metadata:
      labels: {{app: e2e-web, alibabacloud.com/eci: "true"}}
    spec:
      containers:
      - {{name: web, image: "nginx:1.25", imagePullPolicy: Always}}
"""
    kubectl(sim, "apply", "-f", "-", input_text=deployment)
    open_page(page, f"{app.url}/patch-deployment")
    choose(page, "Namespace", namespace)
    settle(page)
    # the namespace's first Deployment is preselected: another test's e2e-race sorts before e2e-web
    choose(page, "Deployment", "e2e-web")
    settle(page)
    expect(page.get_by_role("combobox", name="Deployment")).to_have_value("e2e-web")
    pick_mode(page, "Off")
    expect(page.get_by_text("rolls the Deployment", exact=False)).to_be_visible(timeout=ms(15))
    expect(page.get_by_text("After: Off")).to_be_visible()
    page.get_by_role("button", name="Apply").click()
    settle(page)
    expect(page.get_by_text("patched Deployment", exact=False).first).to_be_visible(timeout=ms(20))
    template = kubectl_json(sim, "get", "deployment", "-n", namespace, "e2e-web")["spec"]["template"]
    assert template["metadata"]["annotations"][AUTO_IMC] == "false"

    def new_pods_follow() -> bool:
        pods = [p for p in kubectl_json(sim, "get", "pods", "-n", namespace, "-l", "app=e2e-web")["items"]
                if not p["metadata"].get("deletionTimestamp")]
        return bool(pods) and all((p["metadata"].get("annotations") or {}).get(AUTO_IMC) == "false" for p in pods)

    poll(new_pods_follow, 60, "the rolled pods to carry the new annotation")
    no_exception(page)
    screenshot(page, "e2e-patched")


def test_a_deployment_changed_meanwhile_is_a_conflict_and_nothing_is_written(app, sim, page, namespace):
    # on ECI: Apply is disabled for a Deployment whose pods do not run there (issue 21, item 7)
    kubectl(sim, "apply", "-f", "-", input_text=f"""apiVersion: apps/v1
kind: Deployment
metadata: {{name: e2e-race, namespace: {namespace}}}
spec:
  selector: {{matchLabels: {{app: e2e-race}}}}
  template:
    metadata: {{labels: {{app: e2e-race, alibabacloud.com/eci: "true"}}}}
    spec: {{containers: [{{name: web, image: "nginx:1.25"}}]}}
""")
    open_page(page, f"{app.url}/patch-deployment")
    choose(page, "Namespace", namespace)
    settle(page)
    choose(page, "Deployment", "e2e-race")
    settle(page)
    pick_mode(page, "Perfect match")
    expect(page.get_by_text("After:", exact=False)).to_be_visible()
    kubectl(sim, "annotate", "deployment", "e2e-race", "-n", namespace, "team=someone-else")
    page.get_by_role("button", name="Apply").click()
    settle(page)
    expect(page.get_by_text("Conflict", exact=False).first).to_be_visible(timeout=ms(20))
    template = kubectl_json(sim, "get", "deployment", "-n", namespace, "e2e-race")["spec"]["template"]
    assert "k8s.aliyun.com/imc-perfect-match" not in (template["metadata"].get("annotations") or {})
    no_exception(page)


def test_the_viewer_sees_read_only(viewer_app, page):
    for path in ("create-cache", "patch-deployment"):
        open_page(page, f"{viewer_app.url}/{path}")
        expect(page.get_by_text("read-only", exact=False).first).to_be_visible(timeout=ms(20))
        button = "Create" if path == "create-cache" else "Apply"
        expect(page.get_by_role("button", name=button)).to_be_disabled()
        no_exception(page)
    screenshot(page, "e2e-viewer")


def test_a_broken_kubeconfig_says_why_and_opens_the_demo_instead(page, tmp_path, sim):
    broken = tmp_path / "broken-kubeconfig"
    broken.write_text("apiVersion: v1\nkind: Config\ncurrent-context: prod\ncontexts: []\nclusters: []\nusers: []\n")
    app = start_app(sim, tmp_path / "streamlit.log", KUBECONFIG=str(broken), IMC_CONTEXT="")
    try:
        open_page(page, app.url)
        expect(page.get_by_text("Cannot reach the cluster")).to_be_visible()
        expect(page.get_by_text(str(broken), exact=False).first).to_be_visible()
        no_exception(page)
        screenshot(page, "e2e-broken-kubeconfig")
        page.get_by_role("button", name="Open the demo cluster").click()
        expect(page.get_by_text("Demo cluster").first).to_be_visible(timeout=ms(60))
        expect(page.locator("[data-testid='stMetric']", has_text="ECI pods")).to_be_visible(timeout=ms(30))
        no_exception(page)
    finally:
        app.stop()


def pick_mode(page, mode: str) -> None:
    """Click a mode of the segmented control until the app took it and kept it, then wait until it is idle."""
    button = page.get_by_role("radio", name=mode)
    click_until(page, button, lambda timeout: expect(button).to_be_checked(timeout=timeout), stays=True)
    settle(page)


def choose(page, label: str, option: str, tries: int = 3) -> None:
    """Pick an option of a selectbox by typing it, until the box shows it: a rerun from the previous interaction
    that had not begun when the app last looked idle may redraw the box while the option is being typed."""
    box = page.get_by_role("combobox", name=label)
    for _ in range(tries):
        page.locator("[data-testid='stSelectbox']", has_text=label).click()
        page.keyboard.press("ControlOrMeta+a")  # what a redrawn box kept of the last try is typed over
        page.keyboard.type(option)
        page.keyboard.press("Enter")
        settle(page)
        if box.input_value() == option:
            return
        page.keyboard.press("Escape")
    expect(box).to_have_value(option)


def test_selecting_a_row_explains_that_pod(app, sim, page, namespace):
    kubectl(sim, "apply", "-f", "-", input_text=pod_yaml("e2e-row", "nginx:1.25"))
    open_page(page, f"{app.url}/pods")
    search = page.get_by_role("textbox", name="Search")
    search.fill("e2e-row")
    search.press("Enter")
    settle(page)
    expect(page.get_by_text(re.compile(r"^1 of [\d,]+ ECI pods$"))).to_be_visible(timeout=ms(20))
    grid = page.locator("[data-testid='stDataFrame']").first
    box = grid.bounding_box()
    page.mouse.click(box["x"] + 18, box["y"] + 35 + 17)
    expect(page.get_by_role("heading", name=f"{namespace}/e2e-row")).to_be_visible(timeout=ms(20))
    assert "pod=" in page.url
    no_exception(page)


def test_the_overview_links_the_latest_pods_to_their_explanation(app, sim, page, namespace):
    # Pods of our own (the demo's churn deletes its own pods). The list shows the six newest and the demo keeps
    # creating pods, so ours can drop out before the click: then a newer one of ours is tried.
    open_page(page, app.url)
    for attempt in range(4):
        name = f"e2e-latest-{attempt}"
        kubectl(sim, "apply", "-f", "-", input_text=pod_yaml(name, "nginx:1.25"))
        link = page.locator("[data-testid='stPageLink'] a").filter(has_text=f"{namespace}/{name}")
        try:
            expect(link).to_be_visible(timeout=ms(10))
        except AssertionError:
            continue
        # not link.click(): the live list redraws its rows in place, so the row Playwright found could show
        # another pod by the time the click lands; found and clicked in one step in the page instead
        if click_link(page, "[data-testid='stPageLink'] a", f"{namespace}/{name}", required=False):
            break
    else:
        pytest.fail("newer pods pushed ours out of the latest six four times")
    expect(page.get_by_role("heading", name=f"{namespace}/{name}")).to_be_visible(timeout=ms(20))
    assert "pod=" in page.url
    no_exception(page)


def test_suggest_a_cache_opens_the_create_form_prefilled(app, sim, page, namespace):
    # An image the built-in registry does not have: ECI misses and its auto-created cache fails, so it stays uncached.
    kubectl(sim, "apply", "-f", "-", input_text=pod_yaml("e2e-miss", "nginx:does-not-exist"))
    open_page(page, app.url)
    page.get_by_role("link", name="Suggest a cache").click()
    page.wait_for_url(re.compile(r"/create-cache\?images="), timeout=ms(30))
    expect(page.get_by_role("heading", name="Create an image cache")).to_be_visible(timeout=ms(30))
    settle(page)
    expect(page.get_by_label("Images", exact=True)).to_have_value(re.compile("nginx:does-not-exist"), timeout=ms(30))
    expect(page.get_by_label("Name", exact=True)).to_have_value(re.compile(r"^suggested-\d{8}-\d{4}$"))
    no_exception(page)
