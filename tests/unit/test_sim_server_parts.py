"""Pure pieces of the sim server: validation, CRD schema pruning, catalog, discovery, identity, watch streams."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import orjson
import pytest
import yaml

from sim.apiserver.api_server import delete_options
from sim.apiserver.discovery import openapi_document, openapi_root, resource_list
from sim.apiserver.errors import ApiError
from sim.apiserver.identity import load_identity, serving_hosts, write_kubeconfig
from sim.apiserver.resources import IMAGECACHES, PODS
from sim.apiserver.schema import crd_schema, prune, unknown_fields
from sim.apiserver.selectors import Selector
from sim.apiserver.store import Store
from sim.apiserver.validation import check_object, check_update
from sim.apiserver.watching import WatchRequest, event_line, watch_stream
from sim.eci.catalog import look_up
from sim.simulation import CRD_PATH


def run_in_fresh_loop(coroutine):
    """Run a coroutine on a new event loop in its own thread (the test session may already run a loop here)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def deployment(selector: dict, labels: dict, replicas: object = 1) -> dict:
    return {"metadata": {"name": "web"}, "spec": {
        "replicas": replicas, "selector": selector,
        "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "a", "image": "nginx"}]}}}}


def test_validation_causes():
    assert check_object("pods", {"metadata": {"name": "Bad_Name"}, "spec": {"containers": [{"name": "a"}]}}) == [
        ("metadata.name", check_object("pods", {"metadata": {"name": "Bad_Name"}})[0][1]),
        ("spec.containers[0].image", "Required value"),
    ]
    assert check_object("deployments.apps", deployment({"matchLabels": {"app": "web"}}, {"app": "web"})) == []
    mismatch = check_object("deployments.apps", deployment({"matchLabels": {"app": "x"}}, {"app": "web"}))
    assert [field for field, _ in mismatch] == ["spec.template.metadata.labels"]
    negative = check_object("deployments.apps", deployment({"matchLabels": {"app": "web"}}, {"app": "web"}, -1))
    assert [field for field, _ in negative] == ["spec.replicas"]
    cache = {"metadata": {"name": "c"}, "spec": {"images": [], "imageCacheSize": 19}}
    assert {field for field, _ in check_object("imagecaches.eci.alibabacloud.com", cache)} == {
        "spec.images", "spec.imageCacheSize"}
    old = deployment({"matchLabels": {"app": "web"}}, {"app": "web"})
    new = deployment({"matchLabels": {"app": "web", "x": "y"}}, {"app": "web", "x": "y"})
    assert check_update("deployments.apps", old, new) == [("spec.selector", "Invalid value: field is immutable")]
    pod = {"spec": {"containers": [{"name": "a", "image": "nginx:1"}]}}
    assert check_update("pods", pod, {"spec": {"containers": [{"name": "a", "image": "nginx:2"}]}}) == []
    assert check_update("pods", pod, {"spec": {"containers": [{"name": "b", "image": "nginx:1"}]}})


def test_crd_schema_prunes_and_finds_unknown_fields():
    schema = crd_schema(yaml.safe_load(CRD_PATH.read_text()), "v1")
    cache = {"apiVersion": "eci.alibabacloud.com/v1", "kind": "ImageCache", "metadata": {"name": "c", "labels": {}},
             "spec": {"images": ["nginx"], "retentionDay": 3}, "status": {"anything": {"goes": 1}}}
    assert unknown_fields(cache, schema) == ["spec.retentionDay"]
    assert prune(cache, schema)["spec"] == {"images": ["nginx"]}
    assert prune(cache, schema)["status"] == {"anything": {"goes": 1}}
    assert crd_schema(yaml.safe_load(CRD_PATH.read_text()), "v2") is None


@pytest.mark.parametrize(("image", "exists"), [
    ("nginx:1.25", True), ("registry.cn-hangzhou.aliyuncs.com/team/app:1", True),
    ("registry.example.invalid/team/app:1", False), ("nginx:does-not-exist", False), ("UPPER:case", False),
])
def test_the_catalog(image, exists):
    found = look_up(image)
    assert found.exists is exists
    assert (found.size_mib > 0) is exists and bool(found.reason) is not exists


def test_discovery_and_openapi():
    resources = {r["name"]: r for r in resource_list("eci.alibabacloud.com/v1")["resources"]}
    assert resources["imagecaches"]["shortNames"] == ["ic"] and "imagecaches/status" in resources
    assert "deployments/scale" in {r["name"] for r in resource_list("apps/v1")["resources"]}
    document = openapi_document("v1")
    patch = document["paths"]["/api/v1/namespaces/{namespace}/pods/{name}"]["patch"]
    assert patch["x-kubernetes-group-version-kind"] == {"group": "", "version": "v1", "kind": "Pod"}
    assert "fieldValidation" in {p["name"] for p in patch["parameters"]}
    with_schema = openapi_document("eci.alibabacloud.com/v1", {"ImageCache": {"type": "object"}})
    assert with_schema["components"]["schemas"]["com.alibabacloud.eci.v1.ImageCache"][
        "x-kubernetes-group-version-kind"] == [{"group": "eci.alibabacloud.com", "version": "v1", "kind": "ImageCache"}]
    root = openapi_root()["paths"]
    assert root["api/v1"]["serverRelativeURL"].startswith("/openapi/v3/api/v1?hash=")
    assert openapi_root(lambda v: {"ImageCache": {}})["paths"]["apis/eci.alibabacloud.com/v1"] != root[
        "apis/eci.alibabacloud.com/v1"]


def test_identity_is_made_once_and_kept(tmp_path):
    from cryptography import x509

    first = load_identity(tmp_path)
    ca = first.ca_cert.read_bytes()
    again = load_identity(tmp_path)
    assert again.ca_cert.read_bytes() == ca and again.admin_token == first.admin_token
    assert first.user_of(first.admin_token) == "sim-admin" and first.user_of(first.viewer_token) == "sim-viewer"
    assert first.user_of("nope") is None
    wider = load_identity(tmp_path, "10.1.2.3")
    cert = x509.load_pem_x509_certificate(wider.server_cert.read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {str(ip) for ip in names.get_values_for_type(x509.IPAddress)} == {"127.0.0.1", "10.1.2.3"}
    assert wider.ca_cert.read_bytes() == ca
    assert (tmp_path / "ca.key").stat().st_mode & 0o077 == 0
    assert serving_hosts("0.0.0.0") == ("127.0.0.1", "localhost")
    write_kubeconfig(tmp_path / "kubeconfig", "https://127.0.0.1:1", first)
    config = yaml.safe_load((tmp_path / "kubeconfig").read_text())
    assert config["current-context"] == "sim"
    assert {c["name"] for c in config["contexts"]} == {"sim", "sim-viewer"}


def collect(store: Store, request: WatchRequest, drop_after: int = 0) -> list[dict]:
    """Every line a watch stream yields until it ends by itself."""

    async def run() -> list[bytes]:
        return [chunk async for chunk in watch_stream(store, request, lambda t, e: event_line(t, e.raw), drop_after)]

    return [orjson.loads(line) for chunk in run_in_fresh_loop(run()) for line in chunk.splitlines()]


def test_live_events_are_batched_and_dropped_after_n():
    store = Store()

    async def run() -> list[bytes]:
        stream = watch_stream(store, WatchRequest(PODS, "", Selector(), str(store.rv), False, 5),
                              lambda t, e: event_line(t, e.raw), drop_after=3)
        first = asyncio.ensure_future(anext(stream))
        await asyncio.sleep(0)  # the stream subscribes and waits
        for name in "abcd":
            store.put(PODS.key, pod(name))
        return [await first] + [chunk async for chunk in stream]

    chunks = run_in_fresh_loop(run())
    assert [orjson.loads(line)["object"]["metadata"]["name"] for c in chunks for line in c.splitlines()] == [
        "a", "b", "c"]
    assert len(chunks) == 1


def pod(name: str) -> dict:
    return {"metadata": {"name": name, "namespace": "ns"}}


def test_watch_streams_replay_expire_and_drop():
    store = Store(history_size=2)
    start = store.rv
    store.put(PODS.key, pod("a"))
    store.put(IMAGECACHES.key, {"metadata": {"name": "c"}})
    replay = WatchRequest(PODS, "ns", Selector(), str(start), False, 0.01)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in collect(store, replay)] == [("ADDED", "a")]
    store.put(PODS.key, pod("b"))
    expired = collect(store, replay)
    assert expired[0]["type"] == "ERROR" and expired[0]["object"]["code"] == 410
    current = WatchRequest(PODS, "", Selector(), str(start), True, 0.01, send_initial_events=True)
    events = collect(store, current)
    assert [e["type"] for e in events[:3]] == ["ADDED", "ADDED", "BOOKMARK"]
    assert events[2]["object"]["metadata"] == {"resourceVersion": str(store.rv),
                                               "annotations": {"k8s.io/initial-events-end": "true"}}
    dropped = collect(store, WatchRequest(PODS, "", Selector(), "0", False, 5), drop_after=1)
    assert [e["object"]["metadata"]["name"] for e in dropped] == ["a"]
    store.close_watchers()
    assert len(collect(store, WatchRequest(PODS, "", Selector(), "0", False, 5))) == 2


def test_delete_options_read_query_and_body_and_refuse_bad_grace_periods():
    options = delete_options({"gracePeriodSeconds": "0"}, {"propagationPolicy": "Foreground"}, False)
    assert (options.grace_seconds, options.propagation) == (0, "Foreground")
    assert delete_options({}, {"orphanDependents": True}, False).propagation == "Orphan"
    for grace in ([1], 10**30):
        with pytest.raises(ApiError) as refused:
            delete_options({}, {"gracePeriodSeconds": grace}, False)
        assert refused.value.code == 400
