"""Field sets of server-side apply: leaves, FieldsV1, merge by key, conflicts."""

from sim import fields


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

