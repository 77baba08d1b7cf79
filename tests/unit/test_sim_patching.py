"""Merge, strategic merge and JSON patches of the sim (pure)."""

from __future__ import annotations

import pytest

from sim.apiserver.patching import (
    JSON_PATCH,
    MERGE_PATCH,
    STRATEGIC_MERGE_PATCH,
    PatchError,
    apply_patch,
    json_patch,
    merge_patch,
    strategic_merge,
)

DEPLOYMENT = {
    "metadata": {"name": "web", "annotations": {"a": "1", "b": "2"}},
    "spec": {
        "replicas": 2,
        "template": {
            "spec": {
                "containers": [
                    {"name": "nginx", "image": "nginx:1.25", "env": [{"name": "A", "value": "1"}]},
                    {"name": "side", "image": "busybox:1.36"},
                ],
                "tolerations": [{"key": "x"}],
            }
        },
    },
}


def containers(obj: dict) -> list[dict]:
    return obj["spec"]["template"]["spec"]["containers"]


def test_merge_patch_replaces_lists_and_null_deletes():
    patched = merge_patch(DEPLOYMENT, {"metadata": {"annotations": {"a": None, "c": "3"}},
                                       "spec": {"template": {"spec": {"containers": [{"name": "only"}]}}}})
    assert patched["metadata"]["annotations"] == {"b": "2", "c": "3"}
    assert containers(patched) == [{"name": "only"}]
    assert containers(DEPLOYMENT)[0]["image"] == "nginx:1.25"


def test_strategic_merge_merges_containers_by_name():
    patched = strategic_merge(DEPLOYMENT, {"spec": {"template": {"spec": {"containers": [
        {"name": "nginx", "image": "nginx:1.27", "env": [{"name": "B", "value": "2"}]},
        {"name": "new", "image": "redis:7.2"},
    ]}}}})
    assert [c["name"] for c in containers(patched)] == ["nginx", "side", "new"]
    assert containers(patched)[0]["image"] == "nginx:1.27"
    assert containers(patched)[0]["env"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]
    assert containers(DEPLOYMENT)[0]["image"] == "nginx:1.25"


def test_strategic_merge_directives():
    patched = strategic_merge(DEPLOYMENT, {
        "metadata": {"annotations": {"a": None}},
        "spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "side"}, {"name": "nginx"}],
            "containers": [{"name": "side", "$patch": "delete"}, {"name": "nginx", "image": "nginx:1.27"}],
            "tolerations": [{"key": "y"}],
        }}},
    })
    assert patched["metadata"]["annotations"] == {"b": "2"}
    assert [c["name"] for c in containers(patched)] == ["nginx"]
    assert patched["spec"]["template"]["spec"]["tolerations"] == [{"key": "y"}]
    replaced = strategic_merge(DEPLOYMENT, {"spec": {"template": {"spec": {
        "containers": [{"$patch": "replace"}, {"name": "solo", "image": "x"}]}}}})
    assert containers(replaced) == [{"name": "solo", "image": "x"}]
    assert strategic_merge({"a": {"b": 1}, "c": 2}, {"a": {"$patch": "delete"}}) == {"c": 2}
    assert strategic_merge({"f": ["a", "b"]}, {"$deleteFromPrimitiveList/f": ["a"]}) == {"f": ["b"]}
    assert strategic_merge({"x": 1, "y": 2}, {"$retainKeys": ["x"], "x": 3}) == {"x": 3}


def test_json_patch_operations():
    document = {"a": {"b": [1, 2]}, "c": "x"}
    patched = json_patch(document, [
        {"op": "add", "path": "/a/b/-", "value": 3},
        {"op": "add", "path": "/a/b/0", "value": 0},
        {"op": "replace", "path": "/c", "value": "y"},
        {"op": "copy", "from": "/c", "path": "/d"},
        {"op": "move", "from": "/d", "path": "/e~1f"},
        {"op": "remove", "path": "/a/b/1"},
        {"op": "test", "path": "/c", "value": "y"},
    ])
    assert patched == {"a": {"b": [0, 2, 3]}, "c": "y", "e/f": "y"}
    assert document == {"a": {"b": [1, 2]}, "c": "x"}


@pytest.mark.parametrize("operations", [
    [{"op": "test", "path": "/c", "value": "nope"}],
    [{"op": "remove", "path": "/missing"}],
    [{"op": "replace", "path": "/a/b/9", "value": 1}],
    [{"op": "teleport", "path": "/c"}],
    {"op": "add"},
])
def test_json_patch_errors(operations):
    with pytest.raises(PatchError):
        json_patch({"a": {"b": [1]}, "c": "x"}, operations)


def test_apply_patch_by_content_type():
    assert apply_patch({"a": [1]}, MERGE_PATCH, {"a": [2]}) == {"a": [2]}
    assert apply_patch({"a": 1}, JSON_PATCH, [{"op": "add", "path": "/b", "value": 2}]) == {"a": 1, "b": 2}
    assert apply_patch({"a": {"b": 1}}, STRATEGIC_MERGE_PATCH, {"a": {"c": 2}}) == {"a": {"b": 1, "c": 2}}
    with pytest.raises(PatchError):
        apply_patch({}, "application/xml", {})
    with pytest.raises(PatchError):
        apply_patch({}, JSON_PATCH, [{"op": "replace", "path": "", "value": [1]}])
