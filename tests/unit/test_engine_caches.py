"""ImageCache objects as the engine sees them (docs/eci-model.md section 1): the CRD's limits and defaults."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.caches import cache_from_object, validate_imagecache
from core.errors import ImcError
from tests.fixtures.engine.builders import imagecache, when

# the example of Alibaba's ImageCache docs
SAMPLE = {
    "apiVersion": "eci.alibabacloud.com/v1",
    "kind": "ImageCache",
    "metadata": {"name": "imagecache-sample", "annotations": {"k8s.aliyun.com/imc-enable-reuse": "true"}},
    "spec": {
        "images": ["centos:latest", "busybox:latest"],
        "imagePullSecrets": ["default:secret1", "default:secret2", "kube-system:secret3"],
        "imageCacheSize": 25,
        "retentionDays": 7,
    },
}


def with_spec(**changes) -> dict:
    obj = copy.deepcopy(SAMPLE)
    for key, value in changes.items():
        if value is None:
            obj["spec"].pop(key, None)
        else:
            obj["spec"][key] = value
    return obj


def test_the_docs_sample_is_valid() -> None:
    assert validate_imagecache(SAMPLE) == []


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"images": None}, "spec.images"),
        ({"images": []}, "spec.images"),
        ({"images": [f"app{i}:1" for i in range(21)]}, "spec.images"),  # 1 to 20 items
        ({"images": ["centos:latest", "Bad Image"]}, "spec.images"),
        ({"imageCacheSize": 19}, "spec.imageCacheSize"),  # 20 to 32768
        ({"imageCacheSize": 32769}, "spec.imageCacheSize"),
        ({"imageCacheSize": "25"}, "spec.imageCacheSize"),  # an integer
        ({"retentionDays": 0}, "spec.retentionDays"),  # 1 to 65536
        ({"retentionDays": 65537}, "spec.retentionDays"),
        ({"imagePullSecrets": ["secret1"]}, "spec.imagePullSecrets"),  # namespace:secretName
    ],
    ids=["no-images", "empty-images", "21-images", "bad-image", "size-19", "size-32769", "size-string",
         "retention-0", "retention-65537", "secret-without-namespace"],
)
def test_limits_of_the_crd(changes: dict, field: str) -> None:
    errors = validate_imagecache(with_spec(**changes))
    assert errors, "expected a field error"
    assert any(e.field.startswith(field) and e.message for e in errors), errors


@pytest.mark.parametrize(
    "changes",
    [
        {"images": [f"app{i}:1" for i in range(20)]},
        {"images": ["nginx"]},
        {"imageCacheSize": 20},
        {"imageCacheSize": 32768},
        {"imageCacheSize": None},
        {"retentionDays": 1},
        {"retentionDays": 65536},
        {"retentionDays": None},
        {"imagePullSecrets": None},
    ],
)
def test_edges_of_the_limits_are_valid(changes: dict) -> None:
    assert validate_imagecache(with_spec(**changes)) == []


def test_cache_view_reads_status_and_defaults() -> None:
    obj = imagecache("c", ["nginx", "quay.io/coreos/etcd:v3.5.0"], cid="imc-2zeabc", size=None,
                     created="2026-11-01T00:00:00Z", expire="2026-12-01T00:00:00Z")
    view = cache_from_object(obj)
    assert (view.name, view.id, view.phase) == ("c", "imc-2zeabc", "Ready")
    assert view.size_gib == 20  # imageCacheSize defaults to 20
    assert set(view.images) == {"docker.io/library/nginx:latest", "quay.io/coreos/etcd:v3.5.0"}
    assert view.created == when("2026-11-01T00:00:00Z")
    assert view.expires == when("2026-12-01T00:00:00Z")


scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=15))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(st.text(max_size=8), inner, max_size=3)),
                      max_leaves=12)
shaped = st.fixed_dictionaries(
    {"kind": st.just("ImageCache")},
    optional={
        "metadata": st.one_of(st.fixed_dictionaries({}, optional={"name": scalars, "creationTimestamp": scalars}),
                              values),
        "spec": st.one_of(st.fixed_dictionaries({}, optional={"images": st.one_of(st.lists(scalars), values),
                                                              "imageCacheSize": scalars}), values),
        "status": st.one_of(st.fixed_dictionaries({}, optional={"phase": scalars, "imageCacheId": scalars,
                                                                "expireDateTime": scalars}), values),
    },
)


@settings(max_examples=150, deadline=None)
@given(st.one_of(shaped, st.dictionaries(st.text(max_size=8), values, max_size=4)), values)
def test_arbitrary_objects_raise_only_imc_errors(obj: dict, anything) -> None:
    """`kubectl get ic` output can be anything a user pasted: a clear error, never a crash.

    (The manifest loader turns what is not an object into an error first, so cache_from_object
    gets objects; validate_imagecache takes anything.)"""
    assert isinstance(validate_imagecache(anything), list)
    assert isinstance(validate_imagecache(obj), list)
    try:
        cache_from_object(obj)
    except ImcError:
        pass
