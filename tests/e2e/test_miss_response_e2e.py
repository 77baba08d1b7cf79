"""A miss is explained by the caches of its creation: its own auto-created cache is ECI's response (issue 20)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from bench.waits import poll
from tests.e2e.conftest import kubectl, kubectl_json, ms, open_page
from tests.e2e.test_dashboard_e2e import no_exception, pod_yaml

pytestmark = pytest.mark.e2e

INSTANCE_ID = "k8s.aliyun.com/eci-instance-id"
# a tag no cache of the demo holds (the built-in registry knows every tag of a repository it knows): the pod misses,
# and no other cache shares an image with it
IMAGE = "ubuntu:24.04-e2e-own-cache"


def ready_cache_of(sim, namespace: str, pod: str) -> str | None:
    """The name of the pod's own auto-created cache once it is Ready, else None."""
    annotations = kubectl_json(sim, "get", "pod", pod, "-n", namespace)["metadata"].get("annotations") or {}
    instance = annotations.get(INSTANCE_ID)
    if not instance:
        return None
    caches = kubectl_json(sim, "get", "imagecaches")["items"]
    name = f"auto-create-for-{instance}"
    ready = any(c["metadata"]["name"] == name and (c.get("status") or {}).get("phase") == "Ready" for c in caches)
    return name if ready else None


def test_a_miss_whose_auto_created_cache_is_ready_names_it_as_ecis_response(app, sim, page, namespace):
    pod = "e2e-own-cache"
    kubectl(sim, "apply", "-f", "-", input_text=pod_yaml(pod, IMAGE))
    cache = poll(lambda: ready_cache_of(sim, namespace, pod), 90, "the pod's auto-created cache Ready", interval=1)
    open_page(page, f"{app.url}/pods?pod={namespace}/{pod}")
    main = page.locator("[data-testid='stMain']")
    expect(main).to_contain_text(f"ECI auto-created {cache}; Ready since", timeout=ms(30))
    expect(main).to_contain_text("new pods of this workload will hit it")
    expect(main).to_contain_text("No cache held any of the pod's images when it was created")
    expect(main).not_to_contain_text("closest")
    expect(page.locator("[data-testid='stPageLink'] a", has_text="Create a cache with")).to_have_count(0)
    no_exception(page)
