"""The demo and scale scenarios: what the dashboard and the benchmarks start from."""

from __future__ import annotations

import base64
from collections import Counter

import orjson
import pytest
from kubernetes import client

from core.policy import INSTANCE_ID, MATCHED_CACHE
from tests.integration.conftest import new_api_client, poll, raw_list

pytestmark = pytest.mark.integration
ECI_REASONS = {"SuccessfulHitImageCache", "ImageCacheMissed", "ImageCacheAutoCreated", "ImageCacheNotFound",
               "ImageCacheNotComplete"}


def test_the_demo_has_every_decision_kind_and_keeps_moving(start_sim_factory):
    sim = start_sim_factory("demo", ("--speed", "20", "--seed", "7"))
    api_client = new_api_client(sim)
    core, objects = client.CoreV1Api(api_client), client.CustomObjectsApi(api_client)
    namespaces = {n.metadata.name for n in core.list_namespace().items}
    assert {"shop", "data", "ml"} <= namespaces
    events = core.list_event_for_all_namespaces().items
    assert ECI_REASONS <= {e.reason for e in events}
    assert all(e.source.component == "EciService" for e in events if e.reason in ECI_REASONS)
    pods = core.list_pod_for_all_namespaces().items
    annotations = [p.metadata.annotations or {} for p in pods]
    assert any(MATCHED_CACHE in a for a in annotations)
    assert any(INSTANCE_ID not in a for a in annotations), "a non-ECI pod"
    caches = objects.list_cluster_custom_object("eci.alibabacloud.com", "v1", "imagecaches")["items"]
    phases = Counter(c["status"]["phase"] for c in caches)
    assert phases["Ready"] >= 5 and phases["Failed"] >= 1
    assert any(c["metadata"]["name"].startswith("auto-create-for-") for c in caches)
    assert len(client.AppsV1Api(api_client).list_deployment_for_all_namespaces().items) >= 10
    secrets = core.list_secret_for_all_namespaces().items
    assert [(s.metadata.namespace, s.metadata.name, s.type) for s in secrets] == [
        ("default", "acr-pull", "kubernetes.io/dockerconfigjson")], "the pull secret the Create-cache form names"
    assert "auths" in orjson.loads(base64.b64decode(secrets[0].data[".dockerconfigjson"]))
    apps = client.AppsV1Api(api_client)

    def generations() -> int:
        return sum(d.metadata.generation for d in apps.list_deployment_for_all_namespaces().items)

    start = generations()
    poll(lambda: generations() >= start + 3, timeout=30, message="the demo to scale and roll by itself")
    api_client.close()


@pytest.mark.xdist_group("scale")  # shares the session's scale_sim
def test_the_scale_scenario_pages_ten_thousand_pods(scale_sim):
    api_client = new_api_client(scale_sim)
    names, versions, token = [], set(), None
    while True:
        page = raw_list(api_client, "/api/v1/pods", [("limit", "500")] + ([("continue", token)] if token else []))
        names += [f"{p['metadata']['namespace']}/{p['metadata']['name']}" for p in page["items"]]
        versions.add(page["metadata"]["resourceVersion"])
        token = page["metadata"].get("continue")
        if not token:
            break
    assert len(names) == len(set(names)) == 10_000 and len(versions) == 1
    caches = raw_list(api_client, "/apis/eci.alibabacloud.com/v1/imagecaches", [])["items"]
    assert len(caches) == 1_000
    pods = raw_list(api_client, "/api/v1/pods", [])["items"]
    assert all(len(p["spec"]["containers"]) == 3 for p in pods)
    hits = sum(1 for p in pods if MATCHED_CACHE in p["metadata"].get("annotations", {}))
    assert 9_000 <= hits < 10_000
    api_client.close()
