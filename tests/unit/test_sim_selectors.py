"""Label and field selectors of the sim (pure)."""

from __future__ import annotations

import pytest

from sim.apiserver.errors import ApiError
from sim.apiserver.selectors import (
    field_value,
    matches_labels,
    parse_field_selector,
    parse_label_selector,
    requirements_from_label_selector,
    selector_from_query,
)

POD = {
    "metadata": {"name": "web-1", "namespace": "shop", "labels": {"app": "web", "tier": "front"}},
    "spec": {"nodeName": "virtual-kubelet-cn-hangzhou-k", "hostNetwork": False},
    "status": {"phase": "Running"},
}


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("app=web", True),
        ("app==web", True),
        ("app!=web", False),
        ("app in (web, api)", True),
        ("app notin (web)", False),
        ("tier", True),
        ("!tier", False),
        ("!missing", True),
        ("missing!=x", True),
        ("app=web,tier in (back)", False),
        ("", True),
    ],
)
def test_label_selectors(selector, expected):
    assert matches_labels(parse_label_selector(selector), POD["metadata"]["labels"]) is expected


def test_a_bad_label_selector_is_a_400():
    with pytest.raises(ApiError) as error:
        parse_label_selector("app in web")
    assert error.value.code == 400


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("metadata.name=web-1", True),
        ("metadata.namespace=shop,status.phase=Running", True),
        ("status.phase!=Running", False),
        ("spec.nodeName=virtual-kubelet-cn-hangzhou-k", True),
        ("spec.hostNetwork=false", True),
    ],
)
def test_field_selectors(selector, expected):
    assert selector_from_query(None, selector, "pods").matches(POD) is expected


def test_unsupported_field_labels_are_400_like_kubernetes():
    with pytest.raises(ApiError) as error:
        parse_field_selector("spec.nodeName=x", "imagecaches.eci.alibabacloud.com")
    assert error.value.code == 400 and "field label not supported" in error.value.message


def test_event_fields():
    event = {"involvedObject": {"kind": "Pod", "name": "web-1"}, "reason": "ImageCacheMissed",
             "source": {"component": "EciService"}}
    assert field_value(event, "source") == "EciService"
    selector = selector_from_query(None, "involvedObject.kind=Pod,reason=ImageCacheMissed,source=EciService", "events")
    assert selector.matches(event)
    assert field_value(event, "involvedObject.namespace") == ""


def test_label_selector_objects():
    requirements = requirements_from_label_selector(
        {"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "tier", "operator": "In", "values": ["front"]},
                                                             {"key": "gone", "operator": "DoesNotExist"}]}
    )
    assert matches_labels(requirements, POD["metadata"]["labels"])
    assert not matches_labels(requirements, {"app": "web", "tier": "back"})
    with pytest.raises(ValueError):
        requirements_from_label_selector({"matchExpressions": [{"key": "a", "operator": "Near"}]})


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("reason!=Pulling,reason!=Started", True),
        ("reason!=Pulling,reason!=ImageCacheMissed", False),
        ("reason!=ImageCacheMissed,reason!=Pulling", False),
        ("reason=ImageCacheMissed,reason!=ImageCacheMissed", False),
        ("reason=ImageCacheMissed,reason=ImageCacheMissed", True),
        ("involvedObject.kind=Pod,reason!=Scheduled,reason!=Pulling,reason!=Created,reason!=Started", True),
    ],
)
def test_clauses_on_one_field_are_all_anded(selector, expected):
    """Kubernetes ANDs every clause, several on one field too (the only way to leave out a few reasons)."""
    event = {"involvedObject": {"kind": "Pod", "name": "web-1"}, "reason": "ImageCacheMissed"}
    assert selector_from_query(None, selector, "events").matches(event) is expected
