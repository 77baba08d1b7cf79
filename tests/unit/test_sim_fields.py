"""Field sets of server-side apply: leaves, FieldsV1, merge by key, conflicts."""

import orjson

from sim.apiserver import fields


def pod_spec(*containers: dict) -> dict:
    return {"metadata": {"name": "p", "uid": "u", "labels": {"a": "1"}}, "spec": {"containers": list(containers)},
            "status": {"phase": "Running"}}


def test_leaves_key_containers_by_name_and_skip_server_metadata_and_status():
    paths = fields.leaves(pod_spec({"name": "main", "image": "x", "args": ["1", "2"]}))
    item = ("f:spec", "f:containers", 'k:{"name":"main"}')
    assert set(paths) == {("f:metadata", "f:labels", "f:a"), item + (".",), item + ("f:name",),
                          item + ("f:image",), item + ("f:args",)}
    assert paths[item + ("f:args",)] == ["1", "2"]  # other lists are atomic
    assert set(fields.leaves(pod_spec(), "status")) == {("f:status", "f:phase")}


def test_fields_v1_round_trips():
    paths = set(fields.leaves(pod_spec({"name": "main", "image": "x"})))
    trie = fields.to_fields_v1(paths)
    assert trie["f:spec"]["f:containers"]['k:{"name":"main"}']["."] == {}
    assert fields.from_fields_v1(trie) == paths


def test_merge_keeps_live_items_and_merges_applied_ones_by_key():
    live = pod_spec({"name": "main", "image": "x", "env": [{"name": "A", "value": "1"}]}, {"name": "side", "image": "y"})
    applied = {"spec": {"containers": [{"name": "main", "image": "z"}, {"name": "new", "image": "n"}]}}
    merged = fields.merge(live, applied)
    containers = merged["spec"]["containers"]
    assert [c["name"] for c in containers] == ["main", "side", "new"]
    assert containers[0] == {"name": "main", "image": "z", "env": [{"name": "A", "value": "1"}]}
    assert live["spec"]["containers"][0]["image"] == "x"


def test_remove_drops_a_keyed_item_or_a_field():
    obj = pod_spec({"name": "main", "image": "x"}, {"name": "side", "image": "y"})
    fields.remove(obj, ("f:spec", "f:containers", 'k:{"name":"side"}', "."))
    fields.remove(obj, ("f:metadata", "f:labels", "f:a"))
    assert obj["spec"]["containers"] == [{"name": "main", "image": "x"}] and obj["metadata"]["labels"] == {}


def test_a_different_value_owned_by_another_manager_conflicts_and_an_equal_one_does_not():
    live = pod_spec({"name": "main", "image": "x"})
    owner = fields.ManagedEntry("other", "Update", "v1", "", set(fields.leaves(live)))
    same = fields.leaves({"spec": {"containers": [{"name": "main", "image": "x"}]}})
    assert fields.conflicts(live, same, [owner], "me") == []
    changed = fields.leaves({"spec": {"containers": [{"name": "main", "image": "y"}]}})
    found = fields.conflicts(live, changed, [owner], "me")
    assert [fields.dotted(c.path) for c in found] == ['.spec.containers[name="main"].image']
    assert fields.conflict_message(found) == ('Apply failed with 1 conflict: conflict with "other" using v1: '
                                             '.spec.containers[name="main"].image')



def client_side_applied(value: str, applied_value: str) -> dict:
    """A ConfigMap that kubectl's client-side apply wrote with `applied_value`, now holding `value`."""
    last_applied = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
                    "data": {"k": applied_value, "other": "x"}}
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c", "annotations": {fields.LAST_APPLIED: orjson.dumps(last_applied).decode()}},
            "data": {"k": value, "other": "x"}}


def test_kubectl_may_take_over_fields_that_still_hold_the_last_applied_value():
    found = [fields.Conflict("kubectl-client-side-apply", "v1", ("f:data", "f:k"))]
    assert fields.unexcused_conflicts(client_side_applied("a", "a"), found, "kubectl") == []
    assert fields.unexcused_conflicts(client_side_applied("a", "a"), found, "helm") == found
    assert fields.unexcused_conflicts(client_side_applied("edited", "a"), found, "kubectl") == found
    unannotated = client_side_applied("a", "a")
    del unannotated["metadata"]["annotations"]
    assert fields.unexcused_conflicts(unannotated, found, "kubectl") == found
