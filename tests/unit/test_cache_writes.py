"""The pure request builders of the Image caches page's writes (kube/writes.py): what is sent, and what is refused
before anything is sent."""

from __future__ import annotations

import pytest

from kube.http import MERGE_PATCH
from kube.writes import CacheEdit, cache_edit_problems, cache_patch, cache_patch_request, delete_request


def cache(phase: str | None = "Ready", retention: int | None = 7, images: tuple[str, ...] = ("nginx:1.25",)) -> dict:
    """An ImageCache as the store holds it."""
    spec: dict = {"images": list(images)}
    if retention is not None:
        spec["retentionDays"] = retention
    status = {"phase": phase} if phase else {}
    return {"metadata": {"name": "web", "uid": "u-1", "resourceVersion": "41"}, "spec": spec, "status": status}


@pytest.mark.parametrize("phase", ["Ready", "UpdateFailed"])
def test_an_update_is_sent_only_in_ready_or_update_failed(phase):
    assert cache_edit_problems(cache(phase), CacheEdit(images=("nginx:1.26",))) == []


@pytest.mark.parametrize("phase", ["Creating", "Preparing", "Updating", "Failed", None])
def test_an_update_in_another_phase_is_refused_naming_the_phase(phase):
    problems = cache_edit_problems(cache(phase), CacheEdit(images=("nginx:1.26",)))
    assert problems == [f"ECI updates a cache only when it is Ready or UpdateFailed; web is {phase or 'Pending'}"]


def test_an_extension_must_be_longer_and_in_range_and_the_cache_must_expire():
    assert cache_edit_problems(cache(), CacheEdit(retention_days=8)) == []
    assert "more than the 7 days" in cache_edit_problems(cache(), CacheEdit(retention_days=7))[0]
    assert cache_edit_problems(cache(), CacheEdit(retention_days=70000)) == [
        "spec.retentionDays: must be between 1 and 65536, not 70000"]
    assert "never expires" in cache_edit_problems(cache(retention=None), CacheEdit(retention_days=8))[0]


def test_new_images_must_differ_and_pass_the_crd_rules():
    assert "holds exactly these images already" in cache_edit_problems(cache(), CacheEdit(images=("nginx:1.25",)))[0]
    problems = cache_edit_problems(cache(), CacheEdit(images=("nginx:1.26", "docker.io/library/nginx:1.26")))
    assert problems == ["spec.images[1]: docker.io/library/nginx:1.26 repeats spec.images[0]"]
    assert cache_edit_problems(cache(), CacheEdit()) == ["nothing to change"]


def test_the_patch_carries_the_resource_version_seen_and_only_the_edited_fields():
    patch = cache_patch(cache(), CacheEdit(retention_days=30))
    assert patch == {"metadata": {"resourceVersion": "41"}, "spec": {"retentionDays": 30}}
    dry = cache_patch_request("web", patch, True)
    assert (dry.method, dry.path, dry.content_type) == (
        "PATCH", "/apis/eci.alibabacloud.com/v1/imagecaches/web", MERGE_PATCH)
    assert ("dryRun", "All") in dry.query and ("dryRun", "All") not in cache_patch_request("web", patch, False).query


def test_a_delete_carries_uid_and_resource_version_preconditions():
    real, dry = delete_request(cache(), False), delete_request(cache(), True)
    assert real.method == "DELETE" and real.path == "/apis/eci.alibabacloud.com/v1/imagecaches/web"
    assert real.body == {"apiVersion": "v1", "kind": "DeleteOptions",
                         "preconditions": {"uid": "u-1", "resourceVersion": "41"}}
    assert dry.body["dryRun"] == ["All"] and dry.body["preconditions"] == real.body["preconditions"]
