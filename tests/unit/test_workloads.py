"""Pod templates out of Pods and workloads (docs/eci-model.md section 2: where annotations act, what is ECI)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.errors import ImcError
from core.workloads import is_eci_pod, pod_template, templates_from
from tests.fixtures.engine.builders import AUTO, COUNT, PIN, pod, workload

WORKLOAD_KINDS = ["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob"]
NGINX = "docker.io/library/nginx:1.25"


def findings_text(template) -> str:
    """The template's findings and its policy's, lower-cased."""
    found = (*template.findings, *template.policy.findings)
    return "\n".join(f"{f.code} {f.message}" for f in found).lower()


@pytest.mark.parametrize("kind", WORKLOAD_KINDS)
def test_workload_template_is_read(kind: str) -> None:
    [t] = templates_from(workload(kind, ["nginx:1.25"], template_annotations={PIN: "imc-abc"}))
    assert (t.kind, t.namespace, t.name) == (kind, "shop", "app")
    assert t.workload == f"{kind}/shop/app"
    assert t.images == (NGINX,)
    assert t.eci is True
    assert t.policy.mode == "pin" and t.policy.pin_id == "imc-abc"
    assert "template" not in findings_text(t)


def test_pod_without_namespace_is_in_default() -> None:
    obj = pod(["nginx:1.25"])
    del obj["metadata"]["namespace"]
    [t] = templates_from(obj)
    assert t.workload == "Pod/default/web"


@pytest.mark.parametrize("kind", WORKLOAD_KINDS)
def test_annotations_on_the_workloads_own_metadata_are_a_finding(kind: str) -> None:
    [t] = templates_from(workload(kind, ["nginx:1.25"], own_annotations={PIN: "imc-abc", AUTO: "false"}))
    assert t.policy.mode == "auto", "annotations on the workload's own metadata have no effect"
    assert t.policy.pin_id is None
    text = findings_text(t)
    assert "template" in text and "eci-imc-id" in text


def test_eci_label_on_the_workloads_own_metadata_does_not_make_its_pods_eci() -> None:
    obj = workload("Deployment", ["nginx:1.25"], own_labels={"alibabacloud.com/eci": "true"}, eci_template=False)
    [t] = templates_from(obj)
    assert t.eci is False, "pods get the template's labels, not the Deployment's"


def test_other_annotations_on_the_workload_are_not_a_finding() -> None:
    obj = workload("Deployment", ["nginx:1.25"], own_annotations={"deployment.kubernetes.io/revision": "3"})
    [t] = templates_from(obj)
    assert "template" not in findings_text(t)


def test_list_gives_every_template_in_order() -> None:
    items = [
        workload("Deployment", ["nginx:1.25"], name="first"),
        pod(["redis:7"], name="second"),
        workload("CronJob", ["busybox:1.36"], name="third"),
    ]
    templates = templates_from({"apiVersion": "v1", "kind": "List", "items": items})
    assert [t.workload for t in templates] == ["Deployment/shop/first", "Pod/default/second", "CronJob/shop/third"]


def test_init_containers_count_and_duplicates_go() -> None:
    obj = pod(["nginx", "docker.io/library/nginx:latest", "redis:7"], init_images=["index.docker.io/nginx", "busybox"])
    [t] = templates_from(obj)
    assert sorted(t.images) == sorted(
        ["docker.io/library/nginx:latest", "docker.io/library/redis:7", "docker.io/library/busybox:latest"]
    )


@pytest.mark.parametrize(
    ("image", "policy", "expect"),
    [
        ("nginx:1.25", "Always", True),
        ("nginx:1.25", "IfNotPresent", False),
        ("nginx:1.25", "Never", False),
        # Kubernetes defaults an unset imagePullPolicy to Always for :latest (or no tag), else IfNotPresent
        ("nginx", None, True),
        ("nginx:latest", None, True),
        ("nginx:1.25", None, False),
    ],
)
def test_image_pull_policy_always_is_a_finding(image: str, policy: str | None, expect: bool) -> None:
    [t] = templates_from(pod([image], pull_policy=policy))
    assert ("always" in findings_text(t)) is expect


def test_invalid_image_is_a_finding_not_a_crash() -> None:
    [t] = templates_from(pod(["Nginx:1.25", "redis:7"]))
    assert "docker.io/library/redis:7" in t.images
    assert "nginx:1.25" in findings_text(t)


def test_policy_counts_images_after_de_duplication() -> None:
    [t] = templates_from(pod(["nginx", "nginx:latest"], annotations={COUNT: "2"}))
    assert len(t.images) == 1
    assert "imc-match-count-request" in findings_text(t)  # 2 of 1 image: unsatisfiable


@pytest.mark.parametrize(
    ("labels", "node", "eci"),
    [
        ({"alibabacloud.com/eci": "true"}, None, True),
        ({"alibabacloud.com/eci": "true"}, "cn-hangzhou.10.0.0.1", True),
        ({}, "virtual-kubelet-cn-hangzhou-k", True),
        ({}, "virtual-kubelet", True),
        ({"alibabacloud.com/eci": "false"}, None, False),
        ({"alibabacloud.com/eci": "yes"}, None, False),
        ({}, None, False),
        ({}, "cn-hangzhou.10.0.0.1", False),
        ({}, "my-virtual-kubelet", False),
    ],
)
def test_what_is_an_eci_pod(labels: dict, node: str | None, eci: bool) -> None:
    assert is_eci_pod(labels, node) is eci
    [t] = templates_from(pod(["nginx:1.25"], labels=labels, node_name=node))
    assert t.eci is eci


@pytest.mark.parametrize(
    "obj",
    [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {}},
        {"apiVersion": "v1", "metadata": {"name": "no-kind"}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "no-template"}, "spec": {}},
        ["not", "an", "object"],
        "kind: Pod",
    ],
    ids=["unknown-kind", "no-kind", "no-template", "a-list", "a-string"],
)
def test_what_holds_no_pod_template_raises_the_projects_error(obj) -> None:
    with pytest.raises(ImcError):
        templates_from(obj)
    with pytest.raises(ImcError):
        pod_template(obj)


@pytest.mark.parametrize("count", [0, 2])
def test_a_list_is_not_one_pod_template(count: int) -> None:
    items = [pod(["nginx:1.25"], name=f"p{n}") for n in range(count)]
    with pytest.raises(ImcError, match=f"found {count} pod templates"):
        pod_template({"apiVersion": "v1", "kind": "List", "items": items})


def test_eci_decides_a_pod_at_its_creation_and_one_not_created_yet_now() -> None:
    now = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)
    created = {**pod(["nginx:1.25"]), "metadata": {"name": "web", "creationTimestamp": "2026-11-28T08:00:00Z"}}
    assert pod_template(created).decided_at(now) == datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
    assert pod_template(pod(["nginx:1.25"])).decided_at(now) == now
