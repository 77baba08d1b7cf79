"""How objects go, as kubectl and the official client see it: finalizers, graceful pod deletion, cascades, drain."""

from __future__ import annotations

import json
import uuid

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.integration.conftest import poll

pytestmark = pytest.mark.integration

HOLD = "imc.test/hold"


def pod_body(name: str, finalizers: list[str] | None = None) -> dict:
    """A plain (non-ECI) pod, which the sim runs on the ECS node."""
    return {"metadata": {"name": name, "finalizers": finalizers or []},
            "spec": {"containers": [{"name": "main", "image": "busybox:1.36"}]}}


def gone(read) -> bool:
    """Whether reading an object answers 404."""
    try:
        read()
    except ApiException as error:
        return error.status == 404
    return False


def test_a_finalizer_holds_a_deleted_imagecache_until_it_is_removed(api_client):
    custom = client.CustomObjectsApi(api_client)
    name = f"held-{uuid.uuid4().hex[:8]}"
    body = {"apiVersion": "eci.alibabacloud.com/v1", "kind": "ImageCache",
            "metadata": {"name": name, "finalizers": [HOLD]},
            "spec": {"images": [f"registry.cn-hangzhou.aliyuncs.com/imc-life/{name}:1"]}}
    custom.create_cluster_custom_object("eci.alibabacloud.com", "v1", "imagecaches", body)
    custom.delete_cluster_custom_object("eci.alibabacloud.com", "v1", "imagecaches", name)
    held = custom.get_cluster_custom_object("eci.alibabacloud.com", "v1", "imagecaches", name)
    assert held["metadata"]["deletionTimestamp"] and held["metadata"]["finalizers"] == [HOLD]
    with pytest.raises(ApiException) as refused:
        custom.patch_cluster_custom_object("eci.alibabacloud.com", "v1", "imagecaches", name,
                                           {"metadata": {"finalizers": [HOLD, "imc.test/another"]}})
    assert refused.value.status == 422 and "no new finalizers" in refused.value.body
    custom.patch_cluster_custom_object("eci.alibabacloud.com", "v1", "imagecaches", name,
                                       {"metadata": {"finalizers": None}})
    assert gone(lambda: custom.get_cluster_custom_object("eci.alibabacloud.com", "v1", "imagecaches", name))


def test_a_pod_delete_is_graceful_unless_the_grace_period_is_zero(api_client, namespace):
    core = client.CoreV1Api(api_client)
    core.create_namespaced_pod(namespace, pod_body("slow"))
    terminating = core.delete_namespaced_pod("slow", namespace)
    assert terminating.metadata.deletion_timestamp is not None
    assert terminating.metadata.deletion_grace_period_seconds == 30
    poll(lambda: gone(lambda: core.read_namespaced_pod("slow", namespace)), message="the pod to go")
    core.create_namespaced_pod(namespace, pod_body("fast"))
    core.delete_namespaced_pod("fast", namespace, grace_period_seconds=0)
    assert gone(lambda: core.read_namespaced_pod("fast", namespace))


def test_kubectl_shows_terminating_until_the_finalizer_goes(kubectl, namespace):
    kubectl("run", "held", "--image=busybox:1.36", "-n", namespace)
    kubectl("patch", "pod", "held", "-n", namespace, "-p", json.dumps({"metadata": {"finalizers": [HOLD]}}))
    kubectl("delete", "pod", "held", "-n", namespace, "--wait=false")
    poll(lambda: "Terminating" in kubectl("get", "pod", "held", "-n", namespace).stdout, message="Terminating")
    kubectl("patch", "pod", "held", "-n", namespace, "--type=json", "-p",
            '[{"op": "remove", "path": "/metadata/finalizers"}]')
    poll(lambda: kubectl("get", "pod", "held", "-n", namespace, check=False).returncode == 1, message="pod gone")


def names(kubectl, namespace: str, kind: str) -> list[str]:
    """The names of the objects of a kind in a namespace."""
    return kubectl("get", kind, "-n", namespace, "-o", "jsonpath={.items[*].metadata.name}").stdout.split()


def owners(kubectl, namespace: str, pod: str) -> list:
    """A pod's ownerReferences."""
    output = kubectl("get", "pod", pod, "-n", namespace, "-o", "jsonpath={.metadata.ownerReferences}").stdout
    return json.loads(output) if output else []


def two_pods(kubectl, namespace: str, name: str) -> list[str]:
    """Create a Deployment of two plain pods and wait for them."""
    kubectl("create", "deployment", name, "--image=busybox:1.36", "--replicas=2", "-n", namespace)
    return poll(lambda: len(pods := names(kubectl, namespace, "pods")) == 2 and pods, message="two pods")


