"""ECI's behaviour in the sim: cache builds, decisions at pod creation with ECI's events, pod starts."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from kubernetes import client, watch
from kubernetes.client.rest import ApiException

from core.matching import eci_event
from core.policy import AUTO_IMC, IMC_ID, INSTANCE_ID, MATCHED_CACHE
from tests.integration.conftest import poll

pytestmark = pytest.mark.integration
GROUP, VERSION, PLURAL = "eci.alibabacloud.com", "v1", "imagecaches"


def unique_image(tag: str) -> str:
    """An image name no other test uses, known to the sim's registry catalog."""
    return f"registry.cn-hangzhou.aliyuncs.com/imc-eci/{tag}-{uuid.uuid4().hex[:8]}:1.0"


def create_cache(api_client, images: list[str], **spec) -> str:
    """Create an ImageCache; returns its name."""
    name = f"c-{uuid.uuid4().hex[:10]}"
    body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "ImageCache", "metadata": {"name": name},
            "spec": {"images": images, **spec}}
    client.CustomObjectsApi(api_client).create_cluster_custom_object(GROUP, VERSION, PLURAL, body)
    return name


def read_cache(api_client, name: str) -> dict | None:
    """An ImageCache, or None once it is gone."""
    try:
        return client.CustomObjectsApi(api_client).get_cluster_custom_object(GROUP, VERSION, PLURAL, name)
    except ApiException as error:
        if error.status == 404:
            return None
        raise


def expires_in(cache: dict) -> timedelta:
    """How long until a cache's expireDateTime."""
    expires = datetime.fromisoformat(cache["status"]["expireDateTime"].replace("Z", "+00:00"))
    return expires - datetime.now(UTC)


def wait_usable(api_client, name: str) -> dict:
    """Poll until the cache is Ready and a pod created now would be decided after it became Ready.

    Timestamps have one-second precision: ECI (and the engine) take a cache made Ready in the pod's
    own second as Ready after the pod, so wait for the next second.
    """
    cache = wait_phase(api_client, name, "Ready")
    wait_second_after(cache["status"]["lastUpdatedTime"])
    return cache


def wait_second_after(timestamp: str) -> None:
    """Poll until the clock is past the second of a Kubernetes timestamp."""
    moment = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    poll(lambda: datetime.now(UTC) >= moment + timedelta(seconds=1), message=f"the second after {timestamp}")


def wait_phase(api_client, name: str, phase: str) -> dict:
    """Poll until the cache reaches a phase."""
    return poll(lambda: (cache := read_cache(api_client, name)) and cache.get("status", {}).get("phase") == phase
                and cache, message=f"{name} {phase}")


def create_pod(api_client, namespace: str, images: list[str], annotations: dict | None = None,
               eci: bool = True) -> str:
    """Create a pod running the images; returns its name."""
    name = f"p-{uuid.uuid4().hex[:8]}"
    labels = {"alibabacloud.com/eci": "true"} if eci else {}
    body = {"metadata": {"name": name, "labels": labels, "annotations": annotations or {}},
            "spec": {"containers": [{"name": f"c{i}", "image": image} for i, image in enumerate(images)]}}
    client.CoreV1Api(api_client).create_namespaced_pod(namespace, body)
    return name


def pod_events(api_client, namespace: str, pod: str) -> list:
    """ECI's events about a pod (not the kubelet's pulls), oldest first."""
    items = client.CoreV1Api(api_client).list_namespaced_event(
        namespace, field_selector=f"involvedObject.name={pod},source=EciService").items
    return sorted(items, key=lambda e: e.metadata.name)


def test_a_new_cache_builds_to_ready(api_client):
    images = [unique_image("build-a"), unique_image("build-b")]
    objects = client.CustomObjectsApi(api_client)
    before = objects.list_cluster_custom_object(GROUP, VERSION, PLURAL)["metadata"]["resourceVersion"]
    name = create_cache(api_client, images, retentionDays=3)
    created = read_cache(api_client, name)
    assert created["status"]["imageCacheId"].startswith("imc-")
    ready = wait_phase(api_client, name, "Ready")
    phases = []
    for event in watch.Watch().stream(objects.list_cluster_custom_object, GROUP, VERSION, PLURAL,
                                      resource_version=before, field_selector=f"metadata.name={name}",
                                      timeout_seconds=1):
        phase = event["object"]["status"]["phase"]
        if not phases or phases[-1] != phase:
            phases.append(phase)
    assert phases == ["Preparing", "Creating", "Ready"]
    status = ready["status"]
    assert status["imageCacheId"] == created["status"]["imageCacheId"] and status["progress"] == "100%"
    started = datetime.fromisoformat(status["startTime"].replace("Z", "+00:00"))
    expires = datetime.fromisoformat(status["expireDateTime"].replace("Z", "+00:00"))
    assert expires - started == timedelta(days=3)
    assert [e["message"] for e in status["events"]] == [f"Success pull image {image}" for image in images]


