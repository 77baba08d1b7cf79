"""Write request and patch builders, read-only mode and SSAR bodies, without a server."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.policy import AUTO_IMC, IMC_ID, PERFECT_MATCH
from kube.access import (
    WRITE_ACTIONS,
    AccessChecker,
    ReadOnlyError,
    ensure_writable,
    permission_from_review,
    read_only_reason,
    ssar_body,
)
from kube.connect import Connection
from kube.writes import (
    WriteError,
    annotation_patch,
    audit_event,
    create_imagecache,
    create_request,
    describe_changes,
    edited_since,
    patch_deployment_annotations,
    patch_request,
)
from tests.fixtures.engine.builders import workload


def deployment() -> dict:
    """A Deployment as the store holds it (with a resourceVersion and an init container)."""
    obj = workload("Deployment", ["nginx:1.25", "redis:7"], template_annotations={"team": "web", AUTO_IMC: "true"})
    obj["metadata"]["resourceVersion"] = "41"
    obj["spec"]["template"]["spec"]["initContainers"] = [{"name": "setup", "image": "busybox:1"}]
    return obj


def test_annotation_patch_sets_and_removes_only_cache_keys_with_a_precondition():
    patch = annotation_patch(deployment(), {PERFECT_MATCH: "true", AUTO_IMC: None})
    assert patch == {
        "metadata": {"resourceVersion": "41"},
        "spec": {"template": {"metadata": {"annotations": {PERFECT_MATCH: "true", AUTO_IMC: None}}}},
    }


def test_annotation_patch_can_set_if_not_present_on_every_container():
    patch = annotation_patch(deployment(), {IMC_ID: "imc-1"}, pull_if_not_present=True)
    assert patch["spec"]["template"]["spec"] == {
        "initContainers": [{"name": "setup", "imagePullPolicy": "IfNotPresent"}],
        "containers": [
            {"name": "c0", "imagePullPolicy": "IfNotPresent"},
            {"name": "c1", "imagePullPolicy": "IfNotPresent"},
        ],
    }


@pytest.mark.parametrize(
    "changes, text",
    [({"team": "x"}, "not an image-cache annotation: team"), ({AUTO_IMC: True}, "must be strings")],
)
def test_annotation_patch_refuses_other_keys_and_non_strings(changes, text):
    with pytest.raises(WriteError, match=text):
        annotation_patch(deployment(), changes)


def test_annotation_patch_needs_a_resource_version():
    obj = deployment()
    del obj["metadata"]["resourceVersion"]
    with pytest.raises(WriteError, match="no resourceVersion"):
        annotation_patch(obj, {AUTO_IMC: "true"})


def test_a_status_write_alone_is_no_edit_but_metadata_or_spec_is():
    seen = {
        "metadata": {"name": "web", "resourceVersion": "5", "generation": 1, "annotations": {"a": "1"}},
        "spec": {"replicas": 2},
        "status": {"replicas": 1},
    }
    status_only = {**seen, "metadata": {**seen["metadata"], "resourceVersion": "6"}, "status": {"replicas": 2}}
    annotated = {**status_only, "metadata": {**status_only["metadata"], "annotations": {"a": "2"}}}
    scaled = {**status_only, "spec": {"replicas": 3}}
    assert not edited_since(seen, status_only)
    assert edited_since(seen, annotated)
    assert edited_since(seen, scaled)


def test_requests_dry_run_then_real_with_field_manager():
    dry = patch_request("shop", "app", {"x": 1}, dry_run=True)
    real = patch_request("shop", "app", {"x": 1}, dry_run=False)
    assert dry.method == real.method == "PATCH"
    assert dry.path == "/apis/apps/v1/namespaces/shop/deployments/app"
    assert dry.content_type == "application/strategic-merge-patch+json"
    assert dict(dry.query) == {"fieldManager": "imc-dashboard", "dryRun": "All"}
    assert dict(real.query) == {"fieldManager": "imc-dashboard"}
    create = create_request({"metadata": {"name": "ic"}, "spec": {"images": ["nginx"]}}, dry_run=True)
    assert (create.method, create.path) == ("POST", "/apis/eci.alibabacloud.com/v1/imagecaches")
    assert create.body["apiVersion"] == "eci.alibabacloud.com/v1" and create.body["kind"] == "ImageCache"


def test_audit_event_names_the_object_and_the_context():
    now = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
    obj = {**deployment(), "metadata": {**deployment()["metadata"], "uid": "u-1"}}
    event = audit_event(obj, "ImageCacheAnnotationsPatched", "set a=b", "prod-admin", now)
    assert event["metadata"]["namespace"] == "shop"
    assert event["involvedObject"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "app",
        "namespace": "shop",
        "uid": "u-1",
        "resourceVersion": "41",
    }
    assert event["reason"] == "ImageCacheAnnotationsPatched"
    assert "context prod-admin" in event["message"]
    assert event["lastTimestamp"] == "2026-11-28T09:00:00Z"
    cache = {"apiVersion": "eci.alibabacloud.com/v1", "kind": "ImageCache", "metadata": {"name": "ic"}}
    cluster_scoped = audit_event(cache, "ImageCacheCreated", "created", "c", now)
    assert cluster_scoped["metadata"]["namespace"] == "default"
    assert "namespace" not in cluster_scoped["involvedObject"]


def test_describe_changes():
    assert describe_changes({AUTO_IMC: None, PERFECT_MATCH: "true"}, True) == (
        f"removed {AUTO_IMC}, set {PERFECT_MATCH}=true, imagePullPolicy IfNotPresent on all containers"
    )


def offline_connection(in_cluster: bool = False) -> Connection:
    """A connection to a port nobody listens on: any request would fail loudly."""
    from kubernetes.client import ApiClient, Configuration

    configuration = Configuration()
    configuration.host = "https://127.0.0.1:9"
    return Connection(ApiClient(configuration), "ctx", configuration.host, "me", in_cluster)


def test_read_only_mode_refuses_before_any_request(monkeypatch):
    monkeypatch.delenv("IMC_ALLOW_WRITES", raising=False)
    monkeypatch.setenv("IMC_READ_ONLY", "1")
    connection = offline_connection()
    assert "IMC_READ_ONLY" in read_only_reason(connection)
    with pytest.raises(ReadOnlyError, match="IMC_READ_ONLY"):
        patch_deployment_annotations(connection, deployment(), {AUTO_IMC: "true"})
    with pytest.raises(ReadOnlyError):
        create_imagecache(connection, {"metadata": {"name": "ic"}, "spec": {"images": ["nginx"]}})
    permission = AccessChecker(connection).can("create-imagecache")
    assert not permission.allowed and "IMC_READ_ONLY" in permission.reason


def test_in_cluster_is_read_only_unless_writes_are_allowed(monkeypatch):
    monkeypatch.delenv("IMC_READ_ONLY", raising=False)
    monkeypatch.delenv("IMC_ALLOW_WRITES", raising=False)
    with pytest.raises(ReadOnlyError, match="IMC_ALLOW_WRITES"):
        ensure_writable(offline_connection(in_cluster=True))
    monkeypatch.setenv("IMC_ALLOW_WRITES", "1")
    ensure_writable(offline_connection(in_cluster=True))
    assert read_only_reason(offline_connection(in_cluster=False)) is None


def test_invalid_imagecache_is_refused_client_side(monkeypatch):
    monkeypatch.delenv("IMC_READ_ONLY", raising=False)
    bad = {"metadata": {"name": "Bad_Name"}, "spec": {"images": [], "imageCacheSize": 10}}
    with pytest.raises(WriteError) as info:
        create_imagecache(offline_connection(), bad)
    assert info.value.status == 422
    assert any(c.startswith("metadata.name") for c in info.value.causes)
    assert any(c.startswith("spec.imageCacheSize") for c in info.value.causes)


def test_unreachable_server_gives_a_write_error(monkeypatch):
    monkeypatch.delenv("IMC_READ_ONLY", raising=False)
    with pytest.raises(WriteError, match="did not answer"):
        patch_deployment_annotations(offline_connection(), deployment(), {AUTO_IMC: "true"})


def test_ssar_bodies_and_answers():
    body = ssar_body(WRITE_ACTIONS["patch-deployment"], namespace="shop")
    assert body["kind"] == "SelfSubjectAccessReview"
    assert body["spec"]["resourceAttributes"] == {
        "verb": "patch",
        "group": "apps",
        "resource": "deployments",
        "namespace": "shop",
    }
    cluster = ssar_body(WRITE_ACTIONS["create-imagecache"], namespace="shop")
    assert "namespace" not in cluster["spec"]["resourceAttributes"]
    assert permission_from_review({"status": {"allowed": True}}, WRITE_ACTIONS["create-imagecache"]).allowed
    denied = permission_from_review(
        {"status": {"allowed": False, "reason": "no RBAC rule"}}, WRITE_ACTIONS["create-imagecache"], "sim-viewer"
    )
    assert not denied.allowed
    assert denied.reason == "user 'sim-viewer' may not create imagecaches: no RBAC rule"
