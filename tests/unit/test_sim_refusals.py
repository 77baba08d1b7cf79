"""The sim's pure refusal rules (issue 18, items 2/3, 6 and 8) and the deletion of a malformed stored object."""

from __future__ import annotations

import orjson
import pytest

from sim.apiserver.cron import time_zone_problem, zone_of
from sim.apiserver.definitions import OBJECT_META, decodable_fields, decode_check, definition_of
from sim.apiserver.errors import ApiError, invalid
from sim.apiserver.object_api import NAME_GENERATION_ATTEMPTS, ObjectApi, generated_name, owner_uids
from sim.apiserver.resources import CONFIGMAPS, CRONJOBS, IMAGECACHES
from sim.apiserver.selectors import selector_from_query
from sim.apiserver.store import Store
from sim.apiserver.validation import (
    ETCD_TOO_LARGE,
    MAX_ANNOTATIONS_BYTES,
    MAX_STORED_BYTES,
    annotations_size,
    check_metadata,
    check_object,
    fit_for_storage,
    json_size_floor,
)

TOO_LONG = ("metadata.annotations", "Too long: may not be more than 262144 bytes")


def test_the_limits_are_kube_apiservers_and_etcds():
    assert MAX_ANNOTATIONS_BYTES == 262144  # apimachinery TotalAnnotationSizeLimitB
    assert MAX_STORED_BYTES == 1572864  # etcd's --max-request-bytes default