def test_cascade_orphan_keeps_the_dependents_without_the_owner_reference(kubectl, namespace):
    pods = two_pods(kubectl, namespace, "orphaned")
    replica_set = names(kubectl, namespace, "replicasets")[0]
    kubectl("delete", "deployment", "orphaned", "-n", namespace, "--cascade=orphan")
    kubectl("delete", "replicaset", replica_set, "-n", namespace, "--cascade=orphan")
    assert names(kubectl, namespace, "pods") == pods
    assert all(owners(kubectl, namespace, pod) == [] for pod in pods)


def test_cascade_foreground_holds_the_owner_until_its_dependents_are_gone(kubectl, namespace):
    pods = two_pods(kubectl, namespace, "front")
    kubectl("patch", "pod", pods[0], "-n", namespace, "-p", json.dumps({"metadata": {"finalizers": [HOLD]}}))
    kubectl("delete", "deployment", "front", "-n", namespace, "--cascade=foreground", "--wait=false")
    held = json.loads(kubectl("get", "deployment", "front", "-n", namespace, "-o", "json").stdout)["metadata"]
    assert held["deletionTimestamp"] and "foregroundDeletion" in held["finalizers"]
    poll(lambda: names(kubectl, namespace, "pods") == [pods[0]], message="the unheld pod to go")
    assert names(kubectl, namespace, "deployments") == ["front"]
    kubectl("patch", "pod", pods[0], "-n", namespace, "--type=json", "-p",
            '[{"op": "remove", "path": "/metadata/finalizers"}]')
    poll(lambda: not names(kubectl, namespace, "deployments"), message="the Deployment to go")
    assert names(kubectl, namespace, "replicasets") == [] and names(kubectl, namespace, "pods") == []


def test_cascade_background_removes_the_owner_first(kubectl, namespace):
    pods = two_pods(kubectl, namespace, "back")
    kubectl("patch", "pod", pods[0], "-n", namespace, "-p", json.dumps({"metadata": {"finalizers": [HOLD]}}))
    kubectl("delete", "deployment", "back", "-n", namespace, "--cascade=background")
    assert names(kubectl, namespace, "deployments") == []
    poll(lambda: names(kubectl, namespace, "pods") == [pods[0]], message="only the held pod left")
    kubectl("patch", "pod", pods[0], "-n", namespace, "--type=json", "-p",
            '[{"op": "remove", "path": "/metadata/finalizers"}]')
    poll(lambda: not names(kubectl, namespace, "pods"), message="the held pod to go")


def test_drain_cordons_the_ecs_node_and_evicts_its_pods(kubectl, namespace):
    pods = two_pods(kubectl, namespace, "drained")
    node = kubectl("get", "pod", pods[0], "-n", namespace, "-o", "jsonpath={.spec.nodeName}").stdout
    try:
        output = kubectl("drain", node, "--ignore-daemonsets", "--pod-selector=app=drained", "--timeout=60s",
                         timeout=90).stdout
        assert f"node/{node} drained" in output
        assert all(f"pod/{pod} evicted" in output for pod in pods)
        assert "Ready,SchedulingDisabled" in kubectl("get", "node", node).stdout
        waiting = poll(lambda: len(now := names(kubectl, namespace, "pods")) == 2 and now, message="replacements")
        assert not set(pods) & set(waiting)
        listed = kubectl("get", "pods", "-n", namespace, "-o", "jsonpath={.items[*].status.conditions[0].reason}")
        assert listed.stdout.split() == ["Unschedulable", "Unschedulable"]
    finally:
        kubectl("uncordon", node)
    assert "SchedulingDisabled" not in kubectl("get", "node", node).stdout
    poll(lambda: kubectl("get", "pods", "-n", namespace, "-o", "jsonpath={.items[*].spec.nodeName}").stdout.split()
         == [node, node], message="the waiting pods bound to the uncordoned node")
    kubectl("rollout", "status", "deployment/drained", "-n", namespace, "--timeout=30s")


def test_a_deleted_namespace_terminates_until_its_held_content_goes(kubectl):
    doomed = f"t-{uuid.uuid4().hex[:10]}"
    kubectl("create", "namespace", doomed)
    kubectl("run", "held", "--image=busybox:1.36", "-n", doomed)
    kubectl("patch", "pod", "held", "-n", doomed, "-p", json.dumps({"metadata": {"finalizers": [HOLD]}}))
    kubectl("delete", "namespace", doomed, "--wait=false")
    assert "Terminating" in kubectl("get", "namespace", doomed).stdout
    refused = kubectl("run", "late", "--image=busybox:1.36", "-n", doomed, check=False)
    assert refused.returncode == 1 and "is being terminated" in refused.stderr
    kubectl("patch", "pod", "held", "-n", doomed, "--type=json", "-p",
            '[{"op": "remove", "path": "/metadata/finalizers"}]')
    poll(lambda: kubectl("get", "namespace", doomed, check=False).returncode == 1, message="the namespace to go")
