"""Slimmed objects must tell the engine and the store exactly what the whole objects tell them."""

from __future__ import annotations

import copy
import json

import pytest

from core.outcomes import actual_outcome
from core.starts import pod_start, pod_start_from_events
from core.workloads import templates_from
from kube.slim import slim_event, slim_object, slim_pod

FULL_POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {
        "name": "web-7d9f-abcde",
        "namespace": "shop",
        "uid": "u-1",
        "resourceVersion": "42",
        "creationTimestamp": "2026-11-28T08:00:00Z",
        "labels": {"alibabacloud.com/eci": "true", "app": "web"},
        "annotations": {
            "k8s.aliyun.com/imc-perfect-match": "true",
            "k8s.aliyun.com/imc-match-count-request": "abc",
            "k8s.aliyun.com/eci-matched-image-cache": "imc-1",
            "kubectl.kubernetes.io/last-applied-configuration": "{" + "x" * 5000 + "}",
        },
        "ownerReferences": [{"kind": "ReplicaSet", "name": "web-7d9f", "uid": "rs-1"}],
        "managedFields": [{"manager": "kubectl", "fieldsV1": {"f:spec": {"f:containers": {}}}}],
    },
    "spec": {
        "nodeName": "virtual-kubelet-cn-hangzhou-k",
        "initContainers": [{"name": "init", "image": "busybox:1.36", "command": ["sh", "-c", "true"]}],
        "containers": [
            {"name": "web", "image": "nginx:latest", "env": [{"name": "A", "value": "1"}], "resources": {}},
            {"name": "side", "image": "envoy:1.30", "imagePullPolicy": "Always", "ports": [{"containerPort": 80}]},
        ],
        "volumes": [{"name": "v", "emptyDir": {}}],
        "tolerations": [{"key": "virtual-kubelet.io/provider", "operator": "Exists"}],
    },
    "status": {
        "phase": "Running",
        "startTime": "2026-11-28T08:00:03Z",
        "conditions": [
            {"type": "Ready", "status": "True", "lastTransitionTime": "2026-11-28T08:00:30Z"},
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": "2026-11-28T08:00:01Z"},
        ],
        "containerStatuses": [
            {
                "name": "web",
                "ready": True,
                "imageID": "sha256:...",
                "restartCount": 1,
                "state": {"running": {"startedAt": "2026-11-28T08:05:00Z"}},
                "lastState": {"terminated": {"startedAt": "2026-11-28T08:00:21Z", "exitCode": 1, "reason": "Error"}},
            },
            {
                "name": "side",
                "ready": False,
                "image": "envoy:1.30",
                "state": {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image"}},
            },
        ],
    },
}

def _eci_event(number: int, reason: str, message: str, event_type: str, **metadata: object) -> dict:
    """The `number`th event ECI writes on the pod, a second apart."""
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"web.{number}", "namespace": "shop", "uid": f"e-{number}", **metadata},
        "reason": reason,
        "message": f"[eci.imagecache]{message}",
        "type": event_type,
        "involvedObject": {"kind": "Pod", "name": "web-7d9f-abcde", "namespace": "shop", "uid": "u-1"},
        "source": {"component": "EciService"},
        "lastTimestamp": f"2026-11-28T08:00:{number:02d}Z",
    }


EVENTS = [
    _eci_event(1, "ImageCacheMissed", "Missed image cache.", "Warning", managedFields=[{"manager": "eci"}]),
    _eci_event(2, "ImageCacheAutoCreated", "Image cache imc-9 is auto created", "Normal"),
]


def _engine_view(pod: dict):
    template = templates_from(pod)[0]
    return (
        template.workload,
        template.images,
        template.policy,
        template.eci,
        template.findings,
        template.created,
        template.node_name,
        dict(template.labels),
    )


def test_slim_pod_tells_the_engine_the_same():
    assert _engine_view(slim_pod(FULL_POD)) == _engine_view(FULL_POD)


def test_slim_pod_and_events_give_the_same_actual_outcome():
    slim = actual_outcome(slim_pod(FULL_POD), [slim_event(e) for e in EVENTS])
    assert slim == actual_outcome(FULL_POD, EVENTS)
    assert slim is not None and slim.outcome == "miss"


def test_slim_pod_and_events_give_the_same_start():
    pulled = {
        **EVENTS[0],
        "reason": "Pulled",
        "message": 'Successfully pulled image "nginx:latest" in 18.2s (18.2s including waiting)',
        "involvedObject": {**EVENTS[0]["involvedObject"], "fieldPath": "spec.containers{web}"},
    }
    slim = pod_start_from_events(slim_pod(FULL_POD), [slim_event(pulled)])
    assert slim == pod_start_from_events(FULL_POD, [pulled])
    assert slim is not None and slim.waiting_reason == "ImagePullBackOff" and slim.pull_seconds == 18.2
    started = copy.deepcopy(FULL_POD)
    started["status"]["containerStatuses"][1]["state"] = {"running": {"startedAt": "2026-11-28T08:00:25Z"}}
    assert pod_start(slim_pod(started)).start_seconds == 25.0


def test_slim_pod_drops_bulk_and_keeps_identity():
    slim = slim_pod(FULL_POD)
    assert "managedFields" not in slim["metadata"]
    assert "kubectl.kubernetes.io/last-applied-configuration" not in slim["metadata"]["annotations"]
    assert slim["metadata"]["resourceVersion"] == "42" and slim["metadata"]["uid"] == "u-1"
    assert "volumes" not in slim["spec"] and "env" not in slim["spec"]["containers"][0]
    assert slim["status"]["phase"] == "Running" and slim["status"]["startTime"] == "2026-11-28T08:00:03Z"
    assert [c["type"] for c in slim["status"]["conditions"]] == ["PodScheduled"]
    assert "imageID" not in slim["status"]["containerStatuses"][0]
    assert len(repr(slim)) < len(repr(FULL_POD)) / 3


def test_slimming_does_not_touch_the_original():
    before = copy.deepcopy(FULL_POD)
    slim_pod(FULL_POD)
    slim_event(EVENTS[0])
    assert FULL_POD == before


@pytest.mark.parametrize("kind", ["imagecaches", "deployments"])
def test_caches_and_deployments_are_kept_whole(kind):
    obj = {"metadata": {"name": "x", "managedFields": [1]}, "spec": {"anything": True}}
    assert slim_object(kind, obj) is obj


@pytest.mark.parametrize("odd", [{}, {"metadata": None, "spec": "x"}, {"spec": {"containers": "nope"}}])
def test_odd_pods_slim_without_raising(odd):
    assert slim_pod(odd)["kind"] == "Pod"


def test_repeated_text_is_one_string_across_pods():
    raw = [json.loads(json.dumps(FULL_POD)) for _ in range(2)]  # as read from the API: a string per pod
    assert raw[0]["metadata"]["namespace"] is not raw[1]["metadata"]["namespace"]
    first, second = slim_pod(raw[0]), slim_pod(raw[1])
    assert first == slim_pod(FULL_POD)
    assert first["metadata"]["namespace"] is second["metadata"]["namespace"]
    assert first["spec"]["containers"][0]["image"] is second["spec"]["containers"][0]["image"]
    assert first["status"]["phase"] is second["status"]["phase"]
    label = next(iter(first["metadata"]["labels"]))
    assert first["metadata"]["labels"][label] is second["metadata"]["labels"][label]