@pytest.mark.parametrize("image", ["registry.example.invalid/team/app:1.0", "nginx:does-not-exist"])
def test_an_unknown_image_fails_the_cache(api_client, image):
    name = create_cache(api_client, [image])
    failed = wait_phase(api_client, name, "Failed")
    assert image in failed["status"]["reason"]
    assert failed["status"]["events"][-1]["type"] == "Warning"


def test_an_expired_cache_goes_away(api_client):
    name = create_cache(api_client, [unique_image("expiring")])
    wait_phase(api_client, name, "Ready")
    past = (datetime.now(UTC) - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    client.CustomObjectsApi(api_client).patch_cluster_custom_object_status(
        GROUP, VERSION, PLURAL, name, {"status": {"expireDateTime": past}})
    poll(lambda: read_cache(api_client, name) is None, message=f"{name} deleted after expiry")


def test_a_hit_is_annotated_evented_and_starts(api_client, namespace):
    image = unique_image("hit")
    cache = wait_usable(api_client, create_cache(api_client, [image]))
    cache_id = cache["status"]["imageCacheId"]
    pod_name = create_pod(api_client, namespace, [image])
    core = client.CoreV1Api(api_client)
    pod = core.read_namespaced_pod(pod_name, namespace)
    assert pod.metadata.annotations[MATCHED_CACHE] == cache_id
    assert pod.metadata.annotations[INSTANCE_ID].startswith("eci-")
    assert pod.spec.node_name.startswith("virtual-kubelet-")
    events = pod_events(api_client, namespace, pod_name)
    assert [(e.reason, e.type, e.message) for e in events] == [
        ("SuccessfulHitImageCache", "Normal", eci_event("SuccessfulHitImageCache", cache_id).message)]
    assert events[0].source.component == "EciService" and events[0].involved_object.uid == pod.metadata.uid
    poll(lambda: core.read_namespaced_pod(pod_name, namespace).status.phase == "Running", message="pod Running")


def test_a_miss_auto_creates_a_cache(api_client, namespace):
    images = [unique_image("miss-a"), unique_image("miss-b")]
    pod_name = create_pod(api_client, namespace, images)
    pod = client.CoreV1Api(api_client).read_namespaced_pod(pod_name, namespace)
    instance_id = pod.metadata.annotations[INSTANCE_ID]
    assert MATCHED_CACHE not in pod.metadata.annotations
    auto = read_cache(api_client, f"auto-create-for-{instance_id}")
    assert auto is not None and auto["spec"]["imageCacheSize"] == 30
    assert sorted(auto["spec"]["images"]) == sorted(images)
    events = pod_events(api_client, namespace, pod_name)
    assert [(e.reason, e.type) for e in events] == [("ImageCacheMissed", "Warning"), ("ImageCacheAutoCreated", "Normal")]
    assert events[1].message == eci_event("ImageCacheAutoCreated", auto["status"]["imageCacheId"]).message
    assert all(e.source.component == "EciService" for e in events)
    assert abs(expires_in(auto) - timedelta(days=7)) < timedelta(minutes=1)
    ready = wait_usable(api_client, auto["metadata"]["name"])
    for _ in range(2):  # a hit must not make the cache look freshly Ready to the next pod
        hit = client.CoreV1Api(api_client).read_namespaced_pod(create_pod(api_client, namespace, images), namespace)
        assert hit.metadata.annotations[MATCHED_CACHE] == auto["status"]["imageCacheId"]
    used = read_cache(api_client, auto["metadata"]["name"])
    assert abs(expires_in(used) - timedelta(days=30)) < timedelta(minutes=1)
    assert used["status"]["lastUpdatedTime"] == ready["status"]["lastUpdatedTime"]


def test_a_pin_to_a_missing_cache_fails_and_stays_pending(api_client, namespace):
    pod_name = create_pod(api_client, namespace, [unique_image("pin")], {IMC_ID: "imc-2zenothere0000000000"})
    events = pod_events(api_client, namespace, pod_name)
    assert [(e.reason, e.type) for e in events] == [("ImageCacheNotFound", "Warning")]
    assert events[0].message == eci_event("ImageCacheNotFound", "imc-2zenothere0000000000").message
    pod = client.CoreV1Api(api_client).read_namespaced_pod(pod_name, namespace)
    assert pod.status.phase == "Pending"
    assert pod.status.conditions[0].status == "False" and pod.status.conditions[0].reason == "ImageCacheNotFound"


def test_a_pin_to_an_unfinished_cache_is_not_complete(api_client, namespace):
    broken = wait_phase(api_client, create_cache(api_client, ["registry.example.invalid/x/y:1"]), "Failed")
    wait_second_after(broken["metadata"]["creationTimestamp"])
    cache_id = broken["status"]["imageCacheId"]
    pod_name = create_pod(api_client, namespace, [unique_image("pin-nc")], {IMC_ID: cache_id})
    events = pod_events(api_client, namespace, pod_name)
    assert [(e.reason, e.message) for e in events] == [
        ("ImageCacheNotComplete", eci_event("ImageCacheNotComplete", cache_id).message)]
    assert client.CoreV1Api(api_client).read_namespaced_pod(pod_name, namespace).status.phase == "Pending"


def test_a_pin_to_a_ready_cache_hits(api_client, namespace):
    cache = wait_usable(api_client, create_cache(api_client, [unique_image("pinned")]))
    cache_id = cache["status"]["imageCacheId"]
    pod_name = create_pod(api_client, namespace, [unique_image("other")], {IMC_ID: cache_id})
    pod = client.CoreV1Api(api_client).read_namespaced_pod(pod_name, namespace)
    assert pod.metadata.annotations[MATCHED_CACHE] == cache_id
    assert [e.reason for e in pod_events(api_client, namespace, pod_name)] == ["SuccessfulHitImageCache"]


def test_off_and_non_eci_pods_get_no_cache_events(api_client, namespace):
    off = create_pod(api_client, namespace, [unique_image("off")], {AUTO_IMC: "false"})
    plain = create_pod(api_client, namespace, [unique_image("plain")], eci=False)
    core = client.CoreV1Api(api_client)
    assert INSTANCE_ID in core.read_namespaced_pod(off, namespace).metadata.annotations
    plain_pod = core.read_namespaced_pod(plain, namespace)
    assert INSTANCE_ID not in (plain_pod.metadata.annotations or {})
    assert not plain_pod.spec.node_name.startswith("virtual-kubelet")
    poll(lambda: all(core.read_namespaced_pod(n, namespace).status.phase == "Running" for n in (off, plain)),
         message="both pods Running")
    assert pod_events(api_client, namespace, off) == [] and pod_events(api_client, namespace, plain) == []


def test_a_cache_created_after_the_pod_does_not_change_its_decision(api_client, namespace):
    image = unique_image("late")
    pod_name = create_pod(api_client, namespace, [image])
    wait_phase(api_client, create_cache(api_client, [image]), "Ready")
    core = client.CoreV1Api(api_client)
    poll(lambda: core.read_namespaced_pod(pod_name, namespace).status.phase == "Running", message="pod Running")
    pod = core.read_namespaced_pod(pod_name, namespace)
    assert MATCHED_CACHE not in pod.metadata.annotations
    assert [e.reason for e in pod_events(api_client, namespace, pod_name)] == ["ImageCacheMissed",
                                                                              "ImageCacheAutoCreated"]


def test_a_deployment_keeps_its_replicas(api_client, namespace):
    image = unique_image("replicas")
    wait_usable(api_client, create_cache(api_client, [image]))
    apps, core = client.AppsV1Api(api_client), client.CoreV1Api(api_client)
    body = {"metadata": {"name": "kept"}, "spec": {
        "replicas": 3, "selector": {"matchLabels": {"app": "kept"}},
        "template": {"metadata": {"labels": {"app": "kept", "alibabacloud.com/eci": "true"}},
                     "spec": {"containers": [{"name": "main", "image": image}]}}}}
    apps.create_namespaced_deployment(namespace, body)
    poll(lambda: apps.read_namespaced_deployment("kept", namespace).status.ready_replicas == 3,
         message="3 ready replicas")
    victim = core.list_namespaced_pod(namespace).items[0].metadata.name
    core.delete_namespaced_pod(victim, namespace)
    poll(lambda: len([p for p in core.list_namespaced_pod(namespace).items if p.metadata.name != victim]) == 3,
         message="a replacement pod")
    apps.patch_namespaced_deployment("kept", namespace, {"spec": {"replicas": 1}})
    poll(lambda: len(core.list_namespaced_pod(namespace).items) == 1, message="scaled down to one pod")
    deployment = apps.read_namespaced_deployment("kept", namespace)
    poll(lambda: apps.read_namespaced_deployment("kept", namespace).status.replicas == 1, message="status replicas 1")
    assert deployment.status.observed_generation == deployment.metadata.generation
    hits = core.list_namespaced_event(namespace, field_selector="reason=SuccessfulHitImageCache").items
    assert len(hits) == 4