def test_annotations_count_the_bytes_of_keys_and_values():
    assert annotations_size({"ab": "cd", "é": "€"}) == 2 + 2 + 2 + 3
    assert check_metadata({"annotations": {"a": "x" * (MAX_ANNOTATIONS_BYTES - 1)}}) == []
    assert check_metadata({"annotations": {"a": "x" * MAX_ANNOTATIONS_BYTES}}) == [TOO_LONG]
    assert check_metadata({"annotations": {"a": "é" * (MAX_ANNOTATIONS_BYTES // 2)}}) == [TOO_LONG]


def test_a_pod_templates_annotations_have_the_same_limit():
    over = {"annotations": {"a": "x" * MAX_ANNOTATIONS_BYTES}}
    template = {"metadata": over, "spec": {"restartPolicy": "Never", "containers": [{"name": "m", "image": "x"}]}}
    cronjob = {"metadata": {"name": "c"}, "spec": {"schedule": "* * * * *", "concurrencyPolicy": "Allow",
                                                   "jobTemplate": {"metadata": over, "spec": {"template": template}}}}
    assert check_object(CRONJOBS.key, cronjob) == [
        ("spec.jobTemplate.metadata.annotations", TOO_LONG[1]),
        ("spec.jobTemplate.spec.template.metadata.annotations", TOO_LONG[1])]


def test_malformed_labels_are_selected_by_no_label_selector():
    assert not selector_from_query("app=web", None, "pods").matches({"metadata": {"labels": ["app", "web"]}})


def test_a_too_long_cause_has_its_reason():
    causes = invalid("ConfigMap", "", "c", [TOO_LONG, ("data", "Required value")]).details["causes"]
    assert [cause["reason"] for cause in causes] == ["FieldValueTooLong", "FieldValueRequired"]


def test_an_object_over_1_5_mib_is_500_with_etcds_words_and_no_reason():
    small = {"metadata": {"name": "a"}, "data": {"x": "y"}}
    assert fit_for_storage(small, apply=False) is small
    big = {"metadata": {"name": "a"}, "data": {"x": "y" * MAX_STORED_BYTES}}
    with pytest.raises(ApiError) as raised:
        fit_for_storage(big, apply=False)
    assert (raised.value.code, raised.value.reason, raised.value.message) == \
        (500, "", ETCD_TOO_LARGE)
    assert "reason" not in raised.value.status()


def test_an_object_aliasing_one_big_string_is_refused_without_counting_every_alias():
    big = "x" * (2 * 1024 * 1024)
    aliased = {"metadata": {"name": "a"}, "spec": {"containers": [{"name": "m", "args": [big] * 300}]}}  # 600 MiB
    assert MAX_STORED_BYTES < json_size_floor(aliased, MAX_STORED_BYTES) <= MAX_STORED_BYTES + len(big)
    with pytest.raises(ApiError) as raised:
        fit_for_storage(aliased, apply=False)
    assert raised.value.code == 500


@pytest.mark.parametrize("value", [{"a": ["é€", {"b": None, "c": 1.5}], "\"": "\n\t"}, [], "", ["x" * 10]])
def test_the_size_floor_never_exceeds_the_json_size(value):
    assert json_size_floor(value, MAX_STORED_BYTES) <= len(orjson.dumps(value))


def test_a_write_other_than_apply_is_stored_without_its_managed_fields_when_they_make_it_too_large():
    managed = [{"manager": "m", "fieldsV1": {f"f:{n}": {} for n in range(100_000)}}]
    obj = {"metadata": {"name": "a", "managedFields": managed}, "data": {"x": "y" * (MAX_STORED_BYTES - 1000)}}
    assert fit_for_storage(obj, apply=False) == {"metadata": {"name": "a"}, "data": obj["data"]}
    with pytest.raises(ApiError):
        fit_for_storage(obj, apply=True)  # kube-apiserver does not retry an apply without them


@pytest.mark.parametrize(("metadata", "message"), [
    ({"labels": ["a", "b"]}, "array into Go struct field ObjectMeta.labels of type map[string]string"),
    ({"annotations": {"a": {"b": "c"}}}, "object into Go struct field ObjectMeta.annotations of type string"),
    ({"ownerReferences": "q"}, "string into Go struct field ObjectMeta.ownerReferences of type []v1.OwnerReference"),
    ({"finalizers": "zz"}, "string into Go struct field ObjectMeta.finalizers of type []string"),
    ({"generation": "one"}, "string into Go struct field ObjectMeta.generation of type int64"),
])
def test_metadata_of_the_wrong_type_is_worded_as_gos_decoder(metadata, message):
    assert decode_check(metadata, OBJECT_META, "metadata").mismatches == [f"json: cannot unmarshal {message}"]


def test_a_built_in_kinds_fields_are_named_from_the_object():
    pod = definition_of("", "v1", "Pod")
    assert decode_check({"metadata": {"labels": ["a"]}}, pod).mismatches == [
        "json: cannot unmarshal array into Go struct field ObjectMeta.metadata.labels of type map[string]string"]
    assert decode_check({"spec": {"containers": [{"ports": [{"containerPort": "x"}]}]}}, pod).mismatches == [
        "json: cannot unmarshal string into Go struct field ContainerPort.spec.containers.ports.containerPort of "
        "type int32"]
    assert decode_check({"metadata": {"x": 1}}, pod).unknown == ["metadata.x"]


def test_malformed_metadata_fields_are_dropped_as_storage_is_read():
    metadata = {"name": "a", "labels": ["a"], "finalizers": "zz", "ownerReferences": "q", "annotations": {"k": "v"}}
    assert decodable_fields(metadata, OBJECT_META) == {"name": "a", "annotations": {"k": "v"}}
    assert owner_uids({"ownerReferences": ["q", {"uid": "u1"}, {"uid": 5}]}) == {"u1"}
    assert owner_uids({"ownerReferences": "q"}) == set()


@pytest.mark.parametrize("malformed", [
    {"ownerReferences": "q", "labels": ["a", "b"]}, {"finalizers": "zz"},
    {"ownerReferences": ["q"], "finalizers": ["kubernetes"]},
], ids=["string-owners", "string-finalizers", "owner-item-and-finalizer"])
@pytest.mark.parametrize("resource", [IMAGECACHES, CONFIGMAPS], ids=["imagecache", "configmap"])
def test_a_malformed_object_already_in_the_store_can_be_deleted(resource, malformed):
    store = Store()  # what a store holds before the API starts serving it (an older sim's state)
    namespace = "default" if resource.namespaced else ""
    metadata = {"name": "broken", "uid": "u-broken", **({"namespace": namespace} if namespace else {}), **malformed}
    store.put(resource.key, {"apiVersion": resource.api_version, "kind": resource.kind, "metadata": metadata})
    api = ObjectApi(store)
    deleted = api.delete(resource, namespace, "broken")
    assert deleted["metadata"]["name"] == "broken"
    if "finalizers" in malformed and malformed["finalizers"] == ["kubernetes"]:  # a well-formed finalizer holds it
        assert store.get(resource.key, namespace, "broken").obj["metadata"]["deletionTimestamp"]
    else:
        assert store.get(resource.key, namespace, "broken") is None


@pytest.mark.parametrize(("name", "problem"), [
    ("A" * 5000, f"unknown time zone {'A' * 5000}"),
    ("", "timeZone must be nil or non-empty string"),
    ("local", "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones"),
    ("Europe/../etc", "unknown time zone Europe/../etc"),
    ("-Europe/Paris", "unknown time zone -Europe/Paris"),
    ("Europe/Nowhere", "unknown time zone Europe/Nowhere"),
    ("Europe/Paris", None),
    ("Etc/GMT+5", None),
])
def test_a_time_zone_follows_validate_time_zone(name, problem):
    assert time_zone_problem(name) == problem
    assert (zone_of(name) is None) == (problem is not None)


def test_a_generated_name_is_drawn_again_while_taken_eight_times_at_most():
    drawn: list[str] = []

    def taken_thrice(name: str) -> bool:
        drawn.append(name)
        return len(drawn) <= 3

    name = generated_name("web-", taken_thrice)
    assert len(drawn) == 4 and name == drawn[-1] and name.startswith("web-") and len(name) == len("web-") + 5
    drawn.clear()
    always = generated_name("web-", lambda name: drawn.append(name) or True)
    assert NAME_GENERATION_ATTEMPTS == 8 and len(drawn) == 7 and always not in drawn  # the 8th draw is not checked
