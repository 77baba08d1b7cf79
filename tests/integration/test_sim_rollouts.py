"""Rollouts as kubectl drives them: pause and resume, history with CHANGE-CAUSE, undo to the old ReplicaSet."""

from __future__ import annotations

import json

import pytest

from tests.integration.conftest import poll

pytestmark = pytest.mark.integration


def replica_sets(kubectl, namespace: str) -> dict[str, dict]:
    """The ReplicaSets of a namespace by name."""
    items = json.loads(kubectl("get", "replicasets", "-n", namespace, "-o", "json").stdout)["items"]
    return {rs["metadata"]["name"]: rs for rs in items}


def observed(kubectl, namespace: str, name: str) -> bool:
    """Whether the Deployment controller has seen the Deployment's latest generation."""
    deployment = json.loads(kubectl("get", "deployment", name, "-n", namespace, "-o", "json").stdout)
    return deployment.get("status", {}).get("observedGeneration") == deployment["metadata"]["generation"]


def images(kubectl, namespace: str) -> set[str]:
    """The images of the pods of a namespace that are not Terminating."""
    items = json.loads(kubectl("get", "pods", "-n", namespace, "-o", "json").stdout)["items"]
    return {pod["spec"]["containers"][0]["image"] for pod in items if not pod["metadata"].get("deletionTimestamp")}


def test_a_paused_rollout_does_not_roll_until_resumed(kubectl, namespace):
    kubectl("create", "deployment", "web", "--image=busybox:1.36", "--replicas=2", "-n", namespace)
    kubectl("rollout", "status", "deployment/web", "-n", namespace, "--timeout=30s")
    kubectl("rollout", "pause", "deployment/web", "-n", namespace)
    kubectl("set", "image", "deployment/web", "busybox=busybox:1.37", "-n", namespace)
    poll(lambda: observed(kubectl, namespace, "web"), message="the paused Deployment observed")
    assert len(replica_sets(kubectl, namespace)) == 1
    assert images(kubectl, namespace) == {"busybox:1.36"}
    status = json.loads(kubectl("get", "deployment", "web", "-n", namespace, "-o", "json").stdout)["status"]
    assert status.get("updatedReplicas", 0) == 0 and status["replicas"] == 2  # none runs the paused template
    # 2 s paused, ten times what the shared sim takes to roll these two pods out unpaused (0.1-0.2 s)
    waiting = kubectl("rollout", "status", "deployment/web", "-n", namespace, "--timeout=2s", check=False)
    assert waiting.returncode != 0, waiting.stdout
    assert "0 out of 2 new replicas have been updated" in waiting.stdout
    kubectl("rollout", "resume", "deployment/web", "-n", namespace)
    rolled = kubectl("rollout", "status", "deployment/web", "-n", namespace, "--timeout=30s")
    assert 'deployment "web" successfully rolled out' in rolled.stdout
    assert len(replica_sets(kubectl, namespace)) == 2
    poll(lambda: images(kubectl, namespace) == {"busybox:1.37"}, message="the new image rolled out")


def test_history_shows_change_causes_and_undo_scales_the_old_replica_set_back_up(kubectl, namespace):
    kubectl("create", "deployment", "web", "--image=busybox:1.36", "--replicas=2", "-n", namespace)
    kubectl("annotate", "deployment/web", "kubernetes.io/change-cause=first image", "-n", namespace)
    kubectl("rollout", "status", "deployment/web", "-n", namespace, "--timeout=30s")
    first = next(iter(replica_sets(kubectl, namespace)))
    kubectl("set", "image", "deployment/web", "busybox=busybox:1.37", "-n", namespace)
    kubectl("annotate", "deployment/web", "kubernetes.io/change-cause=second image", "--overwrite", "-n", namespace)
    kubectl("rollout", "status", "deployment/web", "-n", namespace, "--timeout=30s")
    history = kubectl("rollout", "history", "deployment/web", "-n", namespace).stdout.splitlines()
    assert [line.split(None, 1) for line in history if line[:1].isdigit()] == [["1", "first image"],
                                                                               ["2", "second image"]]
    kubectl("rollout", "undo", "deployment/web", "-n", namespace)
    kubectl("rollout", "status", "deployment/web", "-n", namespace, "--timeout=30s")
    after = replica_sets(kubectl, namespace)
    assert len(after) == 2 and after[first]["spec"]["replicas"] == 2
    assert after[first]["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
    poll(lambda: images(kubectl, namespace) == {"busybox:1.36"}, message="the old image back")
