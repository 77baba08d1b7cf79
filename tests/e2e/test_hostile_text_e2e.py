"""Hostile cluster text on every page, in real Chromium: shown literally, never fetched, never a link (issue 9, item 2)."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from core.policy import AUTO_IMC, EXTRA_STORAGE, IMC_ID, LEGACY_PIN, PERFECT_MATCH
from sim.launch import start_sim
from tests.e2e.conftest import kubectl, ms, open_page, poll, screenshot, start_app

pytestmark = pytest.mark.e2e

NAMESPACE = "hostile"


class Listener(http.server.ThreadingHTTPServer):
    """A local HTTP server that records every request it gets: any request means the page fetched cluster text."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        listener = self

        class Record(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server hook
                listener.requests.append(self.path)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Record)

    @property
    def url(self) -> str:
        """http://127.0.0.1:PORT"""
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture(scope="module")
def listener() -> Iterator[Listener]:
    """The listener hostile values point at."""
    server = Listener()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def hostile_values(url: str) -> dict[str, str]:
    """A hostile value per field, each pointing at the listener."""
    return {
        "pin": f"[link]({url}/pin)",
        "legacy": "imc-evil\u202elive",
        "perfect": f"`<img src={url}/perfect.png>`",
        "storage": f"![s]({url}/storage.png)",
        "auto": f"<img src={url}/auto.png>",
        "image": f"![x]({url}/img.png)",
        "image2": f"nginx:1.25`<img src={url}/tick.png>`",
        "cache_id": f"imc-`x`![y]({url}/id.png)",
        "event": f"see {url}/event and ![e]({url}/event.png) **now**",
    }


@pytest.fixture(scope="module")
def hostile(tmp_path_factory, listener) -> Iterator[tuple]:
    """Its own cluster (the hostile objects stay out of the shared demo), filled with hostile objects, and a dashboard."""
    # at --speed 10 its cache is Ready in about a second, not ten: what is checked is text, not timing
    sim = start_sim(scenario="empty", state_dir=tmp_path_factory.mktemp("hostile-sim"), extra_args=("--speed", "10"))
    values = hostile_values(listener.url)
    kubectl(sim, "create", "namespace", NAMESPACE)
    annotations = {IMC_ID: values["pin"], LEGACY_PIN: values["legacy"], PERFECT_MATCH: values["perfect"],
                   EXTRA_STORAGE: values["storage"], AUTO_IMC: values["auto"]}
    template = {"metadata": {"labels": {"app": "bad", "alibabacloud.com/eci": "true"}, "annotations": annotations},
                "spec": {"containers": [{"name": "a", "image": values["image"]}, {"name": "b", "image": values["image2"]}]}}
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bad-pod", "namespace": NAMESPACE, **template["metadata"]},
           "spec": template["spec"]}
    pinned = {"apiVersion": "v1", "kind": "Pod",
              "metadata": {"name": "pinned-pod", "namespace": NAMESPACE, "labels": {"alibabacloud.com/eci": "true"},
                           "annotations": {IMC_ID: values["pin"]}},
              "spec": {"containers": [{"name": "a", "image": values["image"]}]}}
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "bad", "namespace": NAMESPACE},
                  "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "bad"}}, "template": template}}
    cache = {"apiVersion": "eci.alibabacloud.com/v1", "kind": "ImageCache", "metadata": {"name": "bad-cache"},
             "spec": {"images": ["nginx:1.25"], "imageCacheSize": 20}}
    event = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "bad-pod.1", "namespace": NAMESPACE},
             "involvedObject": {"kind": "Pod", "name": "pinned-pod", "namespace": NAMESPACE},
             "reason": "ImageCacheNotFound", "type": "Warning", "message": values["event"],
             "source": {"component": "EciService"}}
    for obj in (pod, pinned, deployment, cache, event):
        kubectl(sim, "apply", "-f", "-", input_text=json.dumps(obj))
    status = {"status": {"imageCacheId": values["cache_id"], "events": [{"message": values["event"]}]}}
    poll(lambda: kubectl(sim, "get", "imagecache", "bad-cache", "-o", "jsonpath={.status.phase}").stdout == "Ready",
         30, "the cache to be Ready")
    kubectl(sim, "patch", "imagecache", "bad-cache", "--subresource=status", "--type=merge", "-p", json.dumps(status))
    app = start_app(sim, tmp_path_factory.mktemp("hostile-app") / "streamlit.log", IMC_CONTEXT="sim")
    yield app, values
    app.stop()
    sim.stop()


def visible_form(value: str) -> str:
    """The value as the page must show it: bidi controls spelled out."""
    return value.replace("\u202e", "<U+202E>")


def inert(page, listener: Listener) -> None:
    """No element links to or loads from the listener, and it got no request."""
    port = listener.url.rsplit(":", 1)[1]
    for selector in (f"a[href*='{port}']", f"img[src*='{port}']", f"[style*='{port}']"):
        expect(page.locator(selector)).to_have_count(0)
    assert listener.requests == [], f"the page fetched cluster text: {listener.requests}"
    expect(page.locator("[data-testid='stException']")).to_have_count(0)


PAGES = {  # path -> values whose literal text must appear there
    "pods?pod=hostile/pinned-pod": ("pin", "image"),
    "pods?pod=hostile/bad-pod": ("pin", "legacy", "perfect", "storage", "auto", "image", "image2"),
    "caches?cache=bad-cache": ("cache_id", "event"),
    "": (),
    "pods": (),
    "caches": (),
    "create-cache": (),
}


@pytest.mark.parametrize("path", list(PAGES))
def test_hostile_cluster_text_is_shown_as_text(hostile, listener, page, path):
    app, values = hostile
    open_page(page, f"{app.url}/{path}")
    main = page.locator("[data-testid='stMain']")
    expect(main).to_contain_text("Context sim", timeout=ms(20))
    for name in PAGES[path]:
        expect(main).to_contain_text(visible_form(values[name]), timeout=ms(20))
    assert "\u202e" not in main.inner_text()
    inert(page, listener)
    screenshot(page, "hostile-" + (path.replace("?", "-").replace("/", "-").replace("=", "-") or "overview"))


def test_hostile_deployment_on_patch_and_preview(hostile, listener, page):
    app, values = hostile
    for path in ("patch-deployment", "preview"):
        open_page(page, f"{app.url}/{path}")
        if path == "preview":
            page.get_by_role("radio", name="Live Deployment").click()
            page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']")
        main = page.locator("[data-testid='stMain']")
        for name in ("pin", "image"):
            expect(main).to_contain_text(values[name], timeout=ms(20))
        inert(page, listener)
        screenshot(page, f"hostile-{path}")
