"""The Image caches page's writes against `imc sim` (issue 22): update images, extend retention and delete an
ImageCache as the user saw it (resourceVersion precondition), each dry-run first and recorded as an audit Event."""

from __future__ import annotations

import uuid

import orjson
import pytest

from kube.access import AccessChecker
from kube.connect import connect
from kube.writes import (
    DELETED_REASON,
    IMAGES_UPDATED_REASON,
    RETENTION_EXTENDED_REASON,
    CacheEdit,
    WriteError,
    create_imagecache,
    delete_imagecache,
    edit_imagecache,
)
from tests.integration.conftest import poll

pytestmark = pytest.mark.integration


def new_cache(sim_server, images: list[str], retention_days: int | None = None) -> str:
    """Create an ImageCache of a name no other test uses; its name."""
    name = f"ic-{uuid.uuid4().hex[:8]}"
    spec: dict = {"images": images}
    if retention_days is not None:
        spec["retentionDays"] = retention_days
    create_imagecache(connect(kubeconfig=sim_server.kubeconfig, context="sim"),
                      {"metadata": {"name": name}, "spec": spec})
    return name


def get_cache(kubectl, name: str) -> dict | None:
    """The ImageCache as kubectl reads it now; None once it is gone."""
    answer = kubectl("get", "imagecache", name, "-o", "json", check=False)
    return orjson.loads(answer.stdout) if answer.returncode == 0 else None


def in_phase(kubectl, name: str, phase: str) -> dict:
    """Wait until the cache reaches a phase; the cache then."""
    return poll(lambda: get_cache(kubectl, name), timeout=30, message=f"ImageCache {name} {phase}",
                until=lambda cache: cache and cache.get("status", {}).get("phase") == phase)


def audit_events(kubectl, name: str, reason: str) -> list[dict]:
    """imc's audit Events about one ImageCache (cluster-scoped objects' Events go to default)."""
    events = orjson.loads(kubectl("get", "events", "-n", "default", "-o", "json").stdout)["items"]
    return [e for e in events if e["reason"] == reason and e["involvedObject"].get("name") == name]


def test_delete_with_a_stale_resource_version_is_a_conflict_and_deletes_nothing(sim_server, kubectl):
    connection = connect(kubeconfig=sim_server.kubeconfig, context="sim")
    name = new_cache(sim_server, ["nginx:1.25"])
    seen = in_phase(kubectl, name, "Ready")
    kubectl("label", "imagecache", name, "owner=someone-else")  # a concurrent edit after the user looked
    with pytest.raises(WriteError) as info:
        delete_imagecache(connection, seen)
    assert info.value.status == 409 and "changed it since it was loaded" in info.value.message
    assert "server dry-run" in info.value.message  # refused before the real request
    assert get_cache(kubectl, name)["metadata"]["labels"] == {"owner": "someone-else"}
    assert audit_events(kubectl, name, DELETED_REASON) == []

    result = delete_imagecache(connection, get_cache(kubectl, name))
    assert result.ok and result.warnings == ()
    poll(lambda: get_cache(kubectl, name), timeout=15, message=f"ImageCache {name} gone", until=lambda c: c is None)
    audit = audit_events(kubectl, name, DELETED_REASON)
    assert len(audit) == 1 and "context sim" in audit[0]["message"] and "nginx:1.25" in audit[0]["message"]


def test_update_images_patches_the_version_seen_with_an_audit_event(sim_server, kubectl):
    connection = connect(kubeconfig=sim_server.kubeconfig, context="sim")
    name = new_cache(sim_server, ["nginx:1.25"])
    seen = in_phase(kubectl, name, "Ready")
    kubectl("annotate", "imagecache", name, "note=edited")
    with pytest.raises(WriteError) as info:
        edit_imagecache(connection, seen, CacheEdit(images=("nginx:1.25", "redis:7")))
    assert info.value.status == 409
    assert get_cache(kubectl, name)["spec"]["images"] == ["nginx:1.25"]

    current = get_cache(kubectl, name)
    result = edit_imagecache(connection, current, CacheEdit(images=("nginx:1.25", "redis:7")))
    assert result.ok and result.warnings == ()
    after = get_cache(kubectl, name)
    assert after["spec"]["images"] == ["nginx:1.25", "redis:7"]
    assert after["metadata"]["annotations"] == {"note": "edited"}
    audit = audit_events(kubectl, name, IMAGES_UPDATED_REASON)
    assert len(audit) == 1 and "redis:7" in audit[0]["message"]


def test_extend_retention_patches_the_version_seen_with_an_audit_event(sim_server, kubectl):
    connection = connect(kubeconfig=sim_server.kubeconfig, context="sim")
    name = new_cache(sim_server, ["busybox:1.36"], retention_days=7)
    seen = in_phase(kubectl, name, "Ready")
    with pytest.raises(WriteError) as info:
        edit_imagecache(connection, seen, CacheEdit(retention_days=7))
    assert info.value.status == 422 and "more than the 7 days" in info.value.message
    result = edit_imagecache(connection, seen, CacheEdit(retention_days=30))
    assert result.ok
    assert get_cache(kubectl, name)["spec"]["retentionDays"] == 30
    audit = audit_events(kubectl, name, RETENTION_EXTENDED_REASON)
    assert len(audit) == 1 and "retention 30 days" in audit[0]["message"]
    # the version seen before the extension is stale now: its images cannot be changed behind the user's back
    with pytest.raises(WriteError) as info:
        edit_imagecache(connection, seen, CacheEdit(images=("busybox:1.37",)))
    assert info.value.status == 409


def test_an_update_of_a_failed_cache_is_refused_before_anything_is_sent(sim_server, kubectl):
    connection = connect(kubeconfig=sim_server.kubeconfig, context="sim")
    name = new_cache(sim_server, ["nginx:does-not-exist"])
    seen = in_phase(kubectl, name, "Failed")
    with pytest.raises(WriteError) as info:
        edit_imagecache(connection, seen, CacheEdit(images=("nginx:1.25",)))
    assert "only when it is Ready or UpdateFailed" in info.value.message and f"{name} is Failed" in info.value.message
    after = get_cache(kubectl, name)
    assert after["metadata"]["resourceVersion"] == seen["metadata"]["resourceVersion"]
    assert after["spec"]["images"] == ["nginx:does-not-exist"]


def test_a_viewer_may_neither_update_nor_delete_a_cache(sim_server, kubectl):
    viewer = connect(kubeconfig=sim_server.kubeconfig, context="sim-viewer")
    permissions = AccessChecker(viewer).all()
    assert not permissions["update-imagecache"].allowed and not permissions["delete-imagecache"].allowed
    assert "may not delete imagecaches" in permissions["delete-imagecache"].reason
    name = new_cache(sim_server, ["nginx:1.25"])
    seen = in_phase(kubectl, name, "Ready")
    with pytest.raises(WriteError) as info:
        delete_imagecache(viewer, seen)
    assert info.value.status == 403 and "not allowed" in info.value.message
    assert get_cache(kubectl, name) is not None
